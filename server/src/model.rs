//! The server's records, as stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::badge::BadgeUid;
use mtime_core::batch::ChainHead;
use mtime_core::event::{DirectionSource, ReasonCode, TimeReading};
use mtime_core::ids::{EmployeeId, KioskId, OrgUnitId, UserId, WebhookId};
use mtime_core::keys::PublicKey;
use mtime_core::pairing::Punch;
use mtime_core::protocol::KioskConfig;
use mtime_core::zone::OrgUnit;

/// A service user: an API consumer acting through API keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUser {
    /// Its id.
    pub id: UserId,
    /// Its name, recorded as the author of what it enters.
    pub name: String,
    /// Its role, or `custom` for an explicit list of permissions.
    pub role: String,
    /// What it may do.
    pub permissions: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The org units it is limited to, with every unit below them; empty for the whole
    /// workspace.
    pub org_units: Vec<OrgUnitId>,
}

impl ServiceUser {
    /// Whether it holds `permission`.
    pub fn may(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// An interactive user: a person with an email address and a built-in role. Records are
/// never deleted; a user who leaves is deactivated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractiveUser {
    /// Its id.
    pub id: UserId,
    /// The email address as given; unique regardless of case.
    pub email: String,
    /// The name people see.
    pub display_name: String,
    /// One of the built-in roles.
    pub role: String,
    /// The org units it is limited to, with every unit below them; empty for the whole
    /// workspace.
    pub org_units: Vec<OrgUnitId>,
    /// The employee this person is, if any.
    pub employee: Option<EmployeeId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was deactivated, if it was.
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl InteractiveUser {
    /// The address as compared for uniqueness: case does not make another address.
    pub fn email_key(&self) -> String {
        email_key(&self.email)
    }

    /// What its role lets it do; nothing for a role no build knows.
    pub fn permissions(&self) -> &'static [crate::access::Permission] {
        crate::access::role(&self.role).map_or(&[], |r| r.permissions)
    }
}

/// An email address as compared for uniqueness.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// An API key, stored as the hash of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// Its id, for listing and revoking; not secret.
    pub id: uuid::Uuid,
    /// SHA-256 of the full key.
    pub hash: [u8; 32],
    /// The key's first characters, to tell keys apart in lists.
    pub prefix: String,
    /// Whose key it is.
    pub user: UserId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// A new key for `user`: the key itself, to show once, and the record to store.
    pub fn issue(
        user: UserId,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<(String, Self)> {
        let key = crate::secret::new_api_key()?;
        let record = Self {
            id: uuid::Uuid::new_v4(),
            hash: crate::secret::api_key_hash(&key),
            prefix: crate::secret::api_key_display_prefix(&key),
            user,
            created_at: now,
            last_used_at: None,
            expires_at,
            revoked_at: None,
        };
        Ok((key, record))
    }
}

/// An org unit with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUnitRecord {
    /// The unit.
    pub unit: OrgUnit,
    /// The first day it exists.
    pub effective_from: NaiveDate,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// One version of an employee's record, in force from `effective_from` until the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeVersion {
    /// The first day this version applies.
    pub effective_from: NaiveDate,
    /// The employee's name.
    pub name: String,
    /// The org unit they belong to.
    pub org_unit: OrgUnitId,
    /// Their badges.
    pub badges: Vec<BadgeUid>,
    /// Whether they may check in.
    pub active: bool,
    /// The code of the employment terms that apply to them, if any.
    pub employment_terms: Option<String>,
    /// Who recorded this version.
    pub author: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// Employment terms: what applies to the employees assigned to them, in versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmploymentTermsRecord {
    /// Their code, unique.
    pub code: String,
    /// Their name.
    pub name: String,
    /// Versions, sorted by `effective_from`, one per date.
    pub versions: Vec<TermsVersion>,
}

