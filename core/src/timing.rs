//! When did a tap happen? A kiosk's wall clock may be wrong: a Raspberry Pi has no
//! real-time clock and boots at 1970 or at its last shutdown until the network sets it,
//! and clocks jump. What a kiosk always has is a monotonic clock that counts steadily
//! within one boot. Every signed message a kiosk sends carries its reading of both clocks;
//! the server, which trusts its own clock, keeps for each boot of each kiosk an
//! [`TimeAnchor`]: where that boot's monotonic clock stood at a true instant. From an
//! anchor, any reading of the same boot converts to a true instant, so events follow the
//! monotonic clock within a boot whatever the wall clock did.
//!
//! [`establish`] is the one rule that decides an event's instant: the wall clock when it
//! was trusted and agrees with what is known, a correction from the monotonic clock when
//! it was not, and quarantine, with the reason, when neither can be believed.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::event::TimeReading;
use crate::ids::BootId;

/// How far ahead of the server's clock an event may be dated before it is quarantined.
pub const FUTURE_TOLERANCE: TimeDelta = TimeDelta::minutes(5);
/// How far a trusted wall clock may stray from what an anchor says before the event is
/// quarantined: more than network delay and drift, less than a meaningful error.
pub const OFFSET_TOLERANCE: TimeDelta = TimeDelta::minutes(2);

/// Where one boot's monotonic clock stood at a true instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeAnchor {
    /// The boot.
    pub boot: BootId,
    /// The monotonic clock as the kiosk read it.
    pub monotonic: Duration,
    /// The true instant of that reading: when the server received the message.
    pub true_time: DateTime<Utc>,
}

/// The widest round trip a [`ClockSample`] may span and still anchor a boot: its midpoint
/// is then within a second of the instant the server read its clock.
pub const MAX_ROUND_TRIP: Duration = Duration::from_secs(2);

/// One exchange as the kiosk measured it, NTP-style: its monotonic clock when it sent a
/// heartbeat and when the reply came, and the server's time in the reply. The server read
/// its clock somewhere in between, so the midpoint is the kiosk's best estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSample {
    /// The boot both readings belong to.
    pub boot: BootId,
    /// The monotonic clock when the heartbeat was sealed.
    pub sent: Duration,
    /// The monotonic clock when the reply arrived.
    pub received: Duration,
    /// The server's time in the reply.
    pub server_time: DateTime<Utc>,
}

impl ClockSample {
    /// The anchor this exchange gives, if its round trip was short enough to trust.
    pub fn anchor(&self) -> Option<TimeAnchor> {
        let round_trip = self.received.checked_sub(self.sent)?;
        if round_trip > MAX_ROUND_TRIP {
            return None;
        }
        Some(TimeAnchor {
            boot: self.boot,
            monotonic: self.sent + round_trip / 2,
            true_time: self.server_time,
        })
    }
}

impl TimeAnchor {
    /// The anchor a reading with a trusted wall clock gives by itself.
    pub fn from_trusted(reading: &TimeReading) -> Option<Self> {
        reading.wall_trusted.then_some(Self {
            boot: reading.boot,
            monotonic: reading.monotonic,
            true_time: reading.wall,
        })
    }

    /// The true instant of a reading of the same boot.
    pub fn true_time_of(&self, reading: &TimeReading) -> Option<DateTime<Utc>> {
        if reading.boot != self.boot {
            return None;
        }
        if reading.monotonic <= self.monotonic {
            let back = TimeDelta::from_std(self.monotonic - reading.monotonic).ok()?;
            self.true_time.checked_sub_signed(back)
        } else {
            let ahead = TimeDelta::from_std(reading.monotonic - self.monotonic).ok()?;
            self.true_time.checked_add_signed(ahead)
        }
    }
}

/// Why an event's time cannot be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuarantineReason {
    /// The wall clock was not trusted and nothing ties this boot's monotonic clock to true
    /// time (yet: an anchor arriving later releases the event).
    UntrustedClock,
    /// Dated after the server's clock by more than the tolerance.
    InFuture {
        /// By how many seconds.
        seconds: i64,
    },
    /// Dated before the kiosk was created.
    BeforeKiosk,
    /// A trusted wall clock that disagrees with what this boot's anchor says.
    FarFromKnownOffset {
        /// By how many seconds (wall minus anchor).
        seconds: i64,
    },
    /// Names an employee the server does not know (no roster it made could).
    UnknownEmployee,
    /// Carries a reason code the server does not know.
    UnknownReason,
}

