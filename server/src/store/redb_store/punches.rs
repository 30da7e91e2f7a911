//! Each employee's punches in time order, written in the transaction that stores the event.
//!
//! Pairing needs only what a [`Recorded`] holds, so reading an employee's history here is one
//! range of small rows, not a lookup and a decode of every whole event. The rows are keyed by
//! employee and instant, so presence at an instant reads backwards from the newest punch and
//! stops at the last check-out (see [`crate::store::presence_at`]).
//!
//! An amending event changes the place of an earlier one. So that a backward read that holds
//! every row from some instant on holds everything that changes the punches of that stretch,
//! an amending row is filed no earlier than the row it amends (its *sort instant*; its own
//! instant stays in the row). A target stored after its amendment (held in quarantine, or an
//! unknown badge's tap given to the employee later) moves the amendments already filed up to
//! its own place.
//!
//! A new plain punch (one that amends nothing and that nothing filed amends) is not filed in
//! the index at once but appended to a log in arrival order: the index is keyed by employee,
//! so a batch naming 400 employees would otherwise rewrite 400 of its leaves in each commit,
//! while the log's appends share a leaf or two. The log is merged into the index many
//! batches at a time: when it holds [`MERGE_AT`] rows, before anything that moves or reads
//! filed rows in a write (an amendment, a target some amendment names), and when the
//! interval watcher finds the feed quiet ([`merge`]). Every read here consults both, in one
//! transaction, so what a reader sees does not depend on whether a merge has run: a plain
//! row is filed at its own instant in either place.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use mtime_core::event::{Amendment, Direction, ReasonCode};
use mtime_core::ids::{EmployeeId, EventId};
use mtime_core::pairing::{Punch, PunchOrigin, Recorded};

use super::event_row::{decode_event, encode_event};
use super::punch_cache::PunchCache;
use super::{EVENT_AMENDMENTS, EVENTS, backend, decode, encode};
use crate::model::EventRecord;
use crate::store::{IndexedPunch, StoreError};

/// (employee, sort instant seconds, its nanoseconds, event) → a [`Row`].
const PUNCHES: TableDefinition<(u128, i64, u32, u128), &[u8]> =
    TableDefinition::new("employee_punches");
/// (amended event, amending event) → (): who amends what, to move amendments up to a
/// target stored after them.
const AMENDED_BY: TableDefinition<(u128, u128), ()> = TableDefinition::new("amended_by");
/// event → the sort instant of an amending row filed later than its own instant.
const RAISED: TableDefinition<u128, (i64, u32)> = TableDefinition::new("raised_punches");
/// Arrival number → a plain punch not yet in [`PUNCHES`]: its key there (employee, seconds,
/// nanoseconds, event; big-endian, 44 bytes), so that a scan decodes no row, and then the
/// encoded [`Row`].
const PUNCH_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("punch_log");
/// The index before this module: (employee, event) → (). Read once to build the rows.
const EMPLOYEE_EVENTS: TableDefinition<(u128, u128), ()> = TableDefinition::new("employee_events");

/// A sort instant: seconds and nanoseconds since the epoch, as the key orders them.
pub(super) type Instant = (i64, u32);

/// Rows in the log at which a write merges it into the index. Each read scans the log once,
/// so this bounds what a read pays for the rows not merged yet (about a millisecond), while a
/// merge rewrites each employee's leaf once for all their rows in the log.
pub(super) const MERGE_AT: u64 = 10_000;

/// A key of [`PUNCHES`]: (employee, sort seconds, sort nanoseconds, event).
type Key = (u128, i64, u32, u128);

/// Rows as read, each with its key: the encoded [`Row`].
type Rows = Vec<(Key, Vec<u8>)>;

/// One punch as stored: what pairing and the amendment rule read.
#[derive(Serialize, Deserialize)]
struct Row {
    secs: i64,
    nanos: u32,
    direction: Direction,
    reason: ReasonCode,
    origin: PunchOrigin,
    amends: Option<Amendment>,
}

pub(super) fn instant(at: DateTime<Utc>) -> Instant {
    (at.timestamp(), at.timestamp_subsec_nanos())
}

pub(super) fn date_time(
    (secs, nanos): Instant,
    what: &'static str,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(secs, nanos).ok_or_else(|| StoreError::Corrupt {
        what,
        detail: format!("{secs}.{nanos:09} is not an instant"),
    })
}

fn range(employee: u128) -> std::ops::RangeInclusive<(u128, i64, u32, u128)> {
    (employee, i64::MIN, 0, 0)..=(employee, i64::MAX, u32::MAX, u128::MAX)
}

fn recorded(event: u128, row: &[u8]) -> Result<Recorded, StoreError> {
    let row: Row = decode(row, "punch")?;
    let punch = Punch {
        event: EventId(uuid::Uuid::from_u128(event)),
        at: date_time((row.secs, row.nanos), "punch")?,
        direction: row.direction,
        reason: row.reason,
        origin: row.origin,
    };
    Ok(Recorded { punch, amends: row.amends })
}

