//! The embedded store: one redb file, nothing to install.

mod employee_cache;
mod event_row;
mod feed;
mod group;
#[cfg(test)]
pub(crate) mod histories;
mod punch_cache;
mod punches;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use mtime_core::badge::BadgeUid;
use mtime_core::batch::{BatchHash, ChainDecision, SealedBatch};
use mtime_core::event::Amendment;
use mtime_core::ids::EventId;
use mtime_core::ids::{EmployeeId, KioskId, OrgUnitId, UserId, WebhookId};
use mtime_core::keys::PublicKey;
use mtime_core::pairing::{Punch, PunchOrigin, Recorded};
use mtime_core::protocol::OutboxReport;
use mtime_core::repair::open_repairing;
use mtime_core::timing::{self, Established, QuarantineReason, TimeAnchor};

use super::kiosk_record;
use super::{
    BatchOutcome, EnrollOutcome, IndexedPunch, KeyRotationOutcome, Store, StoreError,
    UnappliedAmendment,
};
use crate::model::{
    ActivityRecord, ApiKeyRecord, DELIVERY_LOG_LEN, DeliveryRecord, DimensionRecord,
    EmployeeRecord, EmploymentTermsRecord, EventDetail, EventRecord, FeedEntry,
    FeedEntryWithoutWeek, InteractiveUser, IntervalAnnouncement, IntervalKey, KioskAccessRecord,
    KioskOutbox, KioskRecord, OrgUnitRecord, QuarantineRecord, QuarantineResolution, ReasonRecord,
    ServiceUser, WebhookRecord, feed_kind,
};
use event_row::{decode_event, encode_event};
use feed::FeedAppends;
use punches::Filing;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("service_users");
const API_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("api_keys");
const INTERACTIVE_USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("interactive_users");
/// Lower-cased email address → the interactive user holding it.
const USER_EMAILS: TableDefinition<&str, u128> = TableDefinition::new("user_emails");
const ORG_UNITS: TableDefinition<u128, &[u8]> = TableDefinition::new("org_units");
const EMPLOYEES: TableDefinition<u128, &[u8]> = TableDefinition::new("employees");
const EMPLOYEE_NUMBERS: TableDefinition<&str, u128> = TableDefinition::new("employee_numbers");
/// Employee → a postcard [`KioskAccessRecord`]: PIN hash and kiosk-admin flag.
const EMPLOYEE_KIOSK_ACCESS: TableDefinition<u128, &[u8]> =
    TableDefinition::new("employee_kiosk_access");
/// (badge, employee) → nothing: who has held each badge, in any version.
const BADGES: TableDefinition<(&[u8], u128), ()> = TableDefinition::new("badge_holders");
const REASONS: TableDefinition<&str, &[u8]> = TableDefinition::new("reasons");
const DIMENSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("dimensions");
const ACTIVITIES: TableDefinition<&str, &[u8]> = TableDefinition::new("activities");
const KIOSKS: TableDefinition<u128, &[u8]> = TableDefinition::new("kiosks");
const EMPLOYMENT_TERMS: TableDefinition<&str, &[u8]> = TableDefinition::new("employment_terms");
const ENROLLMENT_CODES: TableDefinition<&[u8], u128> = TableDefinition::new("enrollment_codes");
/// (kiosk, first seq) → the stored batch's hash, last seq and receipt.
const BATCHES: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("batches");
const EVENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("events");
/// Amending event → the postcard [`Amendment`] it carries. Kept apart from the events, so
/// that events stored before amendments existed still decode.
const EVENT_AMENDMENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("event_amendments");
/// Events of badges no roster knew, for review.
const UNKNOWN_BADGE_EVENTS: TableDefinition<u128, ()> = TableDefinition::new("unknown_badges");

/// The feed (what happened, in the order it was stored) as first stored: seq → the postcard
/// [`FeedEntry`]. Read only to move it into the feed's blocks ([`feed`]).
const FEED: TableDefinition<u64, &[u8]> = TableDefinition::new("feed");

/// (employee, which events are present: bit 0 check-in, bit 1 check-out, check-in event,
/// check-out event) → nothing: closed intervals the feed has announced.
const ANNOUNCED_INTERVALS: TableDefinition<(u128, u8, u128, u128), ()> =
    TableDefinition::new("announced_intervals");
/// Kiosks marked silent → when they were marked.
const SILENT_KIOSKS: TableDefinition<u128, i64> = TableDefinition::new("silent_kiosks");
/// Kiosk → what its last heartbeat said of its outbox ([`KioskOutbox`]).
const KIOSK_OUTBOXES: TableDefinition<u128, &[u8]> = TableDefinition::new("kiosk_outboxes");
/// Webhook subscriptions, with their cursors.
const WEBHOOKS: TableDefinition<u128, &[u8]> = TableDefinition::new("webhooks");
/// (webhook, number) → one delivery attempt: each subscription's bounded log.
const DELIVERIES: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("webhook_deliveries");

/// (kiosk, boot) → the newest [`TimeAnchor`] of that boot.
const TIME_ANCHORS: TableDefinition<(u128, u128), &[u8]> = TableDefinition::new("time_anchors");
/// employee → the first day of the last week announced closed.
const WEEKS_CLOSED: TableDefinition<u128, i32> = TableDefinition::new("weeks_closed");
/// event → a [`QuarantineRecord`]: kiosk events whose time is not believed.
const QUARANTINE: TableDefinition<u128, &[u8]> = TableDefinition::new("quarantine");

const INITIALIZED: &str = "initialized";
const INTERVAL_WATCH: &str = "interval_watch";
const FEED_SEQ: &str = "feed_seq";
/// The format the store is written in, [`FORMAT`]; a store without it is of format 1.
const FORMAT_KEY: &str = "store_format";
/// 2: event rows and feed entries with numeric instants ([`event_row`], [`feed`]);
/// 3: the feed's entries, and the punch log's, stored in blocks, one or more per
/// transaction ([`feed`], [`punches`]).
const FORMAT: u64 = 3;
const ROSTER_VERSION: &str = "roster_version";

/// A batch as kept for answering resends.
#[derive(Serialize, serde::Deserialize)]
struct BatchRecord {
    hash: BatchHash,
    last_seq: u64,
    receipt: Vec<u8>,
}

/// The redb store.
pub struct RedbStore {
    db: Database,
    commits: group::Commits,
    employees: employee_cache::EmployeeCache,
    kept: punch_cache::PunchCache,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(backend)
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
}

/// A service user as stored before org-unit scopes existed.
#[derive(Serialize, serde::Deserialize)]
struct ServiceUserV1 {
    id: UserId,
    name: String,
    role: String,
    permissions: Vec<String>,
    created_at: DateTime<Utc>,
}

/// Decodes a service user, current or from before scopes: an older record lacks the
/// trailing list of org units, fails to decode as the current layout, and reads as a user
/// of the whole workspace, which is what it was.
fn decode_service_user(bytes: &[u8]) -> Result<ServiceUser, StoreError> {
    if let Ok(user) = postcard::from_bytes::<ServiceUser>(bytes) {
        return Ok(user);
    }
    let old: ServiceUserV1 = decode(bytes, "service user")?;
    Ok(ServiceUser {
        id: old.id,
        name: old.name,
        role: old.role,
        permissions: old.permissions,
        created_at: old.created_at,
        org_units: Vec::new(),
    })
}

/// The roster version in a read snapshot.
fn roster_version_in(txn: &redb::ReadTransaction) -> Result<u64, StoreError> {
    let meta = txn.open_table(META).map_err(backend)?;
    Ok(meta.get(ROSTER_VERSION).map_err(backend)?.map_or(0, |v| v.value()))
}

fn bump_roster_version(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META).map_err(backend)?;
    let version = meta.get(ROSTER_VERSION).map_err(backend)?.map_or(0, |v| v.value());
    meta.insert(ROSTER_VERSION, version + 1).map_err(backend)?;
    Ok(())
}

impl RedbStore {
    /// Commits a write transaction, then forgets the punches kept of every employee it filed
    /// punches of: every write of the store commits through here.
    fn commit(&self, txn: WriteTransaction) -> Result<(), StoreError> {
        let committed = txn.commit().map_err(backend);
        self.kept.committed();
        committed
    }

    /// The newest `count` punches of each employee: those kept where they are, the rest read
    /// from the store and kept (see [`punch_cache`]).
    fn latest_punches_keeping(
        &self,
        ids: &[EmployeeId],
        count: usize,
    ) -> Result<Vec<Vec<IndexedPunch>>, StoreError> {
        let employees: Vec<u128> = ids.iter().map(|e| e.0.as_u128()).collect();
        let mut lookup = self.kept.lookup(&employees, count);
        let missed: Vec<EmployeeId> =
            ids.iter().zip(&lookup.found).filter(|(_, f)| f.is_none()).map(|(e, _)| *e).collect();
        if missed.is_empty() {
            return Ok(lookup.found.into_iter().flatten().collect());
        }

        // The snapshot begins after the lookup took its stamps: a commit the snapshot does not
        // hold forgets after it, so it either changes a stamp or removes what is kept.
        let read = punches::latest(&self.db.begin_read().map_err(backend)?, &missed, count)?;
        self.kept.keep(&employees, count, &lookup, &read);

        let mut read = read.into_iter();
        Ok(lookup
            .found
            .iter_mut()
            .map(|f| f.take().or_else(|| read.next()).unwrap_or_default())
            .collect())
    }

