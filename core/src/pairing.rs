//! Pairing: one employee's punches become presence intervals.
//!
//! The same punches give the same intervals whatever order they arrive in: punches are
//! sorted by instant (ties broken by event id) before they are paired. Nothing is
//! dropped: an `out` with no `in` and an `in` while already in both become flagged
//! intervals for an admin to review.
//!
//! Amendments ([`crate::event::Amendment`]) are applied here too, before pairing, by
//! [`effective`]: the one rule that decides which punch counts when an employee changed
//! their mind on the kiosk's screen. Every event stays stored; the rule only chooses.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use crate::event::{Amendment, Direction, PresenceEvent, ReasonCode};
use crate::ids::{EventId, KioskId};

/// Where a punch came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PunchOrigin {
    /// A tap at a kiosk.
    Kiosk {
        /// The kiosk.
        kiosk: KioskId,
        /// Its seq on that kiosk.
        seq: u64,
    },
    /// Entered through the API by a user: a clock-in or -out, or a correction.
    Api {
        /// Who entered it.
        author: String,
        /// Why, if they said.
        note: Option<String>,
        /// Whether it corrects the record after the fact (rather than clocking now).
        correction: bool,
    },
}

/// One in or out, as pairing sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Punch {
    /// The event.
    pub event: EventId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// In or out.
    pub direction: Direction,
    /// Why.
    pub reason: ReasonCode,
    /// Where it came from.
    pub origin: PunchOrigin,
}

impl Punch {
    /// The punch a kiosk's event stands for, at its wall clock as read; the server dates
    /// untrusted readings first (see [`crate::timing`]) and then replaces `at`.
    pub fn of_kiosk_event(event: &PresenceEvent) -> Self {
        Self {
            event: event.id,
            at: event.time.wall,
            direction: event.direction,
            reason: event.reason.clone(),
            origin: PunchOrigin::Kiosk { kiosk: event.kiosk, seq: event.seq },
        }
    }
}

/// Something about an interval that an admin should look at.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// An `out` with no `in` before it.
    MissingCheckIn,
    /// An `in` followed by another `in`: the check-out is missing.
    MissingCheckOut,
    /// Closed by an explicit `out` after longer than the kiosk's maximum open interval.
    OverLong,
}

/// A stretch of presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    /// The check-in, if there was one.
    pub start: Option<Punch>,
    /// The check-out, if there was one.
    pub end: Option<Punch>,
    /// The reason: the check-in's, or the check-out's when there is no check-in.
    pub reason: ReasonCode,
    /// What is wrong with it, if anything.
    pub flags: Vec<Flag>,
}

impl Interval {
    /// Open: checked in, not yet out, and not superseded by a later check-in.
    pub fn is_open(&self) -> bool {
        self.end.is_none() && !self.flags.contains(&Flag::MissingCheckOut)
    }

    /// The instant that orders intervals: the check-in, or the check-out without one.
    pub fn anchor(&self) -> (DateTime<Utc>, EventId) {
        let punch = self.start.as_ref().or(self.end.as_ref());
        // Every interval pairing makes holds at least one punch.
        punch.map_or((DateTime::<Utc>::MIN_UTC, EventId(uuid::Uuid::nil())), |p| (p.at, p.event))
    }

    /// Whether the interval overlaps `[from, to)`. An open interval reaches to the end of
    /// time; one with a missing end or start counts at the instant it has.
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let start = self.start.as_ref().map(|p| p.at);
        let end = self.end.as_ref().map(|p| p.at);
        match (start, end) {
            (Some(s), Some(e)) => s < to && e > from || (s == e && s >= from && s < to),
            (Some(s), None) if self.is_open() => s < to,
            (Some(at), None) | (None, Some(at)) => at >= from && at < to,
            (None, None) => false,
        }
    }

    /// Whether the interval spans `at`: an open one from its check-in on, however long.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let Some(start) = &self.start else { return false };
        match &self.end {
            Some(end) => start.at <= at && at < end.at,
            None => self.is_open() && start.at <= at,
        }
    }
}

