//! How the outbox keeps an event: a row smaller than the event it stands for.
//!
//! A kiosk holds weeks of taps on an SD card, so each row leaves out what the events of one
//! store share and keeps the rest in binary: the kiosk and the boot are numbers into a
//! small table of ids (one entry per enrollment and per boot, not per tap), the wall-clock
//! reading is seconds and nanoseconds rather than RFC 3339 text, and ids are their sixteen
//! bytes. A row turns back into the very event that was stored, field for field, so a
//! batch sealed from rows carries what the kiosk confirmed at the tap.
//!
//! Stores written before this layout kept each event whole in the `events` table; the
//! outbox rewrites them as rows when it opens one ([`migrate`]).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table, TableDefinition, TableHandle, WriteTransaction};
use serde::{Deserialize, Serialize};

use mtime_core::badge::BadgeUid;
use mtime_core::event::{
    Amendment, Direction, DirectionSource, PresenceEvent, ReasonCode, Subject, TimeReading,
};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};

use crate::SyncError;
use crate::outbox::Step;

/// seq → a [`Row`].
pub(crate) const ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("event_rows");
/// number → id: the kiosks and boots rows name.
const IDS: TableDefinition<u32, u128> = TableDefinition::new("event_ids");
/// id → number, to find an id's number when storing.
const NUMBERS: TableDefinition<u128, u32> = TableDefinition::new("event_id_numbers");
/// The layout before rows: seq → the whole event, postcard-encoded.
const WHOLE_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// seq → the stored bytes of an old-layout event that could not be read: kept apart, as
/// they were, so that opening the store does not fail on them (see [`migrate`]).
const DAMAGED: TableDefinition<u64, &[u8]> = TableDefinition::new("damaged_events");

/// One stored event.
#[derive(Serialize, Deserialize)]
struct Row {
    id: [u8; 16],
    /// The number of the kiosk's id in [`IDS`].
    kiosk: u32,
    subject: RowSubject,
    direction: Direction,
    direction_source: DirectionSource,
    reason: ReasonCode,
    wall_secs: i64,
    wall_nanos: u32,
    /// The number of the boot's id in [`IDS`].
    boot: u32,
    monotonic_secs: u64,
    monotonic_nanos: u32,
    wall_trusted: bool,
    amends: Option<Amendment>,
}

#[derive(Serialize, Deserialize)]
enum RowSubject {
    Employee { id: [u8; 16], badge: Option<BadgeUid> },
    UnknownBadge(BadgeUid),
}

fn damaged(what: &str, detail: impl std::fmt::Display) -> SyncError {
    SyncError::Storage(format!("stored {what} is damaged: {detail}"))
}

/// `T` from all of `bytes`: a value followed by anything more is damaged too.
fn whole<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes after its end", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}

/// Writes events as rows, numbering kiosks and boots not seen before.
pub(crate) struct Writer<'txn> {
    rows: Table<'txn, u64, &'static [u8]>,
    ids: Table<'txn, u32, u128>,
    numbers: Table<'txn, u128, u32>,
}

impl<'txn> Writer<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Step<Self> {
        Ok(Self {
            rows: txn.open_table(ROWS)?,
            ids: txn.open_table(IDS)?,
            numbers: txn.open_table(NUMBERS)?,
        })
    }

    /// The number of `id`, given it now if it has none.
    fn number(&mut self, id: u128) -> Step<u32> {
        if let Some(number) = self.numbers.get(id)? {
            return Ok(number.value());
        }
        // One past the highest given: numbers are never reused, even were one removed.
        let next = self.ids.last()?.map_or(0, |(number, _)| u64::from(number.value()) + 1);
        let number = u32::try_from(next)
            .map_err(|_| SyncError::Storage("the store has run out of id numbers".into()))?;
        self.ids.insert(number, id)?;
        self.numbers.insert(id, number)?;
        Ok(number)
    }

    /// Stores `event` under its seq.
    pub(crate) fn put(&mut self, event: &PresenceEvent) -> Step<()> {
        let row = Row {
            id: *event.id.0.as_bytes(),
            kiosk: self.number(event.kiosk.0.as_u128())?,
            subject: match &event.subject {
                Subject::Employee { id, badge } => {
                    RowSubject::Employee { id: *id.0.as_bytes(), badge: *badge }
                }
                Subject::UnknownBadge(badge) => RowSubject::UnknownBadge(*badge),
            },
            direction: event.direction,
            direction_source: event.direction_source,
            reason: event.reason.clone(),
            wall_secs: event.time.wall.timestamp(),
            wall_nanos: event.time.wall.timestamp_subsec_nanos(),
            boot: self.number(event.time.boot.0.as_u128())?,
            monotonic_secs: event.time.monotonic.as_secs(),
            monotonic_nanos: event.time.monotonic.subsec_nanos(),
            wall_trusted: event.time.wall_trusted,
            amends: event.amends,
        };
        let bytes = postcard::to_stdvec(&row).map_err(|e| SyncError::Storage(e.to_string()))?;
        self.rows.insert(event.seq, bytes.as_slice())?;
        Ok(())
    }
}