    /// Opens or creates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = open_repairing(path, "database", |b| b.create(path)).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Backend(format!(
                "{} is in use by another mtime-server; stop it first",
                path.display()
            )),
            other => StoreError::Backend(format!("{}: {other}", path.display())),
        })?;
        // It holds webhook secrets and everyone's presence: readable by the server's user
        // alone, like its key.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;

        let txn = db.begin_write().map_err(backend)?;
        let format = check_format(&txn, path)?;
        txn.open_table(USERS).map_err(backend)?;
        txn.open_table(API_KEYS).map_err(backend)?;
        txn.open_table(INTERACTIVE_USERS).map_err(backend)?;
        txn.open_table(USER_EMAILS).map_err(backend)?;
        txn.open_table(ORG_UNITS).map_err(backend)?;
        txn.open_table(EMPLOYEES).map_err(backend)?;
        txn.open_table(EMPLOYEE_NUMBERS).map_err(backend)?;
        txn.open_table(EMPLOYEE_KIOSK_ACCESS).map_err(backend)?;
        txn.open_table(BADGES).map_err(backend)?;
        txn.open_table(REASONS).map_err(backend)?;
        txn.open_table(KIOSKS).map_err(backend)?;
        txn.open_table(DIMENSIONS).map_err(backend)?;
        let moved = feed::move_old_entries(&txn)?;
        txn.open_table(ACTIVITIES).map_err(backend)?;
        txn.open_table(EMPLOYMENT_TERMS).map_err(backend)?;
        txn.open_table(ENROLLMENT_CODES).map_err(backend)?;
        txn.open_table(BATCHES).map_err(backend)?;
        txn.open_table(EVENTS).map_err(backend)?;
        txn.open_table(UNKNOWN_BADGE_EVENTS).map_err(backend)?;
        txn.open_table(EVENT_AMENDMENTS).map_err(backend)?;
        let kept = punch_cache::PunchCache::default();
        let upgraded = punches::open(&txn, &kept, format)?;
        txn.open_table(ANNOUNCED_INTERVALS).map_err(backend)?;
        txn.open_table(TIME_ANCHORS).map_err(backend)?;
        txn.open_table(WEEKS_CLOSED).map_err(backend)?;
        txn.open_table(QUARANTINE).map_err(backend)?;
        txn.open_table(SILENT_KIOSKS).map_err(backend)?;
        txn.open_table(KIOSK_OUTBOXES).map_err(backend)?;
        txn.open_table(WEBHOOKS).map_err(backend)?;
        txn.open_table(DELIVERIES).map_err(backend)?;
        txn.commit().map_err(backend)?;
        kept.committed();

        // Said once stored: a server stopped before the commit converts the store again.
        if moved > 0 {
            tracing::warn!(entries = moved, "moved the feed of an older store into blocks");
        }
        if upgraded.merged > 0 {
            tracing::warn!(punches = upgraded.merged, "merged the punch log of an older store");
        }
        if upgraded.built > 0 {
            let punches = upgraded.built;
            tracing::warn!(punches, "built the employee punch index of an older store");
        }
        Ok(Self { db, commits: group::Commits::default(), employees: Default::default(), kept })
    }

    fn get<K, T>(
        &self,
        table: TableDefinition<K, &[u8]>,
        key: K::SelfType<'_>,
        what: &'static str,
    ) -> Result<Option<T>, StoreError>
    where
        K: redb::Key + 'static,
        T: DeserializeOwned,
    {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(table).map_err(backend)?;
        let found = table.get(key).map_err(backend)?;
        found.map(|v| decode(v.value(), what)).transpose()
    }

    fn all<K, T>(
        &self,
        table: TableDefinition<K, &[u8]>,
        what: &'static str,
    ) -> Result<Vec<T>, StoreError>
    where
        K: redb::Key + 'static,
        T: DeserializeOwned,
    {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(table).map_err(backend)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(backend)? {
            let (_, value) = row.map_err(backend)?;
            out.push(decode(value.value(), what)?);
        }
        Ok(out)
    }

    /// Inserts a record under a unique code, in one transaction.
    fn insert_by_code<T: Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        code: &str,
        record: &T,
        what: &str,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut rows = txn.open_table(table).map_err(backend)?;
            if rows.get(code).map_err(backend)?.is_some() {
                return Err(StoreError::Conflict(format!("{what} {code} exists")));
            }
            rows.insert(code, encode(record)?.as_slice()).map_err(backend)?;
        }
        self.commit(txn)
    }

    fn events_by_id(&self, ids: Vec<u128>) -> Result<Vec<EventRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let events = txn.open_table(EVENTS).map_err(backend)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(bytes) = events.get(id).map_err(backend)? {
                out.push(decode_event(bytes.value())?);
            }
        }
        Ok(out)
    }
}

/// Refuses a store written by a newer server, whose rows this one could misread; marks an
/// older one as of this format, which the rest of [`RedbStore::open`] brings it to; gives
/// the format it was of.
fn check_format(txn: &WriteTransaction, path: &Path) -> Result<u64, StoreError> {
    let mut meta = txn.open_table(META).map_err(backend)?;
    let found = meta.get(FORMAT_KEY).map_err(backend)?.map_or(1, |v| v.value());
    if found > FORMAT {
        return Err(StoreError::Backend(format!(
            "{} is of store format {found}, written by a newer mtime-server; this one reads \
             formats up to {FORMAT}",
            path.display()
        )));
    }
    meta.insert(FORMAT_KEY, FORMAT).map_err(backend)?;
    Ok(found)
}

/// Writes a new event; refuses an id already stored.
fn write_new_event(filing: &mut Filing, event: &EventRecord) -> Result<(), StoreError> {
    // The error drops the transaction uncommitted, so nothing of the batch is stored.
    if !filing.write_event(event)? {
        return Err(StoreError::Conflict(format!(
            "event {} is already stored; event ids must be unique",
            event.punch.event
        )));
    }
    Ok(())
}

/// Writes a new event carrying `amends` (already in [`EVENT_AMENDMENTS`]) and indexes it.
fn insert_event(
    txn: &WriteTransaction,
    feed: &mut FeedAppends,
    filing: &mut Filing,
    event: &EventRecord,
    amends: Option<Amendment>,
) -> Result<(), StoreError> {
    write_new_event(filing, event)?;
    index_event(txn, feed, filing, event, event.received_at, amends)
}

/// What the events of one batch look up again and again, read once per batch: none of it
/// changes while the batch is stored.
#[derive(Default)]
struct BatchLookups {
    employees: HashMap<EmployeeId, bool>,
    reasons: HashMap<String, bool>,
    anchors: HashMap<mtime_core::ids::BootId, Option<TimeAnchor>>,
}

impl BatchLookups {
    fn employee_known(
        &mut self,
        txn: &WriteTransaction,
        id: EmployeeId,
    ) -> Result<bool, StoreError> {
        if let Some(known) = self.employees.get(&id) {
            return Ok(*known);
        }
        let table = txn.open_table(EMPLOYEES).map_err(backend)?;
        let known = table.get(id.0.as_u128()).map_err(backend)?.is_some();
        self.employees.insert(id, known);
        Ok(known)
    }

    fn reason_known(&mut self, txn: &WriteTransaction, code: &str) -> Result<bool, StoreError> {
        if let Some(known) = self.reasons.get(code) {
            return Ok(*known);
        }
        let known = txn.open_table(REASONS).map_err(backend)?.get(code).map_err(backend)?.is_some();
        self.reasons.insert(code.to_owned(), known);
        Ok(known)
    }

    fn anchor(
        &mut self,
        txn: &WriteTransaction,
        kiosk: KioskId,
        boot: mtime_core::ids::BootId,
    ) -> Result<Option<TimeAnchor>, StoreError> {
        if let Some(anchor) = self.anchors.get(&boot) {
            return Ok(*anchor);
        }
        let anchor = time_anchor(txn, kiosk, boot)?;
        self.anchors.insert(boot, anchor);
        Ok(anchor)
    }
}

/// Stores a kiosk's event at the instant [`timing::establish`] gives it from the anchors
/// stored in this transaction, or holds it in quarantine with the reason. The amendment it
/// carries is kept either way: a held amendment applies once the event is released.
fn store_kiosk_event(
    txn: &WriteTransaction,
    feed: &mut FeedAppends,
    filing: &mut Filing,
    lookups: &mut BatchLookups,
    kiosk: &KioskRecord,
    event: &EventRecord,
    amends: Option<Amendment>,
) -> Result<(), StoreError> {
    if let Some(amendment) = amends {
        let mut table = txn.open_table(EVENT_AMENDMENTS).map_err(backend)?;
        table
            .insert(event.punch.event.0.as_u128(), encode(&amendment)?.as_slice())
            .map_err(backend)?;
    }
    let EventDetail::Kiosk { time, .. } = &event.detail else {
        return insert_event(txn, feed, filing, event, amends);
    };
    // A signed kiosk may still carry what no roster of this server could have told it.
    let known_employee = match event.employee {
        Some(id) => lookups.employee_known(txn, id)?,
        None => true,
    };
    let known_reason = lookups.reason_known(txn, event.punch.reason.as_str())?;
    let anchor = lookups.anchor(txn, kiosk.id, time.boot)?;
    let established = if !known_employee {
        Established::Quarantined(QuarantineReason::UnknownEmployee)
    } else if !known_reason {
        Established::Quarantined(QuarantineReason::UnknownReason)
    } else {
        timing::establish(time, anchor.as_ref(), event.received_at, kiosk.created_at)
    };
    match established {
        Established::Quarantined(reason) => {
            write_new_event(filing, event)?;
            let record = QuarantineRecord {
                event: event.punch.event,
                reason,
                quarantined_at: event.received_at,
                resolution: None,
            };
            let mut held = txn.open_table(QUARANTINE).map_err(backend)?;
            held.insert(event.punch.event.0.as_u128(), encode(&record)?.as_slice())
                .map_err(backend)?;
            drop(held);
            feed.push(
                event.received_at,
                feed_kind::PRESENCE_QUARANTINED,
                event.employee,
                Some(kiosk.id),
                Some(event.punch.event),
            );
            Ok(())
        }
        Established::AsRead(at) | Established::Corrected(at) => {
            let mut placed = event.clone();
            placed.punch.at = at;
            insert_event(txn, feed, filing, &placed, amends)
        }
    }
}

