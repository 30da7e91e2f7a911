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
//!
//! The log's punches of one write are stored as one row of the log, up to [`LOG_BLOCK`] of
//! them, keyed by the arrival number of the first: a row per punch was a B-tree insert each,
//! a sixth of what storing a batch cost. A [`Filing`] holds them until [`Filing::finish`].

use std::borrow::Cow;
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
/// Arrival number of the first → plain punches not yet in [`PUNCHES`], each its key there
/// (employee, seconds, nanoseconds, event; big-endian, 44 bytes), so that a scan decodes no
/// row, the length of its encoded [`Row`] (big-endian u32), and that row. A store of format 2
/// or earlier held one punch per row, without the length; its log is merged when it is
/// opened ([`open`]).
const PUNCH_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("punch_log");
/// The index before this module: (employee, event) → (). Read once to build the rows.
const EMPLOYEE_EVENTS: TableDefinition<(u128, u128), ()> = TableDefinition::new("employee_events");

/// A sort instant: seconds and nanoseconds since the epoch, as the key orders them.
pub(super) type Instant = (i64, u32);

/// Rows in the log at which a write merges it into the index. Each read scans the log once,
/// so this bounds what a read pays for the rows not merged yet (about a millisecond), while a
/// merge rewrites each employee's leaf once for all their rows in the log.
pub(super) const MERGE_AT: u64 = 10_000;

/// The most punches in one row of the log.
const LOG_BLOCK: u64 = 1_024;

/// A key of [`PUNCHES`]: (employee, sort seconds, sort nanoseconds, event).
type Key = (u128, i64, u32, u128);

/// Rows as read, each with its key: the encoded [`Row`].
type Rows = Vec<(Key, Vec<u8>)>;

/// One punch as stored: what pairing and the amendment rule read. Written from the punch
/// it borrows, so that filing one clones nothing.
#[derive(Serialize, Deserialize)]
struct Row<'a> {
    secs: i64,
    nanos: u32,
    direction: Direction,
    reason: Cow<'a, ReasonCode>,
    origin: Cow<'a, PunchOrigin>,
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
    let row: Row<'static> = decode(row, "punch")?;
    let punch = Punch {
        event: EventId(uuid::Uuid::from_u128(event)),
        at: date_time((row.secs, row.nanos), "punch")?,
        direction: row.direction,
        reason: row.reason.into_owned(),
        origin: row.origin.into_owned(),
    };
    Ok(Recorded { punch, amends: row.amends })
}

/// What [`open`] did to bring an older store up to date, to be logged once it is committed.
#[derive(Debug, Default)]
pub(super) struct Upgraded {
    /// Punches of a one-punch-per-row log (format 2 or earlier) merged into the index.
    pub(super) merged: usize,
    /// Punches filed from the events of a store written before the index.
    pub(super) built: usize,
}

