//! The feed's entries as stored, and those a write transaction appends, numbered and stored
//! together once its other writes are done.
//!
//! A batch of 500 punches makes 500 entries; written one by one, each would open the feed
//! and its counter again and rewrite the counter, which profiling showed to be a third of
//! the time a batch takes to store. Written together, the tables are opened and the
//! counter moved once per transaction.
//!
//! The entries of a transaction are stored as one row, a [`Block`] of up to [`BLOCK_MAX`]
//! entries keyed by the seq of its first: a row of its own per entry was a B-tree insert per
//! punch, a quarter of what storing a batch cost once the rest was done. Reading from a seq
//! in the middle of a block decodes the entries before it in that block too, so the cap
//! bounds what a page of the feed pays for them.
//!
//! An entry holds its instant as numbers: entries were first stored whole in postcard
//! ([`FEED`]), whose instants chrono writes as RFC 3339 text, and formatting that text was
//! nearly half of what writing an entry cost. They were then stored one per row
//! ([`ENTRIES`]). A store of either kind has its entries moved into [`BLOCKS`] when it is
//! opened ([`move_old_entries`]).

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use redb::{TableHandle, WriteTransaction};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, EventId, KioskId};

use super::punches::{Instant, date_time, instant};
use super::{Database, FEED, FEED_SEQ, META, backend, decode_feed_entry, encode};
use crate::model::{FeedEntry, feed_kind};
use crate::store::StoreError;

/// seq of its first entry → a [`Block`]: entries with consecutive seqs.
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("feed_blocks");

/// seq → one entry's [`Row`]: the feed of a store of format 2. Read only to move it into
/// [`BLOCKS`].
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("feed_entries");

/// The most entries in one [`Block`]; a transaction appending more stores several.
const BLOCK_MAX: usize = 1_024;

/// An entry without its seq, which its place in its block gives.
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

/// Entries stored together. `last_at` comes first so that a writer learns the time of the
/// newest entry without decoding the rows.
#[derive(Serialize, Deserialize)]
struct Block<'a> {
    last_at: Instant,
    rows: Vec<Row<'a>>,
}

impl<'a> Row<'a> {
    fn of(entry: &'a FeedEntry) -> Self {
        Row {
            at: instant(entry.at),
            kind: Cow::Borrowed(&entry.kind),
            employee: entry.employee,
            kiosk: entry.kiosk,
            event: entry.event,
            week_start: entry.week_start.map(|day| day.num_days_from_ce()),
        }
    }

    /// The entry this row is at `seq`.
    fn entry(self, seq: u64) -> Result<FeedEntry, StoreError> {
        let week_start = match self.week_start {
            Some(days) => Some(NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| {
                StoreError::Corrupt { what: "feed entry", detail: format!("{days} is not a day") }
            })?),
            None => None,
        };
        Ok(FeedEntry {
            seq,
            at: date_time(self.at, "feed entry")?,
            kind: self.kind.into_owned(),
            employee: self.employee,
            kiosk: self.kiosk,
            event: self.event,
            week_start,
        })
    }
}

/// The row of `entries`, which have consecutive seqs; none is empty.
fn encode_block(entries: &[FeedEntry]) -> Result<Vec<u8>, StoreError> {
    let last = entries.last().expect("a block holds an entry");
    encode(&Block { last_at: instant(last.at), rows: entries.iter().map(Row::of).collect() })
}

/// The entries of the block stored at `first` as `bytes`.
fn decode_block(first: u64, bytes: &[u8]) -> Result<Vec<FeedEntry>, StoreError> {
    let block: Block<'_> = decode_borrowed(bytes)?;
    if block.rows.is_empty() {
        return Err(StoreError::Corrupt {
            what: "feed block",
            detail: format!("the block at {first} holds no entry"),
        });
    }
    (first..).zip(block.rows).map(|(seq, row)| row.entry(seq)).collect()
}

fn decode_borrowed<'a>(bytes: &'a [u8]) -> Result<Block<'a>, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Corrupt { what: "feed block", detail: e.to_string() })
}

/// The time of the newest entry of the block stored as `bytes`.
fn last_at(bytes: &[u8]) -> Result<DateTime<Utc>, StoreError> {
    let (at, _) = postcard::take_from_bytes::<Instant>(bytes)
        .map_err(|e| StoreError::Corrupt { what: "feed block", detail: e.to_string() })?;
    date_time(at, "feed block")
}