/// Whether someone checked in at `since`, with no check-out yet, still counts as in at `at`:
/// not once the interval has been open longer than `max_open`, the most an interval may stay
/// open where it began. Past it the check-out was forgotten; the next punch flags the interval
/// (`MissingCheckOut` or `OverLong`), and until then no evacuation list or kiosk screen
/// should count them on site.
pub fn still_in(since: DateTime<Utc>, at: DateTime<Utc>, max_open: Duration) -> bool {
    match (at - since).to_std() {
        Ok(open) => open <= max_open,
        // A check-in after `at` (a clock ahead) has not been open long.
        Err(_) => true,
    }
}

/// Flags each interval of `intervals` still open at `now` longer than the most it may stay
/// open (`max_open` of its check-in) as missing its check-out, as a later check-in would:
/// reports read at `now` then show the forgotten check-out rather than an interval open for
/// days with no time and no flag. A check-out that arrives later closes the interval instead
/// (flagged over-long when paired again).
pub fn flag_forgotten(
    intervals: &mut [Interval],
    now: DateTime<Utc>,
    max_open: impl Fn(&Punch) -> Duration,
) {
    for interval in intervals.iter_mut().filter(|i| i.is_open()) {
        let forgotten = interval.start.as_ref().is_some_and(|s| !still_in(s.at, now, max_open(s)));
        if forgotten {
            interval.flags.push(Flag::MissingCheckOut);
        }
    }
}

/// Rules that pairing applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingRules {
    /// An interval longer than this, closed by an explicit out, is flagged over-long.
    pub max_open: Duration,
}

impl Default for PairingRules {
    fn default() -> Self {
        Self { max_open: Duration::from_secs(16 * 3600) }
    }
}

/// Pairs one employee's punches into intervals, in time order.
///
/// An `out` and an `in` at the same instant are a shift change: the `out` closes what was
/// open before the `in` opens the next. Ties are never left to event ids, which are random.
pub fn pair(punches: &[Punch], rules: PairingRules) -> Vec<Interval> {
    pair_with(punches, |_| rules.max_open)
}

/// Where a punch stands in the order pairing reads punches: by instant, a check-out before a
/// check-in at the same instant, then by event so that the order is total.
pub fn order(punch: &Punch) -> (DateTime<Utc>, bool, EventId) {
    (punch.at, punch.direction == Direction::In, punch.event)
}

/// Pairs like [`pair`], with the longest an interval may stay open decided by its check-in:
/// a kiosk's own configured maximum for a tap made there.
pub fn pair_with(punches: &[Punch], max_open: impl Fn(&Punch) -> Duration) -> Vec<Interval> {
    let mut sorted: Vec<&Punch> = punches.iter().collect();
    sorted.sort_by_key(|p| order(p));

    let mut intervals = Vec::new();
    let mut open: Option<&Punch> = None;
    for punch in sorted {
        match (punch.direction, open.take()) {
            (Direction::In, None) => open = Some(punch),
            (Direction::In, Some(previous)) => {
                intervals.push(Interval {
                    start: Some(previous.clone()),
                    end: None,
                    reason: previous.reason.clone(),
                    flags: vec![Flag::MissingCheckOut],
                });
                open = Some(punch);
            }
            (Direction::Out, Some(start)) => {
                let long = (punch.at - start.at).to_std().is_ok_and(|d| d > max_open(start));
                intervals.push(Interval {
                    start: Some(start.clone()),
                    end: Some(punch.clone()),
                    reason: start.reason.clone(),
                    flags: if long { vec![Flag::OverLong] } else { Vec::new() },
                });
            }
            (Direction::Out, None) => intervals.push(Interval {
                start: None,
                end: Some(punch.clone()),
                reason: punch.reason.clone(),
                flags: vec![Flag::MissingCheckIn],
            }),
        }
    }

    if let Some(start) = open {
        intervals.push(Interval {
            start: Some(start.clone()),
            end: None,
            reason: start.reason.clone(),
            flags: Vec::new(),
        });
    }
    intervals
}

/// A stored punch with the amendment its event carries, as [`effective`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The punch as recorded (a kiosk's at the instant established for its own tap).
    pub punch: Punch,
    /// The earlier event it changes, if any.
    pub amends: Option<Amendment>,
}