/// One version of employment terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsVersion {
    /// The first day it applies.
    pub effective_from: NaiveDate,
    /// The week counter's configuration: the weekly norm and the day weeks start.
    pub weekly_overtime: mtime_core::weeks::WeeklyNorm,
    /// Who recorded it.
    pub author: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl EmploymentTermsRecord {
    /// The version in force on `date`, if the terms exist then.
    pub fn version_at(&self, date: NaiveDate) -> Option<&TermsVersion> {
        self.versions.iter().rev().find(|v| v.effective_from <= date)
    }

    /// Adds or replaces the version starting on `version.effective_from`.
    pub fn put_version(&mut self, version: TermsVersion) {
        self.versions.retain(|v| v.effective_from != version.effective_from);
        self.versions.push(version);
        self.versions.sort_by_key(|v| v.effective_from);
    }
}

/// An employee: a stable id and external number, and their versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeRecord {
    /// Their id.
    pub id: EmployeeId,
    /// Their external number, unique (such as `E01`).
    pub number: String,
    /// Versions, sorted by `effective_from`, one per date.
    pub versions: Vec<EmployeeVersion>,
}

impl EmployeeRecord {
    /// The version in force on `date`, if the employee exists then.
    pub fn version_at(&self, date: NaiveDate) -> Option<&EmployeeVersion> {
        self.versions.iter().rev().find(|v| v.effective_from <= date)
    }

    /// Adds or replaces the version starting on `version.effective_from`.
    pub fn put_version(&mut self, version: EmployeeVersion) {
        self.versions.retain(|v| v.effective_from != version.effective_from);
        self.versions.push(version);
        self.versions.sort_by_key(|v| v.effective_from);
    }

    /// Every badge any version holds.
    pub fn all_badges(&self) -> impl Iterator<Item = &BadgeUid> {
        self.versions.iter().flat_map(|v| v.badges.iter())
    }

    /// The days the employee holds `badge`: from a version's first day (included) to the
    /// first day of the next version without it (excluded, `None` for open-ended).
    pub fn badge_periods(&self, badge: &BadgeUid) -> Vec<(NaiveDate, Option<NaiveDate>)> {
        let mut periods: Vec<(NaiveDate, Option<NaiveDate>)> = Vec::new();
        let mut open: Option<NaiveDate> = None;
        for version in &self.versions {
            match (open, version.badges.contains(badge)) {
                (None, true) => open = Some(version.effective_from),
                (Some(from), false) => {
                    periods.push((from, Some(version.effective_from)));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(from) = open {
            periods.push((from, None));
        }
        periods
    }

    /// The first day on which this employee and `other` would both hold `badge`.
    pub fn badge_overlap(&self, other: &EmployeeRecord, badge: &BadgeUid) -> Option<NaiveDate> {
        let mine = self.badge_periods(badge);
        let theirs = other.badge_periods(badge);
        mine.iter()
            .flat_map(|a| theirs.iter().map(move |b| (a, b)))
            .filter(|((a_from, a_to), (b_from, b_to))| {
                a_to.is_none_or(|to| *b_from < to) && b_to.is_none_or(|to| *a_from < to)
            })
            .map(|((a_from, _), (b_from, _))| (*a_from).max(*b_from))
            .min()
    }
}

/// What an employee may do at a kiosk besides badging: check in with a PIN, open the
/// admin mode. Kept apart from the [`EmployeeRecord`] (its own table) so that the employee
/// records stored before it still decode; not effective-dated, since a PIN is a credential
/// that holds from when it is set, not a fact about a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskAccessRecord {
    /// The PIN's salted hash; the PIN itself is never stored.
    pub pin: Option<mtime_core::pin::PinHash>,
    /// Whether their badge or PIN opens a kiosk's admin mode.
    pub kiosk_admin: bool,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Who changed it.
    pub author: String,
}

/// A reason employees give for presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonRecord {
    /// Its code.
    pub code: ReasonCode,
    /// Its name.
    pub name: String,
    /// Whether presence with it counts as work.
    pub counts_as_work: bool,
    /// Whether taps without a chosen reason get this one.
    pub is_default: bool,
    /// The kiosks that may offer it; every kiosk when empty.
    pub allowed_kiosks: Vec<KioskId>,
    /// The org units (and units below) whose kiosks may offer it; all when empty.
    pub allowed_org_units: Vec<OrgUnitId>,
    /// The first day it exists.
    pub effective_from: NaiveDate,
}

/// A custom dimension (a vehicle, a machine) with its allowed values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionRecord {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The values a registration may pick.
    pub values: Vec<String>,
    /// The first day it exists.
    pub effective_from: NaiveDate,
}

