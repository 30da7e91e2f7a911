//! Matching the weekly regular and overtime minutes mtime reports with what the commercial
//! clock counted: each of its pairs counts in the Monday week of its check-in.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeDelta};

use mtime_core::pairing::Flag;
use mtime_server::api::weeks::WeekRow;

use crate::export::ExpectedPair;

/// The outcome of matching weeks.
#[derive(Debug, Default)]
pub struct WeeksMatched {
    /// Employee-weeks where both figures agree to the minute.
    pub matched: usize,
    /// Employee-weeks that disagree but hold an interval mtime itself flagged over-long.
    pub excused: Vec<String>,
    /// Employee-weeks with punches, per the clock.
    pub expected: usize,
    /// Disagreements not excused, and weeks only one side has.
    pub problems: Vec<String>,
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    date - TimeDelta::days(i64::from(date.weekday().num_days_from_monday()))
}

/// Compares mtime's weeks with the clock's, week by week.
pub fn match_weeks(rows: &[WeekRow], expected: &[ExpectedPair]) -> WeeksMatched {
    let mut clock: BTreeMap<(String, NaiveDate), (u64, u64)> = BTreeMap::new();
    for pair in expected {
        let week = (pair.employee.clone(), monday_of(pair.in_local.date()));
        let sums = clock.entry(week).or_default();
        sums.0 += u64::from(pair.regular_minutes);
        sums.1 += u64::from(pair.overtime_minutes);
    }
    let ours: BTreeMap<(String, NaiveDate), &WeekRow> =
        rows.iter().map(|r| ((r.number.clone(), r.week_start), r)).collect();

    let mut out = WeeksMatched { expected: clock.len(), ..WeeksMatched::default() };
    for ((number, week), (regular, overtime)) in &clock {
        let label = format!("{number} week of {week}: clock regular {regular} overtime {overtime}");
        let Some(row) = ours.get(&(number.clone(), *week)) else {
            out.problems.push(format!("{label}; mtime has no such week"));
            continue;
        };
        let (our_regular, our_overtime) = (row.regular_seconds / 60, row.overtime_seconds / 60);
        let exact = row.regular_seconds % 60 == 0 && row.overtime_seconds % 60 == 0;
        let label = format!("{label}, mtime regular {our_regular} overtime {our_overtime}");
        if exact && (our_regular, our_overtime) == (*regular, *overtime) {
            out.matched += 1;
        } else if row.flags.contains(&Flag::OverLong) {
            out.excused.push(format!("{label} (mtime flagged an over-long interval)"));
        } else {
            out.problems.push(label);
        }
    }
    for (number, week) in ours.keys().filter(|k| !clock.contains_key(*k)) {
        out.problems
            .push(format!("{number} week of {week}: mtime counts a week the clock has not"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(employee: &str, day: &str, regular: u32, overtime: u32) -> ExpectedPair {
        let at = format!("{day}T08:00:00").parse().unwrap();
        ExpectedPair {
            employee: employee.into(),
            in_local: at,
            out_local: at,
            out_flag: None,
            regular_minutes: regular,
            overtime_minutes: overtime,
        }
    }

    fn row(number: &str, week: &str, regular: u64, overtime: u64, flags: Vec<Flag>) -> WeekRow {
        WeekRow {
            employee_id: mtime_core::ids::EmployeeId::random(),
            number: number.into(),
            employment_terms: "FT40".into(),
            week_start: week.parse().unwrap(),
            week_end: week.parse::<chrono::NaiveDate>().unwrap() + chrono::TimeDelta::days(6),
            weekly_norm_minutes: 2400,
            worked_seconds: (regular + overtime) * 60,
            regular_seconds: regular * 60,
            overtime_seconds: overtime * 60,
            flags,
            complete: true,
        }
    }

    #[test]
    fn weeks_match_are_excused_only_by_an_over_long_flag_or_fail() {
        let clock = [
            pair("E01", "2025-05-12", 2000, 0),
            pair("E01", "2025-05-16", 400, 30), // Friday: same week
            pair("E02", "2025-05-13", 300, 0),
            pair("E03", "2025-05-20", 100, 0),
        ];
        let rows = [
            row("E01", "2025-05-12", 2400, 30, vec![]),
            row("E02", "2025-05-12", 310, 0, vec![Flag::OverLong]),
            row("E03", "2025-05-19", 90, 0, vec![Flag::MissingCheckOut]),
            row("E04", "2025-05-19", 60, 0, vec![]),
        ];
        let result = match_weeks(&rows, &clock);
        assert_eq!(result.expected, 3);
        assert_eq!(result.matched, 1);
        assert_eq!(result.excused.len(), 1, "{:?}", result.excused);
        assert_eq!(result.problems.len(), 2, "{:?}", result.problems);
        assert!(result.problems[0].starts_with("E03"));
        assert!(result.problems[1].starts_with("E04"));
    }
}
