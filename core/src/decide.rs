//! What a tap means: a new event in a chosen direction, or a repeat of the last one.
//!
//! The kiosk applies these rules offline, from its own record of each badge's last event.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::event::{Direction, DirectionSource, RequestedAction, TimeReading};
use crate::protocol::KioskConfig;

/// The last event recorded for a badge or employee at this kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastPunch {
    /// Its direction.
    pub direction: Direction,
    /// When it was recorded.
    pub time: TimeReading,
}

/// What to do with a tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapDecision {
    /// Record a new event.
    Record {
        /// In or out.
        direction: Direction,
        /// Whether the employee chose it.
        source: DirectionSource,
        /// The employee's previous interval has been open longer than allowed: this tap
        /// starts a new one and the old one lacks its check-out.
        missing_check_out: bool,
    },
    /// A second read asking for what was just recorded: record nothing.
    Repeat {
        /// The direction already recorded.
        direction: Direction,
        /// When it was recorded.
        since: DateTime<Utc>,
    },
}

/// Time from `earlier` to `later`: by the monotonic clock within one boot, by the wall
/// clock across boots. `None` when the wall clock went backwards.
pub fn elapsed(earlier: &TimeReading, later: &TimeReading) -> Option<Duration> {
    if earlier.boot == later.boot {
        later.monotonic.checked_sub(earlier.monotonic)
    } else {
        (later.wall - earlier.wall).to_std().ok()
    }
}

/// Decides about a tap at `now`, given the last event of the same badge.
pub fn decide(
    last: Option<&LastPunch>,
    requested: RequestedAction,
    now: &TimeReading,
    config: &KioskConfig,
) -> TapDecision {
    let window = Duration::from_secs(u64::from(config.repeat_window_secs));
    let max_open = Duration::from_secs(u64::from(config.max_open_hours) * 3600);
    let since_last = last.and_then(|l| elapsed(&l.time, now));

    if let (Some(last), Some(since)) = (last, since_last) {
        let same_action = match requested {
            RequestedAction::Toggle => true,
            RequestedAction::Explicit(direction) => direction == last.direction,
        };
        if same_action && since < window {
            return TapDecision::Repeat { direction: last.direction, since: last.time.wall };
        }
    }

    // An interval still open after the maximum is a forgotten check-out.
    let open_in = last.is_some_and(|l| l.direction == Direction::In);
    let overdue = open_in && since_last.is_none_or(|since| since > max_open);
    match requested {
        RequestedAction::Explicit(direction) => TapDecision::Record {
            direction,
            source: DirectionSource::Explicit,
            missing_check_out: direction == Direction::In && open_in,
        },
        RequestedAction::Toggle => {
            let direction = if open_in && !overdue { Direction::Out } else { Direction::In };
            TapDecision::Record {
                direction,
                source: DirectionSource::Toggle,
                missing_check_out: direction == Direction::In && open_in,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ids::BootId;

    fn reading(boot: BootId, secs: u64) -> TimeReading {
        TimeReading {
            wall: Utc.with_ymd_and_hms(2025, 5, 12, 8, 0, 0).unwrap()
                + chrono::Duration::seconds(secs as i64),
            boot,
            monotonic: Duration::from_secs(1000 + secs),
            wall_trusted: true,
        }
    }

    fn last_in(boot: BootId) -> LastPunch {
        LastPunch { direction: Direction::In, time: reading(boot, 0) }
    }

    const IN: RequestedAction = RequestedAction::Explicit(Direction::In);
    const OUT: RequestedAction = RequestedAction::Explicit(Direction::Out);

    #[test]
    fn the_same_action_within_the_window_is_a_repeat() {
        let boot = BootId::random();
        let config = KioskConfig::default();
        for requested in [IN, RequestedAction::Toggle] {
            let decision = decide(Some(&last_in(boot)), requested, &reading(boot, 59), &config);
            assert_eq!(
                decision,
                TapDecision::Repeat { direction: Direction::In, since: reading(boot, 0).wall }
            );
        }
    }

    #[test]
    fn the_same_action_after_the_window_is_a_new_event() {
        let boot = BootId::random();
        let decision =
            decide(Some(&last_in(boot)), IN, &reading(boot, 60), &KioskConfig::default());
        assert_eq!(
            decision,
            TapDecision::Record {
                direction: Direction::In,
                source: DirectionSource::Explicit,
                missing_check_out: true
            }
        );
    }

    #[test]
    fn a_different_explicit_action_is_always_new() {
        let boot = BootId::random();
        let decision =
            decide(Some(&last_in(boot)), OUT, &reading(boot, 1), &KioskConfig::default());
        assert!(matches!(decision, TapDecision::Record { direction: Direction::Out, .. }));
    }

    #[test]
    fn toggle_checks_out_an_open_interval_and_in_after_the_maximum() {
        let boot = BootId::random();
        let config = KioskConfig::default();
        let in_time =
            decide(Some(&last_in(boot)), RequestedAction::Toggle, &reading(boot, 3600), &config);
        assert_eq!(
            in_time,
            TapDecision::Record {
                direction: Direction::Out,
                source: DirectionSource::Toggle,
                missing_check_out: false
            }
        );

        let late = reading(boot, 17 * 3600);
        let overdue = decide(Some(&last_in(boot)), RequestedAction::Toggle, &late, &config);
        assert_eq!(
            overdue,
            TapDecision::Record {
                direction: Direction::In,
                source: DirectionSource::Toggle,
                missing_check_out: true
            }
        );
        assert!(matches!(
            decide(None, RequestedAction::Toggle, &late, &config),
            TapDecision::Record { direction: Direction::In, missing_check_out: false, .. }
        ));
    }

    #[test]
    fn within_a_boot_the_monotonic_clock_decides_not_the_wall_clock() {
        let boot = BootId::random();
        let mut now = reading(boot, 10);
        now.wall -= chrono::Duration::hours(5); // the wall clock jumped back
        let decision = decide(Some(&last_in(boot)), IN, &now, &KioskConfig::default());
        assert!(matches!(decision, TapDecision::Repeat { .. }));
    }
}
