//! Matching the intervals read back through the API with the pairs the commercial clock
//! made, in local time truncated to the minute.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Timelike};
use chrono_tz::Tz;

use mtime_server::api::timesheet::IntervalView;

use crate::export::ExpectedPair;

/// An interval read back, with its employee's number.
#[derive(Debug)]
pub struct ReadBack {
    /// The employee.
    pub number: String,
    /// The interval.
    pub interval: IntervalView,
}

/// The outcome of matching.
#[derive(Debug, Default)]
pub struct Matched {
    /// Expected pairs found.
    pub matched: usize,
    /// Expected pairs in all.
    pub expected: usize,
    /// Intervals read back that match no expected pair.
    pub extra: Vec<String>,
    /// Expected pairs not found.
    pub missing: Vec<String>,
    /// Expected edited pairs that came back with the correction's author and note.
    pub corrections_ok: usize,
    /// Expected edited pairs.
    pub corrections_expected: usize,
    /// Problems with corrections.
    pub correction_problems: Vec<String>,
}

fn minute(at: DateTime<FixedOffset>, zone: Tz) -> NaiveDateTime {
    let local = at.with_timezone(&zone).naive_local();
    local.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(local)
}

type Key = (String, NaiveDateTime, NaiveDateTime);

/// Matches `read` against `expected` one to one. `notes` gives, per (employee, out
/// minute), the note an admin entered with a correction.
pub fn match_pairs(
    read: &[ReadBack],
    expected: &[ExpectedPair],
    notes: &HashMap<(String, NaiveDateTime), Option<String>>,
    zone: Tz,
) -> Matched {
    let mut want: HashMap<Key, Vec<&ExpectedPair>> = HashMap::new();
    for pair in expected {
        want.entry((pair.employee.clone(), pair.in_local, pair.out_local)).or_default().push(pair);
    }
    let mut result = Matched { expected: expected.len(), ..Matched::default() };

    for item in read {
        let i = &item.interval;
        let key = i
            .start
            .zip(i.end)
            .map(|(s, e)| (item.number.clone(), minute(s, zone), minute(e, zone)));
        let found = key.as_ref().and_then(|k| want.get_mut(k)).and_then(Vec::pop);
        let Some(pair) = found else {
            result.extra.push(format!(
                "{} {:?} → {:?} flags {:?}",
                item.number,
                i.start.map(|s| minute(s, zone)),
                i.end.map(|e| minute(e, zone)),
                i.flags
            ));
            continue;
        };
        result.matched += 1;

        if pair.out_flag.as_deref() == Some("edited") {
            result.corrections_expected += 1;
            let note = notes.get(&(pair.employee.clone(), pair.out_local)).cloned().flatten();
            match i.corrections.iter().find(|c| c.punch == "end") {
                Some(c) if c.author.is_empty() => result.correction_problems.push(format!(
                    "{} {}: correction without author",
                    pair.employee, pair.out_local
                )),
                Some(c) if c.note != note => result.correction_problems.push(format!(
                    "{} {}: note {:?}, expected {:?}",
                    pair.employee, pair.out_local, c.note, note
                )),
                Some(_) => result.corrections_ok += 1,
                None => result
                    .correction_problems
                    .push(format!("{} {}: not marked as corrected", pair.employee, pair.out_local)),
            }
        }
    }

    for (key, left) in want {
        for _ in left {
            result.missing.push(format!("{} {} → {}", key.0, key.1, key.2));
        }
    }
    result.missing.sort();
    result
}
