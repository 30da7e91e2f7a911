//! An event's row in the store: the [`EventRecord`] with its instants as numbers.
//!
//! Rows were first the record itself in postcard, whose instants chrono writes as RFC 3339
//! text; formatting and parsing that text was about a third of what writing and reading an
//! event cost, on every batch stored and every event the watchers read back. A row now
//! starts with [`BINARY`], a byte no row of the first kind starts with (postcard writes the
//! record's leading `Option` as 0 or 1), so a store holds rows of both kinds and reads both.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use mtime_core::badge::BadgeUid;
use mtime_core::event::{Direction, DirectionSource, ReasonCode, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId};
use mtime_core::pairing::{Punch, PunchOrigin};

use super::punches::{Instant, date_time, instant};
use super::{backend, decode};
use crate::model::{EventDetail, EventRecord};
use crate::store::StoreError;

/// The first byte of a row with numeric instants.
const BINARY: u8 = 2;

/// Written from the record it borrows, so that writing one clones nothing.
#[derive(Serialize, Deserialize)]
struct Row<'a> {
    employee: Option<EmployeeId>,
    event: EventId,
    at: Instant,
    direction: Direction,
    reason: Cow<'a, ReasonCode>,
    origin: Cow<'a, PunchOrigin>,
    detail: Detail,
    received_at: Instant,
}

#[derive(Serialize, Deserialize)]
enum Detail {
    Kiosk {
        badge: Option<BadgeUid>,
        direction_source: DirectionSource,
        wall: Instant,
        boot: BootId,
        monotonic: Duration,
        wall_trusted: bool,
    },
    Api,
}

/// The row of `event`.
pub(super) fn encode_event(event: &EventRecord) -> Result<Vec<u8>, StoreError> {
    let detail = match &event.detail {
        EventDetail::Kiosk { badge, direction_source, time } => Detail::Kiosk {
            badge: *badge,
            direction_source: *direction_source,
            wall: instant(time.wall),
            boot: time.boot,
            monotonic: time.monotonic,
            wall_trusted: time.wall_trusted,
        },
        EventDetail::Api => Detail::Api,
    };
    let row = Row {
        employee: event.employee,
        event: event.punch.event,
        at: instant(event.punch.at),
        direction: event.punch.direction,
        reason: Cow::Borrowed(&event.punch.reason),
        origin: Cow::Borrowed(&event.punch.origin),
        detail,
        received_at: instant(event.received_at),
    };

    postcard::to_extend(&row, vec![BINARY]).map_err(backend)
}

/// The event of a row of either kind.
pub(super) fn decode_event(bytes: &[u8]) -> Result<EventRecord, StoreError> {
    let Some((&BINARY, rest)) = bytes.split_first() else {
        return decode(bytes, "event");
    };
    let row: Row<'static> = decode(rest, "event")?;

    let detail = match row.detail {
        Detail::Kiosk { badge, direction_source, wall, boot, monotonic, wall_trusted } => {
            let wall = date_time(wall, "event")?;
            let time = TimeReading { wall, boot, monotonic, wall_trusted };
            EventDetail::Kiosk { badge, direction_source, time }
        }
        Detail::Api => EventDetail::Api,
    };
    let punch = Punch {
        event: row.event,
        at: date_time(row.at, "event")?,
        direction: row.direction,
        reason: row.reason.into_owned(),
        origin: row.origin.into_owned(),
    };
    let received_at = date_time(row.received_at, "event")?;
    Ok(EventRecord { employee: row.employee, punch, detail, received_at })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::store::redb_store::encode;
    use crate::store::redb_store::histories::{self, Dice};

    fn kiosk_event(n: u8) -> EventRecord {
        let at: DateTime<Utc> = "2025-05-12T07:58:13.123456789Z".parse().unwrap();
        let kiosk = mtime_core::ids::KioskId(uuid::Uuid::from_bytes([n; 16]));
        EventRecord {
            employee: Some(EmployeeId(uuid::Uuid::from_bytes([n + 1; 16]))),
            punch: Punch {
                event: EventId(uuid::Uuid::from_bytes([n + 2; 16])),
                at,
                direction: Direction::In,
                reason: "WORK".parse().unwrap(),
                origin: PunchOrigin::Kiosk { kiosk, seq: 41 },
            },
            detail: EventDetail::Kiosk {
                badge: Some("04E87577DE9801".parse().unwrap()),
                direction_source: DirectionSource::Toggle,
                time: TimeReading {
                    wall: at - chrono::Duration::seconds(3),
                    boot: BootId(uuid::Uuid::from_bytes([n + 3; 16])),
                    monotonic: Duration::new(86_400, 17),
                    wall_trusted: false,
                },
            },
            received_at: at + chrono::Duration::days(9),
        }
    }

    #[test]
    fn a_row_gives_back_the_event_it_was_written_from() {
        let mut api = kiosk_event(1);
        api.employee = None;
        api.detail = EventDetail::Api;
        api.punch.origin =
            PunchOrigin::Api { author: "hr".into(), note: Some("late".into()), correction: true };
        for event in [kiosk_event(5), api] {
            let row = encode_event(&event).unwrap();
            assert_eq!(row[0], BINARY);
            assert_eq!(decode_event(&row).unwrap(), event);
        }
    }

    #[test]
    fn a_row_written_as_the_record_itself_still_reads() {
        let events = [kiosk_event(7)]
            .into_iter()
            .chain(histories::history(&mut Dice(3), EmployeeId::random()).into_iter().map(|e| e.0));
        for event in events {
            let old = encode(&event).unwrap();
            assert!(old[0] < BINARY, "the old rows start with the employee's Option tag");
            assert_eq!(decode_event(&old).unwrap(), event);
        }
    }

    #[test]
    fn a_row_is_smaller_than_the_record_itself() {
        let event = kiosk_event(9);
        let (row, old) = (encode_event(&event).unwrap(), encode(&event).unwrap());
        assert!(row.len() + 40 < old.len(), "{} vs {} bytes", row.len(), old.len());
    }

    #[test]
    fn a_damaged_row_is_reported_not_misread() {
        let row = encode_event(&kiosk_event(2)).unwrap();
        let err = decode_event(&row[..row.len() / 2]).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { what: "event", .. }), "{err:?}");
        let mut far = row.clone();
        let at = far.len() - 12;
        far[at..].fill(0xff);
        assert!(decode_event(&far).is_err());
    }
}
