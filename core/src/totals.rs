//! Worked time per local day: intervals split at the site's local midnights, with exact
//! durations across DST changes (a night that gains an hour counts it).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::pairing::Interval;

/// The instant a local day starts in `zone`: local midnight, or the first instant after
/// it where a DST change skips midnight itself.
pub fn day_start(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut time = NaiveTime::MIN;
    // A zone may skip at most a few hours; step forward until a local time exists.
    for _ in 0..48 {
        if let Some(start) = zone.from_local_datetime(&date.and_time(time)).earliest() {
            return start.with_timezone(&Utc);
        }
        time += chrono::TimeDelta::minutes(30);
    }
    date.and_time(NaiveTime::MIN).and_utc()
}

/// Seconds from `start` to `end`, each counted at the whole second it falls in.
///
/// Taps carry fractions of a second; counting each instant at its whole second makes the
/// parts of an interval (its days, its weeks) add up to exactly the interval's own
/// seconds, where truncating each part's length would lose up to a second in each.
pub fn whole_seconds(start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    end.timestamp() - start.timestamp()
}

/// Time present per local day from `from` to `to` (both included), counting only intervals
/// with both ends and for which `counts` is true. Days without presence are absent.
pub fn daily(
    intervals: &[Interval],
    zone: Tz,
    from: NaiveDate,
    to: NaiveDate,
    counts: impl Fn(&Interval) -> bool,
) -> BTreeMap<NaiveDate, Duration> {
    daily_across(intervals, &[(from, zone)], from, to, counts)
}

/// [`daily`] for an employee whose site, and so whose zone, changed: `zones` holds each
/// zone with the local date from which it applies, oldest first (the first also applies
/// before its date).
///
/// A zone takes over at the start of its first day in that zone, so every instant belongs
/// to exactly one zone and is counted once: moving east shortens the old zone's last day,
/// moving west lets a date occur in both zones, and its two parts are added together.
pub fn daily_across(
    intervals: &[Interval],
    zones: &[(NaiveDate, Tz)],
    from: NaiveDate,
    to: NaiveDate,
    counts: impl Fn(&Interval) -> bool,
) -> BTreeMap<NaiveDate, Duration> {
    let mut totals = BTreeMap::new();
    let Some(after_end) = to.succ_opt() else { return totals };

    let takes_over = takeovers(zones);
    for (i, (_, zone)) in zones.iter().enumerate() {
        let zone_ends = takes_over.get(i + 1).copied().unwrap_or(DateTime::<Utc>::MAX_UTC);
        let window_start = day_start(from, *zone).max(takes_over[i]);
        let window_end = day_start(after_end, *zone).min(zone_ends);
        for interval in intervals.iter().filter(|i| counts(i)) {
            let (Some(start), Some(end)) = (&interval.start, &interval.end) else { continue };
            let (at, end) = (start.at.max(window_start), end.at.min(window_end));
            add_local_days(&mut totals, *zone, at, end);
        }
    }
    totals
}

/// The zone in force at `instant`, of `zones` as [`daily_across`] reads them.
pub fn zone_at(zones: &[(NaiveDate, Tz)], instant: DateTime<Utc>) -> Tz {
    let takes_over = takeovers(zones);
    let in_force = takes_over.iter().rposition(|starts| *starts <= instant);
    in_force.map_or(chrono_tz::UTC, |i| zones[i].1)
}

/// When each of `zones` takes over: at the start of its first day in that zone, never
/// before the zone it follows (so that a later zone far to the east leaves its predecessor
/// an empty span rather than a reversed one); the first, from the beginning of time.
fn takeovers(zones: &[(NaiveDate, Tz)]) -> Vec<DateTime<Utc>> {
    let mut takes_over: Vec<DateTime<Utc>> = Vec::with_capacity(zones.len());
    for (i, (first_day, zone)) in zones.iter().enumerate() {
        let starts = if i == 0 { DateTime::<Utc>::MIN_UTC } else { day_start(*first_day, *zone) };
        takes_over.push(takes_over.last().map_or(starts, |last| starts.max(*last)));
    }
    takes_over
}