/// Why an amendment just stored applies to nothing, if it does not: its target is unknown,
/// not an earlier event of the same kiosk, another employee's, or held in quarantine (it
/// applies once the target is released). Read again when pairing, by the one rule in
/// [`mtime_core::pairing::effective`]; this is for the log.
fn why_unapplied(
    txn: &WriteTransaction,
    event: &EventRecord,
    target: EventId,
) -> Result<Option<&'static str>, StoreError> {
    let events = txn.open_table(EVENTS).map_err(backend)?;
    let Some(bytes) = events.get(target.0.as_u128()).map_err(backend)? else {
        return Ok(Some("its target is unknown"));
    };
    let amended = decode_event(bytes.value())?;
    let earlier = match (&event.punch.origin, &amended.punch.origin) {
        (
            PunchOrigin::Kiosk { kiosk, seq },
            PunchOrigin::Kiosk { kiosk: target_kiosk, seq: target_seq },
        ) => kiosk == target_kiosk && target_seq < seq,
        _ => false,
    };
    if !earlier {
        return Ok(Some("its target is not an earlier event of the same kiosk"));
    }
    if amended.employee != event.employee {
        return Ok(Some("its target is another employee's"));
    }
    let held = txn.open_table(QUARANTINE).map_err(backend)?;
    let Some(bytes) = held.get(target.0.as_u128()).map_err(backend)? else { return Ok(None) };
    let record: QuarantineRecord = decode(bytes.value(), "quarantine")?;
    Ok(record.resolution.is_none().then_some("its target is held in quarantine"))
}

fn time_anchor(
    txn: &WriteTransaction,
    kiosk: KioskId,
    boot: mtime_core::ids::BootId,
) -> Result<Option<TimeAnchor>, StoreError> {
    let anchors = txn.open_table(TIME_ANCHORS).map_err(backend)?;
    let found = anchors.get((kiosk.0.as_u128(), boot.0.as_u128())).map_err(backend)?;
    found.map(|v| decode(v.value(), "time anchor")).transpose()
}

/// The amendment an event carries, if any.
fn amendment_of(txn: &WriteTransaction, event: u128) -> Result<Option<Amendment>, StoreError> {
    let table = txn.open_table(EVENT_AMENDMENTS).map_err(backend)?;
    let found = table.get(event).map_err(backend)?;
    found.map(|v| decode(v.value(), "amendment")).transpose()
}

/// Puts a stored event carrying `amends` in its employee's index (or the review queue for
/// an unknown badge) and announces it in `feed`.
fn index_event(
    txn: &WriteTransaction,
    feed: &mut FeedAppends,
    filing: &mut Filing,
    event: &EventRecord,
    at: DateTime<Utc>,
    amends: Option<Amendment>,
) -> Result<(), StoreError> {
    let id = event.punch.event.0.as_u128();

    match event.employee {
        Some(employee) => filing.put(employee, &event.punch, amends)?,
        None => {
            let mut review = txn.open_table(UNKNOWN_BADGE_EVENTS).map_err(backend)?;
            review.insert(id, ()).map_err(backend)?;
        }
    }

    let (kind, kiosk) = match (&event.punch.origin, event.employee) {
        (PunchOrigin::Kiosk { kiosk, .. }, Some(_)) if amends.is_some() => {
            (feed_kind::PRESENCE_AMENDED, Some(*kiosk))
        }
        (PunchOrigin::Kiosk { kiosk, .. }, Some(_)) => (feed_kind::PRESENCE_RECORDED, Some(*kiosk)),
        (PunchOrigin::Kiosk { kiosk, .. }, None) => {
            (feed_kind::PRESENCE_UNKNOWN_BADGE, Some(*kiosk))
        }
        (PunchOrigin::Api { correction: true, .. }, _) => (feed_kind::PRESENCE_CORRECTED, None),
        (PunchOrigin::Api { .. }, _) => (feed_kind::PRESENCE_ENTERED, None),
    };
    feed.push(at, kind, event.employee, kiosk, Some(event.punch.event));
    Ok(())
}

/// Stores one verified batch in `txn`, or says why not; nothing is written unless it is
/// stored. The caller commits, alone or with other batches (see [`group`]).
fn apply_batch(
    txn: &WriteTransaction,
    kept: &punch_cache::PunchCache,
    batch: &SealedBatch,
    events: &[EventRecord],
    receipt: &[u8],
) -> Result<BatchOutcome, StoreError> {
    let kiosk_id = batch.batch.kiosk;
    let first = batch.batch.first_seq();
    let outcome = {
        let mut kiosks = txn.open_table(KIOSKS).map_err(backend)?;
        let bytes = kiosks.get(kiosk_id.0.as_u128()).map_err(backend)?.map(|v| v.value().to_vec());
        let bytes = bytes
            .ok_or_else(|| StoreError::NotFound(format!("kiosk {kiosk_id} does not exist")))?;
        let mut kiosk = kiosk_record::decode(&bytes)?;
        if kiosk.revoked_at.is_some() {
            return Ok(BatchOutcome::Revoked);
        }

        let mut batches = txn.open_table(BATCHES).map_err(backend)?;
        let stored: Option<BatchRecord> = batches
            .get((kiosk_id.0.as_u128(), first))
            .map_err(backend)?
            .map(|v| decode(v.value(), "batch"))
            .transpose()?;

        match kiosk.head.decide(batch, stored.as_ref().map(|s| s.hash)) {
            ChainDecision::Replay => {
                let receipt = stored.map(|s| s.receipt).unwrap_or_default();
                return Ok(BatchOutcome::Replay { receipt });
            }
            ChainDecision::Fork => {
                return Ok(BatchOutcome::Fork { stored_through: kiosk.head.last_seq });
            }
            ChainDecision::Gap { expected } => return Ok(BatchOutcome::Gap { expected }),
            ChainDecision::Append => {}
        }

        let amendments: HashMap<EventId, Amendment> =
            batch.batch.events.iter().filter_map(|e| e.amends.map(|a| (e.id, a))).collect();
        let mut lookups = BatchLookups::default();
        let mut feed = FeedAppends::new();
        let mut filing = Filing::new(txn, kept);
        for event in events {
            let amends = amendments.get(&event.punch.event).copied();
            store_kiosk_event(txn, &mut feed, &mut filing, &mut lookups, &kiosk, event, amends)?;
        }
        filing.finish()?;
        feed.write(txn)?;
        let mut unapplied = Vec::new();
        for event in events {
            let Some(amendment) = amendments.get(&event.punch.event) else { continue };
            if let Some(why) = why_unapplied(txn, event, amendment.target())? {
                let target = amendment.target();
                unapplied.push(UnappliedAmendment { event: event.punch.event, target, why });
            }
        }
        let record = BatchRecord {
            hash: batch.hash,
            last_seq: batch.batch.last_seq(),
            receipt: receipt.to_vec(),
        };
        batches
            .insert((kiosk_id.0.as_u128(), first), encode(&record)?.as_slice())
            .map_err(backend)?;
        kiosk.head = kiosk.head.after(batch);
        kiosk.last_batch_at = events.first().map(|e| e.received_at);
        kiosks
            .insert(kiosk_id.0.as_u128(), kiosk_record::encode(&kiosk)?.as_slice())
            .map_err(backend)?;
        BatchOutcome::Stored { receipt: receipt.to_vec(), unapplied }
    };
    Ok(outcome)
}

impl Store for RedbStore {
    fn is_initialized(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        Ok(meta.get(INITIALIZED).map_err(backend)?.is_some())
    }