/// Creates the tables, and on a store written before them, builds the rows from the events
/// and drops the old index.
pub(super) fn open(txn: &WriteTransaction, kept: &PunchCache) -> Result<(), StoreError> {
    txn.open_table(PUNCHES).map_err(backend)?;
    txn.open_table(AMENDED_BY).map_err(backend)?;
    txn.open_table(RAISED).map_err(backend)?;
    txn.open_table(PUNCH_LOG).map_err(backend)?;

    let mut indexed = Vec::new();
    {
        let old = txn.open_table(EMPLOYEE_EVENTS).map_err(backend)?;
        for row in old.iter().map_err(backend)? {
            indexed.push(row.map_err(backend)?.0.value());
        }
    }
    txn.delete_table(EMPLOYEE_EVENTS).map_err(backend)?;
    if indexed.is_empty() {
        return Ok(());
    }

    let mut events = Vec::with_capacity(indexed.len());
    {
        let stored = txn.open_table(EVENTS).map_err(backend)?;
        let amendments = txn.open_table(EVENT_AMENDMENTS).map_err(backend)?;
        for (employee, id) in indexed {
            let Some(bytes) = stored.get(id).map_err(backend)? else { continue };
            let event = decode_event(bytes.value())?;
            let amends = amendments
                .get(id)
                .map_err(backend)?
                .map(|v| decode::<Amendment>(v.value(), "amendment"))
                .transpose()?;
            events.push((EmployeeId(uuid::Uuid::from_u128(employee)), event.punch, amends));
        }
    }
    // Targets before the amendments that name them, so each amendment finds its place.
    events.sort_by_key(|(_, punch, amends)| match (amends, &punch.origin) {
        (None, _) => (0, 0),
        (Some(_), PunchOrigin::Kiosk { seq, .. }) => (1, *seq),
        (Some(_), PunchOrigin::Api { .. }) => (1, u64::MAX),
    });
    let mut filing = Filing::new(txn, kept);
    for (employee, punch, amends) in &events {
        filing.put(*employee, punch, *amends)?;
    }
    tracing::warn!(punches = events.len(), "built the employee punch index of an older store");
    Ok(())
}

/// Files the punches of one write transaction. Between plain punches it keeps the log, the
/// table of who amends what and the events' rows open: a batch of 500 punches opens them
/// once, not 500 times. Each is closed before a rule that reads it again.
///
/// The employees it filed punches of are named to the [`PunchCache`] when it is dropped,
/// which is before the transaction commits: the commit then forgets what was kept of them.
pub(super) struct Filing<'t> {
    txn: &'t WriteTransaction,
    appending: Option<Appending<'t>>,
    /// The events' rows, open since [`Filing::write_event`]; closed with the log.
    events: Option<Table<'t, u128, &'static [u8]>>,
    kept: &'t PunchCache,
    touched: Vec<u128>,
}

/// The tables a plain punch is appended through, and where the log stands.
struct Appending<'t> {
    log: Table<'t, u64, &'static [u8]>,
    amended_by: Table<'t, (u128, u128), ()>,
    /// The arrival number of the next row.
    next: u64,
    /// Rows in the log.
    rows: u64,
}

impl<'t> Filing<'t> {
    pub(super) fn new(txn: &'t WriteTransaction, kept: &'t PunchCache) -> Self {
        Self { txn, appending: None, events: None, kept, touched: Vec::new() }
    }

    /// Writes an event's row: false when its id was stored already, whose row it then
    /// replaced, so the caller must drop the transaction uncommitted.
    pub(super) fn write_event(&mut self, event: &EventRecord) -> Result<bool, StoreError> {
        let events = match &mut self.events {
            Some(events) => events,
            None => self.events.insert(self.txn.open_table(EVENTS).map_err(backend)?),
        };
        let id = event.punch.event.0.as_u128();
        let replaced = events.insert(id, encode_event(event)?.as_slice()).map_err(backend)?;
        Ok(replaced.is_none())
    }

    /// Files one punch of `employee`.
    pub(super) fn put(
        &mut self,
        employee: EmployeeId,
        punch: &Punch,
        amends: Option<Amendment>,
    ) -> Result<(), StoreError> {
        let employee = employee.0.as_u128();
        self.touched.push(employee);
        let id = punch.event.0.as_u128();
        let own = instant(punch.at);
        let row = Row {
            secs: own.0,
            nanos: own.1,
            direction: punch.direction,
            reason: punch.reason.clone(),
            origin: punch.origin.clone(),
            amends,
        };

        if amends.is_none() {
            let appending = self.appending()?;
            if !appending.names(id)? {
                appending.append(employee, id, &row)?;
                if appending.rows >= MERGE_AT {
                    self.merge()?;
                }
                return Ok(());
            }
        }

        // The amendment rules read and move filed rows, so every row must be in the index.
        self.merge()?;
        file(self.txn, employee, id, own, &row)
    }

