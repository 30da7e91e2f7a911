//! Storage behind a trait, so the API does not care where records live.
//!
//! [`redb_store::RedbStore`] keeps everything in one redb file. Every method is one
//! transaction: a write either happens whole or not at all. Batches that kiosks send at the
//! same moment share a transaction and its commit (group commit), each still whole or not
//! at all.

pub mod kiosk_record;
pub mod redb_store;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use mtime_core::badge::BadgeUid;
use mtime_core::batch::SealedBatch;
use mtime_core::event::{Amendment, Direction};
use mtime_core::ids::{EmployeeId, EventId, KioskId, OrgUnitId, UserId, WebhookId};
use mtime_core::keys::PublicKey;
use mtime_core::pairing::{self, Interval, PairingRules, Punch, Recorded};
use mtime_core::protocol::OutboxReport;
use mtime_core::timing::TimeAnchor;

use crate::model::{
    ActivityRecord, ApiKeyRecord, DeliveryRecord, DimensionRecord, EmployeeRecord,
    EmploymentTermsRecord, EventRecord, FeedEntry, InteractiveUser, IntervalAnnouncement,
    IntervalKey, KioskAccessRecord, KioskOutbox, KioskRecord, OrgUnitRecord, QuarantineRecord,
    ReasonRecord, ServiceUser, WebhookRecord,
};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be read or written.
    #[error("storage failed: {0}")]
    Backend(String),
    /// A stored record could not be decoded: the file is damaged or from a newer build.
    #[error("stored {what} could not be decoded: {detail}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// A unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// A referenced record does not exist.
    #[error("{0}")]
    NotFound(String),
}

/// The result of storing a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Stored now; the receipt given was kept.
    Stored {
        /// The signed receipt.
        receipt: Vec<u8>,
        /// Amendments it carried that apply to nothing (or not yet), stored as evidence.
        unapplied: Vec<UnappliedAmendment>,
    },
    /// Stored before: the receipt given then; nothing changed.
    Replay {
        /// The signed receipt.
        receipt: Vec<u8>,
    },
    /// The kiosk's history conflicts with what is stored; nothing stored.
    Fork {
        /// The last seq stored.
        stored_through: u64,
    },
    /// The batch skips sequence numbers; nothing stored.
    Gap {
        /// The seq expected next.
        expected: u64,
    },
    /// The kiosk is revoked; nothing stored.
    Revoked,
}

/// An amendment stored as evidence that applies to nothing, or not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnappliedAmendment {
    /// The amending event.
    pub event: EventId,
    /// The event it names.
    pub target: EventId,
    /// Why it does not apply.
    pub why: &'static str,
}

/// The result of an enrollment attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollOutcome {
    /// The kiosk now holds `public_key`.
    Enrolled(Box<KioskRecord>),
    /// No kiosk waits for this code (unknown, used, or revoked kiosk).
    UnknownCode,
    /// The code expired.
    Expired,
}

/// The punches of one employee that count: their events with the amendments among them
/// applied by the one rule, [`pairing::effective`]. Every reader of presence starts here.
pub fn effective_punches(
    store: &dyn Store,
    employee: EmployeeId,
) -> Result<Vec<Punch>, StoreError> {
    Ok(pairing::effective_owned(store.employee_punches(employee)?).punches)
}

/// A punch as an employee's index files it: by its sort instant, which is its own instant
/// except for an amending punch filed no earlier than the punch it amends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedPunch {
    /// Where it is filed.
    pub sort: DateTime<Utc>,
    /// The punch and the amendment it carries.
    pub recorded: Recorded,
}

/// How long an interval may stay open, by the kiosk its check-in was made at (API punches:
/// the default). Building it decodes every kiosk record, so a request or a watcher pass
/// that pairs many employees loads it once.
#[derive(Debug, Clone)]
pub struct OpenLimits {
    by_kiosk: HashMap<KioskId, std::time::Duration>,
    default: std::time::Duration,
}

