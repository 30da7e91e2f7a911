//! Each employee's newest punches kept in memory between reads, until a write changes them.
//!
//! Presence over a whole workforce reads the newest two or so punches of every employee: a
//! B-tree descent, rows decoded and moved, about three microseconds an employee, and most of
//! a 10,000-employee report's time. Between two reports most employees punch nothing, so the
//! rows read last time are kept and handed out again until a write files a punch of theirs.
//! Only presence keeps what it reads: the interval watcher reads those who just punched, whom
//! their next punch would forget again.
//!
//! Every write that files a punch does so through a [`super::punches::Filing`], which names
//! the employee here when it is done ([`PunchCache::touched`]); once the transaction commits,
//! [`PunchCache::committed`] forgets what was kept of them. redb runs one write transaction at
//! a time, so what was named between two commits belongs to the second (a transaction that
//! aborts leaves its names to the next commit, which forgets a little more than it must).
//!
//! A reader that missed reads in a snapshot of its own and keeps what it read only if no
//! commit forgot any employee of the same bucket meanwhile: a commit after its snapshot could
//! have changed what it read, and the bucket's count tells. A commit that lands after the
//! reader kept its rows forgets them itself. So a kept read is always the newest committed
//! one, or one a commit is about to forget.
//!
//! Limitations: what is kept is bounded by [`MOST_ROWS`], and when full nothing more is kept
//! until writes forget some; a server with far more employees than that reads the rest from
//! the store each time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::store::IndexedPunch;

/// The most rows kept at once, about 160 bytes each (16 MB): presence over 10,000 employees
/// keeps some 25,000.
pub(super) const MOST_ROWS: usize = 100_000;

/// Reads of more rows than this are not kept: presence asks for two, then eight for the few
/// whose newest rows do not reach the instant asked.
const MOST_ROWS_A_READ: usize = 8;

/// Buckets of employees, each with a count of the commits that forgot any of them.
const BUCKETS: usize = 4096;

/// The employees' rows as last read, by how many were asked for.
#[derive(Default)]
pub(super) struct PunchCache(Mutex<Kept>);

struct Kept {
    /// Employee → (rows asked for, the rows read).
    rows: HashMap<u128, Vec<(usize, Vec<IndexedPunch>)>>,
    /// Rows held in `rows`.
    held: usize,
    /// For each bucket, how many commits forgot an employee of it.
    forgotten: Vec<u64>,
    /// Employees whose punches the write transaction under way filed.
    touched: Vec<u128>,
}

impl Default for Kept {
    fn default() -> Self {
        Self { rows: HashMap::new(), held: 0, forgotten: vec![0; BUCKETS], touched: Vec::new() }
    }
}

/// What a reader found kept, and where the buckets of those it must read stood.
pub(super) struct Lookup {
    /// For each employee asked, the rows kept, if any.
    pub(super) found: Vec<Option<Vec<IndexedPunch>>>,
    /// For each employee not found, the count of their bucket before the read.
    stamps: Vec<(usize, u64)>,
}

fn bucket(employee: u128) -> usize {
    // Employee ids are random (UUID v4), so their low bits spread evenly.
    (employee as usize) % BUCKETS
}

impl PunchCache {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        // What is kept is a copy of the store: a reader that panicked left it whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rows kept for each of `employees` read `count` at a time.
    pub(super) fn lookup(&self, employees: &[u128], count: usize) -> Lookup {
        if count > MOST_ROWS_A_READ {
            let stamps = (0..employees.len()).map(|i| (i, 0)).collect();
            return Lookup { found: vec![None; employees.len()], stamps };
        }
        let kept = self.lock();
        let mut found = Vec::with_capacity(employees.len());
        let mut stamps = Vec::new();
        for (i, employee) in employees.iter().enumerate() {
            let rows = kept.rows.get(employee).and_then(|reads| {
                reads.iter().find(|(asked, _)| *asked == count).map(|(_, rows)| rows.clone())
            });
            if rows.is_none() {
                stamps.push((i, kept.forgotten[bucket(*employee)]));
            }
            found.push(rows);
        }
        Lookup { found, stamps }
    }

    /// Keeps what a reader read for the employees `lookup` did not find, `count` at a time,
    /// unless a commit forgot anyone of their bucket since.
    pub(super) fn keep(
        &self,
        employees: &[u128],
        count: usize,
        lookup: &Lookup,
        read: &[Vec<IndexedPunch>],
    ) {
        if count > MOST_ROWS_A_READ {
            return;
        }
        let mut kept = self.lock();
        for (&(i, stamp), rows) in lookup.stamps.iter().zip(read) {
            let employee = employees[i];
            if kept.forgotten[bucket(employee)] != stamp || kept.held + rows.len() > MOST_ROWS {
                continue;
            }
            let reads = kept.rows.entry(employee).or_default();
            if reads.iter().any(|(asked, _)| *asked == count) {
                continue;
            }
            reads.push((count, rows.clone()));
            kept.held += rows.len();
        }
    }