impl QuarantineReason {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UntrustedClock => "untrusted_clock",
            Self::InFuture { .. } => "in_future",
            Self::BeforeKiosk => "before_kiosk",
            Self::FarFromKnownOffset { .. } => "far_from_known_offset",
            Self::UnknownEmployee => "unknown_employee",
            Self::UnknownReason => "unknown_reason",
        }
    }

    /// The seconds it is off by, where that is known.
    pub fn seconds(&self) -> Option<i64> {
        match self {
            Self::InFuture { seconds } | Self::FarFromKnownOffset { seconds } => Some(*seconds),
            Self::UntrustedClock | Self::BeforeKiosk => None,
            Self::UnknownEmployee | Self::UnknownReason => None,
        }
    }
}

impl std::fmt::Display for QuarantineReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UntrustedClock => write!(
                f,
                "the kiosk's clock was not set and no message of that boot tells the true time"
            ),
            Self::InFuture { seconds } => {
                write!(f, "dated {seconds} s after the server's clock when it arrived")
            }
            Self::BeforeKiosk => write!(f, "dated before the kiosk was created"),
            Self::FarFromKnownOffset { seconds } => write!(
                f,
                "the kiosk's wall clock differs by {seconds} s from the time its monotonic \
                 clock gives"
            ),
            Self::UnknownEmployee => write!(f, "names an employee this server does not know"),
            Self::UnknownReason => write!(f, "carries a reason code this server does not know"),
        }
    }
}

/// What is known of an event's instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Established {
    /// The wall clock as read: trusted, and consistent with what is known.
    AsRead(DateTime<Utc>),
    /// Derived from the monotonic clock and an anchor of the same boot; the wall clock as
    /// read stays with the event as evidence.
    Corrected(DateTime<Utc>),
    /// Cannot be believed; kept for an admin.
    Quarantined(QuarantineReason),
}

impl Established {
    /// The instant, unless quarantined.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::AsRead(at) | Self::Corrected(at) => Some(*at),
            Self::Quarantined(_) => None,
        }
    }
}

