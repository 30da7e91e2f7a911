//! The norm-aware week counter: worked time per week split into regular time up to a
//! weekly norm and overtime beyond it. It is the first plugin of the rule engine; its
//! configuration ([`WeeklyNorm`]) is what employment terms carry.
//!
//! Weeks are local: they start at local midnight of the configured weekday in the zone
//! each day was worked in, and take their worked time from [`crate::totals::daily`], so a
//! night shift counts on the days (and weeks) it covers and DST nights count as lived.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::pairing::{Flag, Interval};

/// The counter's configuration: the weekly norm and the day weeks start on.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyNorm {
    /// Regular minutes per week; worked time beyond them is overtime. 1 to 10,080.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 10_080)))]
    pub weekly_norm_minutes: u32,
    /// The first day of a week.
    pub week_start: WeekStart,
    /// Counts each punch from the start of its slot of this many local minutes, as clocks
    /// that count whole minutes do (1: seconds are dropped); 0, the default, counts
    /// instants exactly. At most 60.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 60)))]
    pub punch_rounding_minutes: u32,
}

/// A weekday, as configuration spells it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum WeekStart {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl From<WeekStart> for Weekday {
    fn from(day: WeekStart) -> Self {
        match day {
            WeekStart::Monday => Weekday::Mon,
            WeekStart::Tuesday => Weekday::Tue,
            WeekStart::Wednesday => Weekday::Wed,
            WeekStart::Thursday => Weekday::Thu,
            WeekStart::Friday => Weekday::Fri,
            WeekStart::Saturday => Weekday::Sat,
            WeekStart::Sunday => Weekday::Sun,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NormError(String);

/// One employee's week, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekCount {
    /// The week's first local day.
    pub week_start: NaiveDate,
    /// Worked time in the week.
    pub worked: Duration,
    /// Worked time up to the norm.
    pub regular: Duration,
    /// Worked time beyond the norm.
    pub overtime: Duration,
    /// What was flagged on intervals in the week: their time counts as recorded until an
    /// admin corrects them.
    pub flags: BTreeSet<Flag>,
}

impl WeeklyNorm {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), NormError> {
        if !(1..=10_080).contains(&self.weekly_norm_minutes) {
            return Err(NormError(format!(
                "the weekly norm must be between 1 and 10080 minutes, not {}",
                self.weekly_norm_minutes
            )));
        }
        if self.punch_rounding_minutes > 60 {
            return Err(NormError(format!(
                "punch rounding must be between 0 and 60 minutes, not {}",
                self.punch_rounding_minutes
            )));
        }
        Ok(())
    }

    /// `intervals` with every punch moved to the start of its rounding slot in local
    /// time (`zone_at` names the zone at an instant); unchanged without rounding.
    pub fn round(
        &self,
        intervals: &[Interval],
        zone_at: impl Fn(DateTime<Utc>) -> Tz,
    ) -> Vec<Interval> {
        let mut out = intervals.to_vec();
        if self.punch_rounding_minutes == 0 {
            return out;
        }
        let slot = i64::from(self.punch_rounding_minutes) * 60;
        let round = |at: DateTime<Utc>| {
            // Slots are local: the offset in force at the instant decides where they start.
            let offset = i64::from(
                zone_at(at).offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc(),
            );
            let local = at.timestamp() + offset;
            let start = local - local.rem_euclid(slot) - offset;
            DateTime::from_timestamp(start, 0).unwrap_or(at)
        };
        for interval in &mut out {
            for punch in [&mut interval.start, &mut interval.end].into_iter().flatten() {
                punch.at = round(punch.at);
            }
        }
        out
    }

    /// The norm as a duration.
    pub fn norm(&self) -> Duration {
        Duration::from_secs(u64::from(self.weekly_norm_minutes) * 60)
    }

    /// The first day of the week holding `date`.
    pub fn week_of(&self, date: NaiveDate) -> NaiveDate {
        let start = Weekday::from(self.week_start);
        let back = (7 + date.weekday().num_days_from_monday() - start.num_days_from_monday()) % 7;
        date - TimeDelta::days(i64::from(back))
    }

    /// One week that began on `week_start`, `worked` split by the norm.
    pub fn week(
        &self,
        week_start: NaiveDate,
        worked: Duration,
        flags: BTreeSet<Flag>,
    ) -> WeekCount {
        let norm = self.norm();
        WeekCount {
            week_start,
            worked,
            regular: worked.min(norm),
            overtime: worked.saturating_sub(norm),
            flags,
        }
    }
}