/// Stores `entries`, which have consecutive seqs, as blocks of at most [`BLOCK_MAX`].
fn insert_blocks(
    blocks: &mut redb::Table<'_, u64, &[u8]>,
    entries: &[FeedEntry],
) -> Result<(), StoreError> {
    for chunk in entries.chunks(BLOCK_MAX) {
        blocks.insert(chunk[0].seq, encode_block(chunk)?.as_slice()).map_err(backend)?;
    }
    Ok(())
}

/// Moves the entries of a store written before [`BLOCKS`] into it, in `txn`, and drops
/// their old tables; gives how many it moved.
pub(super) fn move_old_entries(txn: &WriteTransaction) -> Result<u64, StoreError> {
    txn.open_table(BLOCKS).map_err(backend)?;
    let names: Vec<String> =
        txn.list_tables().map_err(backend)?.map(|table| table.name().to_owned()).collect();
    let has = |name: &str| names.iter().any(|n| n == name);

    let mut moved = 0;
    for (table, kind) in [(FEED, OldKind::Whole), (ENTRIES, OldKind::Row)] {
        if !has(table.name()) {
            continue;
        }
        {
            let old = txn.open_table(table).map_err(backend)?;
            let mut blocks = txn.open_table(BLOCKS).map_err(backend)?;
            let mut run: Vec<FeedEntry> = Vec::with_capacity(BLOCK_MAX);
            for row in old.iter().map_err(backend)? {
                let (seq, bytes) = row.map_err(backend)?;
                let entry = kind.decode(seq.value(), bytes.value())?;
                // A block's seqs are consecutive: a gap starts another.
                if run.last().is_some_and(|last| last.seq + 1 != entry.seq) {
                    insert_blocks(&mut blocks, &run)?;
                    run.clear();
                }
                run.push(entry);
                moved += 1;
                if run.len() == BLOCK_MAX {
                    insert_blocks(&mut blocks, &run)?;
                    run.clear();
                }
            }
            if !run.is_empty() {
                insert_blocks(&mut blocks, &run)?;
            }
        }
        txn.delete_table(table).map_err(backend)?;
    }
    Ok(moved)
}

/// How an older table held an entry.
#[derive(Clone, Copy)]
enum OldKind {
    /// The postcard [`FeedEntry`] ([`FEED`]).
    Whole,
    /// A [`Row`] ([`ENTRIES`]).
    Row,
}

impl OldKind {
    fn decode(self, seq: u64, bytes: &[u8]) -> Result<FeedEntry, StoreError> {
        match self {
            OldKind::Whole => decode_feed_entry(bytes),
            OldKind::Row => decode_entry(seq, bytes),
        }
    }
}

/// The entry stored at `seq` as `bytes` in [`ENTRIES`].
fn decode_entry(seq: u64, bytes: &[u8]) -> Result<FeedEntry, StoreError> {
    let row: Row<'_> = postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Corrupt { what: "feed entry", detail: e.to_string() })?;
    row.entry(seq)
}