    fn create_service_user(
        &self,
        user: &ServiceUser,
        key: Option<&ApiKeyRecord>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut users = txn.open_table(USERS).map_err(backend)?;
            for row in users.iter().map_err(backend)? {
                let (_, value) = row.map_err(backend)?;
                let other = decode_service_user(value.value())?;
                if other.name == user.name {
                    return Err(StoreError::Conflict(format!(
                        "a service user named {:?} exists",
                        user.name
                    )));
                }
            }
            users.insert(user.id.0.as_u128(), encode(user)?.as_slice()).map_err(backend)?;
            if let Some(key) = key {
                let mut keys = txn.open_table(API_KEYS).map_err(backend)?;
                keys.insert(key.hash.as_slice(), encode(key)?.as_slice()).map_err(backend)?;
            }
            let mut meta = txn.open_table(META).map_err(backend)?;
            meta.insert(INITIALIZED, 1).map_err(backend)?;
        }
        self.commit(txn)
    }

    fn service_users(&self) -> Result<Vec<ServiceUser>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(USERS).map_err(backend)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(backend)? {
            let (_, value) = row.map_err(backend)?;
            out.push(decode_service_user(value.value())?);
        }
        Ok(out)
    }

    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut keys = txn.open_table(API_KEYS).map_err(backend)?;
            keys.insert(key.hash.as_slice(), encode(key)?.as_slice()).map_err(backend)?;
        }
        self.commit(txn)
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.all(API_KEYS, "API key")
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<(ApiKeyRecord, ServiceUser)>, StoreError> {
        let Some(key) = self.get::<&[u8], ApiKeyRecord>(API_KEYS, hash.as_slice(), "API key")?
        else {
            return Ok(None);
        };
        let txn = self.db.begin_read().map_err(backend)?;
        let users = txn.open_table(USERS).map_err(backend)?;
        let found = users.get(key.user.0.as_u128()).map_err(backend)?;
        let user = found.map(|v| decode_service_user(v.value())).transpose()?;
        Ok(user.map(|user| (key, user)))
    }

    fn touch_api_key(&self, hash: &[u8; 32], at: DateTime<Utc>) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut keys = txn.open_table(API_KEYS).map_err(backend)?;
            let found = keys.get(hash.as_slice()).map_err(backend)?.map(|v| v.value().to_vec());
            if let Some(bytes) = found {
                let mut key: ApiKeyRecord = decode(&bytes, "API key")?;
                key.last_used_at = Some(at);
                keys.insert(hash.as_slice(), encode(&key)?.as_slice()).map_err(backend)?;
            }
        }
        self.commit(txn)
    }

    fn insert_user(&self, user: &InteractiveUser) -> Result<(), StoreError> {
        let id = user.id.0.as_u128();
        let email = user.email_key();
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut emails = txn.open_table(USER_EMAILS).map_err(backend)?;
            if emails.get(email.as_str()).map_err(backend)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "a user with the email address {:?} exists",
                    user.email
                )));
            }
            let mut users = txn.open_table(INTERACTIVE_USERS).map_err(backend)?;
            if users.get(id).map_err(backend)?.is_some() {
                return Err(StoreError::Conflict(format!("user {} exists", user.id)));
            }
            users.insert(id, encode(user)?.as_slice()).map_err(backend)?;
            emails.insert(email.as_str(), id).map_err(backend)?;
        }
        self.commit(txn)
    }

    fn update_user(
        &self,
        id: UserId,
        change: &mut dyn FnMut(&mut InteractiveUser),
    ) -> Result<InteractiveUser, StoreError> {
        let key = id.0.as_u128();
        let txn = self.db.begin_write().map_err(backend)?;
        let updated = {
            let mut users = txn.open_table(INTERACTIVE_USERS).map_err(backend)?;
            let bytes = users.get(key).map_err(backend)?.map(|v| v.value().to_vec());
            let bytes =
                bytes.ok_or_else(|| StoreError::NotFound(format!("user {id} does not exist")))?;
            let mut user: InteractiveUser = decode(&bytes, "user")?;
            let old_email = user.email_key();
            change(&mut user);
            user.id = id;
            let new_email = user.email_key();
            if new_email != old_email {
                let mut emails = txn.open_table(USER_EMAILS).map_err(backend)?;
                if emails.get(new_email.as_str()).map_err(backend)?.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "a user with the email address {:?} exists",
                        user.email
                    )));
                }
                emails.remove(old_email.as_str()).map_err(backend)?;
                emails.insert(new_email.as_str(), key).map_err(backend)?;
            }
            users.insert(key, encode(&user)?.as_slice()).map_err(backend)?;
            user
        };
        self.commit(txn)?;
        Ok(updated)
    }

    fn user(&self, id: UserId) -> Result<Option<InteractiveUser>, StoreError> {
        self.get(INTERACTIVE_USERS, id.0.as_u128(), "user")
    }

    fn users(&self) -> Result<Vec<InteractiveUser>, StoreError> {
        self.all(INTERACTIVE_USERS, "user")
    }

    fn insert_org_unit(&self, unit: &OrgUnitRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut units = txn.open_table(ORG_UNITS).map_err(backend)?;
            let id = unit.unit.id.0.as_u128();
            if units.get(id).map_err(backend)?.is_some() {
                return Err(StoreError::Conflict(format!("org unit {} exists", unit.unit.id)));
            }
            units.insert(id, encode(unit)?.as_slice()).map_err(backend)?;
        }
        bump_roster_version(&txn)?;
        self.commit(txn)
    }

    fn org_unit(&self, id: OrgUnitId) -> Result<Option<OrgUnitRecord>, StoreError> {
        self.get(ORG_UNITS, id.0.as_u128(), "org unit")
    }

    fn org_units(&self) -> Result<Vec<OrgUnitRecord>, StoreError> {
        self.all(ORG_UNITS, "org unit")
    }

    fn put_employee(&self, employee: &EmployeeRecord) -> Result<(), StoreError> {
        let id = employee.id.0.as_u128();
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut numbers = txn.open_table(EMPLOYEE_NUMBERS).map_err(backend)?;
            let holder = numbers.get(employee.number.as_str()).map_err(backend)?.map(|v| v.value());
            if holder.is_some_and(|h| h != id) {
                return Err(StoreError::Conflict(format!(
                    "employee number {:?} belongs to another employee",
                    employee.number
                )));
            }

            let mut employees = txn.open_table(EMPLOYEES).map_err(backend)?;
            let previous: Option<EmployeeRecord> = employees
                .get(id)
                .map_err(backend)?
                .map(|v| decode(v.value(), "employee"))
                .transpose()?;

            // A badge may pass from one employee to another, but two never hold it on the
            // same day.
            let mut badges = txn.open_table(BADGES).map_err(backend)?;
            let mut held: Vec<BadgeUid> = employee.all_badges().copied().collect();
            held.sort();
            held.dedup();
            for badge in &held {
                let key = badge.as_bytes();
                let mut holders = Vec::new();
                for row in badges.range((key, 0)..=(key, u128::MAX)).map_err(backend)? {
                    let holder = row.map_err(backend)?.0.value().1;
                    if holder != id {
                        holders.push(holder);
                    }
                }
                for holder in holders {
                    let other: Option<EmployeeRecord> = employees
                        .get(holder)
                        .map_err(backend)?
                        .map(|v| decode(v.value(), "employee"))
                        .transpose()?;
                    if let Some(other) = other
                        && let Some(day) = employee.badge_overlap(&other, badge)
                    {
                        return Err(StoreError::Conflict(format!(
                            "badge {badge} belongs to employee {} on {day}; end it there first",
                            other.number
                        )));
                    }
                }
            }
            if let Some(previous) = &previous {
                if previous.number != employee.number {
                    numbers.remove(previous.number.as_str()).map_err(backend)?;
                }
                for badge in previous.all_badges() {
                    if !held.contains(badge) {
                        badges.remove((badge.as_bytes(), id)).map_err(backend)?;
                    }
                }
            }
            for badge in &held {
                badges.insert((badge.as_bytes(), id), ()).map_err(backend)?;
            }
            numbers.insert(employee.number.as_str(), id).map_err(backend)?;
            employees.insert(id, encode(employee)?.as_slice()).map_err(backend)?;
        }
        bump_roster_version(&txn)?;
        self.commit(txn)
    }

    fn employee(&self, id: EmployeeId) -> Result<Option<EmployeeRecord>, StoreError> {
        self.get(EMPLOYEES, id.0.as_u128(), "employee")
    }

    fn employee_by_number(&self, number: &str) -> Result<Option<EmployeeRecord>, StoreError> {
        let id = {
            let txn = self.db.begin_read().map_err(backend)?;
            let numbers = txn.open_table(EMPLOYEE_NUMBERS).map_err(backend)?;
            numbers.get(number).map_err(backend)?.map(|v| v.value())
        };
        match id {
            Some(id) => self.get(EMPLOYEES, id, "employee"),
            None => Ok(None),
        }
    }

    fn employees(&self) -> Result<Arc<[EmployeeRecord]>, StoreError> {
        // The version and the employees from one snapshot: the list is that version's.
        let txn = self.db.begin_read().map_err(backend)?;
        let version = roster_version_in(&txn)?;
        if let Some(list) = self.employees.at(version) {
            return Ok(list);
        }

        let table = txn.open_table(EMPLOYEES).map_err(backend)?;
        let mut all = Vec::new();
        for row in table.iter().map_err(backend)? {
            let (_, value) = row.map_err(backend)?;
            all.push(decode::<EmployeeRecord>(value.value(), "employee")?);
        }
        all.sort_by(|a, b| a.number.cmp(&b.number));
        let list: Arc<[EmployeeRecord]> = all.into();
        self.employees.keep(version, list.clone());
        Ok(list)
    }

    fn kiosk_access(&self, employee: EmployeeId) -> Result<Option<KioskAccessRecord>, StoreError> {
        self.get(EMPLOYEE_KIOSK_ACCESS, employee.0.as_u128(), "kiosk access")
    }

    fn kiosk_accesses(&self) -> Result<HashMap<EmployeeId, KioskAccessRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(EMPLOYEE_KIOSK_ACCESS).map_err(backend)?;
        let mut out = HashMap::new();
        for row in table.iter().map_err(backend)? {
            let (id, value) = row.map_err(backend)?;
            let id = EmployeeId(uuid::Uuid::from_u128(id.value()));
            out.insert(id, decode(value.value(), "kiosk access")?);
        }
        Ok(out)
    }

    fn update_kiosk_access(
        &self,
        employee: EmployeeId,
        change: &mut dyn FnMut(Option<KioskAccessRecord>) -> KioskAccessRecord,
    ) -> Result<KioskAccessRecord, StoreError> {
        let key = employee.0.as_u128();
        let txn = self.db.begin_write().map_err(backend)?;
        let updated = {
            let employees = txn.open_table(EMPLOYEES).map_err(backend)?;
            if employees.get(key).map_err(backend)?.is_none() {
                return Err(StoreError::NotFound(format!("employee {employee} does not exist")));
            }
            let mut table = txn.open_table(EMPLOYEE_KIOSK_ACCESS).map_err(backend)?;
            let stored = table.get(key).map_err(backend)?.map(|v| v.value().to_vec());
            let stored = stored.map(|b| decode(&b, "kiosk access")).transpose()?;
            let updated = change(stored);
            table.insert(key, encode(&updated)?.as_slice()).map_err(backend)?;
            updated
        };
        bump_roster_version(&txn)?;
        self.commit(txn)?;
        Ok(updated)
    }

    fn insert_reason(&self, reason: &ReasonRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut reasons = txn.open_table(REASONS).map_err(backend)?;
            if reasons.get(reason.code.as_str()).map_err(backend)?.is_some() {
                return Err(StoreError::Conflict(format!("reason {} exists", reason.code)));
            }
            if reason.is_default {
                let mut others = Vec::new();
                for row in reasons.iter().map_err(backend)? {
                    let (_, value) = row.map_err(backend)?;
                    let other: ReasonRecord = decode(value.value(), "reason")?;
                    if other.is_default {
                        others.push(other);
                    }
                }
                for mut other in others {
                    other.is_default = false;
                    reasons
                        .insert(other.code.as_str(), encode(&other)?.as_slice())
                        .map_err(backend)?;
                }
            }
            reasons.insert(reason.code.as_str(), encode(reason)?.as_slice()).map_err(backend)?;
        }
        bump_roster_version(&txn)?;
        self.commit(txn)
    }

    fn reasons(&self) -> Result<Vec<ReasonRecord>, StoreError> {
        self.all(REASONS, "reason")
    }

    fn insert_dimension(&self, dimension: &DimensionRecord) -> Result<(), StoreError> {
        self.insert_by_code(DIMENSIONS, &dimension.code, dimension, "dimension")
    }

    fn dimensions(&self) -> Result<Vec<DimensionRecord>, StoreError> {
        self.all(DIMENSIONS, "dimension")
    }

    fn insert_activity(&self, activity: &ActivityRecord) -> Result<(), StoreError> {
        self.insert_by_code(ACTIVITIES, &activity.code, activity, "activity")
    }

    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        self.all(ACTIVITIES, "activity")
    }

    fn insert_employment_terms(&self, terms: &EmploymentTermsRecord) -> Result<(), StoreError> {
        self.insert_by_code(EMPLOYMENT_TERMS, &terms.code, terms, "employment terms")
    }

    fn update_employment_terms(&self, terms: &EmploymentTermsRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut rows = txn.open_table(EMPLOYMENT_TERMS).map_err(backend)?;
            if rows.get(terms.code.as_str()).map_err(backend)?.is_none() {
                return Err(StoreError::NotFound(format!(
                    "employment terms {} do not exist",
                    terms.code
                )));
            }
            rows.insert(terms.code.as_str(), encode(terms)?.as_slice()).map_err(backend)?;
        }
        self.commit(txn)
    }

    fn employment_terms(&self) -> Result<Vec<EmploymentTermsRecord>, StoreError> {
        self.all(EMPLOYMENT_TERMS, "employment terms")
    }

    fn insert_kiosk(&self, kiosk: &KioskRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut kiosks = txn.open_table(KIOSKS).map_err(backend)?;
            kiosks
                .insert(kiosk.id.0.as_u128(), kiosk_record::encode(kiosk)?.as_slice())
                .map_err(backend)?;
            if let Some(enrollment) = &kiosk.enrollment {
                let mut codes = txn.open_table(ENROLLMENT_CODES).map_err(backend)?;
                codes
                    .insert(enrollment.code_hash.as_slice(), kiosk.id.0.as_u128())
                    .map_err(backend)?;
            }
        }
        self.commit(txn)
    }

    fn update_kiosk(
        &self,
        id: KioskId,
        change: &mut dyn FnMut(&mut KioskRecord),
    ) -> Result<KioskRecord, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let updated = {
            let mut kiosks = txn.open_table(KIOSKS).map_err(backend)?;
            let bytes = kiosks
                .get(id.0.as_u128())
                .map_err(backend)?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| StoreError::NotFound(format!("kiosk {id} does not exist")))?;
            let mut kiosk = kiosk_record::decode(&bytes)?;
            let old_code = kiosk.enrollment.as_ref().map(|e| e.code_hash);
            let was_revoked = kiosk.revoked_at.is_some();
            change(&mut kiosk);
            if let (false, Some(at)) = (was_revoked, kiosk.revoked_at) {
                feed::append(&txn, at, feed_kind::KIOSK_REVOKED, None, Some(id), None)?;
            }

            let new_code = kiosk.enrollment.as_ref().map(|e| e.code_hash);
            if old_code != new_code {
                let mut codes = txn.open_table(ENROLLMENT_CODES).map_err(backend)?;
                if let Some(old) = old_code {
                    codes.remove(old.as_slice()).map_err(backend)?;
                }
                if let Some(new) = new_code {
                    codes.insert(new.as_slice(), id.0.as_u128()).map_err(backend)?;
                }
            }
            kiosks
                .insert(id.0.as_u128(), kiosk_record::encode(&kiosk)?.as_slice())
                .map_err(backend)?;
            kiosk
        };
        self.commit(txn)?;
        Ok(updated)
    }

    fn kiosk(&self, id: KioskId) -> Result<Option<KioskRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(KIOSKS).map_err(backend)?;
        let found = table.get(id.0.as_u128()).map_err(backend)?;
        found.map(|v| kiosk_record::decode(v.value())).transpose()
    }

    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(KIOSKS).map_err(backend)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(backend)? {
            out.push(kiosk_record::decode(row.map_err(backend)?.1.value())?);
        }
        Ok(out)
    }

    fn enroll(
        &self,
        code_hash: &[u8; 32],
        key: PublicKey,
        now: DateTime<Utc>,
    ) -> Result<EnrollOutcome, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let outcome = {
            let mut codes = txn.open_table(ENROLLMENT_CODES).map_err(backend)?;
            let Some(kiosk_id) =
                codes.get(code_hash.as_slice()).map_err(backend)?.map(|v| v.value())
            else {
                return Ok(EnrollOutcome::UnknownCode);
            };
            // The code is spent whatever happens next: a used, expired or revoked code
            // never works again.
            codes.remove(code_hash.as_slice()).map_err(backend)?;

            let mut kiosks = txn.open_table(KIOSKS).map_err(backend)?;
            let bytes = kiosks.get(kiosk_id).map_err(backend)?.map(|v| v.value().to_vec());
            let Some(bytes) = bytes else { return Ok(EnrollOutcome::UnknownCode) };
            let mut kiosk = kiosk_record::decode(&bytes)?;
            let waiting = kiosk.enrollment.as_ref().filter(|e| e.code_hash == *code_hash);
            match waiting {
                None => EnrollOutcome::UnknownCode,
                Some(_) if kiosk.revoked_at.is_some() => EnrollOutcome::UnknownCode,
                Some(e) if e.expires_at <= now => {
                    kiosk.enrollment = None;
                    kiosks
                        .insert(kiosk_id, kiosk_record::encode(&kiosk)?.as_slice())
                        .map_err(backend)?;
                    EnrollOutcome::Expired
                }
                Some(_) => {
                    kiosk.enrollment = None;
                    kiosk.public_key = Some(key);
                    kiosk.enrolled_at = Some(now);
                    kiosks
                        .insert(kiosk_id, kiosk_record::encode(&kiosk)?.as_slice())
                        .map_err(backend)?;
                    feed::append(&txn, now, feed_kind::KIOSK_ENROLLED, None, Some(kiosk.id), None)?;
                    EnrollOutcome::Enrolled(Box::new(kiosk))
                }
            }
        };
        self.commit(txn)?;
        Ok(outcome)
    }

    fn store_batch(
        &self,
        batch: &SealedBatch,
        events: &[EventRecord],
        receipt: &[u8],
    ) -> Result<BatchOutcome, StoreError> {
        self.commits.store(&self.db, &self.kept, batch, events, receipt)
    }

    fn record_time_anchor(
        &self,
        kiosk_id: KioskId,
        anchor: &TimeAnchor,
    ) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let released = {
            let kiosks = txn.open_table(KIOSKS).map_err(backend)?;
            let bytes =
                kiosks.get(kiosk_id.0.as_u128()).map_err(backend)?.map(|v| v.value().to_vec());
            drop(kiosks);
            let bytes = bytes
                .ok_or_else(|| StoreError::NotFound(format!("kiosk {kiosk_id} does not exist")))?;
            let kiosk = kiosk_record::decode(&bytes)?;

            let key = (kiosk_id.0.as_u128(), anchor.boot.0.as_u128());
            let mut anchors = txn.open_table(TIME_ANCHORS).map_err(backend)?;
            anchors.insert(key, encode(anchor)?.as_slice()).map_err(backend)?;
            drop(anchors);

            // Held only for want of an anchor, and of this boot: their time is known now.
            let mut waiting = Vec::new();
            {
                let held = txn.open_table(QUARANTINE).map_err(backend)?;
                let events = txn.open_table(EVENTS).map_err(backend)?;
                for row in held.iter().map_err(backend)? {
                    let (id, value) = row.map_err(backend)?;
                    let record: QuarantineRecord = decode(value.value(), "quarantine")?;
                    if record.resolution.is_some()
                        || record.reason != QuarantineReason::UntrustedClock
                    {
                        continue;
                    }
                    let Some(bytes) = events.get(id.value()).map_err(backend)? else { continue };
                    let event = decode_event(bytes.value())?;
                    let from_here = matches!(event.punch.origin,
                        PunchOrigin::Kiosk { kiosk, .. } if kiosk == kiosk_id);
                    let same_boot = matches!(&event.detail,
                        EventDetail::Kiosk { time, .. } if time.boot == anchor.boot);
                    if from_here && same_boot {
                        waiting.push(event);
                    }
                }
            }

            let now = anchor.true_time;
            let mut released = 0;
            let mut feed = FeedAppends::new();
            let mut filing = Filing::new(&txn, &self.kept);
            for mut event in waiting {
                let EventDetail::Kiosk { time, .. } = &event.detail else { continue };
                let established =
                    timing::establish(time, Some(anchor), event.received_at, kiosk.created_at);
                let Some(at) = established.instant() else { continue };
                event.punch.at = at;
                let id = event.punch.event.0.as_u128();
                txn.open_table(QUARANTINE).map_err(backend)?.remove(id).map_err(backend)?;
                txn.open_table(EVENTS)
                    .map_err(backend)?
                    .insert(id, encode_event(&event)?.as_slice())
                    .map_err(backend)?;
                let amends = amendment_of(&txn, id)?;
                index_event(&txn, &mut feed, &mut filing, &event, now, amends)?;
                released += 1;
            }
            filing.finish()?;
            feed.write(&txn)?;
            released
        };
        self.commit(txn)?;
        Ok(released)
    }

    fn weeks_closed(&self) -> Result<HashMap<EmployeeId, NaiveDate>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(WEEKS_CLOSED).map_err(backend)?;
        let mut out = HashMap::new();
        for row in table.iter().map_err(backend)? {
            let (id, day) = row.map_err(backend)?;
            let Some(day) = NaiveDate::from_num_days_from_ce_opt(day.value()) else {
                return Err(StoreError::Corrupt { what: "closed week", detail: "day".into() });
            };
            out.insert(EmployeeId(uuid::Uuid::from_u128(id.value())), day);
        }
        Ok(out)
    }

    fn announce_weeks(
        &self,
        closed: &[(EmployeeId, NaiveDate)],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let mut announced = 0;
        let mut feed = FeedAppends::new();
        for (employee, week) in closed {
            let key = employee.0.as_u128();
            let mut table = txn.open_table(WEEKS_CLOSED).map_err(backend)?;
            let last = table.get(key).map_err(backend)?.map(|v| v.value());
            if last.is_some_and(|last| last >= week.num_days_from_ce()) {
                continue;
            }
            table.insert(key, week.num_days_from_ce()).map_err(backend)?;
            drop(table);
            feed.push_week_closed(at, *employee, *week);
            announced += 1;
        }
        feed.write(&txn)?;
        self.commit(txn)?;
        Ok(announced)
    }

    fn quarantine(&self) -> Result<Vec<(QuarantineRecord, EventRecord)>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let held = txn.open_table(QUARANTINE).map_err(backend)?;
        let events = txn.open_table(EVENTS).map_err(backend)?;
        let mut out = Vec::new();
        for row in held.iter().map_err(backend)? {
            let (id, value) = row.map_err(backend)?;
            let record: QuarantineRecord = decode(value.value(), "quarantine")?;
            let bytes =
                events.get(id.value()).map_err(backend)?.ok_or_else(|| StoreError::Corrupt {
                    what: "quarantine",
                    detail: format!("event {} missing", record.event),
                })?;
            out.push((record, decode_event(bytes.value())?));
        }
        Ok(out)
    }

    fn accept_quarantined(
        &self,
        event: EventId,
        replacement: &EventRecord,
        author: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<QuarantineRecord>, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let resolved = {
            let mut held = txn.open_table(QUARANTINE).map_err(backend)?;
            let found = held.get(event.0.as_u128()).map_err(backend)?.map(|v| v.value().to_vec());
            let Some(bytes) = found else { return Ok(None) };
            let mut record: QuarantineRecord = decode(&bytes, "quarantine")?;
            if record.resolution.is_some() {
                return Ok(None);
            }
            record.resolution = Some(QuarantineResolution {
                replacement: replacement.punch.event,
                author: author.to_owned(),
                resolved_at: at,
            });
            held.insert(event.0.as_u128(), encode(&record)?.as_slice()).map_err(backend)?;
            drop(held);
            let mut feed = FeedAppends::new();
            let amends = amendment_of(&txn, replacement.punch.event.0.as_u128())?;
            let mut filing = Filing::new(&txn, &self.kept);
            insert_event(&txn, &mut feed, &mut filing, replacement, amends)?;
            filing.finish()?;
            feed.write(&txn)?;
            record
        };
        self.commit(txn)?;
        Ok(Some(resolved))
    }

    fn insert_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let mut feed = FeedAppends::new();
        let amends = amendment_of(&txn, event.punch.event.0.as_u128())?;
        let mut filing = Filing::new(&txn, &self.kept);
        insert_event(&txn, &mut feed, &mut filing, event, amends)?;
        filing.finish()?;
        feed.write(&txn)?;
        self.commit(txn)
    }

    fn amendments(&self, ids: &[EventId]) -> Result<HashMap<EventId, Amendment>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(EVENT_AMENDMENTS).map_err(backend)?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(bytes) = table.get(id.0.as_u128()).map_err(backend)? {
                out.insert(*id, decode(bytes.value(), "amendment")?);
            }
        }
        Ok(out)
    }

    fn employee_events(&self, id: EmployeeId) -> Result<Vec<EventRecord>, StoreError> {
        let employee = id.0.as_u128();
        let ids = punches::ids(&self.db.begin_read().map_err(backend)?, employee)?;
        self.events_by_id(ids)
    }

    fn employee_punches(&self, id: EmployeeId) -> Result<Vec<Recorded>, StoreError> {
        punches::all(&self.db.begin_read().map_err(backend)?, id.0.as_u128())
    }

    fn latest_punches_of(
        &self,
        ids: &[EmployeeId],
        count: usize,
    ) -> Result<Vec<Vec<IndexedPunch>>, StoreError> {
        punches::latest(&self.db.begin_read().map_err(backend)?, ids, count)
    }

    fn latest_punches_kept(
        &self,
        ids: &[EmployeeId],
        count: usize,
    ) -> Result<Vec<Vec<IndexedPunch>>, StoreError> {
        self.latest_punches_keeping(ids, count)
    }

    fn unknown_badge_events(&self) -> Result<Vec<EventRecord>, StoreError> {
        let ids = {
            let txn = self.db.begin_read().map_err(backend)?;
            let review = txn.open_table(UNKNOWN_BADGE_EVENTS).map_err(backend)?;
            let mut ids = Vec::new();
            for row in review.iter().map_err(backend)? {
                ids.push(row.map_err(backend)?.0.value());
            }
            ids
        };
        self.events_by_id(ids)
    }

    fn assign_unknown_badge(
        &self,
        badge: &BadgeUid,
        employee: EmployeeId,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let moved = {
            let mut ids = Vec::new();
            for row in
                txn.open_table(UNKNOWN_BADGE_EVENTS).map_err(backend)?.iter().map_err(backend)?
            {
                ids.push(row.map_err(backend)?.0.value());
            }
            let mut moved = 0;
            let mut feed = FeedAppends::new();
            for id in ids {
                let bytes = txn
                    .open_table(EVENTS)
                    .map_err(backend)?
                    .get(id)
                    .map_err(backend)?
                    .map(|v| v.value().to_vec());
                let Some(bytes) = bytes else { continue };
                let mut event = decode_event(&bytes)?;
                let tapped_with = match &event.detail {
                    crate::model::EventDetail::Kiosk { badge, .. } => *badge,
                    crate::model::EventDetail::Api => None,
                };
                if tapped_with.as_ref() != Some(badge) {
                    continue;
                }
                event.employee = Some(employee);
                txn.open_table(EVENTS)
                    .map_err(backend)?
                    .insert(id, encode_event(&event)?.as_slice())
                    .map_err(backend)?;
                txn.open_table(UNKNOWN_BADGE_EVENTS)
                    .map_err(backend)?
                    .remove(id)
                    .map_err(backend)?;
                let amends = amendment_of(&txn, id)?;
                let mut filing = Filing::new(&txn, &self.kept);
                filing.put(employee, &event.punch, amends)?;
                filing.finish()?;
                let kiosk = match event.punch.origin {
                    PunchOrigin::Kiosk { kiosk, .. } => Some(kiosk),
                    PunchOrigin::Api { .. } => None,
                };
                feed.push(
                    now,
                    feed_kind::PRESENCE_ASSIGNED,
                    Some(employee),
                    kiosk,
                    Some(event.punch.event),
                );
                moved += 1;
            }
            feed.write(&txn)?;
            moved
        };
        self.commit(txn)?;
        Ok(moved)
    }

    fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        feed::after(&self.db, after, limit)
    }

    fn interval_watch_cursor(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        Ok(meta.get(INTERVAL_WATCH).map_err(backend)?.map_or(0, |v| v.value()))
    }

    fn announced_among(
        &self,
        intervals: &[(EmployeeId, IntervalKey)],
    ) -> Result<HashSet<(EmployeeId, IntervalKey)>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(ANNOUNCED_INTERVALS).map_err(backend)?;
        let mut out = HashSet::new();
        for (employee, key) in intervals {
            if table.get(announced_key(*employee, *key)).map_err(backend)?.is_some() {
                out.insert((*employee, *key));
            }
        }
        Ok(out)
    }

    fn merge_punches(&self) -> Result<usize, StoreError> {
        if punches::log_is_empty(&self.db.begin_read().map_err(backend)?)? {
            return Ok(0);
        }
        let txn = self.db.begin_write().map_err(backend)?;
        let merged = punches::merge(&txn)?;
        self.commit(txn)?;
        Ok(merged)
    }

    fn earliest_change(&self, events: &[EventId]) -> Result<Option<DateTime<Utc>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let stored = txn.open_table(EVENTS).map_err(backend)?;
        let amendments = txn.open_table(EVENT_AMENDMENTS).map_err(backend)?;
        let mut earliest: Option<DateTime<Utc>> = None;
        for event in events {
            // An amendment changes the place of the tap it amends, and so on down a chain;
            // the bound stops a cycle a kiosk made up.
            let mut next = Some(event.0.as_u128());
            for _ in 0..64 {
                let Some(id) = next.take() else { break };
                let Some(bytes) = stored.get(id).map_err(backend)? else { break };
                let record = decode_event(bytes.value())?;
                earliest = Some(earliest.map_or(record.punch.at, |e| e.min(record.punch.at)));
                if let Some(bytes) = amendments.get(id).map_err(backend)? {
                    let amendment: Amendment = decode(bytes.value(), "amendment")?;
                    next = Some(amendment.target().0.as_u128());
                }
            }
        }
        Ok(earliest)
    }

    fn plain_punches(
        &self,
        events: &[EventId],
    ) -> Result<Vec<Option<(EmployeeId, Punch)>>, StoreError> {
        punches::plain(&self.db.begin_read().map_err(backend)?, events)
    }

    fn announce_intervals(
        &self,
        from: u64,
        through: u64,
        announcements: &[IntervalAnnouncement],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut meta = txn.open_table(META).map_err(backend)?;
            let at = meta.get(INTERVAL_WATCH).map_err(backend)?.map_or(0, |v| v.value());
            if at != from {
                return Err(StoreError::Conflict(format!(
                    "the interval watcher stands at {at}, not {from}"
                )));
            }
            meta.insert(INTERVAL_WATCH, through).map_err(backend)?;
        }
        let mut feed = FeedAppends::new();
        let mut announced = txn.open_table(ANNOUNCED_INTERVALS).map_err(backend)?;
        for a in announcements {
            let key = announced_key(a.employee, a.key);
            if announced.insert(key, ()).map_err(backend)?.is_some() {
                continue;
            }

            // The event that names the interval: its check-in, or its check-out without one.
            let event = a.key.start.or(a.key.end);
            feed.push(a.at, feed_kind::INTERVAL_CLOSED, Some(a.employee), None, event);
            if a.flagged {
                feed.push(a.at, feed_kind::INTERVAL_FLAGGED, Some(a.employee), None, event);
            }
        }
        drop(announced);
        feed.write(&txn)?;
        self.commit(txn)
    }

    fn rotate_kiosk_key(
        &self,
        id: KioskId,
        current: PublicKey,
        new: PublicKey,
        at: DateTime<Utc>,
    ) -> Result<KeyRotationOutcome, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let outcome = {
            let mut kiosks = txn.open_table(KIOSKS).map_err(backend)?;
            let bytes = kiosks.get(id.0.as_u128()).map_err(backend)?.map(|v| v.value().to_vec());
            let bytes =
                bytes.ok_or_else(|| StoreError::NotFound(format!("kiosk {id} does not exist")))?;
            let mut kiosk = kiosk_record::decode(&bytes)?;
            if !kiosk.is_active() || kiosk.public_key != Some(current) {
                KeyRotationOutcome::Stale
            } else if kiosk.key_rotation_requested_at.is_none() {
                KeyRotationOutcome::NotRequested
            } else {
                kiosk.public_key = Some(new);
                kiosk.key_rotation_requested_at = None;
                kiosk.key_rotated_at = Some(at);
                kiosks
                    .insert(id.0.as_u128(), kiosk_record::encode(&kiosk)?.as_slice())
                    .map_err(backend)?;
                feed::append(&txn, at, feed_kind::KIOSK_KEY_ROTATED, None, Some(id), None)?;
                KeyRotationOutcome::Rotated(Box::new(kiosk))
            }
        };
        self.commit(txn)?;
        Ok(outcome)
    }

    fn silent_kiosks(&self) -> Result<HashSet<KioskId>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(SILENT_KIOSKS).map_err(backend)?;
        let mut out = HashSet::new();
        for row in table.iter().map_err(backend)? {
            let (id, _) = row.map_err(backend)?;
            out.insert(KioskId(uuid::Uuid::from_u128(id.value())));
        }
        Ok(out)
    }

    fn set_kiosk_silent(
        &self,
        id: KioskId,
        silent: bool,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let changed = {
            let mut table = txn.open_table(SILENT_KIOSKS).map_err(backend)?;
            let key = id.0.as_u128();
            if silent {
                table.insert(key, at.timestamp()).map_err(backend)?.is_none()
            } else {
                table.remove(key).map_err(backend)?.is_some()
            }
        };
        if !changed {
            return Ok(false);
        }
        let kind = if silent { feed_kind::KIOSK_SILENT } else { feed_kind::KIOSK_RESUMED };
        feed::append(&txn, at, kind, None, Some(id), None)?;
        self.commit(txn)?;
        Ok(true)
    }

    fn record_outbox(
        &self,
        id: KioskId,
        report: OutboxReport,
        at: DateTime<Utc>,
    ) -> Result<Vec<&'static str>, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let announced = {
            let mut table = txn.open_table(KIOSK_OUTBOXES).map_err(backend)?;
            let key = id.0.as_u128();
            let before: Option<KioskOutbox> = match table.get(key).map_err(backend)? {
                Some(v) => Some(decode(v.value(), "kiosk outbox")?),
                None => None,
            };
            let was_warned = before.as_ref().is_some_and(|b| b.warned);
            let was_halted = before.as_ref().is_some_and(|b| b.report.halted);
            let warned = report.state().is_warning();
            let stored = KioskOutbox { reported_at: at, report, warned };
            table.insert(key, encode(&stored)?.as_slice()).map_err(backend)?;
            let filling = match (was_warned, warned) {
                (false, true) => Some(feed_kind::KIOSK_OUTBOX_FILLING),
                (true, false) => Some(feed_kind::KIOSK_OUTBOX_DRAINED),
                _ => None,
            };
            let halted = (!was_halted && report.halted).then_some(feed_kind::KIOSK_HALTED);
            filling.into_iter().chain(halted).collect::<Vec<_>>()
        };
        for kind in &announced {
            feed::append(&txn, at, kind, None, Some(id), None)?;
        }
        self.commit(txn)?;
        Ok(announced)
    }

    fn kiosk_outbox(&self, id: KioskId) -> Result<Option<KioskOutbox>, StoreError> {
        self.get(KIOSK_OUTBOXES, id.0.as_u128(), "kiosk outbox")
    }

    fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<WebhookRecord, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let stored = {
            let meta = txn.open_table(META).map_err(backend)?;
            let end = meta.get(FEED_SEQ).map_err(backend)?.map_or(0, |v| v.value());
            let mut hooks = txn.open_table(WEBHOOKS).map_err(backend)?;
            let id = webhook.id.0.as_u128();
            if hooks.get(id).map_err(backend)?.is_some() {
                return Err(StoreError::Conflict(format!("webhook {} exists", webhook.id)));
            }
            let stored = WebhookRecord { cursor: end, ..webhook.clone() };
            hooks.insert(id, encode(&stored)?.as_slice()).map_err(backend)?;
            stored
        };
        self.commit(txn)?;
        Ok(stored)
    }

    fn webhook(&self, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        self.get(WEBHOOKS, id.0.as_u128(), "webhook")
    }

    fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        self.all(WEBHOOKS, "webhook")
    }

    fn delete_webhook(&self, id: WebhookId) -> Result<bool, StoreError> {
        let key = id.0.as_u128();
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut hooks = txn.open_table(WEBHOOKS).map_err(backend)?;
            if hooks.remove(key).map_err(backend)?.is_none() {
                return Ok(false);
            }
            let mut log = txn.open_table(DELIVERIES).map_err(backend)?;
            log.retain_in((key, 0)..=(key, u64::MAX), |_, _| false).map_err(backend)?;
        }
        self.commit(txn)?;
        Ok(true)
    }

    fn advance_webhook(&self, id: WebhookId, seq: u64) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut hooks = txn.open_table(WEBHOOKS).map_err(backend)?;
            let found = hooks.get(id.0.as_u128()).map_err(backend)?.map(|v| v.value().to_vec());
            let Some(bytes) = found else { return Ok(false) };
            let mut hook: WebhookRecord = decode(&bytes, "webhook")?;
            if seq <= hook.cursor {
                return Ok(true);
            }
            hook.cursor = seq;
            hooks.insert(id.0.as_u128(), encode(&hook)?.as_slice()).map_err(backend)?;
        }
        self.commit(txn)?;
        Ok(true)
    }

    fn record_delivery(
        &self,
        id: WebhookId,
        attempt: &DeliveryRecord,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let key = id.0.as_u128();
        let txn = self.db.begin_write().map_err(backend)?;
        let logged = {
            let mut hooks = txn.open_table(WEBHOOKS).map_err(backend)?;
            let found = hooks.get(key).map_err(backend)?.map(|v| v.value().to_vec());
            let Some(bytes) = found else { return Ok(None) };
            let mut hook: WebhookRecord = decode(&bytes, "webhook")?;

            let mut log = txn.open_table(DELIVERIES).map_err(backend)?;
            let range = (key, 0)..=(key, u64::MAX);
            let last = log.range(range.clone()).map_err(backend)?.next_back();
            let last = last.transpose().map_err(backend)?.map_or(0, |(k, _)| k.value().1);
            let logged = DeliveryRecord { number: last + 1, ..attempt.clone() };
            log.insert((key, logged.number), encode(&logged)?.as_slice()).map_err(backend)?;
            // Numbers are contiguous, so the oldest kept is the only one that can fall out.
            let oldest = logged.number.saturating_sub(DELIVERY_LOG_LEN);
            if oldest > 0 {
                log.retain_in((key, 0)..=(key, oldest), |_, _| false).map_err(backend)?;
            }

            if logged.delivered() && logged.seq > hook.cursor {
                hook.cursor = logged.seq;
                hooks.insert(key, encode(&hook)?.as_slice()).map_err(backend)?;
            }
            logged
        };
        self.commit(txn)?;
        Ok(Some(logged))
    }

    fn deliveries(&self, id: WebhookId) -> Result<Vec<DeliveryRecord>, StoreError> {
        let key = id.0.as_u128();
        let txn = self.db.begin_read().map_err(backend)?;
        let log = txn.open_table(DELIVERIES).map_err(backend)?;
        let mut out = Vec::new();
        for row in log.range((key, 0)..=(key, u64::MAX)).map_err(backend)? {
            let (_, value) = row.map_err(backend)?;
            out.push(decode(value.value(), "delivery")?);
        }
        Ok(out)
    }

    fn last_delivery(&self, id: WebhookId) -> Result<Option<DeliveryRecord>, StoreError> {
        let key = id.0.as_u128();
        let txn = self.db.begin_read().map_err(backend)?;
        let log = txn.open_table(DELIVERIES).map_err(backend)?;
        let last = log.range((key, 0)..=(key, u64::MAX)).map_err(backend)?.next_back();
        last.transpose().map_err(backend)?.map(|(_, v)| decode(v.value(), "delivery")).transpose()
    }

    fn touch_roster(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        bump_roster_version(&txn)?;
        self.commit(txn)
    }

    fn roster_version(&self) -> Result<u64, StoreError> {
        roster_version_in(&self.db.begin_read().map_err(backend)?)
    }
}