/// The weeks of one employee's calendar, each as (first day, last day), from the norm in
/// force on each day that has one (`norms`, in date order). No day lies in two weeks, so
/// no hour is counted twice when the day weeks start on changes:
///
/// - a day that starts a week by its own norm starts one;
/// - any other day continues the week before it, if the day before had a norm, or if it
///   lies within seven days of that week's start; otherwise it begins the week its norm
///   puts it in, though never before the seventh day after the last week's start nor on a
///   day the last week holds;
/// - a week ends the day before the next begins, or after seven days (or its last day with
///   a norm, if later) when none follows at once.
///
/// So a change of the day weeks start on leaves the week in progress to run until the new
/// norm starts one: such a week lasts from one to thirteen days (longer only if the day
/// changes again before that).
pub fn calendar<'a>(
    norms: impl IntoIterator<Item = (NaiveDate, &'a WeeklyNorm)>,
) -> Vec<(NaiveDate, NaiveDate)> {
    // Each week's start and the last day with a norm given to it.
    let mut weeks: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut day_before: Option<NaiveDate> = None;
    for (day, norm) in norms {
        let own = norm.week_of(day);
        let continues = day_before.and_then(|d| d.succ_opt()) == Some(day);
        day_before = Some(day);
        let start = match weeks.last() {
            _ if own == day => day,
            Some(&(last, _)) if continues || day <= last + TimeDelta::days(6) => last,
            Some(&(last, last_day)) => {
                own.max(last + TimeDelta::days(7)).max(last_day + TimeDelta::days(1))
            }
            None => own,
        };
        match weeks.last_mut() {
            Some(week) if week.0 == start => week.1 = day,
            _ => weeks.push((start, day)),
        }
    }

    let next_starts: Vec<Option<NaiveDate>> =
        weeks.iter().skip(1).map(|(start, _)| Some(*start)).chain([None]).collect();
    weeks
        .iter()
        .zip(next_starts)
        .map(|(&(start, last_day), next)| {
            let full = (start + TimeDelta::days(6)).max(last_day);
            let end = next.and_then(|n| n.pred_opt()).map_or(full, |before| before.min(full));
            (start, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::event::Direction;
    use crate::ids::{EventId, KioskId};
    use crate::pairing::{PairingRules, Punch, PunchOrigin, pair};
    use crate::totals::daily;

    fn punch(at: DateTime<Utc>, direction: Direction) -> Punch {
        Punch {
            event: EventId::random(),
            at,
            direction,
            reason: "WORK".parse().unwrap(),
            origin: PunchOrigin::Kiosk { kiosk: KioskId::random(), seq: 1 },
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const MINUTE: Duration = Duration::from_secs(60);

    /// Every week of `norm`'s calendar that holds worked time or a flag, as the weekly
    /// report counts them.
    fn count(
        norm: &WeeklyNorm,
        days: &BTreeMap<NaiveDate, Duration>,
        flags: &BTreeMap<NaiveDate, BTreeSet<Flag>>,
    ) -> Vec<WeekCount> {
        let dates = days.keys().chain(flags.keys());
        let (Some(first), Some(last)) = (dates.clone().min(), dates.max()) else {
            return Vec::new();
        };
        let span = first.iter_days().take_while(|d| d <= last).map(|d| (d, norm));
        let mut weeks = Vec::new();
        for (start, end) in calendar(span.collect::<Vec<_>>()) {
            let worked = days.range(start..=end).map(|(_, d)| *d).sum();
            let held: BTreeSet<Flag> =
                flags.range(start..=end).flat_map(|(_, f)| f.iter().copied()).collect();
            if days.range(start..=end).next().is_some() || !held.is_empty() {
                weeks.push(norm.week(start, worked, held));
            }
        }
        weeks
    }

    #[test]
    fn a_week_starts_on_its_configured_day() {
        let monday = WeeklyNorm {
            weekly_norm_minutes: 2400,
            week_start: WeekStart::Monday,
            punch_rounding_minutes: 0,
        };
        assert_eq!(monday.week_of(date("2025-05-12")), date("2025-05-12")); // a Monday
        assert_eq!(monday.week_of(date("2025-05-18")), date("2025-05-12")); // Sunday
        let sunday = WeekStart::Sunday;
        let sunday = WeeklyNorm { week_start: sunday, ..monday };
        assert_eq!(sunday.week_of(date("2025-05-17")), date("2025-05-11"));
        assert_eq!(sunday.week_of(date("2025-05-18")), date("2025-05-18"));
        assert!(WeeklyNorm { weekly_norm_minutes: 0, ..monday }.validate().is_err());
        assert!(WeeklyNorm { weekly_norm_minutes: 10_081, ..monday }.validate().is_err());
    }

    /// Five days of 8 h 03 min, Monday to Friday, and a 4 h 10 min Saturday, at a site in
    /// Chicago, against a 37.5-hour norm: 40 h 15 min + 4 h 10 min = 44 h 25 min worked
    /// (2,665 minutes); regular 2,250 minutes, overtime 2,665 − 2,250 = 415 minutes.
    #[test]
    fn a_37_and_a_half_hour_norm_splits_a_week_by_hand() {
        let chicago = chrono_tz::America::Chicago;
        let mut punches = Vec::new();
        for day in 12..=16 {
            let start = chicago.with_ymd_and_hms(2025, 5, day, 7, 0, 0).unwrap().to_utc();
            punches.push(punch(start, Direction::In));
            punches.push(punch(start + TimeDelta::minutes(8 * 60 + 3), Direction::Out));
        }
        let saturday = chicago.with_ymd_and_hms(2025, 5, 17, 8, 0, 0).unwrap().to_utc();
        punches.push(punch(saturday, Direction::In));
        punches.push(punch(saturday + TimeDelta::minutes(250), Direction::Out));

        let intervals = pair(&punches, PairingRules::default());
        let days = daily(&intervals, chicago, date("2025-05-12"), date("2025-05-18"), |_| true);
        let norm = WeeklyNorm {
            weekly_norm_minutes: 2250,
            week_start: WeekStart::Monday,
            punch_rounding_minutes: 0,
        };
        let weeks = count(&norm, &days, &BTreeMap::new());
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0].week_start, date("2025-05-12"));
        assert_eq!(weeks[0].worked, 2665 * MINUTE);
        assert_eq!(weeks[0].regular, 2250 * MINUTE);
        assert_eq!(weeks[0].overtime, 415 * MINUTE);
        assert!(weeks[0].flags.is_empty());
    }

    /// A night shift from Sunday 22:00 to Monday 06:00 (Monday weeks): two hours count in
    /// the week that ends on Sunday, six in the next.
    #[test]
    fn a_night_shift_across_the_week_boundary_counts_in_both_weeks() {
        let chicago = chrono_tz::America::Chicago;
        let start = chicago.with_ymd_and_hms(2025, 5, 18, 22, 0, 0).unwrap().to_utc();
        let punches =
            [punch(start, Direction::In), punch(start + TimeDelta::hours(8), Direction::Out)];
        let intervals = pair(&punches, PairingRules::default());
        let days = daily(&intervals, chicago, date("2025-05-12"), date("2025-05-25"), |_| true);
        let norm = WeeklyNorm {
            weekly_norm_minutes: 60,
            week_start: WeekStart::Monday,
            punch_rounding_minutes: 0,
        };
        let weeks = count(&norm, &days, &BTreeMap::new());
        let shape: Vec<(NaiveDate, u64, u64)> = weeks
            .iter()
            .map(|w| (w.week_start, w.regular.as_secs() / 60, w.overtime.as_secs() / 60))
            .collect();
        assert_eq!(shape, vec![(date("2025-05-12"), 60, 60), (date("2025-05-19"), 60, 300)]);
    }

    /// The night DST ends in Europe/Oslo (2025-10-26, 03:00 → 02:00): 22:00 to 06:00 local
    /// is nine hours lived, and the week counts nine.
    #[test]
    fn a_night_that_gains_an_hour_counts_it_in_the_week() {
        let oslo = chrono_tz::Europe::Oslo;
        let start = oslo.with_ymd_and_hms(2025, 10, 25, 22, 0, 0).unwrap().to_utc();
        let end = oslo.with_ymd_and_hms(2025, 10, 26, 6, 0, 0).unwrap().to_utc();
        let punches = [punch(start, Direction::In), punch(end, Direction::Out)];
        let intervals = pair(&punches, PairingRules::default());
        let days = daily(&intervals, oslo, date("2025-10-20"), date("2025-10-26"), |_| true);
        let norm = WeeklyNorm {
            weekly_norm_minutes: 480,
            week_start: WeekStart::Monday,
            punch_rounding_minutes: 0,
        };
        let weeks = count(&norm, &days, &BTreeMap::new());
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0].worked, 9 * 60 * MINUTE);
        assert_eq!(weeks[0].overtime, 60 * MINUTE);
    }

    /// 15-minute slots in Asia/Kathmandu (UTC+05:45) start at local :00, :15, :30, :45:
    /// 08:14:59 local counts from 08:00, 17:29 from 17:15. One-minute slots drop seconds.
    #[test]
    fn rounding_uses_local_slots_even_at_a_non_hour_offset() {
        let kathmandu = chrono_tz::Asia::Kathmandu;
        let at = |h, m, s| kathmandu.with_ymd_and_hms(2025, 5, 12, h, m, s).unwrap().to_utc();
        let punches = [punch(at(8, 14, 59), Direction::In), punch(at(17, 29, 0), Direction::Out)];
        let intervals = pair(&punches, PairingRules::default());
        let mut norm = WeeklyNorm {
            weekly_norm_minutes: 2400,
            week_start: WeekStart::Monday,
            punch_rounding_minutes: 15,
        };
        let rounded = norm.round(&intervals, |_| kathmandu);
        let ends = |i: &Interval| (i.start.as_ref().unwrap().at, i.end.as_ref().unwrap().at);
        assert_eq!(ends(&rounded[0]), (at(8, 0, 0), at(17, 15, 0)));

        norm.punch_rounding_minutes = 1;
        let rounded = norm.round(&intervals, |_| kathmandu);
        assert_eq!(ends(&rounded[0]), (at(8, 14, 0), at(17, 29, 0)));
        norm.punch_rounding_minutes = 0;
        assert_eq!(norm.round(&intervals, |_| kathmandu), intervals);
        norm.punch_rounding_minutes = 61;
        assert!(norm.validate().is_err());
    }

    fn norm(week_start: WeekStart) -> WeeklyNorm {
        WeeklyNorm { weekly_norm_minutes: 600, week_start, punch_rounding_minutes: 0 }
    }

    /// The calendar of September 2026 (the 7th a Monday) under `first` until `change`, and
    /// under `then` from it.
    fn september(first: WeekStart, change: &str, then: WeekStart) -> Vec<(String, String)> {
        let (first, then) = (norm(first), norm(then));
        let days = date("2026-09-01").iter_days().take_while(|d| *d <= date("2026-09-30"));
        let norms: Vec<(NaiveDate, &WeeklyNorm)> =
            days.map(|d| (d, if d < date(change) { &first } else { &then })).collect();
        let weeks = calendar(norms);
        weeks.into_iter().map(|(from, to)| (from.to_string(), to.to_string())).collect()
    }

    fn spans(weeks: &[(&str, &str)]) -> Vec<(String, String)> {
        weeks.iter().map(|(from, to)| ((*from).to_owned(), (*to).to_owned())).collect()
    }

    #[test]
    fn a_calendar_without_changes_is_whole_weeks() {
        use WeekStart::Monday;
        let weeks = september(Monday, "2026-12-01", Monday);
        let expected = [
            ("2026-08-31", "2026-09-06"),
            ("2026-09-07", "2026-09-13"),
            ("2026-09-14", "2026-09-20"),
            ("2026-09-21", "2026-09-27"),
            ("2026-09-28", "2026-10-04"),
        ];
        assert_eq!(weeks, spans(&expected));
    }

    #[test]
    fn a_change_of_start_day_lets_the_week_in_progress_run_until_the_new_one_starts() {
        use WeekStart::{Monday, Sunday, Tuesday};
        // From Wednesday the 9th weeks start on Sunday: the week of Monday the 7th runs to
        // Saturday the 12th.
        let weeks = september(Monday, "2026-09-09", Sunday);
        let expected = [
            ("2026-08-31", "2026-09-06"),
            ("2026-09-07", "2026-09-12"),
            ("2026-09-13", "2026-09-19"),
            ("2026-09-20", "2026-09-26"),
            ("2026-09-27", "2026-10-03"),
        ];
        assert_eq!(weeks, spans(&expected));

        // From Monday the 7th weeks start on Tuesday: the week of Monday the 31st runs
        // eight days, to the 7th.
        let weeks = september(Monday, "2026-09-07", Tuesday);
        assert_eq!(
            weeks[..2],
            spans(&[("2026-08-31", "2026-09-07"), ("2026-09-08", "2026-09-14")])
        );
    }

    #[test]
    fn no_day_lies_in_two_weeks_however_the_norms_change() {
        let starts = [
            WeekStart::Monday,
            WeekStart::Tuesday,
            WeekStart::Wednesday,
            WeekStart::Thursday,
            WeekStart::Friday,
            WeekStart::Saturday,
            WeekStart::Sunday,
        ];
        let norms: Vec<WeeklyNorm> = starts.iter().map(|s| norm(*s)).collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut dice = |sides: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % sides
        };
        for _ in 0..300 {
            // Runs of days with one norm, some days without any between them.
            let mut days: Vec<(NaiveDate, &WeeklyNorm)> = Vec::new();
            let mut day = date("2026-01-01") + TimeDelta::days(dice(7) as i64);
            for _ in 0..1 + dice(6) {
                let norm = &norms[dice(7) as usize];
                for _ in 0..1 + dice(20) {
                    days.push((day, norm));
                    day += TimeDelta::days(1);
                }
                day += TimeDelta::days(dice(3) as i64 * dice(9) as i64);
            }

            let weeks = calendar(days.iter().copied());
            for pair in weeks.windows(2) {
                assert!(pair[0].1 < pair[1].0, "{pair:?} overlap in {days:?}");
            }
            for (from, to) in &weeks {
                // Longer than seven days only over a change of the day weeks start on.
                let length = (*to - *from).num_days() + 1;
                let mut starts = days.iter().filter(|(d, _)| from <= d && d <= to);
                let first = starts.next().map(|(_, n)| n.week_start);
                let changed = starts.any(|(_, n)| Some(n.week_start) != first);
                assert!(length >= 1 && (length <= 7 || changed), "{from}..{to} in {days:?}");
            }
            for (day, norm) in &days {
                let holding = weeks.iter().filter(|(from, to)| from <= day && day <= to).count();
                assert_eq!(holding, 1, "{day} in {weeks:?}");
                if norm.week_of(*day) == *day {
                    assert!(weeks.iter().any(|(from, _)| from == day), "{day} starts a week");
                }
            }
        }
    }

    #[test]
    fn flags_mark_their_week_even_without_worked_time() {
        let norm = WeeklyNorm {
            weekly_norm_minutes: 2400,
            week_start: WeekStart::Monday,
            punch_rounding_minutes: 0,
        };
        let flags = BTreeMap::from([(date("2025-05-14"), BTreeSet::from([Flag::OverLong]))]);
        let days = BTreeMap::from([(date("2025-05-20"), 30 * MINUTE)]);
        let weeks = count(&norm, &days, &flags);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].flags, BTreeSet::from([Flag::OverLong]));
        assert_eq!(weeks[0].worked, Duration::ZERO);
        assert!(weeks[1].flags.is_empty());
    }
}