/// What kind of time an activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    /// Worked time.
    Work,
    /// Leave.
    Timeoff,
    /// Present but not working.
    NonWork,
    /// The target of an allowance.
    Allowance,
}

/// A category time is registered against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its type; a child shares its parent's.
    pub kind: ActivityType,
    /// Its parent's code.
    pub parent: Option<String>,
    /// Whether a registration must name a project.
    pub requires_project: bool,
    /// Dimensions a registration must give a value for.
    pub required_dimensions: Vec<String>,
    /// The first day it exists.
    pub effective_from: NaiveDate,
}

/// A pending enrollment: the hash of the one-time code and when it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// SHA-256 of the normalised code.
    pub code_hash: [u8; 32],
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
}

/// The last heartbeat a kiosk sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatInfo {
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// The kiosk's clock when it sent it.
    pub kiosk_time: TimeReading,
    /// Events the kiosk holds that the server has not acknowledged.
    pub pending: u64,
    /// The kiosk's software version.
    pub software: String,
}

/// How a kiosk's outbox stood at the last heartbeat that reported it. Kept apart from the
/// [`KioskRecord`] so that the records stored before it still decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskOutbox {
    /// When the server received the report.
    pub reported_at: DateTime<Utc>,
    /// What the kiosk said.
    pub report: mtime_core::protocol::OutboxReport,
    /// Whether `kiosk.outbox_filling` was announced and `kiosk.outbox_drained` not since.
    pub warned: bool,
}

/// A kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskRecord {
    /// Its id.
    pub id: KioskId,
    /// Its name.
    pub name: String,
    /// The org unit it stands in; its site's zone applies.
    pub org_unit: OrgUnitId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its key, once enrolled.
    pub public_key: Option<PublicKey>,
    /// When it enrolled.
    pub enrolled_at: Option<DateTime<Utc>>,
    /// A code waiting to be used.
    pub enrollment: Option<Enrollment>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// How it behaves.
    pub config: KioskConfig,
    /// Where its chain of batches stands.
    pub head: ChainHead,
    /// Its last heartbeat.
    pub last_heartbeat: Option<HeartbeatInfo>,
    /// When its last new batch was stored.
    pub last_batch_at: Option<DateTime<Utc>>,
    /// When an admin asked it to replace its key, until it has.
    pub key_rotation_requested_at: Option<DateTime<Utc>>,
    /// When it last replaced its key.
    pub key_rotated_at: Option<DateTime<Utc>>,
}

impl KioskRecord {
    /// Enrolled and not revoked: a kiosk that is expected to keep in touch.
    pub fn is_active(&self) -> bool {
        self.public_key.is_some() && self.revoked_at.is_none()
    }

    /// Whether the server heard from it (enrollment, heartbeat or batch) within three
    /// heartbeat periods before `now`. One missed heartbeat is noise; three are silence.
    pub fn heard_within(&self, now: DateTime<Utc>) -> bool {
        let last_contact = [
            self.enrolled_at,
            self.last_heartbeat.as_ref().map(|h| h.received_at),
            self.last_batch_at,
        ]
        .into_iter()
        .flatten()
        .max();
        let window = chrono::TimeDelta::seconds(3 * i64::from(self.config.heartbeat_secs));
        last_contact.is_some_and(|at| now - at <= window)
    }
}

/// A closed interval as the feed announced it: its check-in and check-out events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntervalKey {
    /// The check-in, if it had one.
    pub start: Option<mtime_core::ids::EventId>,
    /// The check-out, if it had one.
    pub end: Option<mtime_core::ids::EventId>,
}

impl IntervalKey {
    /// The key of an interval.
    pub fn of(interval: &mtime_core::pairing::Interval) -> Self {
        Self {
            start: interval.start.as_ref().map(|p| p.event),
            end: interval.end.as_ref().map(|p| p.event),
        }
    }
}