/// Turns rows back into events, looking each kiosk and boot number up once.
pub(crate) struct Reader<T> {
    ids: T,
    known: HashMap<u32, u128>,
}

impl<T: ReadableTable<u32, u128>> Reader<T> {
    fn id(&mut self, number: u32) -> Step<u128> {
        if let Some(id) = self.known.get(&number) {
            return Ok(*id);
        }
        let found = self.ids.get(number)?;
        let id = found.ok_or_else(|| damaged("event", format!("no id numbered {number}")))?;
        let id = id.value();
        self.known.insert(number, id);
        Ok(id)
    }

    /// The event stored under `seq` as `bytes`.
    pub(crate) fn event(&mut self, seq: u64, bytes: &[u8]) -> Step<PresenceEvent> {
        let row: Row = whole(bytes).map_err(|e| damaged("event", format!("seq {seq}: {e}")))?;
        let wall = DateTime::<Utc>::from_timestamp(row.wall_secs, row.wall_nanos)
            .ok_or_else(|| damaged("event", format!("seq {seq} has no valid wall time")))?;
        if row.monotonic_nanos >= 1_000_000_000 {
            return Err(damaged("event", format!("seq {seq} has no valid monotonic time")).into());
        }
        let uuid = uuid::Uuid::from_bytes;
        Ok(PresenceEvent {
            id: EventId(uuid(row.id)),
            kiosk: KioskId(uuid::Uuid::from_u128(self.id(row.kiosk)?)),
            seq,
            subject: match row.subject {
                RowSubject::Employee { id, badge } => {
                    Subject::Employee { id: EmployeeId(uuid(id)), badge }
                }
                RowSubject::UnknownBadge(badge) => Subject::UnknownBadge(badge),
            },
            direction: row.direction,
            direction_source: row.direction_source,
            reason: row.reason,
            time: TimeReading {
                wall,
                boot: BootId(uuid::Uuid::from_u128(self.id(row.boot)?)),
                monotonic: Duration::new(row.monotonic_secs, row.monotonic_nanos),
                wall_trusted: row.wall_trusted,
            },
            amends: row.amends,
        })
    }
}

/// A reader in a read transaction.
pub(crate) fn reader(txn: &redb::ReadTransaction) -> Step<Reader<redb::ReadOnlyTable<u32, u128>>> {
    Ok(Reader { ids: txn.open_table(IDS)?, known: HashMap::new() })
}

/// A reader in a write transaction.
pub(crate) fn reader_in(txn: &WriteTransaction) -> Step<Reader<Table<'_, u32, u128>>> {
    Ok(Reader { ids: txn.open_table(IDS)?, known: HashMap::new() })
}

/// Creates the tables, and rewrites the events of a store written before rows as rows, in
/// the caller's transaction: all of them or, on an error, none. Returns how many.
///
/// An old event that cannot be read (damaged, or filed under another seq) does not stop
/// the store from opening, and the kiosk from taking taps: its bytes are kept apart as they
/// were, in `damaged_events`, with a warning naming its seq. Uploading then stops at that
/// seq with an error that names it (see [`check_gapless`]), as it did before rows, when
/// sealing the batch that held it failed.
pub(crate) fn migrate(txn: &WriteTransaction) -> Step<u64> {
    let mut writer = Writer::open(txn)?;
    let mut tables = txn.list_tables()?.map(|t| t.name().to_owned());
    if !tables.any(|name| name == WHOLE_EVENTS.name()) {
        return Ok(0);
    }

    let mut moved = 0;
    {
        let old = txn.open_table(WHOLE_EVENTS)?;
        let mut damaged_events = txn.open_table(DAMAGED)?;
        for entry in old.iter()? {
            let (seq, bytes) = entry?;
            let (seq, bytes) = (seq.value(), bytes.value());
            let event = whole::<PresenceEvent>(bytes).and_then(|event| match event.seq {
                filed if filed == seq => Ok(event),
                other => Err(format!("it names seq {other}")),
            });
            match event {
                Ok(event) => {
                    writer.put(&event)?;
                    moved += 1;
                }
                Err(why) => {
                    tracing::warn!(seq, error = %why, "stored event is damaged; kept apart");
                    damaged_events.insert(seq, bytes)?;
                }
            }
        }
    }
    drop(writer);
    txn.delete_table(WHOLE_EVENTS)?;
    Ok(moved)
}