    /// Merges the log into the index, its tables closed first: a merge makes the log anew,
    /// and the amendment rules that follow one read the events' rows.
    fn merge(&mut self) -> Result<(), StoreError> {
        self.appending = None;
        self.events = None;
        merge(self.txn).map(drop)
    }

    fn appending(&mut self) -> Result<&mut Appending<'t>, StoreError> {
        if self.appending.is_none() {
            let log = self.txn.open_table(PUNCH_LOG).map_err(backend)?;
            let next = log.last().map_err(backend)?.map_or(0, |(k, _)| k.value() + 1);
            let rows = log.len().map_err(backend)?;
            let amended_by = self.txn.open_table(AMENDED_BY).map_err(backend)?;
            self.appending = Some(Appending { log, amended_by, next, rows });
        }
        self.appending.as_mut().ok_or_else(|| StoreError::Backend("the punch log is shut".into()))
    }
}

impl Drop for Filing<'_> {
    fn drop(&mut self) {
        self.kept.touched(&self.touched);
    }
}

impl Appending<'_> {
    /// Whether an amendment filed already names `event`.
    fn names(&self, event: u128) -> Result<bool, StoreError> {
        let mut amenders =
            self.amended_by.range((event, 0)..=(event, u128::MAX)).map_err(backend)?;
        Ok(amenders.next().transpose().map_err(backend)?.is_some())
    }

    /// Appends a plain punch to the log.
    fn append(&mut self, employee: u128, event: u128, row: &Row) -> Result<(), StoreError> {
        let mut value = Vec::with_capacity(LOGGED_KEY + 32);
        value.extend_from_slice(&employee.to_be_bytes());
        value.extend_from_slice(&row.secs.to_be_bytes());
        value.extend_from_slice(&row.nanos.to_be_bytes());
        value.extend_from_slice(&event.to_be_bytes());
        value.extend_from_slice(&encode(row)?);
        self.log.insert(self.next, value.as_slice()).map_err(backend)?;
        self.next += 1;
        self.rows += 1;
        Ok(())
    }
}

/// Files a punch in the index at once: an amending one no earlier than its target, or one
/// that amendments filed already name, which moves them up to it. Every row must be in the
/// index already.
fn file(
    txn: &WriteTransaction,
    employee: u128,
    id: u128,
    own: Instant,
    row: &Row,
) -> Result<(), StoreError> {
    let mut sort = own;
    if let Some(amendment) = row.amends {
        let target = amendment.target().0.as_u128();
        txn.open_table(AMENDED_BY).map_err(backend)?.insert((target, id), ()).map_err(backend)?;
        if let Some(filed) = filed_at(txn, employee, target)? {
            sort = sort.max(filed);
        }
    }
    if sort != own {
        txn.open_table(RAISED).map_err(backend)?.insert(id, sort).map_err(backend)?;
    }

    let mut punches = txn.open_table(PUNCHES).map_err(backend)?;
    punches.insert((employee, sort.0, sort.1, id), encode(row)?.as_slice()).map_err(backend)?;
    drop(punches);

    raise_amenders(txn, employee, id, sort)
}

/// Files every row of the log in the index, in key order, and empties the log; returns how
/// many rows it moved.
pub(super) fn merge(txn: &WriteTransaction) -> Result<usize, StoreError> {
    let mut rows: Rows = Vec::new();
    {
        let log = txn.open_table(PUNCH_LOG).map_err(backend)?;
        if log.is_empty().map_err(backend)? {
            return Ok(0);
        }
        for entry in log.iter().map_err(backend)? {
            let (_, value) = entry.map_err(backend)?;
            let (key, row) = logged_entry(value.value())?;
            rows.push((key, row.to_vec()));
        }
    }
    // In key order, each insert lands in or next to the leaf the one before it wrote.
    rows.sort_unstable_by_key(|(key, _)| *key);
    {
        let mut punches = txn.open_table(PUNCHES).map_err(backend)?;
        for (key, row) in &rows {
            punches.insert(key, row.as_slice()).map_err(backend)?;
        }
    }
    // Made again at once: readers open the table, and a read transaction cannot create it.
    txn.delete_table(PUNCH_LOG).map_err(backend)?;
    txn.open_table(PUNCH_LOG).map_err(backend)?;
    Ok(rows.len())
}

/// Whether the log holds rows not merged yet.
pub(super) fn log_is_empty(txn: &ReadTransaction) -> Result<bool, StoreError> {
    let log = txn.open_table(PUNCH_LOG).map_err(backend)?;
    log.is_empty().map_err(backend)
}

/// Bytes of a key at the head of a log entry.
const LOGGED_KEY: usize = 44;