/// An interval to announce in the feed as closed (and as flagged, when it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalAnnouncement {
    /// Whose interval.
    pub employee: EmployeeId,
    /// Which interval.
    pub key: IntervalKey,
    /// Whether it carries a flag for an admin.
    pub flagged: bool,
    /// When the server noticed.
    pub at: DateTime<Utc>,
}

/// Where a stored event came from, beyond what pairing needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventDetail {
    /// A kiosk tap.
    Kiosk {
        /// The badge used.
        badge: Option<BadgeUid>,
        /// How the direction was chosen.
        direction_source: DirectionSource,
        /// What the kiosk knew about time.
        time: TimeReading,
    },
    /// Entered through the API.
    Api,
}

/// A presence event as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The employee, or `None` for a badge no roster knew (kept for review).
    pub employee: Option<EmployeeId>,
    /// The punch pairing uses.
    pub punch: Punch,
    /// Where it came from.
    pub detail: EventDetail,
    /// When the server stored it.
    pub received_at: DateTime<Utc>,
}

/// A kiosk event whose time cannot be believed, held for an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// The event, as the kiosk sent it.
    pub event: mtime_core::ids::EventId,
    /// Why it is held.
    pub reason: mtime_core::timing::QuarantineReason,
    /// When it was held.
    pub quarantined_at: DateTime<Utc>,
    /// How an admin resolved it, once they have.
    pub resolution: Option<QuarantineResolution>,
}

/// An admin's acceptance of a quarantined event: a correction event at the time they
/// established, with their name and note; the kiosk's event stays as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineResolution {
    /// The correction event that took its place.
    pub replacement: mtime_core::ids::EventId,
    /// Who accepted it.
    pub author: String,
    /// When.
    pub resolved_at: DateTime<Utc>,
}

/// One entry of the durable feed of domain events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// Its place in the feed: gapless, from 1.
    pub seq: u64,
    /// When the server recorded it; never earlier than the entry before it.
    pub at: DateTime<Utc>,
    /// What happened, such as `presence.recorded` or `kiosk.enrolled`.
    pub kind: String,
    /// The employee concerned.
    pub employee: Option<EmployeeId>,
    /// The kiosk concerned.
    pub kiosk: Option<KioskId>,
    /// The presence event concerned.
    pub event: Option<mtime_core::ids::EventId>,
    /// The week concerned (its first local day), for `week.closed`.
    pub week_start: Option<NaiveDate>,
}

/// A feed entry as stored before entries named a week; read, never written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntryWithoutWeek {
    /// See [`FeedEntry`].
    pub seq: u64,
    /// See [`FeedEntry`].
    pub at: DateTime<Utc>,
    /// See [`FeedEntry`].
    pub kind: String,
    /// See [`FeedEntry`].
    pub employee: Option<EmployeeId>,
    /// See [`FeedEntry`].
    pub kiosk: Option<KioskId>,
    /// See [`FeedEntry`].
    pub event: Option<mtime_core::ids::EventId>,
}

impl From<FeedEntryWithoutWeek> for FeedEntry {
    fn from(old: FeedEntryWithoutWeek) -> Self {
        let FeedEntryWithoutWeek { seq, at, kind, employee, kiosk, event } = old;
        Self { seq, at, kind, employee, kiosk, event, week_start: None }
    }
}

/// How many delivery attempts the log keeps per webhook; older ones are dropped.
pub const DELIVERY_LOG_LEN: u64 = 1000;

/// The secret a webhook's deliveries are signed with. The server must sign with it, so it
/// is stored as is; it is shown once, at creation, and never printed: `Debug` hides it and
/// it is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself, for signing and for the one creation response.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl Drop for WebhookSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// An outbound webhook subscription: where to POST feed entries, which ones, and how far
/// it has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// Its id.
    pub id: WebhookId,
    /// Where deliveries go.
    pub url: String,
    /// The feed kinds it receives; empty for all.
    pub kinds: Vec<String>,
    /// What it is for.
    pub description: String,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The seq of the last feed entry it is done with: delivered, or skipped as not
    /// wanted. It starts at the feed's end when the subscription is created.
    pub cursor: u64,
}