impl OpenLimits {
    /// The limits of every kiosk as stored now.
    pub fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let by_kiosk = store
            .kiosks()?
            .iter()
            .map(|k| {
                let hours = u64::from(k.config.max_open_hours);
                (k.id, std::time::Duration::from_secs(hours * 3600))
            })
            .collect();
        Ok(Self { by_kiosk, default: PairingRules::default().max_open })
    }

    /// The longest an interval begun by `start` may stay open.
    pub fn of(&self, start: &Punch) -> std::time::Duration {
        match start.origin {
            pairing::PunchOrigin::Kiosk { kiosk, .. } => {
                self.by_kiosk.get(&kiosk).copied().unwrap_or(self.default)
            }
            pairing::PunchOrigin::Api { .. } => self.default,
        }
    }
}

/// Every interval of one employee, in time order: their effective punches paired by the
/// one rule every reader uses, an interval over-long past the maximum of the kiosk it
/// began at.
pub fn employee_intervals(
    store: &dyn Store,
    limits: &OpenLimits,
    employee: EmployeeId,
) -> Result<Vec<Interval>, StoreError> {
    let punches = effective_punches(store, employee)?;
    Ok(pairing::pair_with(&punches, |start| limits.of(start)))
}

/// [`employee_intervals`] as a report reads them at `now`: an interval still open longer than
/// the maximum of the kiosk it began at is flagged as missing its check-out
/// ([`pairing::flag_forgotten`]). The interval watcher announces what punches close and reads
/// [`employee_intervals`]; the flag reaches the feed when a later punch pairs it.
pub fn employee_intervals_at(
    store: &dyn Store,
    limits: &OpenLimits,
    employee: EmployeeId,
    now: DateTime<Utc>,
) -> Result<Vec<Interval>, StoreError> {
    let mut intervals = employee_intervals(store, limits, employee)?;
    pairing::flag_forgotten(&mut intervals, now, |start| limits.of(start));
    Ok(intervals)
}

/// For each employee asked, the punches that count from some punch at or before their
/// instant `at` on: what pairing needs to give exactly the intervals of the whole history
/// that reach past `at`, read backwards from the newest punch instead of from the first;
/// in the order asked, each round of reads in one transaction.
///
/// Every row that changes the punches after an instant is filed after it (see
/// [`IndexedPunch`]), and what pairing does after a punch does not depend on what came
/// before it: after a check-out nothing is open, after a check-in that check-in is. So once
/// the rows read hold every row from some instant on, and the first punch among them that
/// counts is no later than `at`, pairing them gives the whole history's intervals from that
/// punch on (a leading check-out aside, which the history may pair with an earlier
/// check-in). Until then the read reaches further back; a history with no such punch is
/// read whole.
///
/// With `keep`, the rows are taken as kept and what is read is kept for the next reader
/// (presence: most employees punch nothing between two reports); without, read from the store
/// alone (the interval watcher reads those who just punched, whom their next punch would
/// forget again).
pub fn punches_reaching_each(
    store: &dyn Store,
    asked: &[(EmployeeId, DateTime<Utc>)],
    keep: bool,
) -> Result<Vec<Vec<Punch>>, StoreError> {
    let mut found: Vec<Option<Vec<Punch>>> = vec![None; asked.len()];
    // Two rows answer for most: the check-in before the instant and the check-out after it.
    let mut count = 2;
    loop {
        let waiting: Vec<usize> = (0..asked.len()).filter(|&i| found[i].is_none()).collect();
        if waiting.is_empty() {
            return Ok(found.into_iter().flatten().collect());
        }
        let ids: Vec<EmployeeId> = waiting.iter().map(|&i| asked[i].0).collect();
        let read = if keep {
            store.latest_punches_kept(&ids, count)?
        } else {
            store.latest_punches_of(&ids, count)?
        };

        for (i, rows) in waiting.into_iter().zip(read) {
            let whole = rows.len() < count;
            let recorded: Vec<Recorded> = rows.into_iter().map(|r| r.recorded).collect();
            let punches = pairing::effective_owned(recorded).punches;

            let first = punches.iter().min_by_key(|p| pairing::order(p));
            if whole || first.is_some_and(|p| p.at <= asked[i].1) {
                found[i] = Some(punches);
            }
        }
        count = count.saturating_mul(4);
    }
}

