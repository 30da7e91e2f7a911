//! Made-up presence events that look like a working day: employees in turn, checking in
//! and out, seconds apart, so that pairing and indexes see what they would see in use.

use chrono::{DateTime, Duration, TimeZone, Utc};

use mtime_core::badge::BadgeUid;
use mtime_core::batch::{Batch, BatchHash, SealedBatch};
use mtime_core::event::{Direction, DirectionSource, PresenceEvent, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_core::pairing::{Punch, PunchOrigin};
use mtime_server::model::{EventDetail, EventRecord};
use mtime_sync::outbox::EventDraft;

/// A fixed start for made-up taps that never reach a server, so every store compared
/// keeps the very same bytes.
pub fn fixed_base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).single().unwrap_or_default()
}

/// How far apart made-up taps are: close enough that a million fit in ten seconds after
/// their kiosk was created, so none is dated before it or in the future when it arrives.
pub const TAP_SPACING: std::time::Duration = std::time::Duration::from_micros(10);

/// A badge made from a number, 7 bytes like a MIFARE UID.
pub fn badge(n: u64) -> BadgeUid {
    let mut raw = [0x04u8, 0, 0, 0, 0, 0, 0];
    raw[1..].copy_from_slice(&n.to_be_bytes()[2..]);
    // Seven bytes are always a valid UID length.
    BadgeUid::from_bytes(&raw).unwrap_or_else(|_| unreachable!("7-byte UID"))
}

/// Who taps: employees with their badges.
#[derive(Debug, Clone)]
pub struct Workforce {
    /// The employees, with the badge each holds.
    pub people: Vec<(EmployeeId, BadgeUid)>,
}

impl Workforce {
    /// `count` employees with random ids (for stores that do not check them).
    pub fn random(count: usize) -> Self {
        Self { people: (0..count as u64).map(|n| (EmployeeId::random(), badge(n))).collect() }
    }

    /// The regulars of door `door` of `doors`: every `doors`th employee from the `door`th
    /// (the one employee `door` comes to, when there are more doors than employees). An
    /// employee tapping at one door at a time has their punches arrive in time order, as at a
    /// site; the same employee at every door of a hundred within a second would not.
    pub fn regulars(&self, door: usize, doors: usize) -> Self {
        let people: Vec<_> = self.people.iter().skip(door).step_by(doors.max(1)).copied().collect();
        if people.is_empty() && !self.people.is_empty() {
            return Self { people: vec![self.people[door % self.people.len()]] };
        }
        Self { people }
    }

    /// The `n`th tap of a day-like sequence: employees in turn, each going in and out.
    fn tap(&self, n: u64) -> (EmployeeId, BadgeUid, Direction) {
        let count = self.people.len().max(1) as u64;
        let (id, uid) = self.people[(n % count) as usize];
        let direction = if (n / count).is_multiple_of(2) { Direction::In } else { Direction::Out };
        (id, uid, direction)
    }

    /// The draft a kiosk would make for the `n`th tap, `n` spacings after `base` (on the
    /// wall clock and on the monotonic clock of `boot` alike).
    pub fn draft(&self, n: u64, boot: BootId, base: DateTime<Utc>) -> EventDraft {
        let (id, uid, direction) = self.tap(n);
        let since = TAP_SPACING * u32::try_from(n).unwrap_or(u32::MAX);
        let wall = base + Duration::from_std(since).unwrap_or_default();
        EventDraft {
            subject: Subject::Employee { id, badge: Some(uid) },
            direction,
            direction_source: DirectionSource::Explicit,
            reason: "WORK".parse().unwrap_or_else(|_| unreachable!("a valid reason code")),
            time: TimeReading { wall, boot, monotonic: since, wall_trusted: true },
            amends: None,
        }
    }

    /// The stored event of kiosk `kiosk` with sequence number `seq`.
    pub fn event(
        &self,
        kiosk: KioskId,
        seq: u64,
        boot: BootId,
        base: DateTime<Utc>,
    ) -> PresenceEvent {
        let draft = self.draft(seq, boot, base);
        PresenceEvent {
            id: EventId::time_ordered(),
            kiosk,
            seq,
            subject: draft.subject,
            direction: draft.direction,
            direction_source: draft.direction_source,
            reason: draft.reason,
            time: draft.time,
            amends: None,
        }
    }
}

/// A kiosk's chain of sealed batches, as its outbox would make them.
pub struct Chain {
    /// The kiosk.
    pub kiosk: KioskId,
    /// Its key.
    pub key: SigningKey,
    /// The next seq.
    pub next_seq: u64,
    /// The hash of the last batch made.
    pub prev: BatchHash,
    /// This boot.
    pub boot: BootId,
    /// When the chain began: its taps are dated from here on.
    pub base: DateTime<Utc>,
}

impl Chain {
    /// A chain from the first seq.
    pub fn new(kiosk: KioskId, key: SigningKey) -> Self {
        let (prev, boot, base) = (BatchHash::GENESIS, BootId::random(), Utc::now());
        Self { kiosk, key, next_seq: 1, prev, boot, base }
    }

    /// Seals the next batch of `size` events.
    pub fn next(&mut self, people: &Workforce, size: usize) -> anyhow::Result<SealedBatch> {
        let events = (0..size as u64)
            .map(|i| people.event(self.kiosk, self.next_seq + i, self.boot, self.base))
            .collect();
        let sealed = Batch { kiosk: self.kiosk, prev: self.prev, events }.seal(&self.key)?;
        self.next_seq += size as u64;
        self.prev = sealed.hash;
        Ok(sealed)
    }
}

/// The records the server stores for a batch, made as its batch route makes them.
pub fn records(batch: &SealedBatch, now: DateTime<Utc>) -> Vec<EventRecord> {
    let kiosk = batch.batch.kiosk;
    batch
        .batch
        .events
        .iter()
        .map(|e| EventRecord {
            employee: e.subject.employee(),
            punch: Punch {
                event: e.id,
                at: e.time.wall,
                direction: e.direction,
                reason: e.reason.clone(),
                origin: PunchOrigin::Kiosk { kiosk, seq: e.seq },
            },
            detail: EventDetail::Kiosk {
                badge: match &e.subject {
                    Subject::Employee { badge, .. } => *badge,
                    Subject::UnknownBadge(badge) => Some(*badge),
                },
                direction_source: e.direction_source,
                time: e.time,
            },
            received_at: now,
        })
        .collect()
}
