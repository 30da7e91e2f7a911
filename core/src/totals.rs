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

/// Time present per local day from `from` to `to` (both included), counting only intervals
/// with both ends and for which `counts` is true. Days without presence are absent.
pub fn daily(
    intervals: &[Interval],
    zone: Tz,
    from: NaiveDate,
    to: NaiveDate,
    counts: impl Fn(&Interval) -> bool,
) -> BTreeMap<NaiveDate, Duration> {
    let mut totals = BTreeMap::new();
    let (Some(range_start), Some(after_end)) = (Some(day_start(from, zone)), to.succ_opt()) else {
        return totals;
    };
    let range_end = day_start(after_end, zone);

    for interval in intervals.iter().filter(|i| counts(i)) {
        let (Some(start), Some(end)) = (&interval.start, &interval.end) else { continue };
        let (mut at, end) = (start.at.max(range_start), end.at.min(range_end));
        while at < end {
            let date = at.with_timezone(&zone).date_naive();
            let next_day = date.succ_opt().map_or(end, |d| day_start(d, zone));
            let until = next_day.min(end);
            if let Ok(span) = (until - at).to_std() {
                *totals.entry(date).or_insert(Duration::ZERO) += span;
            }
            at = until;
        }
    }
    totals
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