/// Decides an event's instant from its reading, the anchor of its boot if the server has
/// one, when it arrived, and when its kiosk was created.
pub fn establish(
    reading: &TimeReading,
    anchor: Option<&TimeAnchor>,
    received_at: DateTime<Utc>,
    kiosk_created_at: DateTime<Utc>,
) -> Established {
    let derived = anchor.and_then(|a| a.true_time_of(reading));
    let candidate = match (reading.wall_trusted, derived) {
        (true, Some(derived)) => {
            let off = reading.wall - derived;
            if off.abs() > OFFSET_TOLERANCE {
                let seconds = off.num_seconds();
                return Established::Quarantined(QuarantineReason::FarFromKnownOffset { seconds });
            }
            Established::AsRead(reading.wall)
        }
        (true, None) => Established::AsRead(reading.wall),
        (false, Some(derived)) => Established::Corrected(derived),
        (false, None) => return Established::Quarantined(QuarantineReason::UntrustedClock),
    };

    let Some(at) = candidate.instant() else { return candidate };
    let ahead = at - received_at;
    if ahead > FUTURE_TOLERANCE {
        return Established::Quarantined(QuarantineReason::InFuture {
            seconds: ahead.num_seconds(),
        });
    }
    if at < kiosk_created_at - OFFSET_TOLERANCE {
        return Established::Quarantined(QuarantineReason::BeforeKiosk);
    }
    candidate
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 5, 12, h, m, s).unwrap()
    }

    fn reading(wall: DateTime<Utc>, boot: BootId, mono_secs: u64, trusted: bool) -> TimeReading {
        TimeReading { wall, boot, monotonic: Duration::from_secs(mono_secs), wall_trusted: trusted }
    }

    const CREATED: fn() -> DateTime<Utc> = || Utc.with_ymd_and_hms(2025, 5, 1, 0, 0, 0).unwrap();

    /// A Pi boots at 1970 (wall = seconds since boot). A tap 600 s after boot; the first
    /// heartbeat, 3,000 s after boot, reaches the server at 14:00:00: the tap was at
    /// 14:00:00 − 2,400 s = 13:20:00, to the second.
    #[test]
    fn a_boot_at_1970_is_corrected_to_the_second_from_the_monotonic_clock() {
        let boot = BootId::random();
        let tap = reading(DateTime::UNIX_EPOCH + TimeDelta::seconds(600), boot, 600, false);
        // The reply came 0.4 s after the heartbeat left: the server's 14:00:00 is taken
        // for the midpoint, monotonic 3,000 s.
        let sample = ClockSample {
            boot,
            sent: Duration::from_millis(2_999_800),
            received: Duration::from_millis(3_000_200),
            server_time: utc(14, 0, 0),
        };
        let anchor = sample.anchor().unwrap();
        assert_eq!(
            establish(&tap, Some(&anchor), utc(14, 0, 1), CREATED()),
            Established::Corrected(utc(13, 20, 0))
        );
        // Without an anchor of that boot it cannot be placed.
        let other = TimeAnchor { boot: BootId::random(), ..anchor };
        assert_eq!(
            establish(&tap, Some(&other), utc(14, 0, 1), CREATED()),
            Established::Quarantined(QuarantineReason::UntrustedClock)
        );
        assert_eq!(
            establish(&tap, None, utc(14, 0, 1), CREATED()),
            Established::Quarantined(QuarantineReason::UntrustedClock)
        );
    }

    /// Booted with the time of its last shutdown (Friday 17:00) on Monday; a tap at
    /// monotonic 100 s; a heartbeat at monotonic 400 s arrives at Monday 07:05:00: the tap
    /// was at 07:00:00 Monday, not Friday.
    #[test]
    fn a_stale_saved_time_is_corrected_and_an_anchor_after_the_event_works_too() {
        let boot = BootId::random();
        let friday = Utc.with_ymd_and_hms(2025, 5, 9, 17, 0, 0).unwrap();
        let tap = reading(friday + TimeDelta::seconds(100), boot, 100, false);
        let sample = |mono, at| ClockSample {
            boot,
            sent: Duration::from_secs(mono),
            received: Duration::from_secs(mono),
            server_time: at,
        };
        let anchor = sample(400, utc(7, 5, 0)).anchor().unwrap();
        assert_eq!(
            establish(&tap, Some(&anchor), utc(7, 5, 0), CREATED()),
            Established::Corrected(utc(7, 0, 0))
        );
        // An anchor from before the tap works forward.
        let anchor = sample(50, utc(6, 59, 10)).anchor().unwrap();
        assert_eq!(
            establish(&tap, Some(&anchor), utc(7, 5, 0), CREATED()),
            Established::Corrected(utc(7, 0, 0))
        );
    }

    /// NTP stepped the clock: a trusted wall clock far from what the monotonic clock says
    /// is quarantined; one within the tolerance is taken as read.
    #[test]
    fn jumps_forward_and_back_against_the_anchor_are_quarantined() {
        let boot = BootId::random();
        let anchor =
            TimeAnchor { boot, monotonic: Duration::from_secs(1000), true_time: utc(9, 0, 0) };
        // 100 s later by the monotonic clock: true 09:01:40.
        let forward = reading(utc(10, 1, 40), boot, 1100, true);
        assert_eq!(
            establish(&forward, Some(&anchor), utc(9, 2, 0), CREATED()),
            Established::Quarantined(QuarantineReason::FarFromKnownOffset { seconds: 3600 })
        );
        let back = reading(utc(8, 31, 40), boot, 1100, true);
        assert_eq!(
            establish(&back, Some(&anchor), utc(9, 2, 0), CREATED()),
            Established::Quarantined(QuarantineReason::FarFromKnownOffset { seconds: -1800 })
        );
        let close = reading(utc(9, 1, 41), boot, 1100, true);
        assert_eq!(
            establish(&close, Some(&anchor), utc(9, 2, 0), CREATED()),
            Established::AsRead(utc(9, 1, 41))
        );
    }

    #[test]
    fn a_round_trip_too_long_to_trust_anchors_nothing() {
        let boot = BootId::random();
        let at = utc(9, 0, 0);
        let slow = ClockSample {
            boot,
            sent: Duration::from_secs(10),
            received: Duration::from_secs(13),
            server_time: at,
        };
        assert_eq!(slow.anchor(), None);
        let backwards = ClockSample { received: Duration::from_secs(9), ..slow };
        assert_eq!(backwards.anchor(), None);
        let trusted = reading(at, boot, 10, true);
        assert_eq!(TimeAnchor::from_trusted(&trusted).unwrap().true_time, at);
        assert_eq!(TimeAnchor::from_trusted(&reading(at, boot, 10, false)), None);
    }

    #[test]
    fn future_and_pre_kiosk_dates_are_quarantined() {
        let boot = BootId::random();
        let future = reading(utc(12, 0, 0), boot, 10, true);
        assert_eq!(
            establish(&future, None, utc(11, 0, 0), CREATED()),
            Established::Quarantined(QuarantineReason::InFuture { seconds: 3600 })
        );
        let old = reading(Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap(), boot, 10, true);
        assert_eq!(
            establish(&old, None, utc(11, 0, 0), CREATED()),
            Established::Quarantined(QuarantineReason::BeforeKiosk)
        );
        let fine = reading(utc(10, 59, 0), boot, 10, true);
        assert_eq!(
            establish(&fine, None, utc(11, 0, 0), CREATED()),
            Established::AsRead(utc(10, 59, 0))
        );
    }
}
