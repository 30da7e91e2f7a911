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
///
/// Held inline rather than on the heap: every punch carries one, and pairing, presence and
/// the watchers copy punches by the thousand. It is written and read as text, so its
/// stored and wire form is that of a string.
#[derive(Clone)]
pub struct ReasonCode {
    len: u8,
    bytes: [u8; MAX_CODE],
}

/// The longest code, in bytes.
const MAX_CODE: usize = 32;

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
        let code = &self.bytes[..usize::from(self.len)];
        // Only ASCII is ever let in (see `is_code`), so the bytes are always UTF-8.
        std::str::from_utf8(code).unwrap_or_default()
    }
}

/// Whether `code` is a valid code for a reason or another setting: 1 to 32 of
/// `A-Z 0-9 _ -`.
pub fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl FromStr for ReasonCode {
    type Err = String;

    fn from_str(code: &str) -> Result<Self, String> {
        if !is_code(code) {
            return Err(format!(
                "reason code {code:?} must be 1 to 32 characters of A-Z, 0-9, '_' and '-'"
            ));
        }
        let mut bytes = [0; MAX_CODE];
        bytes[..code.len()].copy_from_slice(code.as_bytes());
        Ok(Self { len: code.len() as u8, bytes })
    }
}

impl TryFrom<String> for ReasonCode {
    type Error = String;

    fn try_from(code: String) -> Result<Self, String> {
        code.parse()
    }
}

impl From<ReasonCode> for String {
    fn from(code: ReasonCode) -> String {
        code.as_str().to_owned()
    }
}

impl PartialEq for ReasonCode {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ReasonCode {}

impl PartialOrd for ReasonCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ReasonCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for ReasonCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReasonCode").field(&self.as_str()).finish()
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReasonCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReasonCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Code;

        impl serde::de::Visitor<'_> for Code {
            type Value = ReasonCode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reason code: 1 to 32 of A-Z, 0-9, '_' and '-'")
            }

            fn visit_str<E: serde::de::Error>(self, code: &str) -> Result<ReasonCode, E> {
                code.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Code)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_reason_code_is_stored_and_sent_exactly_as_its_text_was() {
        for code in ["W", "WORK", "HOME_OFFICE-2", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"] {
            let reason: ReasonCode = code.parse().unwrap();
            assert_eq!(reason.as_str(), code);
            assert_eq!(reason.to_string(), code);

            // Stores written while a code was a `String` read back the same, and back again.
            let as_text = postcard::to_stdvec(&code.to_owned()).unwrap();
            assert_eq!(postcard::to_stdvec(&reason).unwrap(), as_text);
            assert_eq!(postcard::from_bytes::<ReasonCode>(&as_text).unwrap(), reason);

            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{code}\""));
            assert_eq!(serde_json::from_str::<ReasonCode>(&json).unwrap(), reason);
        }
    }

    #[test]
    fn a_code_that_is_not_one_is_refused_wherever_it_comes_from() {
        let long = "A".repeat(33);
        for bad in ["", "work", "WO RK", "WÖRK", long.as_str()] {
            assert!(bad.parse::<ReasonCode>().is_err(), "{bad:?}");
            assert!(ReasonCode::try_from(bad.to_owned()).is_err(), "{bad:?}");
            let stored = postcard::to_stdvec(&bad.to_owned()).unwrap();
            assert!(postcard::from_bytes::<ReasonCode>(&stored).is_err(), "{bad:?}");
            let json = serde_json::to_string(bad).unwrap();
            let error = serde_json::from_str::<ReasonCode>(&json).unwrap_err().to_string();
            assert!(error.contains("must be 1 to 32 characters"), "{bad:?}: {error}");
        }
        // Escaped JSON text reaches the check too.
        assert_eq!(serde_json::from_str::<ReasonCode>("\"W\\u004fRK\"").unwrap().as_str(), "WORK");
    }

    #[test]
    fn reason_codes_compare_and_hash_as_their_text() {
        let mut codes: Vec<ReasonCode> =
            ["WORK", "W", "TRAVEL", "WORK_2", "A"].iter().map(|c| c.parse().unwrap()).collect();
        codes.sort();
        let sorted: Vec<&str> = codes.iter().map(ReasonCode::as_str).collect();
        assert_eq!(sorted, ["A", "TRAVEL", "W", "WORK", "WORK_2"]);

        let set: std::collections::HashSet<ReasonCode> =
            ["WORK", "WORK", "W"].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(set.len(), 2);
        assert_ne!("W".parse::<ReasonCode>().unwrap(), "WORK".parse::<ReasonCode>().unwrap());
    }
}