/// The key and the encoded row of a log entry.
fn logged_entry(value: &[u8]) -> Result<(Key, &[u8]), StoreError> {
    let corrupt = || StoreError::Corrupt {
        what: "punch log",
        detail: format!("an entry of {} bytes is too short", value.len()),
    };
    let (key, row) = value.split_at_checked(LOGGED_KEY).ok_or_else(corrupt)?;
    let (employee, rest) = key.split_at(16);
    let (secs, rest) = rest.split_at(8);
    let (nanos, event) = rest.split_at(4);
    let key = (
        u128::from_be_bytes(employee.try_into().map_err(|_| corrupt())?),
        i64::from_be_bytes(secs.try_into().map_err(|_| corrupt())?),
        u32::from_be_bytes(nanos.try_into().map_err(|_| corrupt())?),
        u128::from_be_bytes(event.try_into().map_err(|_| corrupt())?),
    );
    Ok((key, row))
}

/// The logged rows of `employees`, each employee's in key order; one scan of the log, in
/// which rows are not decoded.
fn logged(
    txn: &ReadTransaction,
    employees: impl IntoIterator<Item = u128>,
) -> Result<HashMap<u128, Rows>, StoreError> {
    let log = txn.open_table(PUNCH_LOG).map_err(backend)?;
    if log.is_empty().map_err(backend)? {
        return Ok(HashMap::new());
    }
    let mut out: HashMap<u128, Rows> = employees.into_iter().map(|e| (e, Vec::new())).collect();
    for entry in log.iter().map_err(backend)? {
        let (_, value) = entry.map_err(backend)?;
        let (key, row) = logged_entry(value.value())?;
        if let Some(rows) = out.get_mut(&key.0) {
            rows.push((key, row.to_vec()));
        }
    }
    for rows in out.values_mut() {
        rows.sort_unstable_by_key(|(key, _)| *key);
    }
    Ok(out)
}

/// Every row of `employee`, index and log together, in key order.
fn rows_of(txn: &ReadTransaction, employee: u128) -> Result<Rows, StoreError> {
    let mut rows = logged(txn, [employee])?.remove(&employee).unwrap_or_default();
    let punches = txn.open_table(PUNCHES).map_err(backend)?;
    for row in punches.range(range(employee)).map_err(backend)? {
        let (key, value) = row.map_err(backend)?;
        rows.push((key.value(), value.value().to_vec()));
    }
    rows.sort_unstable_by_key(|(key, _)| *key);
    Ok(rows)
}

/// Where `event` is filed among `employee`'s punches, if it is.
fn filed_at(
    txn: &WriteTransaction,
    employee: u128,
    event: u128,
) -> Result<Option<Instant>, StoreError> {
    let raised = txn.open_table(RAISED).map_err(backend)?;
    let raised = raised.get(event).map_err(backend)?.map(|v| v.value());
    let sort = match raised {
        Some(sort) => sort,
        None => {
            let events = txn.open_table(EVENTS).map_err(backend)?;
            let Some(bytes) = events.get(event).map_err(backend)? else { return Ok(None) };
            let record = decode_event(bytes.value())?;
            instant(record.punch.at)
        }
    };
    let punches = txn.open_table(PUNCHES).map_err(backend)?;
    let filed = punches.get((employee, sort.0, sort.1, event)).map_err(backend)?.is_some();
    Ok(filed.then_some(sort))
}

/// Moves the amendments of `event` already filed before `sort`, and theirs in turn, up to it.
fn raise_amenders(
    txn: &WriteTransaction,
    employee: u128,
    event: u128,
    sort: Instant,
) -> Result<(), StoreError> {
    let mut pending = vec![event];
    while let Some(target) = pending.pop() {
        let mut amenders = Vec::new();
        {
            let table = txn.open_table(AMENDED_BY).map_err(backend)?;
            for row in table.range((target, 0)..=(target, u128::MAX)).map_err(backend)? {
                amenders.push(row.map_err(backend)?.0.value().1);
            }
        }
        for amender in amenders {
            let Some(filed) = filed_at(txn, employee, amender)? else { continue };
            // Keys only grow, so a cycle of amendments a kiosk made up ends here.
            if filed >= sort {
                continue;
            }
            let mut punches = txn.open_table(PUNCHES).map_err(backend)?;
            let row = punches
                .remove((employee, filed.0, filed.1, amender))
                .map_err(backend)?
                .map(|v| v.value().to_vec());
            let Some(row) = row else { continue };
            punches.insert((employee, sort.0, sort.1, amender), row.as_slice()).map_err(backend)?;
            drop(punches);
            txn.open_table(RAISED).map_err(backend)?.insert(amender, sort).map_err(backend)?;
            pending.push(amender);
        }
    }
    Ok(())
}

/// Every punch of `employee`, in sort order.
pub(super) fn all(txn: &ReadTransaction, employee: u128) -> Result<Vec<Recorded>, StoreError> {
    let rows = rows_of(txn, employee)?;
    rows.iter().map(|(key, row)| recorded(key.3, row)).collect()
}