impl WebhookRecord {
    /// Whether it receives entries of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind)
    }
}

/// One attempt to deliver a feed entry to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Its place in the webhook's log, from 1; set by the store.
    pub number: u64,
    /// The feed entry.
    pub seq: u64,
    /// The same for every attempt at one entry, so receivers can drop repeats.
    pub delivery_id: uuid::Uuid,
    /// 1 for the first attempt at this entry.
    pub attempt: u32,
    /// When the attempt started, on the server's clock.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed without an answer (connection refused, timed out).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

impl DeliveryRecord {
    /// Whether the receiver took it (answered 2xx).
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The kinds of feed entries: every kind the store appends is one of these.
pub mod feed_kind {
    /// A kiosk tap of a known employee was stored.
    pub const PRESENCE_RECORDED: &str = "presence.recorded";
    /// A tap of a badge no roster knew was kept for review.
    pub const PRESENCE_UNKNOWN_BADGE: &str = "presence.unknown_badge";
    /// A kiosk tap changed or withdrew an earlier one (the employee changed their mind on
    /// the screen): the employee's intervals may have changed.
    pub const PRESENCE_AMENDED: &str = "presence.amended";
    /// A punch was entered through the API.
    pub const PRESENCE_ENTERED: &str = "presence.entered";
    /// A correction was entered through the API.
    pub const PRESENCE_CORRECTED: &str = "presence.corrected";
    /// An unknown badge's tap was given to an employee.
    pub const PRESENCE_ASSIGNED: &str = "presence.assigned";
    /// An interval closed.
    pub const INTERVAL_CLOSED: &str = "interval.closed";
    /// A closed interval carries a flag for an admin.
    pub const INTERVAL_FLAGGED: &str = "interval.flagged";
    /// A kiosk enrolled.
    pub const KIOSK_ENROLLED: &str = "kiosk.enrolled";
    /// A kiosk was revoked.
    pub const KIOSK_REVOKED: &str = "kiosk.revoked";
    /// A kiosk has not been heard for three heartbeat periods.
    pub const KIOSK_SILENT: &str = "kiosk.silent";
    /// A silent kiosk was heard again.
    pub const KIOSK_RESUMED: &str = "kiosk.resumed";
    /// A kiosk replaced its key.
    pub const KIOSK_KEY_ROTATED: &str = "kiosk.key_rotated";
    /// A kiosk's unsynced events reached the warning mark of its outbox's capacity.
    pub const KIOSK_OUTBOX_FILLING: &str = "kiosk.outbox_filling";
    /// A kiosk whose outbox was filling fell back below the warning mark.
    pub const KIOSK_OUTBOX_DRAINED: &str = "kiosk.outbox_drained";
    /// A kiosk reported that it stopped uploading for good (its history forks from the
    /// server's, skips a seq, or it was revoked) and refuses taps.
    pub const KIOSK_HALTED: &str = "kiosk.halted";
    /// A kiosk tap whose time cannot be believed was held for an admin.
    pub const PRESENCE_QUARANTINED: &str = "presence.quarantined";
    /// An employee's week ended; the weekly overtime report holds its figures.
    pub const WEEK_CLOSED: &str = "week.closed";

    /// Every kind, for documents and filters.
    pub const ALL: &[&str] = &[
        PRESENCE_RECORDED,
        PRESENCE_UNKNOWN_BADGE,
        PRESENCE_AMENDED,
        PRESENCE_ENTERED,
        PRESENCE_CORRECTED,
        PRESENCE_ASSIGNED,
        INTERVAL_CLOSED,
        INTERVAL_FLAGGED,
        KIOSK_ENROLLED,
        KIOSK_REVOKED,
        KIOSK_SILENT,
        KIOSK_RESUMED,
        KIOSK_KEY_ROTATED,
        KIOSK_OUTBOX_FILLING,
        KIOSK_OUTBOX_DRAINED,
        KIOSK_HALTED,
        PRESENCE_QUARANTINED,
        WEEK_CLOSED,
    ];
}
