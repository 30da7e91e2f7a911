//! The feed's entries as stored, and those a write transaction appends, numbered and stored
//! together once its other writes are done.
//!
//! A batch of 500 punches makes 500 entries; written one by one, each would open the feed
//! and its counter again and rewrite the counter, which profiling showed to be a third of
//! the time a batch takes to store. Written together, the tables are opened and the
//! counter moved once per transaction.
//!
//! An entry's row holds its instant as numbers: entries were first stored whole in postcard
//! ([`FEED`]), whose instants chrono writes as RFC 3339 text, and formatting that text was
//! nearly half of what writing an entry cost. A store of that kind has its entries moved
//! into [`ENTRIES`] when it is opened ([`move_old_entries`]).

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use redb::{TableHandle, WriteTransaction};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, EventId, KioskId};

use super::punches::{Instant, date_time, instant};
use super::{Database, FEED, FEED_SEQ, META, backend, decode, decode_feed_entry, encode};
use crate::model::{FeedEntry, feed_kind};
use crate::store::StoreError;

/// seq → the entry's [`Row`].
pub(super) const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("feed_entries");

/// An entry without its seq, which is its key.
#[derive(Serialize, Deserialize)]
struct Row<'a> {
    at: Instant,
    kind: Cow<'a, str>,
    employee: Option<EmployeeId>,
    kiosk: Option<KioskId>,
    event: Option<EventId>,
    /// Days from the first day of the common era.
    week_start: Option<i32>,
}

/// The row of `entry`.
fn encode_entry(entry: &FeedEntry) -> Result<Vec<u8>, StoreError> {
    encode(&Row {
        at: instant(entry.at),
        kind: Cow::Borrowed(&entry.kind),
        employee: entry.employee,
        kiosk: entry.kiosk,
        event: entry.event,
        week_start: entry.week_start.map(|day| day.num_days_from_ce()),
    })
}

/// The entry stored at `seq` as `bytes`.
pub(super) fn decode_entry(seq: u64, bytes: &[u8]) -> Result<FeedEntry, StoreError> {
    let row: Row<'static> = decode(bytes, "feed entry")?;
    let week_start = match row.week_start {
        Some(days) => Some(NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| {
            StoreError::Corrupt { what: "feed entry", detail: format!("{days} is not a day") }
        })?),
        None => None,
    };
    Ok(FeedEntry {
        seq,
        at: date_time(row.at, "feed entry")?,
        kind: row.kind.into_owned(),
        employee: row.employee,
        kiosk: row.kiosk,
        event: row.event,
        week_start,
    })
}

/// Moves the entries of a store written before [`ENTRIES`] into it, in `txn`, and drops
/// their old table; gives how many it moved.
pub(super) fn move_old_entries(txn: &WriteTransaction) -> Result<u64, StoreError> {
    txn.open_table(ENTRIES).map_err(backend)?;
    let mut tables = txn.list_tables().map_err(backend)?;
    if !tables.any(|table| table.name() == FEED.name()) {
        return Ok(0);
    }

    let mut moved = 0;
    {
        let old = txn.open_table(FEED).map_err(backend)?;
        let mut entries = txn.open_table(ENTRIES).map_err(backend)?;
        for row in old.iter().map_err(backend)? {
            let (seq, bytes) = row.map_err(backend)?;
            let entry = decode_feed_entry(bytes.value())?;
            entries.insert(seq.value(), encode_entry(&entry)?.as_slice()).map_err(backend)?;
            moved += 1;
        }
    }
    txn.delete_table(FEED).map_err(backend)?;
    Ok(moved)
}

/// Up to `limit` entries after `after`, in seq order.
pub(super) fn after(db: &Database, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    let entries = txn.open_table(ENTRIES).map_err(backend)?;
    let mut out = Vec::with_capacity(limit.min(entries.len().map_err(backend)? as usize));
    for row in entries.range(after.saturating_add(1)..).map_err(backend)?.take(limit) {
        let (seq, bytes) = row.map_err(backend)?;
        out.push(decode_entry(seq.value(), bytes.value())?);
    }
    Ok(out)
}

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

        let mut feed = txn.open_table(ENTRIES).map_err(backend)?;
        let stored = feed.get(last).map_err(backend)?.map(|v| decode_entry(last, v.value()));
        let mut latest = stored.transpose()?.map(|entry| entry.at);
        let mut seq = last;
        for mut entry in self.entries {
            seq += 1;
            entry.seq = seq;
            entry.at = latest.map_or(entry.at, |latest| entry.at.max(latest));
            latest = Some(entry.at);
            feed.insert(seq, encode_entry(&entry)?.as_slice()).map_err(backend)?;
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

    #[test]
    fn an_entry_reads_back_as_written() {
        let far = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
        let entry = FeedEntry {
            seq: 12,
            at: far + chrono::TimeDelta::nanoseconds(999_999_999),
            kind: feed_kind::WEEK_CLOSED.into(),
            employee: Some(EmployeeId::random()),
            kiosk: Some(KioskId::random()),
            event: Some(EventId::random()),
            week_start: NaiveDate::from_ymd_opt(1, 1, 1),
        };
        let row = encode_entry(&entry).unwrap();
        assert_eq!(decode_entry(12, &row).unwrap(), entry);
        let bare =
            FeedEntry { employee: None, kiosk: None, event: None, week_start: None, ..entry };
        assert_eq!(decode_entry(12, &encode_entry(&bare).unwrap()).unwrap(), bare);

        let err = decode_entry(12, &row[..row.len() - 3]).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { what: "feed entry", .. }), "{err:?}");
    }

    #[test]
    fn the_feed_of_an_older_store_is_moved_when_it_is_opened_and_goes_on_from_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mtime.redb");
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
        let kiosk = KioskId::random();
        let week = NaiveDate::from_ymd_opt(2026, 2, 23);
        let first = crate::model::FeedEntryWithoutWeek {
            seq: 1,
            at,
            kind: feed_kind::KIOSK_ENROLLED.into(),
            employee: None,
            kiosk: Some(kiosk),
            event: None,
        };
        let second = FeedEntry {
            seq: 2,
            at: at + chrono::TimeDelta::minutes(5),
            kind: feed_kind::WEEK_CLOSED.into(),
            employee: Some(EmployeeId::random()),
            kiosk: None,
            event: None,
            week_start: week,
        };
        {
            // A store as written before the entries' table: the feed in its first table.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let mut old = txn.open_table(FEED).unwrap();
            old.insert(1, encode(&first).unwrap().as_slice()).unwrap();
            old.insert(2, encode(&second).unwrap().as_slice()).unwrap();
            drop(old);
            txn.open_table(META).unwrap().insert(FEED_SEQ, 2).unwrap();
            txn.commit().unwrap();
        }

        let store = RedbStore::open(&path).unwrap();
        let moved = store.feed_after(0, 10).unwrap();
        assert_eq!(moved, [FeedEntry::from(first), second.clone()]);
        let txn = store.db.begin_write().unwrap();
        let names: Vec<String> = txn.list_tables().unwrap().map(|t| t.name().to_owned()).collect();
        assert!(!names.iter().any(|n| n == FEED.name()), "{names:?}");
        append(&txn, at, feed_kind::KIOSK_SILENT, None, Some(kiosk), None).unwrap();
        txn.commit().unwrap();

        let after = store.feed_after(1, 10).unwrap();
        assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(after[1].at, second.at, "never earlier than the entry moved before it");
        drop(store);
        let reopened = RedbStore::open(&path).unwrap();
        assert_eq!(reopened.feed_after(0, 10).unwrap().len(), 3);
    }
}