/// The ids of every event filed for `employee`, in sort order.
pub(super) fn ids(txn: &ReadTransaction, employee: u128) -> Result<Vec<u128>, StoreError> {
    Ok(rows_of(txn, employee)?.into_iter().map(|(key, _)| key.3).collect())
}

/// The last `count` punches of each employee in sort order, each with its sort instant, and
/// any other filed at the instant of the oldest of them.
pub(super) fn latest(
    txn: &ReadTransaction,
    employees: &[EmployeeId],
    count: usize,
) -> Result<Vec<Vec<IndexedPunch>>, StoreError> {
    let logged = logged(txn, employees.iter().map(|e| e.0.as_u128()))?;
    let punches = txn.open_table(PUNCHES).map_err(backend)?;
    // In key order, each read starts in or next to the pages the one before it read.
    let mut order: Vec<usize> = (0..employees.len()).collect();
    order.sort_by_key(|&i| employees[i].0.as_u128());
    let mut out = vec![Vec::new(); employees.len()];
    for i in order {
        let employee = employees[i].0.as_u128();
        // Newest first: the log's rows of this employee and the index's, as one sequence.
        let log = logged.get(&employee).map_or(&[][..], Vec::as_slice);
        let mut unread = log.len();
        let mut index = punches.range(range(employee)).map_err(backend)?.rev().peekable();
        let mut rows = Vec::with_capacity(count.min(1024));
        let mut oldest = None;
        loop {
            let from_index = match (index.peek(), unread.checked_sub(1).map(|i| &log[i])) {
                (Some(Ok((key, _))), Some((logged, _))) => key.value() > *logged,
                (Some(_), _) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let from_table;
            let (key, row): (Key, &[u8]) = if from_index {
                let Some(entry) = index.next() else { break };
                from_table = entry.map_err(backend)?;
                (from_table.0.value(), from_table.1.value())
            } else {
                unread -= 1;
                (log[unread].0, &log[unread].1)
            };
            let (_, secs, nanos, event) = key;
            if rows.len() >= count && oldest != Some((secs, nanos)) {
                break;
            }
            oldest = Some((secs, nanos));
            let sort = date_time((secs, nanos), "punch key")?;
            rows.push(IndexedPunch { sort, recorded: recorded(event, row)? });
        }
        rows.reverse();
        out[i] = rows;
    }
    Ok(out)
}

/// For each event, its employee and punch when it is plain: stored, someone's, amending
/// nothing, and named by no amendment filed (which would move or undo it); `None` otherwise.
pub(super) fn plain(
    txn: &ReadTransaction,
    events: &[EventId],
) -> Result<Vec<Option<(EmployeeId, Punch)>>, StoreError> {
    let stored = txn.open_table(EVENTS).map_err(backend)?;
    let amendments = txn.open_table(EVENT_AMENDMENTS).map_err(backend)?;
    let amended_by = txn.open_table(AMENDED_BY).map_err(backend)?;
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let id = event.0.as_u128();
        let Some(bytes) = stored.get(id).map_err(backend)? else {
            out.push(None);
            continue;
        };
        let amends = amendments.get(id).map_err(backend)?.is_some();
        let mut amenders = amended_by.range((id, 0)..=(id, u128::MAX)).map_err(backend)?;
        let amended = amenders.next().transpose().map_err(backend)?.is_some();
        if amends || amended {
            out.push(None);
            continue;
        }
        let record = decode_event(bytes.value())?;
        out.push(record.employee.map(|employee| (employee, record.punch)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use chrono::TimeDelta;
    use redb::ReadableDatabase;

    use mtime_core::ids::KioskId;
    use mtime_core::pairing::Interval;

    use super::*;
    use crate::model::EventDetail;
    use crate::store::redb_store::RedbStore;
    use crate::store::redb_store::histories::{Dice, file, history, reason, start_of_histories};
    use crate::store::{
        OpenLimits, Store, effective_punches, employee_intervals, intervals_since_each,
        last_check_in_before, presence_at,
    };

    #[test]
    fn the_newest_punches_kept_between_reads_follow_every_punch_filed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let mut dice = Dice(0x2545_f491_4f6c_dd1d);
        let everyone: Vec<EmployeeId> = (0..4).map(|_| EmployeeId::random()).collect();
        let mut taps: Vec<_> = everyone.iter().flat_map(|e| history(&mut dice, *e)).collect();
        // Interleaved, so that most reads find the rows of some employees kept.
        taps.sort_by_key(|(event, _)| event.received_at);

        let mut kept_reads = 0;
        for (event, amends) in &taps {
            file(&store, event, *amends);
            for count in [2, 8] {
                let before = store
                    .kept
                    .lookup(&everyone.iter().map(|e| e.0.as_u128()).collect::<Vec<_>>(), count);
                kept_reads += before.found.iter().flatten().count();
                let read = store.latest_punches_kept(&everyone, count).unwrap();
                let fresh = latest(&store.db.begin_read().unwrap(), &everyone, count).unwrap();
                assert_eq!(read, fresh, "after {:?}", event.punch);
            }
        }
        assert!(kept_reads > taps.len(), "only {kept_reads} reads were kept");
    }

    #[test]
    fn presence_read_backwards_matches_the_whole_history_paired() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let limits = OpenLimits::load(&store).unwrap();
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
        let mut present = 0;
        let mut absent = 0;
        let mut everyone = Vec::new();
        let mut asked = Vec::new();

        for _ in 0..60 {
            let employee = EmployeeId::random();
            everyone.push(employee);
            let taps = history(&mut dice, employee);
            for (event, amends) in &taps {
                file(&store, event, *amends);
            }

            let mut filed: Vec<EventId> =
                store.employee_punches(employee).unwrap().iter().map(|r| r.punch.event).collect();
            let mut stored: Vec<EventId> = taps.iter().map(|(e, _)| e.punch.event).collect();
            filed.sort();
            stored.sort();
            assert_eq!(filed, stored);

            // An amending row is never filed before the row it amends.
            let rows = store.latest_punches_of(&[employee], usize::MAX).unwrap().remove(0);
            let sort: HashMap<EventId, DateTime<Utc>> =
                rows.iter().map(|r| (r.recorded.punch.event, r.sort)).collect();
            for row in &rows {
                if let Some(amendment) = row.recorded.amends {
                    assert!(row.sort >= sort[&amendment.target()], "{row:?}");
                }
            }

            let whole = employee_intervals(&store, &limits, employee).unwrap();
            let last = effective_punches(&store, employee)
                .unwrap()
                .into_iter()
                .max_by_key(mtime_core::pairing::order);
            let paired: Vec<Punch> =
                whole.iter().flat_map(|i| [&i.start, &i.end]).flatten().cloned().collect();
            let mut instants: Vec<DateTime<Utc>> = taps.iter().map(|(e, _)| e.punch.at).collect();
            instants.extend(instants.clone().iter().map(|t| *t - TimeDelta::seconds(1)));
            instants.extend(instants.clone().iter().map(|t| *t + TimeDelta::seconds(1)));
            for at in instants {
                // Open past the 16 hours an interval may stay open: a forgotten check-out.
                let forgotten = |i: &Interval| {
                    let since = i.start.as_ref().map(|start| at - start.at);
                    i.end.is_none() && since.is_some_and(|open| open > TimeDelta::hours(16))
                };
                let expected =
                    whole.iter().rev().find(|i| i.contains(at) && !forgotten(i)).cloned();
                asked.push(at);
                let read = presence_at(&store, &limits, &[employee], at).unwrap().remove(0);
                assert_eq!(read, expected, "employee {employee} at {at}");
                if expected.is_some() {
                    present += 1;
                } else {
                    absent += 1;
                }

                // What the interval watcher re-pairs after a change at `at`: what reaches
                // it, and what the last check-in before it began.
                let reopened = last_check_in_before(&paired, at);
                let reaching = |i: &&Interval| {
                    [&i.start, &i.end].into_iter().flatten().any(|p| p.at >= at)
                        || i.start.as_ref().is_some_and(|p| Some(p.event) == reopened)
                };
                let expected: Vec<Interval> = whole.iter().filter(reaching).cloned().collect();
                let since =
                    intervals_since_each(&store, &limits, &[(employee, at)]).unwrap().remove(0);
                assert_eq!(since.intervals, expected, "employee {employee} since {at}");
                assert_eq!(since.last, last, "employee {employee}: the last punch, since {at}");
            }
        }
        // Asked for everyone at once, each reads as far back as they need, no further.
        for at in asked.into_iter().step_by(97) {
            let together = presence_at(&store, &limits, &everyone, at).unwrap();
            for (employee, read) in everyone.iter().zip(together) {
                let alone = presence_at(&store, &limits, &[*employee], at).unwrap().remove(0);
                assert_eq!(read, alone, "employee {employee} at {at}");
            }
        }

        // A workforce large enough to be read in parts, one thread each, in an order that is
        // neither the ids' nor the histories': each answer where its employee was asked.
        let workforce: Vec<EmployeeId> =
            (0..2_400).map(|i| everyone[(i * 7 + i / 60) % everyone.len()]).collect();
        let mut answered = 0;
        for at in [start_of_histories(), start_of_histories() + TimeDelta::days(9)] {
            let alone: HashMap<EmployeeId, Option<Interval>> = everyone
                .iter()
                .map(|e| (*e, presence_at(&store, &limits, &[*e], at).unwrap().remove(0)))
                .collect();
            let together = presence_at(&store, &limits, &workforce, at).unwrap();
            assert_eq!(together.len(), workforce.len());
            for (employee, read) in workforce.iter().zip(&together) {
                assert_eq!(read, &alone[employee], "employee {employee} at {at}");
            }
            answered += together.iter().flatten().count();
        }
        assert!(answered > 100, "{answered} present in the large reads");

        // The histories exercise both answers.
        assert!(present > 1000 && absent > 1000, "present {present}, absent {absent}");
    }

    #[test]
    fn a_store_written_before_the_punch_index_reads_its_punches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mtime.redb");
        let employee = EmployeeId::random();
        let kiosk = KioskId::random();
        let at = DateTime::from_timestamp(1_767_600_000, 0).unwrap();
        let punch = |seq: u64, minutes: i64, direction| Punch {
            event: EventId::random(),
            at: at + TimeDelta::minutes(minutes),
            direction,
            reason: reason("WORK"),
            origin: PunchOrigin::Kiosk { kiosk, seq },
        };
        let check_in = punch(1, 0, Direction::In);
        let wrong_out = punch(2, 5, Direction::Out);
        let undo = punch(3, 6, Direction::In);
        let check_out = punch(4, 480, Direction::Out);
        let amendments = [(undo.event, Amendment::Withdraws(wrong_out.event))];

        // The layout before: whole events, and an index of (employee, event).
        {
            let db = redb::Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut events = txn.open_table(EVENTS).unwrap();
                let mut index = txn.open_table(EMPLOYEE_EVENTS).unwrap();
                for punch in [&check_in, &wrong_out, &undo, &check_out] {
                    let record = EventRecord {
                        employee: Some(employee),
                        punch: punch.clone(),
                        detail: EventDetail::Api,
                        received_at: punch.at,
                    };
                    let id = punch.event.0.as_u128();
                    events.insert(id, encode(&record).unwrap().as_slice()).unwrap();
                    index.insert((employee.0.as_u128(), id), ()).unwrap();
                }
                let mut table = txn.open_table(EVENT_AMENDMENTS).unwrap();
                for (id, amendment) in amendments {
                    table.insert(id.0.as_u128(), encode(&amendment).unwrap().as_slice()).unwrap();
                }
            }
            txn.commit().unwrap();
        }

        let store = RedbStore::open(&path).unwrap();
        let limits = OpenLimits::load(&store).unwrap();
        let intervals = employee_intervals(&store, &limits, employee).unwrap();
        assert_eq!(intervals.len(), 1, "{intervals:?}");
        assert_eq!(intervals[0].start.as_ref().map(|p| p.event), Some(check_in.event));
        assert_eq!(intervals[0].end.as_ref().map(|p| p.event), Some(check_out.event));
        assert_eq!(store.employee_events(employee).unwrap().len(), 4);

        let noon = at + TimeDelta::hours(4);
        let present = presence_at(&store, &limits, &[employee], noon).unwrap().remove(0);
        assert_eq!(present.and_then(|i| i.start).map(|p| p.event), Some(check_in.event));

        // The old index is gone, so opening again builds nothing twice.
        drop(store);
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.employee_punches(employee).unwrap().len(), 4);
        let txn = store.db.begin_read().unwrap();
        assert!(txn.open_table(EMPLOYEE_EVENTS).is_err());
    }

    fn logged_rows(store: &RedbStore) -> u64 {
        let txn = store.db.begin_read().unwrap();
        txn.open_table(PUNCH_LOG).unwrap().len().unwrap()
    }

    /// Everything the readers of this module answer for `employees`, at `instants`.
    fn answers(
        store: &RedbStore,
        employees: &[EmployeeId],
        instants: &[DateTime<Utc>],
    ) -> Vec<String> {
        let limits = OpenLimits::load(store).unwrap();
        let mut out = Vec::new();
        for employee in employees {
            out.push(format!("{:?}", store.employee_punches(*employee).unwrap()));
            let events = store.employee_events(*employee).unwrap();
            out.push(format!("{:?}", events.iter().map(|e| e.punch.event).collect::<Vec<_>>()));
        }
        for count in [1, 2, 3, 7, usize::MAX] {
            out.push(format!("{:?}", store.latest_punches_of(employees, count).unwrap()));
        }
        for at in instants {
            out.push(format!("{:?}", presence_at(store, &limits, employees, *at).unwrap()));
            let asked: Vec<_> = employees.iter().map(|e| (*e, *at)).collect();
            let since = intervals_since_each(store, &limits, &asked).unwrap();
            out.push(format!("{since:?}"));
        }
        out
    }

    #[test]
    fn punches_not_merged_yet_read_as_they_do_once_merged() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let mut dice = Dice(0x2545_f491_4f6c_dd1d);
        let mut employees = Vec::new();
        let mut instants = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..12 {
            let employee = EmployeeId::random();
            employees.push(employee);
            for (event, amends) in history(&mut dice, employee) {
                instants.push(event.punch.at);
                plain.push(event.clone());
                file(&store, &event, amends);
            }
        }
        // Plain punches after the last amendment of all: some in the log, some employees'
        // rows all in the index, the rest split between the two.
        let start = start_of_histories() + TimeDelta::days(60);
        for (i, employee) in employees.iter().enumerate().take(8) {
            for minutes in 0..(i as i64 + 1) {
                let direction = if minutes % 2 == 0 { Direction::In } else { Direction::Out };
                let event = EventRecord {
                    employee: Some(*employee),
                    punch: Punch {
                        event: EventId::random(),
                        at: start + TimeDelta::minutes(minutes * 90),
                        direction,
                        reason: reason("WORK"),
                        origin: PunchOrigin::Api {
                            author: "hr".into(),
                            note: None,
                            correction: false,
                        },
                    },
                    detail: EventDetail::Api,
                    received_at: start,
                };
                instants.push(event.punch.at);
                file(&store, &event, None);
            }
        }
        let instants: Vec<DateTime<Utc>> = instants.into_iter().step_by(13).collect();
        let logged = logged_rows(&store);
        assert!(logged >= 36, "{logged} rows in the log");

        let before = answers(&store, &employees, &instants);
        assert_eq!(store.merge_punches().unwrap(), logged as usize);
        assert_eq!(logged_rows(&store), 0);
        assert_eq!(store.merge_punches().unwrap(), 0);
        let after = answers(&store, &employees, &instants);
        assert_eq!(before.len(), after.len());
        for (before, after) in before.iter().zip(&after) {
            assert_eq!(before, after);
        }
    }

    #[test]
    fn a_log_that_fills_is_merged_by_the_write_that_fills_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let employees: Vec<EmployeeId> = (0..7).map(|_| EmployeeId::random()).collect();
        let start = start_of_histories();
        let kiosk = KioskId::random();
        let txn = store.db.begin_write().unwrap();
        let mut filing = Filing::new(&txn, &store.kept);
        for seq in 0..MERGE_AT + 5 {
            let punch = Punch {
                event: EventId::time_ordered(),
                at: start + TimeDelta::seconds(seq as i64 * 7),
                direction: if seq % 2 == 0 { Direction::In } else { Direction::Out },
                reason: reason("WORK"),
                origin: PunchOrigin::Kiosk { kiosk, seq: seq + 1 },
            };
            filing.put(employees[seq as usize % employees.len()], &punch, None).unwrap();
        }
        drop(filing);
        store.commit(txn).unwrap();

        // The write of the MERGE_AT-th row merged them all; five arrived after.
        assert_eq!(logged_rows(&store), 5);
        let txn = store.db.begin_read().unwrap();
        let merged = txn.open_table(PUNCHES).unwrap().len().unwrap();
        assert_eq!(merged, MERGE_AT);
        drop(txn);
        let read: usize = employees.iter().map(|e| store.employee_punches(*e).unwrap().len()).sum();
        assert_eq!(read as u64, MERGE_AT + 5);
    }

    #[test]
    fn an_amendment_merges_the_log_before_it_is_filed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let limits = OpenLimits::load(&store).unwrap();
        let employee = EmployeeId::random();
        let kiosk = KioskId::random();
        let at = start_of_histories();
        let record = |seq: u64, minutes: i64, direction| EventRecord {
            employee: Some(employee),
            punch: Punch {
                event: EventId::time_ordered(),
                at: at + TimeDelta::minutes(minutes),
                direction,
                reason: reason("WORK"),
                origin: PunchOrigin::Kiosk { kiosk, seq },
            },
            detail: EventDetail::Api,
            received_at: at,
        };
        let check_in = record(1, 0, Direction::In);
        let wrong_out = record(2, 5, Direction::Out);
        file(&store, &check_in, None);
        file(&store, &wrong_out, None);
        assert_eq!(logged_rows(&store), 2);

        // Withdrawing the check-out made by mistake, filed at the instant of what it undoes.
        let undo = record(3, 4, Direction::In);
        file(&store, &undo, Some(Amendment::Withdraws(wrong_out.punch.event)));
        assert_eq!(logged_rows(&store), 0);
        let rows = store.latest_punches_of(&[employee], usize::MAX).unwrap().remove(0);
        let undo_row = rows.iter().find(|r| r.recorded.punch.event == undo.punch.event).unwrap();
        assert_eq!(undo_row.sort, wrong_out.punch.at);

        let check_out = record(4, 480, Direction::Out);
        file(&store, &check_out, None);
        assert_eq!(logged_rows(&store), 1);
        let intervals = employee_intervals(&store, &limits, employee).unwrap();
        assert_eq!(intervals.len(), 1, "{intervals:?}");
        assert_eq!(intervals[0].start.as_ref().map(|p| p.event), Some(check_in.punch.event));
        assert_eq!(intervals[0].end.as_ref().map(|p| p.event), Some(check_out.punch.event));
    }
}
