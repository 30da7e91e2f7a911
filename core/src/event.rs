//! Presence events: what a kiosk records when a badge is tapped.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::badge::BadgeUid;
use crate::ids::{BootId, EmployeeId, EventId, KioskId};

/// Checking in or out.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Starting presence.
    In,
    /// Ending presence.
    Out,
}

impl Direction {
    /// The other direction.
    pub fn opposite(self) -> Self {
        match self {
            Self::In => Self::Out,
            Self::Out => Self::In,
        }
    }

    /// `in` or `out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "in" => Ok(Self::In),
            "out" => Ok(Self::Out),
            _ => Err(format!("direction {s:?} is neither \"in\" nor \"out\"")),
        }
    }
}

/// How the direction of an event was chosen.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectionSource {
    /// The employee pressed the in or out key.
    Explicit,
    /// The employee only tapped; the kiosk chose from what it knew.
    Toggle,
}

/// What the employee asked for when tapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestedAction {
    /// Pressed a key for this direction.
    Explicit(Direction),
    /// Let the kiosk decide.
    Toggle,
}

impl FromStr for RequestedAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "toggle" | "" => Ok(Self::Toggle),
            other => other
                .parse()
                .map(Self::Explicit)
                .map_err(|_| format!("action {s:?} is not one of \"in\", \"out\" or \"auto\"")),
        }
    }
}

/// A reason code, such as `WORK` or `TRAVEL`: 1 to 32 of `A-Z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReasonCode(String);

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ReasonCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ReasonCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Z0-9_-]{1,32}$",
            "description": "A reason code: 1 to 32 of A-Z, 0-9, '_' and '-'."
        })
    }
}

impl ReasonCode {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `code` is a valid code for a reason or another setting: 1 to 32 of
/// `A-Z 0-9 _ -`.
pub fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl TryFrom<String> for ReasonCode {
    type Error = String;

    fn try_from(code: String) -> Result<Self, String> {
        if is_code(&code) {
            Ok(Self(code))
        } else {
            Err(format!("reason code {code:?} must be 1 to 32 characters of A-Z, 0-9, '_' and '-'"))
        }
    }
}

impl FromStr for ReasonCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl From<ReasonCode> for String {
    fn from(code: ReasonCode) -> String {
        code.0
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who tapped: an employee found in the roster, or a badge the roster did not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// The badge belonged to this employee.
    Employee {
        /// The employee.
        id: EmployeeId,
        /// The badge they used (`None` for a PIN or an API punch).
        badge: Option<BadgeUid>,
    },
    /// No employee in the kiosk's roster holds this badge; kept for review.
    UnknownBadge(BadgeUid),
}

impl Subject {
    /// The employee, if the badge was known.
    pub fn employee(&self) -> Option<EmployeeId> {
        match self {
            Self::Employee { id, .. } => Some(*id),
            Self::UnknownBadge(_) => None,
        }
    }
}

/// What the kiosk knew about time when it recorded an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeReading {
    /// The wall clock as read.
    pub wall: DateTime<Utc>,
    /// The boot in which it was read.
    pub boot: BootId,
    /// The monotonic clock as read; comparable within `boot` only.
    pub monotonic: Duration,
    /// Whether the wall clock was trusted (set by NTP or a valid RTC in this boot).
    pub wall_trusted: bool,
}

/// One tap, as a kiosk recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceEvent {
    /// Unique id.
    pub id: EventId,
    /// The kiosk that recorded it.
    pub kiosk: KioskId,
    /// The kiosk's own sequence number: gapless, one per event, from 1.
    pub seq: u64,
    /// Who tapped.
    pub subject: Subject,
    /// In or out.
    pub direction: Direction,
    /// How the direction was chosen.
    pub direction_source: DirectionSource,
    /// Why the employee is present (or absent).
    pub reason: ReasonCode,
    /// When, as the kiosk knew it.
    pub time: TimeReading,
    /// The earlier event of the same kiosk this one changes: the employee changed their
    /// mind on the screen in the seconds after a tap.
    pub amends: Option<Amendment>,
}

/// How an event changes an earlier one of the same kiosk. The earlier event is never edited:
/// it stays stored as evidence, and pairing reads the change instead: the rule lives in
/// [`crate::pairing::effective`], which every reader of presence goes through.
///
/// Externally tagged, as serde does by default: it travels in postcard (batches, the
/// kiosk's outbox), which cannot read an internally or adjacently tagged enum back.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amendment {
    /// This event takes the place of that one: its direction and reason count, at the time
    /// of the tap it replaces.
    Replaces(EventId),
    /// That event is withdrawn (the employee pressed undo); this one counts for nothing.
    Withdraws(EventId),
}

impl Amendment {
    /// The event amended.
    pub fn target(self) -> EventId {
        match self {
            Self::Replaces(id) | Self::Withdraws(id) => id,
        }
    }
}