/// Why an amendment changed nothing. The amending event then counts for nothing either:
/// it was meant as a change to a tap, not as a tap of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unapplied {
    /// Its target is not among the punches given: unknown, another employee's, or not
    /// placed in time yet (held in quarantine); it applies once the target is there.
    UnknownTarget,
    /// Its target is not an earlier event of the same kiosk.
    NotEarlier,
    /// Its target was replaced or withdrawn already, or is an amendment that counts for
    /// nothing itself.
    TargetGone,
}

impl Unapplied {
    /// What it means, for a log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownTarget => "its target is unknown, another employee's or held",
            Self::NotEarlier => "its target is not an earlier event of the same kiosk",
            Self::TargetGone => "its target was amended already or counts for nothing",
        }
    }
}

/// The punches that count, and the amendments that changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Effective {
    /// What pairing sees, in time order.
    pub punches: Vec<Punch>,
    /// Amending events that applied nothing, with why.
    pub unapplied: Vec<(EventId, Unapplied)>,
}

/// [`effective`] for punches the caller gives up: when nothing amends, they are kept
/// rather than copied.
pub fn effective_owned(recorded: Vec<Recorded>) -> Effective {
    if recorded.iter().any(|r| r.amends.is_some()) {
        return effective(&recorded);
    }
    let mut punches: Vec<Punch> = recorded.into_iter().map(|r| r.punch).collect();
    if in_time_order_once_each(&mut punches) {
        return Effective { punches, unapplied: Vec::new() };
    }
    // An event given twice: the whole rule keeps the last given, which the stable sort by
    // event left last.
    let recorded: Vec<Recorded> =
        punches.into_iter().map(|punch| Recorded { punch, amends: None }).collect();
    effective(&recorded)
}

/// Sorts punches in time order and says true, when no event is among them twice; otherwise
/// leaves them sorted by event (stably) and says false.
fn in_time_order_once_each(punches: &mut [Punch]) -> bool {
    punches.sort_by_key(|p| p.event);
    if punches.windows(2).any(|w| w[0].event == w[1].event) {
        return false;
    }
    punches.sort_by_key(|p| (p.at, p.event));
    true
}