/// Adds `at..end` to `totals`, split at `zone`'s local midnights.
fn add_local_days(
    totals: &mut BTreeMap<NaiveDate, Duration>,
    zone: Tz,
    mut at: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    while at < end {
        let date = at.with_timezone(&zone).date_naive();
        let next_day = date.succ_opt().map_or(end, |d| day_start(d, zone));
        let until = next_day.min(end);
        if let Ok(seconds) = u64::try_from(whole_seconds(at, until)) {
            *totals.entry(date).or_insert(Duration::ZERO) += Duration::from_secs(seconds);
        }
        at = until;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Direction;
    use crate::ids::{EventId, KioskId};
    use crate::pairing::{PairingRules, Punch, PunchOrigin, pair};

    fn punch(at: &str, direction: Direction) -> Punch {
        Punch {
            event: EventId::random(),
            at: at.parse().unwrap(),
            direction,
            reason: "WORK".parse().unwrap(),
            origin: PunchOrigin::Kiosk { kiosk: KioskId::random(), seq: 1 },
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn hours(n: u64) -> Duration {
        Duration::from_secs(n * 3600)
    }

    #[test]
    fn a_night_shift_counts_on_both_days() {
        let chicago = chrono_tz::America::Chicago;
        let intervals = pair(
            &[
                punch("2025-05-12T22:00:00-05:00", Direction::In),
                punch("2025-05-13T06:30:00-05:00", Direction::Out),
            ],
            PairingRules::default(),
        );
        let totals = daily(&intervals, chicago, date("2025-05-12"), date("2025-05-13"), |_| true);
        assert_eq!(totals[&date("2025-05-12")], Duration::from_secs(2 * 3600));
        assert_eq!(totals[&date("2025-05-13")], Duration::from_secs(6 * 3600 + 1800));
        let only_first =
            daily(&intervals, chicago, date("2025-05-12"), date("2025-05-12"), |_| true);
        assert_eq!(only_first.len(), 1, "the range clips the interval");
    }

    #[test]
    fn durations_across_dst_are_exact() {
        let chicago = chrono_tz::America::Chicago;
        // Clocks fall back at 02:00 on 2025-11-02: 22:00 to 06:00 lasts nine hours.
        let fall = pair(
            &[
                punch("2025-11-01T22:00:00-05:00", Direction::In),
                punch("2025-11-02T06:00:00-06:00", Direction::Out),
            ],
            PairingRules::default(),
        );
        let totals = daily(&fall, chicago, date("2025-11-01"), date("2025-11-02"), |_| true);
        assert_eq!(totals[&date("2025-11-01")], Duration::from_secs(2 * 3600));
        assert_eq!(totals[&date("2025-11-02")], Duration::from_secs(7 * 3600));

        // Clocks spring forward at 02:00 on 2025-03-09: 22:00 to 06:00 lasts seven hours.
        let spring = pair(
            &[
                punch("2025-03-08T22:00:00-06:00", Direction::In),
                punch("2025-03-09T06:00:00-05:00", Direction::Out),
            ],
            PairingRules::default(),
        );
        let totals = daily(&spring, chicago, date("2025-03-08"), date("2025-03-09"), |_| true);
        let sum: Duration = totals.values().sum();
        assert_eq!(sum, Duration::from_secs(7 * 3600));
    }

    /// Adelaide keeps a half-hour offset: +09:30 in winter, +10:30 in summer.
    #[test]
    fn durations_across_dst_are_exact_at_a_half_hour_offset() {
        let adelaide = chrono_tz::Australia::Adelaide;
        // Clocks fall back from 03:00 to 02:00 on 2025-04-06: 22:00 to 06:00 is nine hours,
        // two before midnight and seven after.
        let fall = pair(
            &[
                punch("2025-04-05T22:00:00+10:30", Direction::In),
                punch("2025-04-06T06:00:00+09:30", Direction::Out),
            ],
            PairingRules::default(),
        );
        let totals = daily(&fall, adelaide, date("2025-04-05"), date("2025-04-06"), |_| true);
        assert_eq!(totals[&date("2025-04-05")], Duration::from_secs(2 * 3600));
        assert_eq!(totals[&date("2025-04-06")], Duration::from_secs(7 * 3600));

        // Clocks spring forward from 02:00 to 03:00 on 2025-10-05: 22:00 to 06:00 is seven
        // hours, two before midnight and five after.
        let spring = pair(
            &[
                punch("2025-10-04T22:00:00+09:30", Direction::In),
                punch("2025-10-05T06:00:00+10:30", Direction::Out),
            ],
            PairingRules::default(),
        );
        let totals = daily(&spring, adelaide, date("2025-10-04"), date("2025-10-05"), |_| true);
        assert_eq!(totals[&date("2025-10-04")], Duration::from_secs(2 * 3600));
        assert_eq!(totals[&date("2025-10-05")], Duration::from_secs(5 * 3600));
        // Local midnight is where the day starts, half-hour offset and all.
        assert_eq!(
            day_start(date("2025-10-05"), adelaide).to_rfc3339(),
            "2025-10-04T14:30:00+00:00"
        );
    }

    /// Worked time over a move from Chicago (-06:00 in November) to Kolkata (+05:30) or
    /// back, the new site in force from 2026-11-10.
    fn across_a_move(from: Tz, to: Tz, shift: [&str; 2]) -> BTreeMap<NaiveDate, Duration> {
        let intervals = pair(
            &[punch(shift[0], Direction::In), punch(shift[1], Direction::Out)],
            PairingRules::default(),
        );
        let zones = [(date("2026-01-01"), from), (date("2026-11-10"), to)];
        daily_across(&intervals, &zones, date("2026-11-01"), date("2026-11-30"), |_| true)
    }

    #[test]
    fn a_shift_over_a_move_east_is_counted_once() {
        use chrono_tz::{America::Chicago, Asia::Kolkata};
        // 02:00Z to 14:00Z on the 10th: in Kolkata, which took over at 18:30Z on the 9th.
        let totals = across_a_move(
            Chicago,
            Kolkata,
            ["2026-11-09T20:00:00-06:00", "2026-11-10T08:00:00-06:00"],
        );
        assert_eq!(totals.into_iter().collect::<Vec<_>>(), [(date("2026-11-10"), hours(12))]);

        // 12:00 to 20:00 Chicago time on the 9th: Kolkata takes over at 12:30.
        let totals = across_a_move(
            Chicago,
            Kolkata,
            ["2026-11-09T12:00:00-06:00", "2026-11-09T20:00:00-06:00"],
        );
        let expected = [
            (date("2026-11-09"), Duration::from_secs(1800)),
            (date("2026-11-10"), Duration::from_secs(7 * 3600 + 1800)),
        ];
        assert_eq!(totals.into_iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_shift_over_a_move_west_is_counted_whole_and_its_date_added_up() {
        use chrono_tz::{America::Chicago, Asia::Kolkata};
        // 14:30Z on the 9th to 02:30Z on the 10th: Kolkata's, which hands over to Chicago
        // only at 06:00Z on the 10th.
        let totals = across_a_move(
            Kolkata,
            Chicago,
            ["2026-11-09T20:00:00+05:30", "2026-11-10T08:00:00+05:30"],
        );
        let expected = [(date("2026-11-09"), hours(4)), (date("2026-11-10"), hours(8))];
        assert_eq!(totals.into_iter().collect::<Vec<_>>(), expected);

        // 05:30Z to 13:30Z on the 10th: half an hour of Kolkata's 10th (11:00 to 11:30),
        // then seven and a half of Chicago's (00:00 to 07:30), one date.
        let totals = across_a_move(
            Kolkata,
            Chicago,
            ["2026-11-10T11:00:00+05:30", "2026-11-10T19:00:00+05:30"],
        );
        assert_eq!(totals.into_iter().collect::<Vec<_>>(), [(date("2026-11-10"), hours(8))]);

        // 22:00 to 06:00 Chicago time from the 10th: wholly Chicago's, cut at its midnight.
        let totals = across_a_move(
            Kolkata,
            Chicago,
            ["2026-11-10T22:00:00-06:00", "2026-11-11T06:00:00-06:00"],
        );
        let expected = [(date("2026-11-10"), hours(2)), (date("2026-11-11"), hours(6))];
        assert_eq!(totals.into_iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_zone_that_takes_over_before_its_predecessor_leaves_it_nothing() {
        use chrono_tz::Pacific::{Kiritimati, Pago_Pago};
        // Pago Pago (-11:00) from the 10th would start at 11:00Z on the 10th; Kiritimati
        // (+14:00) from the 11th at 10:00Z on the 10th, an hour earlier. UTC keeps 08:00Z
        // to 11:00Z, then Kiritimati's 11th begins (at 01:00 there).
        let intervals = pair(
            &[
                punch("2026-11-10T08:00:00Z", Direction::In),
                punch("2026-11-10T16:00:00Z", Direction::Out),
            ],
            PairingRules::default(),
        );
        let zones = [
            (date("2026-01-01"), chrono_tz::UTC),
            (date("2026-11-10"), Pago_Pago),
            (date("2026-11-11"), Kiritimati),
        ];
        let totals =
            daily_across(&intervals, &zones, date("2026-11-01"), date("2026-11-30"), |_| true);
        let expected = [(date("2026-11-10"), hours(3)), (date("2026-11-11"), hours(5))];
        assert_eq!(totals.into_iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn the_zone_at_an_instant_follows_the_same_takeovers() {
        use chrono_tz::{America::Chicago, Asia::Kolkata};
        let zones = [(date("2026-01-01"), Chicago), (date("2026-11-10"), Kolkata)];
        let at = |s: &str| zone_at(&zones, s.parse().unwrap());
        assert_eq!(at("2020-01-01T00:00:00Z"), Chicago, "the first zone applies before its day");
        assert_eq!(at("2026-11-09T18:29:59Z"), Chicago);
        assert_eq!(at("2026-11-09T18:30:00Z"), Kolkata, "midnight of the 10th in Kolkata");
        assert_eq!(zone_at(&[], "2026-11-09T18:30:00Z".parse().unwrap()), chrono_tz::UTC);
    }

    #[test]
    fn the_days_of_an_interval_add_up_to_its_whole_seconds() {
        let chicago = chrono_tz::America::Chicago;
        let shifts = [
            ("2025-05-12T08:00:00.700-05:00", "2025-05-12T16:30:00.200-05:00"),
            ("2025-05-12T22:00:00.900-05:00", "2025-05-13T06:00:00.100-05:00"),
            ("2025-05-13T12:00:00.250-05:00", "2025-05-13T12:00:00.750-05:00"),
        ];
        let mut punches = Vec::new();
        for (start, end) in shifts {
            punches.push(punch(start, Direction::In));
            punches.push(punch(end, Direction::Out));
        }
        let intervals = pair(&punches, PairingRules::default());
        let each: Vec<i64> = intervals
            .iter()
            .map(|i| whole_seconds(i.start.as_ref().unwrap().at, i.end.as_ref().unwrap().at))
            .collect();
        assert_eq!(each, [30_600, 28_800, 0]);

        let totals = daily(&intervals, chicago, date("2025-05-12"), date("2025-05-13"), |_| true);
        let days: Vec<u64> = totals.values().map(Duration::as_secs).collect();
        // 08:00:00 to 16:30:00 and 22:00:00 to midnight; midnight to 06:00:00.
        assert_eq!(days, [30_600 + 7_200, 21_600]);
        assert_eq!(days.iter().sum::<u64>(), each.iter().sum::<i64>() as u64);
    }

    #[test]
    fn open_and_flagged_intervals_without_an_end_count_nothing() {
        let chicago = chrono_tz::America::Chicago;
        let intervals =
            pair(&[punch("2025-05-12T08:00:00-05:00", Direction::In)], PairingRules::default());
        assert!(
            daily(&intervals, chicago, date("2025-05-12"), date("2025-05-12"), |_| true).is_empty()
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clock_resumes() {
        // Santiago skipped 00:00-01:00 on 2022-09-11.
        let santiago = chrono_tz::America::Santiago;
        let start = day_start(date("2022-09-11"), santiago);
        assert_eq!(start.with_timezone(&santiago).to_rfc3339(), "2022-09-11T01:00:00-03:00");
    }
}