/// Checks that `events` are the seqs `first..=last`, none missing: a seq missing is an
/// event that could not be read when the store was rewritten (kept in `damaged_events`).
pub(crate) fn check_gapless(
    first: u64,
    last: u64,
    events: &[PresenceEvent],
) -> Result<(), SyncError> {
    let mut found = events.iter().map(|e| e.seq);
    for expected in first..=last {
        if found.next() != Some(expected) {
            return Err(damaged(
                "event",
                format!(
                    "seq {expected} could not be read when the store was rewritten (its \
                     bytes are kept in the table damaged_events); uploading stops there"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use redb::{Database, ReadableDatabase, ReadableTableMetadata};

    use super::*;
    use crate::outbox::Failure;

    fn text(failure: Failure) -> String {
        failure.into_sync(std::path::Path::new("k.redb")).to_string()
    }

    fn event(seq: u64, kiosk: KioskId, boot: BootId, subject: Subject) -> PresenceEvent {
        PresenceEvent {
            id: EventId::time_ordered(),
            kiosk,
            seq,
            subject,
            direction: if seq.is_multiple_of(2) { Direction::Out } else { Direction::In },
            direction_source: DirectionSource::Toggle,
            reason: "WORK".parse().unwrap(),
            time: TimeReading {
                wall: DateTime::from_timestamp(1_767_600_000 + seq as i64, 123_456_789).unwrap(),
                boot,
                monotonic: Duration::new(86_400 * 20 + seq, 999_999_999),
                wall_trusted: !seq.is_multiple_of(3),
            },
            amends: None,
        }
    }

    /// Every kind of event there is: both subjects, with and without a badge, amending or
    /// not, two kiosks and two boots, a wall clock before 1970.
    fn events() -> Vec<PresenceEvent> {
        let (kiosk, other_kiosk) = (KioskId::random(), KioskId::random());
        let (boot, next_boot) = (BootId::random(), BootId::random());
        let badge: BadgeUid = "04E87577DE9811".parse().unwrap();
        let employee = EmployeeId::random();
        let mut events = vec![
            event(1, kiosk, boot, Subject::Employee { id: employee, badge: Some(badge) }),
            event(2, kiosk, boot, Subject::Employee { id: employee, badge: None }),
            event(3, kiosk, next_boot, Subject::UnknownBadge(badge)),
            event(4, other_kiosk, next_boot, Subject::Employee { id: employee, badge: None }),
        ];
        events[1].amends = Some(Amendment::Replaces(events[0].id));
        events[2].amends = Some(Amendment::Withdraws(events[1].id));
        events[3].time.wall = DateTime::from_timestamp(-86_400, 5).unwrap();
        events[3].reason = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-0123".parse().unwrap();
        events
    }

    fn read_all(db: &Database) -> Vec<PresenceEvent> {
        let txn = db.begin_read().unwrap();
        let rows = txn.open_table(ROWS).unwrap();
        let mut reader = reader(&txn).unwrap();
        let mut out = Vec::new();
        for entry in rows.iter().unwrap() {
            let (seq, bytes) = entry.unwrap();
            out.push(reader.event(seq.value(), bytes.value()).unwrap());
        }
        out
    }

    #[test]
    fn a_row_reads_back_as_the_very_event_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("k.redb")).unwrap();
        let events = events();
        let txn = db.begin_write().unwrap();
        {
            let mut writer = Writer::open(&txn).unwrap();
            for event in &events {
                writer.put(event).unwrap();
            }
        }
        txn.commit().unwrap();
        assert_eq!(read_all(&db), events);

        // Two kiosks and two boots: four numbers, however many events name them.
        let txn = db.begin_read().unwrap();
        assert_eq!(txn.open_table(IDS).unwrap().len().unwrap(), 4);
    }

    #[test]
    fn a_row_is_well_under_the_whole_event() {
        for event in events() {
            let whole = postcard::to_stdvec(&event).unwrap().len();
            let dir = tempfile::tempdir().unwrap();
            let db = Database::create(dir.path().join("k.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            Writer::open(&txn).unwrap().put(&event).unwrap();
            txn.commit().unwrap();
            let txn = db.begin_read().unwrap();
            let rows = txn.open_table(ROWS).unwrap();
            let row = rows.get(event.seq).unwrap().unwrap().value().len();
            // A tap by a known badge: the kiosk's own id and the RFC 3339 text are gone.
            assert!(row + 40 <= whole, "row {row} bytes, event {whole}");
            assert!(row <= 90, "row {row} bytes");
        }
    }

    #[test]
    fn a_store_of_whole_events_is_rewritten_as_rows_and_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("k.redb")).unwrap();
        let events = events();
        let txn = db.begin_write().unwrap();
        {
            let mut whole = txn.open_table(WHOLE_EVENTS).unwrap();
            for event in &events {
                whole.insert(event.seq, postcard::to_stdvec(event).unwrap().as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();

        let txn = db.begin_write().unwrap();
        assert_eq!(migrate(&txn).unwrap(), 4);
        txn.commit().unwrap();
        assert_eq!(read_all(&db), events);
        let txn = db.begin_read().unwrap();
        assert!(txn.open_table(WHOLE_EVENTS).is_err(), "the old table is gone");

        // Opened again, there is nothing left to move.
        let txn = db.begin_write().unwrap();
        assert_eq!(migrate(&txn).unwrap(), 0);
        txn.commit().unwrap();
        assert_eq!(read_all(&db), events);
    }

    #[test]
    fn old_events_that_cannot_be_read_are_kept_apart_and_stop_uploading_there() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("k.redb")).unwrap();
        let events = events();
        let encoded = |e: &PresenceEvent| postcard::to_stdvec(e).unwrap();
        let mut trailing = encoded(&events[2]);
        trailing.extend([0, 1, 2]);
        let mut misfiled = events[3].clone();
        misfiled.seq = 9;
        let old: Vec<(u64, Vec<u8>)> = vec![
            (1, encoded(&events[0])),
            (2, vec![0xFF, 0x01]),
            (3, trailing),
            (4, encoded(&misfiled)),
            (5, encoded(&PresenceEvent { seq: 5, ..events[1].clone() })),
        ];
        let txn = db.begin_write().unwrap();
        {
            let mut whole = txn.open_table(WHOLE_EVENTS).unwrap();
            for (seq, bytes) in &old {
                whole.insert(*seq, bytes.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();

        let txn = db.begin_write().unwrap();
        assert_eq!(migrate(&txn).unwrap(), 2);
        txn.commit().unwrap();
        let read = read_all(&db);
        assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 5]);
        assert_eq!(read[0], events[0]);

        // Kept as they were, under their seqs.
        let txn = db.begin_read().unwrap();
        let kept = txn.open_table(DAMAGED).unwrap();
        for (seq, bytes) in &old[1..4] {
            assert_eq!(kept.get(seq).unwrap().unwrap().value(), bytes.as_slice());
        }
        assert_eq!(kept.len().unwrap(), 3);

        let error = check_gapless(1, 5, &read).unwrap_err().to_string();
        assert!(error.contains("seq 2 could not be read"), "{error}");
        assert!(check_gapless(5, 5, &read[1..]).is_ok());
        let error = check_gapless(5, 6, &read[1..]).unwrap_err().to_string();
        assert!(error.contains("seq 6"), "{error}");
    }

    #[test]
    fn a_damaged_row_is_an_error_naming_its_seq_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("k.redb")).unwrap();
        let event = events().remove(0);
        let txn = db.begin_write().unwrap();
        Writer::open(&txn).unwrap().put(&event).unwrap();
        txn.commit().unwrap();
        let txn = db.begin_read().unwrap();
        let stored = txn.open_table(ROWS).unwrap().get(1).unwrap().unwrap().value().to_vec();
        let mut reader = reader(&txn).unwrap();
        assert_eq!(reader.event(1, &stored).unwrap(), event);

        let mut longer = stored.clone();
        longer.push(0);
        let mut wrong_time = stored.clone();
        // The monotonic nanoseconds sit just before the trust flag and the amendment.
        let at = wrong_time.len() - 7;
        wrong_time[at..at + 5].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        for bytes in [&[][..], &[0xFF; 3][..], &[0; 40][..], &longer[..], &wrong_time[..]] {
            let error = text(reader.event(7, bytes).unwrap_err());
            assert!(error.contains("damaged") && error.contains("seq 7"), "{error}");
        }
    }
}