    /// Names employees whose punches the write transaction under way filed.
    pub(super) fn touched(&self, employees: &[u128]) {
        if !employees.is_empty() {
            self.lock().touched.extend_from_slice(employees);
        }
    }

    /// Forgets what was kept of every employee named since the last commit: call it after
    /// each commit of a transaction that may have filed punches.
    pub(super) fn committed(&self) {
        let mut kept = self.lock();
        let touched = std::mem::take(&mut kept.touched);
        for employee in &touched {
            if let Some(reads) = kept.rows.remove(employee) {
                kept.held -= reads.iter().map(|(_, rows)| rows.len()).sum::<usize>();
            }
            kept.forgotten[bucket(*employee)] += 1;
        }
        // The vector's room is kept for the next transaction.
        kept.touched = touched;
        kept.touched.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};

    use mtime_core::event::Direction;
    use mtime_core::ids::{EventId, KioskId};
    use mtime_core::pairing::{Punch, PunchOrigin, Recorded};

    use super::*;

    fn row(n: u128) -> IndexedPunch {
        let at = Utc.timestamp_opt(1_700_000_000 + n as i64, 0).unwrap();
        let punch = Punch {
            event: EventId(uuid::Uuid::from_u128(n)),
            at,
            direction: Direction::In,
            reason: serde_json::from_value(serde_json::json!("WORK")).unwrap(),
            origin: PunchOrigin::Kiosk { kiosk: KioskId(uuid::Uuid::from_u128(1)), seq: 1 },
        };
        IndexedPunch { sort: at, recorded: Recorded { punch, amends: None } }
    }

    fn read(cache: &PunchCache, employees: &[u128], count: usize) -> Vec<Option<Vec<u128>>> {
        let lookup = cache.lookup(employees, count);
        let ids = |rows: &Vec<IndexedPunch>| {
            rows.iter().map(|r| r.recorded.punch.event.0.as_u128()).collect::<Vec<_>>()
        };
        lookup.found.iter().map(|f| f.as_ref().map(ids)).collect()
    }

    #[test]
    fn rows_read_are_handed_out_until_a_commit_forgets_their_employee() {
        let cache = PunchCache::default();
        let lookup = cache.lookup(&[7, 8], 2);
        cache.keep(&[7, 8], 2, &lookup, &[vec![row(1), row(2)], vec![row(3)]]);
        assert_eq!(read(&cache, &[7, 8], 2), [Some(vec![1, 2]), Some(vec![3])]);
        assert_eq!(read(&cache, &[7], 8), [None], "kept by how many rows were asked for");

        cache.touched(&[7]);
        assert_eq!(read(&cache, &[7], 2), [Some(vec![1, 2])], "not forgotten before the commit");
        cache.committed();
        assert_eq!(read(&cache, &[7, 8], 2), [None, Some(vec![3])]);
        assert_eq!(cache.lock().held, 1);
    }

    #[test]
    fn a_read_that_a_commit_overtook_is_not_kept() {
        let cache = PunchCache::default();
        let lookup = cache.lookup(&[7, 8], 2);

        // Employee 7 + BUCKETS shares 7's bucket; 8 is in another.
        cache.touched(&[7 + BUCKETS as u128]);
        cache.committed();
        cache.keep(&[7, 8], 2, &lookup, &[vec![row(1)], vec![row(3)]]);

        assert_eq!(read(&cache, &[7, 8], 2), [None, Some(vec![3])]);
    }

    #[test]
    fn nothing_more_is_kept_once_full_and_long_reads_are_not_kept() {
        let cache = PunchCache::default();
        let many: Vec<IndexedPunch> = (0..MOST_ROWS as u128).map(row).collect();
        let lookup = cache.lookup(&[1, 2], 2);
        cache.keep(&[1, 2], 2, &lookup, &[many, vec![row(1)]]);
        assert_eq!(read(&cache, &[2], 2), [None]);
        assert_eq!(cache.lock().held, MOST_ROWS);

        let lookup = cache.lookup(&[3], 32);
        cache.keep(&[3], 32, &lookup, &[vec![row(1)]]);
        assert_eq!(read(&cache, &[3], 32), [None]);
    }
}