/// Applies amendments: the punches of one employee that count.
///
/// A replacement takes the place of its target: it keeps its own event id, origin,
/// direction and reason, at the target's instant (so at the tap's time, dated as that tap
/// was). A withdrawal removes its target and adds nothing. Chains follow: a replacement
/// replaced again, or withdrawn, passes the place on or empties it. Amendments apply in
/// their kiosk's sequence order, so the result does not depend on the order given.
///
/// An amendment applies only to an earlier event of the same kiosk that still counts;
/// any other (see [`Unapplied`]) changes nothing and counts for nothing.
pub fn effective(recorded: &[Recorded]) -> Effective {
    // Most histories amend nothing: then every punch counts, once.
    if recorded.iter().all(|r| r.amends.is_none()) {
        let mut punches: Vec<Punch> = recorded.iter().map(|r| r.punch.clone()).collect();
        if in_time_order_once_each(&mut punches) {
            return Effective { punches, unapplied: Vec::new() };
        }
    }

    /// What stands in an event's place.
    enum Place {
        Counts(Punch),
        Gone,
    }

    let mut places: HashMap<EventId, Place> = HashMap::new();
    let mut origins: HashMap<EventId, &PunchOrigin> = HashMap::new();
    let mut amending: Vec<(&Recorded, Amendment)> = Vec::new();
    for r in recorded {
        origins.insert(r.punch.event, &r.punch.origin);
        match r.amends {
            None => {
                places.insert(r.punch.event, Place::Counts(r.punch.clone()));
            }
            Some(amendment) => amending.push((r, amendment)),
        }
    }
    // A target always has a lower seq than its amendment on the same kiosk.
    amending.sort_by_key(|(r, _)| match r.punch.origin {
        PunchOrigin::Kiosk { seq, .. } => (seq, r.punch.event),
        PunchOrigin::Api { .. } => (u64::MAX, r.punch.event),
    });

    let mut unapplied = Vec::new();
    for (r, amendment) in amending {
        let target = amendment.target();
        let earlier = match (&r.punch.origin, origins.get(&target)) {
            (
                PunchOrigin::Kiosk { kiosk, seq },
                Some(PunchOrigin::Kiosk { kiosk: target_kiosk, seq: target_seq }),
            ) => Some(kiosk == target_kiosk && target_seq < seq),
            (_, None) => None,
            _ => Some(false),
        };
        let outcome = match (earlier, places.get(&target)) {
            (None, _) | (_, None) => Err(Unapplied::UnknownTarget),
            (Some(false), _) => Err(Unapplied::NotEarlier),
            (Some(true), Some(Place::Gone)) => Err(Unapplied::TargetGone),
            (Some(true), Some(Place::Counts(replaced))) => Ok(replaced.at),
        };
        match outcome {
            Ok(at) => {
                places.insert(target, Place::Gone);
                let place = match amendment {
                    Amendment::Replaces(_) => Place::Counts(Punch { at, ..r.punch.clone() }),
                    Amendment::Withdraws(_) => Place::Gone,
                };
                places.insert(r.punch.event, place);
            }
            Err(why) => {
                places.insert(r.punch.event, Place::Gone);
                unapplied.push((r.punch.event, why));
            }
        }
    }

    let mut punches: Vec<Punch> = places
        .into_values()
        .filter_map(|place| match place {
            Place::Counts(punch) => Some(punch),
            Place::Gone => None,
        })
        .collect();
    punches.sort_by_key(|p| (p.at, p.event));
    unapplied.sort();
    Effective { punches, unapplied }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn punch(n: u8, hour: u32, minute: u32, direction: Direction) -> Punch {
        Punch {
            event: EventId(uuid::Uuid::from_bytes([n; 16])),
            at: Utc.with_ymd_and_hms(2025, 5, 12, hour, minute, 0).unwrap(),
            direction,
            reason: "WORK".parse().unwrap(),
            origin: PunchOrigin::Kiosk { kiosk: KioskId(uuid::Uuid::nil()), seq: u64::from(n) },
        }
    }

    fn shape(intervals: &[Interval]) -> Vec<(Option<u8>, Option<u8>, Vec<Flag>)> {
        intervals
            .iter()
            .map(|i| {
                (
                    i.start.as_ref().map(|p| p.event.0.as_bytes()[0]),
                    i.end.as_ref().map(|p| p.event.0.as_bytes()[0]),
                    i.flags.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn pairs_in_with_out_and_keeps_the_last_in_open() {
        use Direction::*;
        let punches = [punch(1, 8, 0, In), punch(2, 12, 0, Out), punch(3, 12, 30, In)];
        let intervals = pair(&punches, PairingRules::default());
        assert_eq!(shape(&intervals), vec![(Some(1), Some(2), vec![]), (Some(3), None, vec![])]);
        assert!(intervals[1].is_open());
        assert!(!intervals[0].is_open());
    }

    #[test]
    fn an_out_and_an_in_at_the_same_instant_close_before_they_open() {
        use Direction::*;
        // Event ids ordered both ways round: the result must not depend on them.
        for (out_id, in_id) in [(2, 3), (3, 2)] {
            let punches = [punch(1, 8, 0, In), punch(out_id, 12, 0, Out), punch(in_id, 12, 0, In)];
            let intervals = pair(&punches, PairingRules::default());
            assert_eq!(
                shape(&intervals),
                vec![(Some(1), Some(out_id), vec![]), (Some(in_id), None, vec![])]
            );
        }
    }

    #[test]
    fn the_check_in_decides_how_long_is_over_long() {
        use Direction::*;
        let punches = [punch(1, 6, 0, In), punch(2, 19, 0, Out)];
        // Thirteen hours: over a 12-hour maximum, within the default 16.
        let twelve = pair_with(&punches, |_| Duration::from_secs(12 * 3600));
        assert_eq!(shape(&twelve), vec![(Some(1), Some(2), vec![Flag::OverLong])]);
        let default = pair(&punches, PairingRules::default());
        assert_eq!(shape(&default), vec![(Some(1), Some(2), vec![])]);
    }

    #[test]
    fn an_out_without_in_is_a_flagged_interval_not_dropped() {
        let intervals = pair(&[punch(1, 9, 0, Direction::Out)], PairingRules::default());
        assert_eq!(shape(&intervals), vec![(None, Some(1), vec![Flag::MissingCheckIn])]);
        assert!(!intervals[0].is_open());
    }

    #[test]
    fn an_open_interval_counts_as_present_until_its_maximum_and_not_after() {
        let rules = PairingRules { max_open: Duration::from_secs(3 * 3600) };
        let intervals = pair(&[punch(1, 8, 0, Direction::In)], rules);
        let open = &intervals[0];
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2025, 5, 12, h, m, 0).unwrap();
        // Present at `at`: the interval, read at `at`, spans it.
        let present_at = |interval: &Interval, at: DateTime<Utc>, max_open: Duration| {
            let mut read = [interval.clone()];
            flag_forgotten(&mut read, at, |_| max_open);
            read[0].contains(at)
        };

        assert!(present_at(open, at(8, 0), rules.max_open));
        assert!(present_at(open, at(11, 0), rules.max_open), "three hours exactly");
        assert!(!present_at(open, at(11, 1), rules.max_open), "a forgotten check-out");
        assert!(open.contains(at(11, 1)), "the interval itself still spans it");
        assert!(!present_at(open, at(7, 59), rules.max_open));

        // A closed interval counts over its whole length, however long.
        let closed = pair(&[punch(1, 8, 0, Direction::In), punch(2, 23, 0, Direction::Out)], rules);
        assert!(present_at(&closed[0], at(22, 0), rules.max_open));
        assert!(still_in(at(9, 0), at(8, 0), rules.max_open), "a check-in ahead of the clock");
    }

    #[test]
    fn an_interval_open_past_its_maximum_at_now_is_flagged_missing_its_check_out() {
        use Direction::*;
        let rules = PairingRules { max_open: Duration::from_secs(3 * 3600) };
        let punches = [punch(1, 8, 0, In), punch(2, 9, 0, Out), punch(3, 10, 0, In)];
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2025, 5, 12, h, m, 0).unwrap();

        let mut within = pair(&punches, rules);
        flag_forgotten(&mut within, at(13, 0), |_| rules.max_open);
        assert_eq!(within, pair(&punches, rules), "three hours exactly: still open");
        assert!(within[1].is_open());

        let mut past = pair(&punches, rules);
        flag_forgotten(&mut past, at(13, 1), |_| rules.max_open);
        assert_eq!(
            shape(&past),
            vec![(Some(1), Some(2), vec![]), (Some(3), None, vec![Flag::MissingCheckOut])]
        );
        assert!(!past[1].is_open());

        // Flagged once, however often asked.
        flag_forgotten(&mut past, at(23, 0), |_| rules.max_open);
        assert_eq!(past[1].flags, [Flag::MissingCheckOut]);
    }

    #[test]
    fn an_in_while_in_flags_the_first_as_missing_check_out() {
        use Direction::*;
        let punches = [punch(1, 8, 0, In), punch(2, 9, 0, In), punch(3, 17, 0, Out)];
        let intervals = pair(&punches, PairingRules::default());
        assert_eq!(
            shape(&intervals),
            vec![(Some(1), None, vec![Flag::MissingCheckOut]), (Some(2), Some(3), vec![])]
        );
        assert!(!intervals[0].is_open());
    }

    #[test]
    fn an_explicit_out_after_too_long_is_flagged_over_long() {
        use Direction::*;
        let rules = PairingRules { max_open: Duration::from_secs(3 * 3600) };
        let intervals = pair(&[punch(1, 8, 0, In), punch(2, 11, 1, Out)], rules);
        assert_eq!(shape(&intervals), vec![(Some(1), Some(2), vec![Flag::OverLong])]);
        let intervals = pair(&[punch(1, 8, 0, In), punch(2, 11, 0, Out)], rules);
        assert_eq!(shape(&intervals), vec![(Some(1), Some(2), vec![])]);
    }

    #[test]
    fn the_result_does_not_depend_on_arrival_order() {
        use Direction::*;
        let punches = vec![
            punch(1, 7, 0, Out),
            punch(2, 8, 0, In),
            punch(3, 12, 0, Out),
            punch(4, 12, 30, In),
            punch(5, 13, 0, In),
            punch(6, 17, 0, Out),
            punch(7, 17, 0, In),
            punch(8, 18, 0, Out),
        ];
        let expected = pair(&punches, PairingRules::default());
        assert_eq!(expected.len(), 5);

        // Every rotation and the reversal of the input, plus a fixed shuffle.
        let mut orders: Vec<Vec<Punch>> = (0..punches.len())
            .map(|k| {
                let mut p = punches.clone();
                p.rotate_left(k);
                p
            })
            .collect();
        orders.push(punches.iter().rev().cloned().collect());
        orders.push([5, 2, 7, 0, 3, 6, 1, 4].iter().map(|&i| punches[i].clone()).collect());
        for order in orders {
            assert_eq!(pair(&order, PairingRules::default()), expected);
        }
    }

    #[test]
    fn overlap_and_containment_follow_the_interval_kind() {
        use Direction::*;
        let at = |h, m| Utc.with_ymd_and_hms(2025, 5, 12, h, m, 0).unwrap();
        let intervals = pair(
            &[punch(1, 8, 0, In), punch(2, 12, 0, Out), punch(3, 13, 0, In)],
            Default::default(),
        );
        assert!(intervals[0].overlaps(at(11, 0), at(14, 0)));
        assert!(!intervals[0].overlaps(at(12, 0), at(14, 0)));
        assert!(intervals[1].overlaps(at(20, 0), at(21, 0)), "open reaches on");
        assert!(intervals[0].contains(at(8, 0)));
        assert!(!intervals[0].contains(at(12, 0)));
        assert!(intervals[1].contains(at(23, 0)));
    }

    fn recorded(punch: Punch, amends: Option<Amendment>) -> Recorded {
        Recorded { punch, amends }
    }

    fn id(n: u8) -> EventId {
        EventId(uuid::Uuid::from_bytes([n; 16]))
    }

    /// (event, hour, minute, direction, reason) of each punch that counts.
    fn counted(effective: &Effective) -> Vec<(u8, u32, u32, Direction, String)> {
        use chrono::Timelike;
        effective
            .punches
            .iter()
            .map(|p| {
                let (h, m) = (p.at.hour(), p.at.minute());
                (p.event.0.as_bytes()[0], h, m, p.direction, p.reason.to_string())
            })
            .collect()
    }

    #[test]
    fn a_replacement_counts_at_the_time_of_the_tap_it_replaces() {
        use Direction::*;
        // In at 08:00; a minute later the employee switches it to out.
        let taps = [
            recorded(punch(1, 8, 0, In), None),
            recorded(punch(2, 8, 1, Out), Some(Amendment::Replaces(id(1)))),
        ];
        let result = effective(&taps);
        assert_eq!(counted(&result), vec![(2, 8, 0, Out, "WORK".into())]);
        assert_eq!(result.unapplied, vec![]);

        // A new reason, same direction: the reason changes, the time stays.
        let mut travel = punch(2, 8, 1, In);
        travel.reason = "TRAVEL".parse().unwrap();
        let taps = [
            recorded(punch(1, 8, 0, In), None),
            recorded(travel, Some(Amendment::Replaces(id(1)))),
        ];
        assert_eq!(counted(&effective(&taps)), vec![(2, 8, 0, In, "TRAVEL".into())]);
    }

    #[test]
    fn a_withdrawal_leaves_nothing_and_chains_follow() {
        use Direction::*;
        let undo = [
            recorded(punch(1, 8, 0, In), None),
            recorded(punch(2, 8, 1, In), Some(Amendment::Withdraws(id(1)))),
        ];
        assert_eq!(counted(&effective(&undo)), vec![]);

        // Switched to out, then undone: nothing.
        let replace_then_undo = [
            recorded(punch(1, 8, 0, In), None),
            recorded(punch(2, 8, 1, Out), Some(Amendment::Replaces(id(1)))),
            recorded(punch(3, 8, 1, Out), Some(Amendment::Withdraws(id(2)))),
        ];
        assert_eq!(counted(&effective(&replace_then_undo)), vec![]);

        // Switched to out, then back to in: the last one counts, at the first tap's time.
        let twice = [
            recorded(punch(1, 8, 0, In), None),
            recorded(punch(2, 8, 1, Out), Some(Amendment::Replaces(id(1)))),
            recorded(punch(3, 8, 2, In), Some(Amendment::Replaces(id(2)))),
            recorded(punch(4, 17, 0, Out), None),
        ];
        let result = effective(&twice);
        assert_eq!(
            counted(&result),
            vec![(3, 8, 0, In, "WORK".into()), (4, 17, 0, Out, "WORK".into())]
        );
        // Whatever order they are given in.
        let reversed: Vec<Recorded> = twice.iter().rev().cloned().collect();
        assert_eq!(effective(&reversed), result);
    }

    #[test]
    fn without_amendments_every_punch_counts_once_in_time_order() {
        use Direction::*;
        let taps = [
            recorded(punch(4, 17, 0, Out), None),
            recorded(punch(1, 8, 0, In), None),
            recorded(punch(3, 12, 30, In), None),
            recorded(punch(2, 12, 0, Out), None),
            recorded(punch(5, 12, 0, In), None),
        ];
        let all = effective(&taps);
        assert_eq!(
            all.punches.iter().map(|p| p.event.0.as_bytes()[0]).collect::<Vec<_>>(),
            vec![1, 2, 5, 3, 4]
        );
        assert!(all.unapplied.is_empty());

        assert_eq!(effective_owned(taps.to_vec()), all);

        // An event given twice counts once, as the last given.
        let again = [
            recorded(punch(2, 7, 0, Out), None),
            recorded(punch(1, 8, 0, In), None),
            recorded(punch(1, 9, 0, In), None),
        ];
        let once = vec![(2, 7, 0, Out, "WORK".into()), (1, 9, 0, In, "WORK".into())];
        assert_eq!(counted(&effective(&again)), once);
        assert_eq!(counted(&effective_owned(again.to_vec())), once);
    }

    #[test]
    fn an_amendment_that_cannot_apply_changes_nothing_and_counts_for_nothing() {
        use Direction::*;
        let mut elsewhere = punch(5, 8, 0, In);
        elsewhere.origin = PunchOrigin::Kiosk { kiosk: KioskId(uuid::Uuid::from_u128(9)), seq: 1 };
        let taps = [
            recorded(punch(1, 8, 0, In), None),
            recorded(elsewhere, None),
            // Unknown target.
            recorded(punch(2, 9, 0, Out), Some(Amendment::Replaces(id(42)))),
            // Another kiosk's event.
            recorded(punch(3, 9, 0, Out), Some(Amendment::Withdraws(id(5)))),
            // A later event of the same kiosk.
            recorded(punch(4, 9, 0, Out), Some(Amendment::Withdraws(id(6)))),
            recorded(punch(6, 12, 0, Out), None),
            // Replaces 1, and then 1 again: the second finds its place taken.
            recorded(punch(7, 12, 1, Out), Some(Amendment::Replaces(id(1)))),
            recorded(punch(8, 12, 2, In), Some(Amendment::Replaces(id(1)))),
        ];
        let result = effective(&taps);
        assert_eq!(
            counted(&result),
            vec![
                (5, 8, 0, In, "WORK".into()),
                (7, 8, 0, Out, "WORK".into()),
                (6, 12, 0, Out, "WORK".into())
            ]
        );
        assert_eq!(
            result.unapplied,
            vec![
                (id(2), Unapplied::UnknownTarget),
                (id(3), Unapplied::NotEarlier),
                (id(4), Unapplied::NotEarlier),
                (id(8), Unapplied::TargetGone)
            ]
        );
    }
}
