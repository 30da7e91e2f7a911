//! Reading a time-clock export: employees, taps and the pairs the clock made of them.
//!
//! Local times are resolved in the site's zone; a local time that does not exist there
//! (the skipped DST hour) or that happened twice (the repeated hour) is refused with the
//! file and row named, since guessing would put a punch an hour off.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use mtime_core::badge::BadgeUid;
use mtime_core::event::Direction;
use mtime_core::zone::resolve_local;

/// The export in the repository, embedded so the demo runs from any directory.
pub const EMBEDDED: [(&str, &str); 3] = [
    ("employees.csv", include_str!("../../../testdata/timeclock-export/employees.csv")),
    ("taps.csv", include_str!("../../../testdata/timeclock-export/taps.csv")),
    ("expected_pairs.csv", include_str!("../../../testdata/timeclock-export/expected_pairs.csv")),
];

/// One employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    /// Their number, such as `E01`.
    pub number: String,
    /// Their badge.
    pub badge: BadgeUid,
}

/// Whether a punch was made at a clock or entered by an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A tap at a kiosk.
    Tap,
    /// An admin's correction, replayed through the API.
    AdminEdit,
}

/// One punch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tap {
    /// The row number in the file (1 = first data row).
    pub row: usize,
    /// The local minute as written.
    pub local: NaiveDateTime,
    /// That minute as an instant.
    pub minute: DateTime<Utc>,
    /// The employee.
    pub employee: String,
    /// Their badge.
    pub badge: BadgeUid,
    /// The key pressed.
    pub direction: Direction,
    /// Tap or admin edit.
    pub source: Source,
    /// The admin's note.
    pub note: Option<String>,
}

/// One pair the clock made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPair {
    /// The employee.
    pub employee: String,
    /// Check-in, local minute.
    pub in_local: NaiveDateTime,
    /// Check-out, local minute.
    pub out_local: NaiveDateTime,
    /// `edited` when an admin entered the out punch.
    pub out_flag: Option<String>,
    /// The regular minutes the clock counted for the pair.
    pub regular_minutes: u32,
    /// The weekly overtime minutes the clock counted for the pair.
    pub overtime_minutes: u32,
}

/// A whole export.
#[derive(Debug, Clone)]
pub struct Export {
    /// Employees.
    pub employees: Vec<Employee>,
    /// Punches in file order.
    pub taps: Vec<Tap>,
    /// The clock's pairs.
    pub expected: Vec<ExpectedPair>,
}

#[derive(Deserialize)]
struct EmployeeRow {
    employee: String,
    badge_uid: String,
}

#[derive(Deserialize)]
struct TapRow {
    local_time: String,
    employee: String,
    badge_uid: String,
    direction: String,
    source: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
struct PairRow {
    employee: String,
    in_local: String,
    out_local: String,
    regular_minutes: u32,
    weekly_overtime_minutes: u32,
    #[serde(default)]
    out_flag: String,
}

const MINUTE: &str = "%Y-%m-%dT%H:%M";

fn rows<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> anyhow::Result<Vec<(usize, T)>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, row) in reader.deserialize().enumerate() {
        let row: T = row.with_context(|| format!("{file} row {}", i + 1))?;
        out.push((i + 1, row));
    }
    Ok(out)
}

fn local(file: &str, row: usize, text: &str) -> anyhow::Result<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, MINUTE).with_context(|| {
        format!("{file} row {row}: {text:?} is not a local time like 2025-05-12T07:54")
    })
}

impl Export {
    /// Reads the three files from `dir`, or the embedded export when `dir` is `None`.
    pub fn load(dir: Option<&Path>, zone: Tz) -> anyhow::Result<Self> {
        let read = |name: &str| -> anyhow::Result<String> {
            match dir {
                Some(dir) => std::fs::read_to_string(dir.join(name))
                    .with_context(|| format!("reading {}", dir.join(name).display())),
                None => Ok(EMBEDDED
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default()),
            }
        };
        Self::parse(&read("employees.csv")?, &read("taps.csv")?, &read("expected_pairs.csv")?, zone)
    }

