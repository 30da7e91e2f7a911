//! The kiosk protocol's messages besides batches: enrollment, roster, heartbeat.
//!
//! Enrollment is JSON (the kiosk has no registered key yet; the one-time code
//! authenticates it). Everything after is signed with [`crate::seal`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::badge::{BadgeKey, BadgeUid, RosterKey};
use crate::capacity::CapacityState;
use crate::event::{Direction, ReasonCode, TimeReading};
use crate::ids::{EmployeeId, KioskId, OrgUnitId};
use crate::keys::PublicKey;
use crate::pin::PinHash;
use crate::seal::{self, Kind, SealError};

/// Rosters, signed by the server. Version 2 carries PIN hashes and kiosk admins; a kiosk
/// that knows only version 1 refuses it with a clear error rather than misreading it.
pub const ROSTER: Kind =
    Kind { context: b"mtime.roster", version: 2, max_bytes: 16 << 20, name: "roster" };
/// A kiosk's request for its roster, signed by the kiosk.
pub const ROSTER_REQUEST: Kind =
    Kind { context: b"mtime.roster-request", version: 1, max_bytes: 1024, name: "roster request" };
/// Heartbeats, signed by the kiosk: version 1, a [`Heartbeat`] alone. Kiosks built before
/// [`HEARTBEAT_WITH_OUTBOX`] send it, and the server still reads it (see [`open_heartbeat`]).
pub const HEARTBEAT: Kind =
    Kind { context: b"mtime.heartbeat", version: 1, max_bytes: 1024, name: "heartbeat" };
/// Heartbeats, signed by the kiosk: version 2, a [`HeartbeatWithOutbox`]. Postcard carries
/// no field names, so a field added to [`Heartbeat`] would make every older kiosk's
/// heartbeat undecodable; the new fields travel in a new version of the message instead.
pub const HEARTBEAT_WITH_OUTBOX: Kind =
    Kind { context: b"mtime.heartbeat", version: 2, max_bytes: 1024, name: "heartbeat" };
/// The server's answer to a heartbeat, signed by the server.
pub const HEARTBEAT_REPLY: Kind = Kind {
    context: b"mtime.heartbeat-reply",
    version: 1,
    max_bytes: 1024,
    name: "heartbeat reply",
};

/// How a kiosk behaves; set on the server, delivered at enrollment and with every roster.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskConfig {
    /// A second read of the same badge for the same action within this many seconds is a
    /// repeat, not a new event. 1 to 3600.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 3600)))]
    pub repeat_window_secs: u32,
    /// How often the kiosk reports to the server, in seconds. 5 to 86400.
    #[cfg_attr(feature = "schema", schemars(range(min = 5, max = 86_400)))]
    pub heartbeat_secs: u32,
    /// The most events the kiosk puts in one batch. 1 to 5000.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 5000)))]
    pub max_batch_events: u32,
    /// An interval open longer than this is treated as a forgotten check-out. 1 to 72.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 72)))]
    pub max_open_hours: u32,
    /// The language the kiosk speaks (a BCP 47 tag such as `en` or `nb-NO`).
    #[cfg_attr(feature = "schema", schemars(length(min = 2, max = 35)))]
    pub language: String,
    /// Whether an employee without their badge may check in and out with their number and
    /// PIN.
    #[serde(default)]
    pub pin_fallback: bool,
}

impl Default for KioskConfig {
    fn default() -> Self {
        Self {
            repeat_window_secs: 60,
            heartbeat_secs: 300,
            max_batch_events: 500,
            max_open_hours: 16,
            language: "en".to_owned(),
            pin_fallback: false,
        }
    }
}

/// The site a kiosk belongs to.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    /// The org unit the kiosk is placed in.
    pub org_unit: OrgUnitId,
    /// The site's name.
    pub name: String,
    /// The IANA zone the site (or the unit's nearest ancestor) carries.
    pub time_zone: String,
}

/// A kiosk's enrollment request.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code shown when the kiosk was created.
    pub code: String,
    /// The kiosk's public key; its private key never leaves the kiosk.
    pub public_key: PublicKey,
}

