//! Feed entries a write transaction appends, numbered and stored together once its other
//! writes are done.
//!
//! A batch of 500 punches makes 500 entries; written one by one, each would open the feed
//! and its counter again and rewrite the counter, which profiling showed to be a third of
//! the time a batch takes to store. Written together, the tables are opened and the
//! counter moved once per transaction.

use chrono::{DateTime, NaiveDate, Utc};
use redb::{ReadableTable, WriteTransaction};

use mtime_core::ids::{EmployeeId, EventId, KioskId};

use super::{FEED, FEED_SEQ, META, backend, decode_feed_entry, encode};
use crate::model::{FeedEntry, feed_kind};
use crate::store::StoreError;

/// The entries one transaction appends, in the order it appended them. Nothing reaches the
/// feed until [`FeedAppends::write`] is called in that transaction.
#[derive(Debug, Default)]
#[must_use = "feed entries are stored only by `write`"]
pub(super) struct FeedAppends {
    entries: Vec<FeedEntry>,
}

impl FeedAppends {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Appends an entry of `kind`.
    pub(super) fn push(
        &mut self,
        at: DateTime<Utc>,
        kind: &str,
        employee: Option<EmployeeId>,
        kiosk: Option<KioskId>,
        event: Option<EventId>,
    ) {
        // The seq is given by `write`, after the last entry stored.
        let entry = FeedEntry {
            seq: 0,
            at,
            kind: kind.to_owned(),
            employee,
            kiosk,
            event,
            week_start: None,
        };
        self.entries.push(entry);
    }

    /// Appends `week.closed` for one employee's week.
    pub(super) fn push_week_closed(
        &mut self,
        at: DateTime<Utc>,
        employee: EmployeeId,
        week_start: NaiveDate,
    ) {
        self.entries.push(FeedEntry {
            seq: 0,
            at,
            kind: feed_kind::WEEK_CLOSED.to_owned(),
            employee: Some(employee),
            kiosk: None,
            event: None,
            week_start: Some(week_start),
        });
    }

    /// Numbers the entries after the last one stored and stores them in `txn`, in the
    /// transaction that made the changes they announce, so the feed holds exactly what was
    /// stored.
    ///
    /// An entry's `at` never goes back in seq order: a writer stamps its entries before it
    /// waits for the write lock, so one stamped earlier can be stored after another; it then
    /// takes the time of the entry stored before it (a few milliseconds later, or a clock set
    /// back), so that a consumer may read the feed by time as well as by seq.
    pub(super) fn write(self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if self.entries.is_empty() {
            return Ok(());
        }

        let mut meta = txn.open_table(META).map_err(backend)?;
        let last = meta.get(FEED_SEQ).map_err(backend)?.map_or(0, |v| v.value());

        let mut feed = txn.open_table(FEED).map_err(backend)?;
        let stored = feed.get(last).map_err(backend)?.map(|v| decode_feed_entry(v.value()));
        let mut latest = stored.transpose()?.map(|entry| entry.at);
        let mut seq = last;
        for mut entry in self.entries {
            seq += 1;
            entry.seq = seq;
            entry.at = latest.map_or(entry.at, |latest| entry.at.max(latest));
            latest = Some(entry.at);
            feed.insert(seq, encode(&entry)?.as_slice()).map_err(backend)?;
        }

        meta.insert(FEED_SEQ, seq).map_err(backend)?;
        Ok(())
    }
}

/// Appends one entry in `txn`.
pub(super) fn append(
    txn: &WriteTransaction,
    at: DateTime<Utc>,
    kind: &str,
    employee: Option<EmployeeId>,
    kiosk: Option<KioskId>,
    event: Option<EventId>,
) -> Result<(), StoreError> {
    let mut feed = FeedAppends::new();
    feed.push(at, kind, employee, kiosk, event);
    feed.write(txn)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::Store;
    use crate::store::redb_store::RedbStore;

    #[test]
    fn entries_are_numbered_after_the_last_stored_in_the_order_appended() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
        let employee = EmployeeId::random();
        let kiosk = KioskId::random();
        let week = NaiveDate::from_ymd_opt(2026, 2, 23).unwrap();

        let txn = store.db.begin_write().unwrap();
        append(&txn, at, feed_kind::KIOSK_ENROLLED, None, Some(kiosk), None).unwrap();
        txn.commit().unwrap();

        let txn = store.db.begin_write().unwrap();
        let mut feed = FeedAppends::new();
        feed.push(at, feed_kind::PRESENCE_RECORDED, Some(employee), Some(kiosk), None);
        feed.push_week_closed(at, employee, week);
        feed.push(at, feed_kind::KIOSK_SILENT, None, Some(kiosk), None);
        feed.write(&txn).unwrap();
        FeedAppends::new().write(&txn).unwrap();
        txn.commit().unwrap();

        let txn = store.db.begin_write().unwrap();
        append(&txn, at, feed_kind::KIOSK_RESUMED, None, Some(kiosk), None).unwrap();
        txn.commit().unwrap();

        let stored = store.feed_after(0, 10).unwrap();
        let seqs: Vec<u64> = stored.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        let kinds: Vec<&str> = stored.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                feed_kind::KIOSK_ENROLLED,
                feed_kind::PRESENCE_RECORDED,
                feed_kind::WEEK_CLOSED,
                feed_kind::KIOSK_SILENT,
                feed_kind::KIOSK_RESUMED,
            ]
        );
        assert_eq!(stored[1].employee, Some(employee));
        assert_eq!(stored[2].week_start, Some(week));
        assert_eq!(stored[3].kiosk, Some(kiosk));
    }

    #[test]
    fn an_entry_stamped_before_one_stored_ahead_of_it_takes_that_ones_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
        let ms = chrono::TimeDelta::milliseconds;

        let txn = store.db.begin_write().unwrap();
        append(&txn, at, feed_kind::PRESENCE_RECORDED, None, None, None).unwrap();
        txn.commit().unwrap();

        // Stamped 3 ms before the entry above, while it waited for the write lock.
        let txn = store.db.begin_write().unwrap();
        let mut feed = FeedAppends::new();
        feed.push(at - ms(3), feed_kind::INTERVAL_CLOSED, None, None, None);
        feed.push(at + ms(5), feed_kind::INTERVAL_CLOSED, None, None, None);
        feed.push(at + ms(4), feed_kind::INTERVAL_CLOSED, None, None, None);
        feed.write(&txn).unwrap();
        txn.commit().unwrap();

        let stored = store.feed_after(0, 10).unwrap();
        let times: Vec<_> = stored.iter().map(|e| e.at).collect();
        assert_eq!(times, [at, at, at + ms(5), at + ms(5)]);
    }

    #[test]
    fn entries_of_a_transaction_dropped_uncommitted_take_no_seq() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();

        let txn = store.db.begin_write().unwrap();
        let mut feed = FeedAppends::new();
        feed.push(at, feed_kind::KIOSK_SILENT, None, None, None);
        feed.write(&txn).unwrap();
        drop(txn);

        let txn = store.db.begin_write().unwrap();
        append(&txn, at, feed_kind::KIOSK_RESUMED, None, None, None).unwrap();
        txn.commit().unwrap();

        let stored = store.feed_after(0, 10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].seq, stored[0].kind.as_str()), (1, feed_kind::KIOSK_RESUMED));
    }
}