/// From how many employees presence is read on several threads at once: below it, starting
/// the threads costs about what they save.
const PRESENCE_IN_PARALLEL_FROM: usize = 2_000;

/// The interval of each employee that holds `at`, if they were present then: the answer
/// [`employee_intervals`] gives, from the punches [`punches_reaching_each`] `at`. An interval
/// still open longer than the maximum of the kiosk it began at holds nothing: its check-out
/// was forgotten ([`pairing::flag_forgotten`], read at `at`; the kiosk's screen applies the
/// same rule, [`pairing::still_in`]).
///
/// A whole workforce is read in parts, one per core (four at most), so that a site's
/// evacuation list does not wait on one core; each employee is read and paired alone either
/// way, so the answer is the same.
pub fn presence_at(
    store: &dyn Store,
    limits: &OpenLimits,
    employees: &[EmployeeId],
    at: DateTime<Utc>,
) -> Result<Vec<Option<Interval>>, StoreError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    if employees.len() < PRESENCE_IN_PARALLEL_FROM || cores < 2 {
        return presence_of(store, limits, employees, at);
    }

    let part = employees.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let readers: Vec<_> = employees
            .chunks(part)
            .map(|some| scope.spawn(move || presence_of(store, limits, some, at)))
            .collect();
        let mut found = Vec::with_capacity(employees.len());
        for reader in readers {
            let part = reader
                .join()
                .map_err(|_| StoreError::Backend("a presence reader stopped short".into()))??;
            found.extend(part);
        }
        Ok(found)
    })
}

/// [`presence_at`] on the calling thread.
fn presence_of(
    store: &dyn Store,
    limits: &OpenLimits,
    employees: &[EmployeeId],
    at: DateTime<Utc>,
) -> Result<Vec<Option<Interval>>, StoreError> {
    let asked: Vec<(EmployeeId, DateTime<Utc>)> = employees.iter().map(|e| (*e, at)).collect();
    let punches = punches_reaching_each(store, &asked, true)?;
    Ok(punches
        .iter()
        .map(|punches| {
            let mut intervals = pairing::pair_with(punches, |start| limits.of(start));
            pairing::flag_forgotten(&mut intervals, at, |start| limits.of(start));
            intervals.into_iter().rev().find(|i| i.contains(at))
        })
        .collect())
}

/// What a change at some instant can have made or unmade of one employee's intervals: those
/// that hold a punch at or after it, and the one begun by the last punch before it if that
/// is a check-in (its end is whatever comes next, so a punch arriving after it can leave it
/// without one), as the whole history pairs them; and the last punch of that history, in the
/// order pairing reads, from which the interval watcher can pair what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// The intervals, in time order.
    pub intervals: Vec<Interval>,
    /// The employee's last punch that counts.
    pub last: Option<Punch>,
}

impl Repaired {
    /// Pairs `punches`, which hold every punch that counts from the last one before `since`
    /// on, and keeps what a change at `since` reaches.
    pub fn pair(punches: &[Punch], since: DateTime<Utc>, limits: &OpenLimits) -> Self {
        let mut intervals = pairing::pair_with(punches, |start| limits.of(start));
        let reopened = last_check_in_before(punches, since);
        intervals.retain(|i| {
            let reaches = [&i.start, &i.end].into_iter().flatten().any(|p| p.at >= since);
            reaches || i.start.as_ref().is_some_and(|p| Some(p.event) == reopened)
        });
        let last = punches.iter().max_by_key(|p| pairing::order(p)).cloned();
        Self { intervals, last }
    }