/// The server's answer to a good enrollment.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The kiosk's id.
    pub kiosk_id: KioskId,
    /// Its name.
    pub kiosk_name: String,
    /// The key the kiosk verifies rosters and receipts with.
    pub server_public_key: PublicKey,
    /// Its site.
    pub site: SiteInfo,
    /// How it behaves.
    pub config: KioskConfig,
}

/// A reason an employee may pick at this kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterReason {
    /// The code stored on events.
    pub code: ReasonCode,
    /// What the employee sees.
    pub name: String,
    /// Whether presence with this reason counts as work.
    pub counts_as_work: bool,
}

/// An employee as a kiosk needs to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEmployee {
    /// The employee.
    pub id: EmployeeId,
    /// Their external number, such as `E01`.
    pub number: String,
    /// Their name, for the screen.
    pub name: String,
    /// Their badges, hashed with the roster's key.
    pub badges: Vec<BadgeKey>,
    /// Whether they may check in (a suspended employee may not).
    pub active: bool,
    /// Their PIN's hash, for checking in without their badge where the kiosk allows it.
    pub pin: Option<PinHash>,
    /// Whether their badge or PIN opens the kiosk's admin mode.
    pub kiosk_admin: bool,
    /// Their latest punch the server knew when it made the roster, at any kiosk, so that
    /// a tap letting the kiosk decide continues from it.
    pub last_punch: Option<KnownPunch>,
}

/// A punch as the roster tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPunch {
    /// In or out.
    pub direction: Direction,
    /// When.
    pub at: DateTime<Utc>,
}

/// Everything a kiosk may use, versioned and signed by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The kiosk it was made for.
    pub kiosk: KioskId,
    /// Increases with every change on the server.
    pub version: u64,
    /// When it was made.
    pub issued_at: DateTime<Utc>,
    /// The kiosk's site.
    pub site: SiteInfo,
    /// How the kiosk behaves.
    pub config: KioskConfig,
    /// The employees of the site.
    pub employees: Vec<RosterEmployee>,
    /// The reasons this kiosk may use.
    pub reasons: Vec<RosterReason>,
    /// The reason of a tap where the employee picked none.
    pub default_reason: ReasonCode,
    /// The key the badges are hashed with.
    pub badge_key: RosterKey,
}

impl Roster {
    /// The employee holding `badge`.
    pub fn by_badge(&self, badge: &BadgeUid) -> Option<&RosterEmployee> {
        let key = self.badge_key.key_of(badge);
        self.employees.iter().find(|e| e.badges.contains(&key))
    }

    /// The employee with this id.
    pub fn employee(&self, id: EmployeeId) -> Option<&RosterEmployee> {
        self.employees.iter().find(|e| e.id == id)
    }
}

/// A kiosk asking for its roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterRequest {
    /// The kiosk.
    pub kiosk: KioskId,
    /// The version it holds (0 for none).
    pub have_version: u64,
    /// When it asked.
    pub sent: TimeReading,
}

/// A kiosk's periodic report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The kiosk.
    pub kiosk: KioskId,
    /// When it was sent.
    pub sent: TimeReading,
    /// Events stored but not yet acknowledged.
    pub pending: u64,
    /// The highest seq acknowledged by a receipt.
    pub acked_through: u64,
    /// The roster version the kiosk holds.
    pub roster_version: u64,
    /// The kiosk's software version.
    pub software: String,
    /// The previous heartbeat's round trip in this boot, as the kiosk measured it: how the
    /// server learns true time for a kiosk whose wall clock is not trusted.
    pub clock_sample: Option<crate::timing::ClockSample>,
}

/// How a kiosk's outbox stands, as its heartbeat reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxReport {
    /// Events stored and not yet acknowledged (the heartbeat's `pending`, again, so that
    /// the report stands alone).
    pub pending: u64,
    /// The number of unsynced events from which the kiosk counts as full (see
    /// [`crate::capacity`]).
    pub capacity: u64,
    /// Whether the kiosk's last attempt to store something failed for lack of disk space:
    /// it is refusing taps.
    pub storage_full: bool,
    /// Whether the kiosk has stopped uploading for good (its history forks from what the
    /// server holds, skips a seq, or it was revoked): it is out of service and its unsynced
    /// events wait on it for an admin.
    pub halted: bool,
}