/// Creates the tables, and on a store written before them, builds the rows from the events
/// and drops the old index. A store of `format` 2 or earlier has its log, one punch per row,
/// merged.
pub(super) fn open(
    txn: &WriteTransaction,
    kept: &PunchCache,
    format: u64,
) -> Result<Upgraded, StoreError> {
    txn.open_table(PUNCHES).map_err(backend)?;
    txn.open_table(AMENDED_BY).map_err(backend)?;
    txn.open_table(RAISED).map_err(backend)?;
    txn.open_table(PUNCH_LOG).map_err(backend)?;
    let mut upgraded = Upgraded::default();
    if format <= 2 {
        upgraded.merged = merge_rows(txn, |value| Ok(vec![single_entry(value)?]))?;
    }

    let mut indexed = Vec::new();
    {
        let old = txn.open_table(EMPLOYEE_EVENTS).map_err(backend)?;
        for row in old.iter().map_err(backend)? {
            indexed.push(row.map_err(backend)?.0.value());
        }
    }
    txn.delete_table(EMPLOYEE_EVENTS).map_err(backend)?;
    if indexed.is_empty() {
        return Ok(upgraded);
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
    filing.finish()?;
    upgraded.built = events.len();
    Ok(upgraded)
}

/// Files the punches of one write transaction. Between plain punches it keeps the log, the
/// table of who amends what and the events' rows open: a batch of 500 punches opens them
/// once, not 500 times. Each is closed before a rule that reads it again.
///
/// The log's punches are stored by [`Filing::finish`], which the writer calls before it
/// commits; one dropped unfinished stores them too (so a forgotten call loses nothing) but
/// can only log a failure.
///
/// The employees it filed punches of are named to the [`PunchCache`] when it is dropped,
/// which is before the transaction commits: the commit then forgets what was kept of them.
#[must_use = "the log's punches are stored by `finish`"]
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
    /// The arrival number of the next punch.
    next: u64,
    /// Punches in the log, stored or held.
    rows: u64,
    /// Punches appended and not stored yet, as a row of the log holds them.
    held: Vec<u8>,
    /// How many punches `held` holds.
    held_rows: u64,
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
            reason: Cow::Borrowed(&punch.reason),
            origin: Cow::Borrowed(&punch.origin),
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
        self.store_held()?;
        self.appending = None;
        self.events = None;
        merge(self.txn).map(drop)
    }

    /// Stores the punches appended to the log and not stored yet.
    fn store_held(&mut self) -> Result<(), StoreError> {
        match &mut self.appending {
            Some(appending) => appending.store_held(),
            None => Ok(()),
        }
    }

    /// Stores what it holds; called before the transaction commits.
    pub(super) fn finish(mut self) -> Result<(), StoreError> {
        self.store_held()
    }

    fn appending(&mut self) -> Result<&mut Appending<'t>, StoreError> {
        if self.appending.is_none() {
            let log = self.txn.open_table(PUNCH_LOG).map_err(backend)?;
            let first = log.first().map_err(backend)?.map(|(k, _)| k.value());
            let next = match log.last().map_err(backend)? {
                Some((key, value)) => key.value() + logged_entries(value.value())?.len() as u64,
                None => 0,
            };
            let rows = next - first.unwrap_or(next);
            let amended_by = self.txn.open_table(AMENDED_BY).map_err(backend)?;
            let held = Vec::new();
            self.appending = Some(Appending { log, amended_by, next, rows, held, held_rows: 0 });
        }
        self.appending.as_mut().ok_or_else(|| StoreError::Backend("the punch log is shut".into()))
    }
}