    /// What `new` punches make after `last`, the employee's last punch that counted, when
    /// each of them comes after it in pairing's order and at a later instant (a punch at
    /// the same instant would pair with what came before `last`); `None` when one does not,
    /// and the history must be read back.
    pub fn after(last: Option<&Punch>, new: &[Punch], limits: &OpenLimits) -> Option<Self> {
        let since = new.iter().map(|p| p.at).min()?;
        if last.is_some_and(|last| last.at >= since) {
            return None;
        }
        let punches: Vec<Punch> = last.into_iter().chain(new).cloned().collect();
        Some(Self::pair(&punches, since, limits))
    }
}

/// For each employee asked, what a change at their `since` can have made ([`Repaired`]).
/// Read together, in the order asked, so that the rows not yet merged into the index are
/// scanned once per round rather than once per employee.
pub fn intervals_since_each(
    store: &dyn Store,
    limits: &OpenLimits,
    asked: &[(EmployeeId, DateTime<Utc>)],
) -> Result<Vec<Repaired>, StoreError> {
    // One punch before `since` is enough: the interval it opens or closes is paired as the
    // history pairs it, and so is everything after.
    let before: Vec<(EmployeeId, DateTime<Utc>)> = asked
        .iter()
        .map(|(employee, since)| {
            let before = since.checked_sub_signed(chrono::TimeDelta::nanoseconds(1));
            (*employee, before.unwrap_or(*since))
        })
        .collect();
    let reaching = punches_reaching_each(store, &before, false)?;
    Ok(reaching
        .iter()
        .zip(asked)
        .map(|(punches, (_, since))| Repaired::pair(punches, *since, limits))
        .collect())
}

/// The last of `punches` before `since`, in the order pairing reads them, if it is a
/// check-in.
pub(crate) fn last_check_in_before(punches: &[Punch], since: DateTime<Utc>) -> Option<EventId> {
    let last = punches.iter().filter(|p| p.at < since).max_by_key(|p| pairing::order(p))?;
    (last.direction == Direction::In).then_some(last.event)
}

/// The result of a key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRotationOutcome {
    /// The kiosk now holds the new key.
    Rotated(Box<KioskRecord>),
    /// Nobody asked this kiosk to rotate; nothing changed.
    NotRequested,
    /// The kiosk's key changed meanwhile, or it was revoked; nothing changed.
    Stale,
}