    /// Parses the three files' contents.
    pub fn parse(employees: &str, taps: &str, pairs: &str, zone: Tz) -> anyhow::Result<Self> {
        let employees = rows::<EmployeeRow>("employees.csv", employees)?
            .into_iter()
            .map(|(row, e)| {
                let badge =
                    e.badge_uid.parse().with_context(|| format!("employees.csv row {row}"))?;
                Ok(Employee { number: e.employee, badge })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;

        let mut parsed = Vec::new();
        for (row, t) in rows::<TapRow>("taps.csv", taps)? {
            let local = local("taps.csv", row, &t.local_time)?;
            let minute =
                resolve_local(local, zone).with_context(|| format!("taps.csv row {row}"))?;
            let direction =
                t.direction.parse().map_err(|e| anyhow::anyhow!("taps.csv row {row}: {e}"))?;
            let source = match t.source.as_str() {
                "tap" => Source::Tap,
                "admin_edit" => Source::AdminEdit,
                other => {
                    bail!("taps.csv row {row}: source {other:?} is neither tap nor admin_edit")
                }
            };
            let badge = t.badge_uid.parse().with_context(|| format!("taps.csv row {row}"))?;
            if !employees.iter().any(|e| e.number == t.employee) {
                bail!("taps.csv row {row}: employee {:?} is not in employees.csv", t.employee);
            }
            let note = Some(t.note).filter(|n| !n.is_empty());
            parsed.push(Tap {
                row,
                local,
                minute,
                employee: t.employee,
                badge,
                direction,
                source,
                note,
            });
        }

        let mut expected = Vec::new();
        for (row, p) in rows::<PairRow>("expected_pairs.csv", pairs)? {
            expected.push(ExpectedPair {
                in_local: local("expected_pairs.csv", row, &p.in_local)?,
                out_local: local("expected_pairs.csv", row, &p.out_local)?,
                employee: p.employee,
                out_flag: Some(p.out_flag).filter(|f| !f.is_empty()),
                regular_minutes: p.regular_minutes,
                overtime_minutes: p.weekly_overtime_minutes,
            });
        }
        Ok(Self { employees, taps: parsed, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPLOYEES: &str = "employee,badge_uid,department\nE01,04E87577DE9811,D\n";

    #[test]
    fn the_embedded_export_loads_whole() {
        let export = Export::load(None, chrono_tz::America::Chicago).unwrap();
        assert_eq!(export.employees.len(), 18);
        assert_eq!(export.taps.len(), 660);
        assert_eq!(export.expected.len(), 330);
        assert_eq!(export.taps.iter().filter(|t| t.source == Source::AdminEdit).count(), 2);
        assert_eq!(export.taps[0].minute.to_rfc3339(), "2025-05-12T12:54:00+00:00");
    }

    /// The error a single-tap export gets, as text.
    fn refusal(taps: &str) -> String {
        let taps = format!("local_time,employee,badge_uid,direction,source,note\n{taps}");
        let pairs = "employee,in_local,out_local\n";
        let err = Export::parse(EMPLOYEES, &taps, pairs, chrono_tz::America::Chicago).unwrap_err();
        format!("{err:#}")
    }

    #[test]
    fn a_skipped_local_time_is_refused_naming_the_row() {
        let text = refusal(
            "2025-03-09T01:59,E01,04E87577DE9811,in,tap,\n\
             2025-03-09T02:30,E01,04E87577DE9811,out,tap,\n",
        );
        assert!(text.contains("taps.csv row 2") && text.contains("does not exist"), "{text}");
    }

    #[test]
    fn a_repeated_local_time_is_refused_naming_the_row() {
        let text = refusal("2025-11-02T01:30,E01,04E87577DE9811,in,tap,\n");
        assert!(text.contains("taps.csv row 1") && text.contains("ambiguous"), "{text}");
    }
}