impl Drop for Filing<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.store_held() {
            // The transaction fails at its commit, or was dropped by an error already.
            tracing::error!(error = %e, "could not store the punch log's held punches");
        }
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
        self.held.extend_from_slice(&employee.to_be_bytes());
        self.held.extend_from_slice(&row.secs.to_be_bytes());
        self.held.extend_from_slice(&row.nanos.to_be_bytes());
        self.held.extend_from_slice(&event.to_be_bytes());
        // The row's length goes before it, so it is written in its place once it is known.
        let len_at = self.held.len();
        self.held.extend_from_slice(&[0; 4]);
        self.held = postcard::to_extend(row, std::mem::take(&mut self.held)).map_err(backend)?;
        let len = u32::try_from(self.held.len() - len_at - 4).map_err(backend)?;
        self.held[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        self.held_rows += 1;
        self.rows += 1;
        if self.held_rows == LOG_BLOCK {
            self.store_held()?;
        }
        Ok(())
    }

    /// Stores the held punches as one row of the log.
    fn store_held(&mut self) -> Result<(), StoreError> {
        if self.held_rows == 0 {
            return Ok(());
        }
        self.log.insert(self.next, self.held.as_slice()).map_err(backend)?;
        self.next += self.held_rows;
        self.held.clear();
        self.held_rows = 0;
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

/// Files every punch of the log in the index, in key order, and empties the log; returns
/// how many punches it moved.
pub(super) fn merge(txn: &WriteTransaction) -> Result<usize, StoreError> {
    merge_rows(txn, logged_entries)
}

/// [`merge`], with the log's rows read by `entries`.
fn merge_rows(
    txn: &WriteTransaction,
    entries: impl Fn(&[u8]) -> Result<Vec<(Key, &[u8])>, StoreError>,
) -> Result<usize, StoreError> {
    let mut rows: Rows = Vec::new();
    {
        let log = txn.open_table(PUNCH_LOG).map_err(backend)?;
        if log.is_empty().map_err(backend)? {
            return Ok(0);
        }
        for entry in log.iter().map_err(backend)? {
            let (_, value) = entry.map_err(backend)?;
            for (key, row) in entries(value.value())? {
                rows.push((key, row.to_vec()));
            }
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

/// Bytes of a punch's key at the head of its entry in the log.
const LOGGED_KEY: usize = 44;

/// The key and the encoded row of each punch in a row of the log, in arrival order.
fn logged_entries(value: &[u8]) -> Result<Vec<(Key, &[u8])>, StoreError> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let corrupt = || StoreError::Corrupt {
            what: "punch log",
            detail: format!("an entry of {} bytes is cut short", rest.len()),
        };
        let (head, tail) = rest.split_at_checked(LOGGED_KEY + 4).ok_or_else(corrupt)?;
        let (key, len) = head.split_at(LOGGED_KEY);
        let len = u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
        let (row, tail) = tail.split_at_checked(len).ok_or_else(corrupt)?;
        out.push((logged_key(key)?, row));
        rest = tail;
    }
    if out.is_empty() {
        return Err(StoreError::Corrupt { what: "punch log", detail: "an empty row".into() });
    }
    Ok(out)
}

/// The key and the encoded row of a row of the log as a store of format 2 or earlier wrote
/// it: one punch, its row to the end.
fn single_entry(value: &[u8]) -> Result<(Key, &[u8]), StoreError> {
    let (key, row) = value.split_at_checked(LOGGED_KEY).ok_or_else(|| StoreError::Corrupt {
        what: "punch log",
        detail: format!("an entry of {} bytes is too short", value.len()),
    })?;
    Ok((logged_key(key)?, row))
}

/// A key of [`PUNCHES`] as the log holds it.
fn logged_key(key: &[u8]) -> Result<Key, StoreError> {
    let corrupt =
        || StoreError::Corrupt { what: "punch log", detail: "a key cut short".to_owned() };
    let (employee, rest) = key.split_at_checked(16).ok_or_else(corrupt)?;
    let (secs, rest) = rest.split_at_checked(8).ok_or_else(corrupt)?;
    let (nanos, event) = rest.split_at_checked(4).ok_or_else(corrupt)?;
    Ok((
        u128::from_be_bytes(employee.try_into().map_err(|_| corrupt())?),
        i64::from_be_bytes(secs.try_into().map_err(|_| corrupt())?),
        u32::from_be_bytes(nanos.try_into().map_err(|_| corrupt())?),
        u128::from_be_bytes(event.try_into().map_err(|_| corrupt())?),
    ))
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
        for (key, row) in logged_entries(value.value())? {
            if let Some(rows) = out.get_mut(&key.0) {
                rows.push((key, row.to_vec()));
            }
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

    /// Punches in the log.
    fn logged_rows(store: &RedbStore) -> u64 {
        let txn = store.db.begin_read().unwrap();
        let log = txn.open_table(PUNCH_LOG).unwrap();
        let rows = log.iter().unwrap().map(|r| logged_entries(r.unwrap().1.value()).unwrap().len());
        rows.sum::<usize>() as u64
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
        filing.finish().unwrap();
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

    /// A kiosk punch `seconds` after the start of the histories.
    fn kiosk_punch(kiosk: KioskId, seq: u64, seconds: i64) -> Punch {
        Punch {
            event: EventId::time_ordered(),
            at: start_of_histories() + TimeDelta::seconds(seconds),
            direction: if seq.is_multiple_of(2) { Direction::Out } else { Direction::In },
            reason: reason("WORK"),
            origin: PunchOrigin::Kiosk { kiosk, seq },
        }
    }

    /// The first arrival number of each row of the log.
    fn log_keys(store: &RedbStore) -> Vec<u64> {
        let txn = store.db.begin_read().unwrap();
        let log = txn.open_table(PUNCH_LOG).unwrap();
        log.iter().unwrap().map(|r| r.unwrap().0.value()).collect()
    }

    #[test]
    fn a_writes_punches_are_logged_in_rows_of_a_block_each() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let employee = EmployeeId::random();
        let kiosk = KioskId::random();
        let block = LOG_BLOCK;

        let txn = store.db.begin_write().unwrap();
        let mut filing = Filing::new(&txn, &store.kept);
        for seq in 1..=2 * block + 1 {
            filing.put(employee, &kiosk_punch(kiosk, seq, seq as i64 * 60), None).unwrap();
        }
        filing.finish().unwrap();
        store.commit(txn).unwrap();
        assert_eq!(log_keys(&store), [0, block, 2 * block]);

        // The next write goes on from the last punch, not the last row.
        let txn = store.db.begin_write().unwrap();
        let mut filing = Filing::new(&txn, &store.kept);
        let last = kiosk_punch(kiosk, 2 * block + 2, (2 * block as i64 + 2) * 60);
        filing.put(employee, &last, None).unwrap();
        filing.finish().unwrap();
        store.commit(txn).unwrap();
        assert_eq!(log_keys(&store), [0, block, 2 * block, 2 * block + 1]);
        assert_eq!(logged_rows(&store), 2 * block + 2);

        let punches = store.employee_punches(employee).unwrap();
        assert_eq!(punches.len() as u64, 2 * block + 2);
        assert_eq!(punches.last().map(|r| r.punch.event), Some(last.event));
        assert_eq!(store.merge_punches().unwrap() as u64, 2 * block + 2);
        let merged = store.employee_punches(employee).unwrap();
        assert_eq!(format!("{merged:?}"), format!("{punches:?}"));
    }

    #[test]
    fn a_filing_dropped_unfinished_still_stores_its_punches() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let employee = EmployeeId::random();
        let punch = kiosk_punch(KioskId::random(), 1, 0);

        let txn = store.db.begin_write().unwrap();
        let mut filing = Filing::new(&txn, &store.kept);
        filing.put(employee, &punch, None).unwrap();
        drop(filing);
        store.commit(txn).unwrap();

        let punches = store.employee_punches(employee).unwrap();
        assert_eq!(punches.iter().map(|r| r.punch.event).collect::<Vec<_>>(), [punch.event]);
    }

    #[test]
    fn the_one_punch_rows_of_a_format_2_log_are_merged_when_the_store_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mtime.redb");
        let employee = EmployeeId::random();
        let kiosk = KioskId::random();
        let punches: Vec<Punch> = (1..=3).map(|seq| kiosk_punch(kiosk, seq, seq as i64)).collect();
        drop(RedbStore::open(&path).unwrap());
        {
            // The log as a store of format 2 held it: one punch a row, no length.
            let db = redb::Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let mut log = txn.open_table(PUNCH_LOG).unwrap();
            for (arrival, punch) in punches.iter().enumerate() {
                let (secs, nanos) = instant(punch.at);
                let row = Row {
                    secs,
                    nanos,
                    direction: punch.direction,
                    reason: Cow::Borrowed(&punch.reason),
                    origin: Cow::Borrowed(&punch.origin),
                    amends: None,
                };
                let mut value = employee.0.as_u128().to_be_bytes().to_vec();
                value.extend_from_slice(&secs.to_be_bytes());
                value.extend_from_slice(&nanos.to_be_bytes());
                value.extend_from_slice(&punch.event.0.as_u128().to_be_bytes());
                value.extend_from_slice(&encode(&row).unwrap());
                log.insert(arrival as u64, value.as_slice()).unwrap();
            }
            drop(log);
            txn.open_table(super::super::META)
                .unwrap()
                .insert(super::super::FORMAT_KEY, 2)
                .unwrap();
            txn.commit().unwrap();
        }

        let store = RedbStore::open(&path).unwrap();
        assert!(log_keys(&store).is_empty());
        let read: Vec<Punch> =
            store.employee_punches(employee).unwrap().into_iter().map(|r| r.punch).collect();
        assert_eq!(read, punches);
    }

    #[test]
    fn a_log_row_cut_short_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let employee = EmployeeId::random();
        let txn = store.db.begin_write().unwrap();
        let mut filing = Filing::new(&txn, &store.kept);
        filing.put(employee, &kiosk_punch(KioskId::random(), 1, 0), None).unwrap();
        filing.finish().unwrap();
        let mut log = txn.open_table(PUNCH_LOG).unwrap();
        let value = log.get(0).unwrap().unwrap().value().to_vec();
        log.insert(0, &value[..value.len() - 1]).unwrap();
        drop(log);
        store.commit(txn).unwrap();

        let err = store.employee_punches(employee).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { what: "punch log", .. }), "{err:?}");
        assert!(err.to_string().contains("cut short"), "{err}");
    }
}