/// Where records live.
pub trait Store: Send + Sync + 'static {
    /// Whether `init` has run.
    fn is_initialized(&self) -> Result<bool, StoreError>;
    /// Creates a service user, with a first key if one is given; the first one created
    /// marks the workspace initialised.
    fn create_service_user(
        &self,
        user: &ServiceUser,
        key: Option<&ApiKeyRecord>,
    ) -> Result<(), StoreError>;
    /// All service users.
    fn service_users(&self) -> Result<Vec<ServiceUser>, StoreError>;
    /// Stores a new API key or a changed one (revoked).
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// All API keys (hashes and metadata only; keys themselves are never stored).
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// The key with this hash and its user.
    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<(ApiKeyRecord, ServiceUser)>, StoreError>;
    /// Records a key's use.
    fn touch_api_key(&self, hash: &[u8; 32], at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Creates an interactive user; refuses an id or an email address (in any case) that
    /// is taken, by an active or a deactivated user.
    fn insert_user(&self, user: &InteractiveUser) -> Result<(), StoreError>;
    /// Changes an interactive user in one transaction and returns it as stored.
    fn update_user(
        &self,
        id: UserId,
        change: &mut dyn FnMut(&mut InteractiveUser),
    ) -> Result<InteractiveUser, StoreError>;
    /// One interactive user.
    fn user(&self, id: UserId) -> Result<Option<InteractiveUser>, StoreError>;
    /// All interactive users.
    fn users(&self) -> Result<Vec<InteractiveUser>, StoreError>;

    /// Creates an org unit.
    fn insert_org_unit(&self, unit: &OrgUnitRecord) -> Result<(), StoreError>;
    /// One org unit.
    fn org_unit(&self, id: OrgUnitId) -> Result<Option<OrgUnitRecord>, StoreError>;
    /// All org units.
    fn org_units(&self) -> Result<Vec<OrgUnitRecord>, StoreError>;

    /// Creates or updates an employee; refuses a number held by another employee, or a
    /// badge another employee holds on any of the same days.
    fn put_employee(&self, employee: &EmployeeRecord) -> Result<(), StoreError>;
    /// One employee.
    fn employee(&self, id: EmployeeId) -> Result<Option<EmployeeRecord>, StoreError>;
    /// The employee with this external number.
    fn employee_by_number(&self, number: &str) -> Result<Option<EmployeeRecord>, StoreError>;
    /// All employees, by external number; shared, since every report reads them all.
    fn employees(&self) -> Result<std::sync::Arc<[EmployeeRecord]>, StoreError>;

    /// What an employee may do at kiosks beyond badging, if anything was ever set.
    fn kiosk_access(&self, employee: EmployeeId) -> Result<Option<KioskAccessRecord>, StoreError>;
    /// Every employee's kiosk access that was ever set.
    fn kiosk_accesses(&self) -> Result<HashMap<EmployeeId, KioskAccessRecord>, StoreError>;
    /// Changes an employee's kiosk access in one transaction (`change` gets what is stored,
    /// if anything, and returns the new record) and increases the roster version, so that
    /// kiosks fetch it. Refuses an employee that does not exist.
    fn update_kiosk_access(
        &self,
        employee: EmployeeId,
        change: &mut dyn FnMut(Option<KioskAccessRecord>) -> KioskAccessRecord,
    ) -> Result<KioskAccessRecord, StoreError>;

    /// Creates a reason; refuses a known code. A new default replaces the old default.
    fn insert_reason(&self, reason: &ReasonRecord) -> Result<(), StoreError>;
    /// All reasons.
    fn reasons(&self) -> Result<Vec<ReasonRecord>, StoreError>;

    /// Creates a dimension; refuses a known code.
    fn insert_dimension(&self, dimension: &DimensionRecord) -> Result<(), StoreError>;
    /// All dimensions.
    fn dimensions(&self) -> Result<Vec<DimensionRecord>, StoreError>;
    /// Creates an activity; refuses a known code.
    fn insert_activity(&self, activity: &ActivityRecord) -> Result<(), StoreError>;
    /// All activities.
    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError>;

    /// Creates employment terms; refuses a known code.
    fn insert_employment_terms(&self, terms: &EmploymentTermsRecord) -> Result<(), StoreError>;
    /// Replaces employment terms that exist (a new version).
    fn update_employment_terms(&self, terms: &EmploymentTermsRecord) -> Result<(), StoreError>;
    /// All employment terms.
    fn employment_terms(&self) -> Result<Vec<EmploymentTermsRecord>, StoreError>;

    /// Creates a kiosk.
    fn insert_kiosk(&self, kiosk: &KioskRecord) -> Result<(), StoreError>;
    /// Replaces a kiosk's record (a new code, a revocation, a heartbeat).
    fn update_kiosk(
        &self,
        id: KioskId,
        change: &mut dyn FnMut(&mut KioskRecord),
    ) -> Result<KioskRecord, StoreError>;
    /// One kiosk.
    fn kiosk(&self, id: KioskId) -> Result<Option<KioskRecord>, StoreError>;
    /// All kiosks.
    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError>;
    /// Uses a one-time code: the kiosk waiting for it takes `key`, and the code is spent.
    fn enroll(
        &self,
        code_hash: &[u8; 32],
        key: PublicKey,
        now: DateTime<Utc>,
    ) -> Result<EnrollOutcome, StoreError>;

    /// Stores a verified batch if it continues its kiosk's chain, with its events and the
    /// receipt to give for it now and on every resend. The amendments its events carry are
    /// taken from `batch` and kept apart from the events, as evidence that pairing reads.
    fn store_batch(
        &self,
        batch: &SealedBatch,
        events: &[EventRecord],
        receipt: &[u8],
    ) -> Result<BatchOutcome, StoreError>;
    /// Keeps the newest anchor of a kiosk boot, and releases the events of that boot held
    /// only because nothing told their time: each gets its instant from the anchor and
    /// joins its employee's events. Returns how many were released. One transaction.
    fn record_time_anchor(&self, kiosk: KioskId, anchor: &TimeAnchor) -> Result<usize, StoreError>;
    /// The first day of the last week announced closed, per employee.
    fn weeks_closed(&self) -> Result<HashMap<EmployeeId, NaiveDate>, StoreError>;
    /// Appends `week.closed` for each (employee, week) later than the last announced for
    /// that employee, and remembers it, in one transaction; returns how many.
    fn announce_weeks(
        &self,
        closed: &[(EmployeeId, NaiveDate)],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// Quarantined events, with the event as the kiosk sent it.
    fn quarantine(&self) -> Result<Vec<(QuarantineRecord, EventRecord)>, StoreError>;
    /// Resolves a quarantined event with `replacement` (a correction entered by an admin),
    /// in one transaction. `None`, changing nothing, when it is not held or resolved already.
    fn accept_quarantined(
        &self,
        event: EventId,
        replacement: &EventRecord,
        author: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<QuarantineRecord>, StoreError>;

    /// Stores an event entered through the API.
    fn insert_event(&self, event: &EventRecord) -> Result<(), StoreError>;
    /// The amendments these events carry, by event; events without one are left out.
    fn amendments(&self, events: &[EventId]) -> Result<HashMap<EventId, Amendment>, StoreError>;
    /// Every event of one employee, amending and amended ones included.
    fn employee_events(&self, id: EmployeeId) -> Result<Vec<EventRecord>, StoreError>;
    /// Every punch of one employee with the amendment it carries, as pairing reads them.
    fn employee_punches(&self, id: EmployeeId) -> Result<Vec<Recorded>, StoreError>;
    /// The last `count` punches of each employee as filed, oldest first, with any other
    /// filed at the instant of the oldest of them (so that they hold every punch filed from
    /// that instant on); one transaction.
    fn latest_punches_of(
        &self,
        ids: &[EmployeeId],
        count: usize,
    ) -> Result<Vec<Vec<IndexedPunch>>, StoreError>;
    /// [`Store::latest_punches_of`], keeping what it reads in memory for the next reader
    /// until a write files a punch of the employee.
    fn latest_punches_kept(
        &self,
        ids: &[EmployeeId],
        count: usize,
    ) -> Result<Vec<Vec<IndexedPunch>>, StoreError>;
    /// Events whose badge no roster knew.
    fn unknown_badge_events(&self) -> Result<Vec<EventRecord>, StoreError>;
    /// Gives the taps of an unknown `badge` to `employee`: they leave the review queue and
    /// join the employee's events. Returns how many moved.
    fn assign_unknown_badge(
        &self,
        badge: &BadgeUid,
        employee: EmployeeId,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// Feed entries after `after`, oldest first, at most `limit`.
    fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError>;

    /// The seq of the last feed entry the interval watcher handled (0 before the first).
    fn interval_watch_cursor(&self) -> Result<u64, StoreError>;
    /// Which of these closed intervals (each with its employee) the feed has announced; one
    /// transaction.
    fn announced_among(
        &self,
        intervals: &[(EmployeeId, IntervalKey)],
    ) -> Result<HashSet<(EmployeeId, IntervalKey)>, StoreError>;
    /// Files the punches stored since the last merge in the employee index, in one
    /// transaction, if there are any; returns how many. Reads see the same punches before
    /// and after: this only makes them cheaper (see `redb_store::punches`).
    fn merge_punches(&self) -> Result<usize, StoreError>;
    /// The earliest instant these stored events may change the intervals at: their own
    /// instants and those of the taps they amend, down each chain; `None` when none is
    /// stored.
    fn earliest_change(&self, events: &[EventId]) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// For each event, its employee and punch when it is a plain punch: stored, someone's,
    /// amending nothing, and named by no amendment filed; `None` otherwise. One transaction.
    fn plain_punches(
        &self,
        events: &[EventId],
    ) -> Result<Vec<Option<(EmployeeId, Punch)>>, StoreError>;
    /// In one transaction: appends `interval.closed` (and `interval.flagged` for a flagged
    /// one) per announcement, remembers them as announced, and moves the interval watcher's
    /// cursor from `from` to `through`. Refuses with [`StoreError::Conflict`] when the
    /// cursor is no longer at `from`, so an announcement is never made twice.
    fn announce_intervals(
        &self,
        from: u64,
        through: u64,
        announcements: &[IntervalAnnouncement],
    ) -> Result<(), StoreError>;
    /// Gives kiosk `id` the key `new` in place of `current`, if an admin asked for it and
    /// `current` is still its key; appends `kiosk.key_rotated`. One transaction.
    fn rotate_kiosk_key(
        &self,
        id: KioskId,
        current: PublicKey,
        new: PublicKey,
        at: DateTime<Utc>,
    ) -> Result<KeyRotationOutcome, StoreError>;

    /// Kiosks currently marked silent.
    fn silent_kiosks(&self) -> Result<HashSet<KioskId>, StoreError>;
    /// Marks a kiosk silent (`kiosk.silent` in the feed) or heard again (`kiosk.resumed`),
    /// in one transaction. Returns false, changing nothing, when it was already so.
    fn set_kiosk_silent(
        &self,
        id: KioskId,
        silent: bool,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Keeps what a kiosk's heartbeat said of its outbox. When the report crosses the
    /// warning mark of [`mtime_core::capacity`] (either way) against the last one kept,
    /// appends `kiosk.outbox_filling` or `kiosk.outbox_drained`, in the same transaction, so
    /// each crossing is announced exactly once. Returns the kind appended, if any.
    fn record_outbox(
        &self,
        id: KioskId,
        report: OutboxReport,
        at: DateTime<Utc>,
    ) -> Result<Vec<&'static str>, StoreError>;
    /// What the kiosk's last heartbeat said of its outbox, if one did.
    fn kiosk_outbox(&self, id: KioskId) -> Result<Option<KioskOutbox>, StoreError>;

    /// Creates a webhook subscription starting at the feed's end (its `cursor` is replaced
    /// by the last seq stored); returns the record as stored.
    fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<WebhookRecord, StoreError>;
    /// One webhook subscription.
    fn webhook(&self, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError>;
    /// All webhook subscriptions.
    fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Deletes a subscription with its delivery log; false if there was none.
    fn delete_webhook(&self, id: WebhookId) -> Result<bool, StoreError>;
    /// Moves a subscription's cursor forward to `seq` (never back). False if it is gone.
    fn advance_webhook(&self, id: WebhookId, seq: u64) -> Result<bool, StoreError>;
    /// Logs a delivery attempt (numbering it, and dropping the oldest beyond
    /// [`crate::model::DELIVERY_LOG_LEN`]); a delivered one also moves the cursor to its seq,
    /// in the same transaction. `None` if the subscription is gone: nothing is written.
    fn record_delivery(
        &self,
        id: WebhookId,
        attempt: &DeliveryRecord,
    ) -> Result<Option<DeliveryRecord>, StoreError>;
    /// A subscription's delivery log, oldest first.
    fn deliveries(&self, id: WebhookId) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// The newest attempt in a subscription's log.
    fn last_delivery(&self, id: WebhookId) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Increases with every change that alters what a kiosk's roster holds.
    fn roster_version(&self) -> Result<u64, StoreError>;
    /// Increases the roster version, so that kiosks fetch their roster again.
    fn touch_roster(&self) -> Result<(), StoreError>;
}