impl OutboxReport {
    /// Filling, full or fine, by the rule the kiosk's screen follows too.
    pub fn state(&self) -> CapacityState {
        CapacityState::of(self.pending, self.capacity)
    }
}

/// A heartbeat with the state of the kiosk's outbox: what kiosks send since version 2 of
/// the heartbeat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatWithOutbox {
    /// Everything a version 1 heartbeat says.
    pub beat: Heartbeat,
    /// The outbox.
    pub outbox: OutboxReport,
}

/// Opens a heartbeat of either version: version 2 with its outbox report, version 1 (from
/// an older kiosk) without one. The signature is verified over the exact bytes first,
/// whatever the version.
pub fn open_heartbeat(
    bytes: &[u8],
    key: &PublicKey,
) -> Result<(Heartbeat, Option<OutboxReport>), SealError> {
    match seal::open::<HeartbeatWithOutbox>(HEARTBEAT_WITH_OUTBOX, bytes, key) {
        Ok(with) => Ok((with.beat, Some(with.outbox))),
        Err(SealError::UnknownVersion { found, .. }) if found == HEARTBEAT.version => {
            seal::open::<Heartbeat>(HEARTBEAT, bytes, key).map(|beat| (beat, None))
        }
        Err(e) => Err(e),
    }
}

/// The server's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// The kiosk.
    pub kiosk: KioskId,
    /// The server's time when it answered.
    pub server_time: DateTime<Utc>,
    /// The current roster version for this kiosk.
    pub roster_version: u64,
    /// The highest seq of this kiosk the server holds.
    pub stored_through: u64,
    /// An admin asked this kiosk to replace its key (see [`crate::rotation`]).
    pub rotate_key: bool,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ids::BootId;
    use crate::keys::SigningKey;

    fn beat(kiosk: KioskId) -> Heartbeat {
        Heartbeat {
            kiosk,
            sent: TimeReading {
                wall: Utc.with_ymd_and_hms(2025, 5, 12, 7, 0, 0).unwrap(),
                boot: BootId::random(),
                monotonic: std::time::Duration::from_secs(40),
                wall_trusted: true,
            },
            pending: 812,
            acked_through: 40,
            roster_version: 3,
            software: "0.1.0".into(),
            clock_sample: None,
        }
    }

    #[test]
    fn a_version_2_heartbeat_opens_with_its_outbox_report() {
        let key = SigningKey::generate().unwrap();
        let outbox =
            OutboxReport { pending: 812, capacity: 1000, storage_full: false, halted: false };
        let sent = HeartbeatWithOutbox { beat: beat(KioskId::random()), outbox };
        let bytes = seal::seal(HEARTBEAT_WITH_OUTBOX, &sent, &key).unwrap();
        assert_eq!(bytes[0], 2, "the version byte comes first");

        let (opened, report) = open_heartbeat(&bytes, &key.public()).unwrap();
        assert_eq!(opened, sent.beat);
        assert_eq!(report, Some(outbox));
        assert_eq!(
            report.unwrap().state(),
            CapacityState::Filling { pending: 812, capacity: 1000 }
        );
    }

    #[test]
    fn a_version_1_heartbeat_of_an_older_kiosk_still_opens_without_a_report() {
        let key = SigningKey::generate().unwrap();
        let old = beat(KioskId::random());
        let bytes = seal::seal(HEARTBEAT, &old, &key).unwrap();
        assert_eq!(bytes[0], 1);
        assert_eq!(open_heartbeat(&bytes, &key.public()).unwrap(), (old, None));
    }

    #[test]
    fn a_heartbeat_of_another_key_or_an_unknown_version_is_refused() {
        let (key, other) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        let bytes = seal::seal(HEARTBEAT, &beat(KioskId::random()), &key).unwrap();
        assert_eq!(
            open_heartbeat(&bytes, &other.public()),
            Err(SealError::BadSignature { kind: "heartbeat" })
        );

        let mut body = vec![3];
        body.extend_from_slice(&postcard::to_stdvec(&beat(KioskId::random())).unwrap());
        let future = seal::seal_bytes(HEARTBEAT, body, &key);
        assert_eq!(
            open_heartbeat(&future, &key.public()),
            Err(SealError::UnknownVersion { kind: "heartbeat", found: 3, expected: 2 })
        );
    }
}