/// Up to `limit` entries after `after`, in seq order.
pub(super) fn after(db: &Database, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    let meta = txn.open_table(META).map_err(backend)?;
    let last = meta.get(FEED_SEQ).map_err(backend)?.map_or(0, |v| v.value());
    // Readers at the end of the feed ask again and again; they decode no block.
    if last <= after {
        return Ok(Vec::new());
    }
    let blocks = txn.open_table(BLOCKS).map_err(backend)?;
    let from = after.saturating_add(1);

    // The block holding `from` starts at or before it.
    let first = blocks.range(..=from).map_err(backend)?.next_back();
    let start = first.transpose().map_err(backend)?.map_or(from, |(key, _)| key.value());

    let mut out = Vec::new();
    for row in blocks.range(start..).map_err(backend)? {
        let (key, bytes) = row.map_err(backend)?;
        for entry in decode_block(key.value(), bytes.value())? {
            if out.len() == limit {
                return Ok(out);
            }
            if entry.seq >= from {
                out.push(entry);
            }
        }
        if out.len() == limit {
            break;
        }
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

        let mut blocks = txn.open_table(BLOCKS).map_err(backend)?;
        let stored = blocks.last().map_err(backend)?.map(|(_, bytes)| last_at(bytes.value()));
        let mut latest = stored.transpose()?;
        let mut entries = self.entries;
        let mut seq = last;
        for entry in &mut entries {
            seq += 1;
            entry.seq = seq;
            entry.at = latest.map_or(entry.at, |latest| entry.at.max(latest));
            latest = Some(entry.at);
        }
        insert_blocks(&mut blocks, &entries)?;

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
    fn a_block_reads_back_as_written() {
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
        let bare = FeedEntry {
            seq: 13,
            at: far - chrono::TimeDelta::days(1),
            employee: None,
            kiosk: None,
            event: None,
            week_start: None,
            ..entry.clone()
        };
        let block = encode_block(&[entry.clone(), bare.clone()]).unwrap();
        assert_eq!(decode_block(12, &block).unwrap(), [entry.clone(), bare.clone()]);
        assert_eq!(last_at(&block).unwrap(), bare.at);

        let err = decode_block(12, &block[..block.len() - 3]).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { what: "feed block", .. }), "{err:?}");
        let empty = encode(&Block { last_at: instant(far), rows: Vec::new() }).unwrap();
        let err = decode_block(12, &empty).unwrap_err();
        assert!(err.to_string().contains("the block at 12 holds no entry"), "{err}");
    }

    #[test]
    fn a_transaction_appending_more_than_a_block_is_read_from_any_seq() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
        let appended = 2 * BLOCK_MAX + 3;

        let txn = store.db.begin_write().unwrap();
        append(&txn, at, feed_kind::KIOSK_ENROLLED, None, None, None).unwrap();
        txn.commit().unwrap();
        let txn = store.db.begin_write().unwrap();
        let mut feed = FeedAppends::new();
        for i in 0..appended {
            let at = at + chrono::TimeDelta::seconds(i as i64);
            feed.push(at, feed_kind::PRESENCE_RECORDED, None, None, Some(EventId::random()));
        }
        feed.write(&txn).unwrap();
        txn.commit().unwrap();

        let txn = store.db.begin_read().unwrap();
        let blocks = txn.open_table(BLOCKS).unwrap();
        let firsts: Vec<u64> = blocks.iter().unwrap().map(|r| r.unwrap().0.value()).collect();
        let max = BLOCK_MAX as u64;
        assert_eq!(firsts, [1, 2, 2 + max, 2 + 2 * max]);
        drop((blocks, txn));

        let total = 1 + appended as u64;
        for after in [0, 1, 2, max - 1, max, max + 1, max + 2, 2 * max + 1, total - 1, total] {
            let read = store.feed_after(after, 5).unwrap();
            let seqs: Vec<u64> = read.iter().map(|e| e.seq).collect();
            let expected: Vec<u64> = (after + 1..=total).take(5).collect();
            assert_eq!(seqs, expected, "after {after}");
            for entry in read.iter().filter(|e| e.seq > 1) {
                let second = entry.seq as i64 - 2;
                assert_eq!(entry.at, at + chrono::TimeDelta::seconds(second), "{}", entry.seq);
            }
        }
        let all = store.feed_after(0, usize::MAX).unwrap();
        assert_eq!(all.len() as u64, total);
        assert!(store.feed_after(0, 0).unwrap().is_empty());
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

    #[test]
    fn the_entries_of_a_format_2_store_are_moved_into_blocks_when_it_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mtime.redb");
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
        let entry = |seq: u64| FeedEntry {
            seq,
            at: at + chrono::TimeDelta::minutes(seq as i64),
            kind: feed_kind::PRESENCE_RECORDED.into(),
            employee: Some(EmployeeId::random()),
            kiosk: Some(KioskId::random()),
            event: Some(EventId::random()),
            week_start: None,
        };
        // A gap in the seqs, which a block cannot hold, and more than a block after it.
        let stored: Vec<FeedEntry> =
            [1, 2].into_iter().chain(5..5 + BLOCK_MAX as u64 + 1).map(entry).collect();
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let mut old = txn.open_table(ENTRIES).unwrap();
            for entry in &stored {
                old.insert(entry.seq, encode(&Row::of(entry)).unwrap().as_slice()).unwrap();
            }
            drop(old);
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(FEED_SEQ, stored.last().unwrap().seq).unwrap();
            meta.insert(super::super::FORMAT_KEY, 2).unwrap();
            drop(meta);
            txn.commit().unwrap();
        }

        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.feed_after(0, usize::MAX).unwrap(), stored);
        assert_eq!(store.feed_after(2, 1).unwrap(), [stored[2].clone()]);
        let txn = store.db.begin_write().unwrap();
        let names: Vec<String> = txn.list_tables().unwrap().map(|t| t.name().to_owned()).collect();
        assert!(!names.iter().any(|n| n == ENTRIES.name()), "{names:?}");
        append(&txn, at, feed_kind::KIOSK_SILENT, None, None, None).unwrap();
        txn.commit().unwrap();

        let last = stored.last().unwrap();
        let after = store.feed_after(last.seq, 10).unwrap();
        assert_eq!(
            after.iter().map(|e| (e.seq, e.at)).collect::<Vec<_>>(),
            [(last.seq + 1, last.at)]
        );
    }
}