/// A feed entry in either layout it was ever stored in.
fn decode_feed_entry(bytes: &[u8]) -> Result<FeedEntry, StoreError> {
    decode::<FeedEntry>(bytes, "feed entry").or_else(|e| {
        decode::<FeedEntryWithoutWeek>(bytes, "feed entry").map(FeedEntry::from).map_err(|_| e)
    })
}

// A kiosk chooses its event ids, so even the nil UUID is a possible id: which ends an
// interval has is kept in bits of its own.
fn announced_key(employee: EmployeeId, key: IntervalKey) -> (u128, u8, u128, u128) {
    let present = u8::from(key.start.is_some()) | (u8::from(key.end.is_some()) << 1);
    let id = |e: Option<mtime_core::ids::EventId>| e.map_or(0, |e| e.0.as_u128());
    (employee.0.as_u128(), present, id(key.start), id(key.end))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_event_id_stored_already_is_refused_and_the_stored_event_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let employee = EmployeeId::random();
        let at = DateTime::from_timestamp(1_767_600_000, 0).unwrap();
        let first = EventRecord {
            employee: Some(employee),
            punch: mtime_core::pairing::Punch {
                event: EventId::random(),
                at,
                direction: mtime_core::event::Direction::In,
                reason: "WORK".parse().unwrap(),
                origin: PunchOrigin::Api { author: "hr".into(), note: None, correction: false },
            },
            detail: EventDetail::Api,
            received_at: at,
        };
        store.insert_event(&first).unwrap();

        let mut again = first.clone();
        again.punch.direction = mtime_core::event::Direction::Out;
        again.punch.at = at + chrono::TimeDelta::hours(8);
        let refused = store.insert_event(&again).unwrap_err();
        assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
        assert_eq!(store.employee_events(employee).unwrap(), vec![first.clone()]);
        let punches = store.employee_punches(employee).unwrap();
        assert_eq!(punches.iter().map(|r| &r.punch).collect::<Vec<_>>(), vec![&first.punch]);
    }

    fn employee(number: &str, name: &str) -> EmployeeRecord {
        let at = DateTime::from_timestamp(1_767_600_000, 0).unwrap();
        EmployeeRecord {
            id: EmployeeId::random(),
            number: number.into(),
            versions: vec![crate::model::EmployeeVersion {
                effective_from: at.date_naive(),
                name: name.into(),
                org_unit: OrgUnitId::random(),
                badges: Vec::new(),
                active: true,
                employment_terms: None,
                author: "hr".into(),
                recorded_at: at,
            }],
        }
    }

    #[test]
    fn the_employee_list_is_decoded_once_and_follows_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        assert!(store.employees().unwrap().is_empty());

        let mut ada = employee("E02", "Ada");
        store.put_employee(&ada).unwrap();
        store.put_employee(&employee("E01", "Grace")).unwrap();
        let first = store.employees().unwrap();
        let numbers: Vec<&str> = first.iter().map(|e| e.number.as_str()).collect();
        assert_eq!(numbers, ["E01", "E02"]);
        // Nothing changed: the same list, not a new decoding of it.
        assert!(Arc::ptr_eq(&first, &store.employees().unwrap()));

        ada.versions[0].name = "Ada L.".into();
        store.put_employee(&ada).unwrap();
        let second = store.employees().unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(second[1].versions[0].name, "Ada L.");
        // A change refused leaves the list as it was.
        let taken = EmployeeRecord { id: EmployeeId::random(), ..employee("E01", "Other") };
        assert!(store.put_employee(&taken).is_err());
        assert!(Arc::ptr_eq(&second, &store.employees().unwrap()));

        // A store opened again reads what was written.
        drop(store);
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        assert_eq!(&*store.employees().unwrap(), &*second);
    }

    #[test]
    fn a_store_of_a_newer_format_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mtime.redb");
        drop(RedbStore::open(&path).unwrap());
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let meta = txn.open_table(META).unwrap();
            assert_eq!(meta.get(FORMAT_KEY).unwrap().map(|v| v.value()), Some(FORMAT));
            drop(meta);
            txn.open_table(META).unwrap().insert(FORMAT_KEY, FORMAT + 1).unwrap();
            txn.commit().unwrap();
        }

        let Err(refused) = RedbStore::open(&path) else { panic!("a newer store was opened") };
        let message = refused.to_string();
        assert!(message.contains("store format 4, written by a newer mtime-server"), "{message}");
        let db = Database::create(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let meta = txn.open_table(META).unwrap();
        assert_eq!(meta.get(FORMAT_KEY).unwrap().map(|v| v.value()), Some(FORMAT + 1));
    }

    #[test]
    fn the_store_is_readable_by_its_user_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mtime.redb");
        drop(RedbStore::open(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_feed_entry_stored_before_weeks_reads_without_one() {
        let old = FeedEntryWithoutWeek {
            seq: 7,
            at: DateTime::from_timestamp(1_746_982_800, 0).unwrap(),
            kind: "kiosk.enrolled".into(),
            employee: None,
            kiosk: Some(KioskId::random()),
            event: None,
        };
        let entry = decode_feed_entry(&postcard::to_stdvec(&old).unwrap()).unwrap();
        assert_eq!((entry.seq, entry.kiosk, entry.week_start), (7, old.kiosk, None));
        let week = chrono::NaiveDate::from_ymd_opt(2025, 5, 12);
        let new = FeedEntry { week_start: week, ..entry };
        assert_eq!(decode_feed_entry(&postcard::to_stdvec(&new).unwrap()).unwrap(), new);
    }

    #[test]
    fn a_kiosk_stored_before_pin_fallback_reads_through_the_store_and_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("mtime.redb")).unwrap();
        let old = kiosk_record::KioskRecordV1 {
            id: KioskId::random(),
            name: "Door".into(),
            org_unit: OrgUnitId::random(),
            created_at: DateTime::from_timestamp(1_746_982_800, 0).unwrap(),
            public_key: None,
            enrolled_at: None,
            enrollment: None,
            revoked_at: None,
            config: kiosk_record::KioskConfigV1 {
                repeat_window_secs: 60,
                heartbeat_secs: 300,
                max_batch_events: 500,
                max_open_hours: 10,
                language: "en".into(),
            },
            head: Default::default(),
            last_heartbeat: None,
            last_batch_at: None,
            key_rotation_requested_at: None,
            key_rotated_at: None,
        };
        let txn = store.db.begin_write().unwrap();
        let bytes = postcard::to_stdvec(&old).unwrap();
        txn.open_table(KIOSKS).unwrap().insert(old.id.0.as_u128(), bytes.as_slice()).unwrap();
        txn.commit().unwrap();

        let read = store.kiosk(old.id).unwrap().unwrap();
        assert_eq!((read.config.max_open_hours, read.config.pin_fallback), (10, false));
        assert_eq!(store.kiosks().unwrap().len(), 1);
        let changed = store.update_kiosk(old.id, &mut |k| k.config.pin_fallback = true).unwrap();
        assert!(changed.config.pin_fallback);
        assert_eq!(store.kiosk(old.id).unwrap().unwrap(), changed, "rewritten in the new layout");
    }

    #[test]
    fn a_service_user_stored_before_scopes_reads_as_unscoped() {
        let old = ServiceUserV1 {
            id: UserId::random(),
            name: "payroll".into(),
            role: "payroll".into(),
            permissions: vec!["reports:read:*".into()],
            created_at: DateTime::from_timestamp(1_746_982_800, 0).unwrap(),
        };
        let user = decode_service_user(&postcard::to_stdvec(&old).unwrap()).unwrap();
        assert_eq!(user.id, old.id);
        assert_eq!(user.name, "payroll");
        assert_eq!(user.permissions, vec!["reports:read:*".to_owned()]);
        assert_eq!(user.org_units, Vec::<OrgUnitId>::new());

        let scoped = ServiceUser { org_units: vec![OrgUnitId::random()], ..user };
        let again = decode_service_user(&postcard::to_stdvec(&scoped).unwrap()).unwrap();
        assert_eq!(again, scoped, "the current layout round-trips");
    }
}
