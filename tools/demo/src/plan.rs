//! The replay plan: which kiosk takes each tap and at which second, when the network to
//! one kiosk is cut and restored, and when the API is read during the outage.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use mtime_core::event::Direction;
use mtime_core::zone::resolve_local;

use crate::export::{Export, Source};

/// The kiosk whose network is cut.
pub const CUT_KIOSK: usize = 1;
/// The kiosk whose key is replaced during the run.
pub const ROTATED_KIOSK: usize = 0;
/// The kiosk that boots one morning without a clock.
pub const UNSET_KIOSK: usize = 0;

/// One thing that happens in the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A badge tap at a kiosk: `taps[index]`.
    Tap {
        /// Index into the export's taps.
        index: usize,
        /// 0 or 1.
        kiosk: usize,
    },
    /// An admin's correction through the API: `taps[index]`.
    Correction {
        /// Index into the export's taps.
        index: usize,
    },
    /// The network to [`CUT_KIOSK`] goes down.
    CutNetwork,
    /// Read the API while the network is down.
    CheckDuringOutage,
    /// The network comes back.
    RestoreNetwork,
    /// An admin asks the kiosk that stays online ([`ROTATED_KIOSK`]) to replace its key.
    RotateKey,
    /// [`UNSET_KIOSK`] restarts as a new boot whose clock reads 1970 until the instant given.
    RebootWithoutClock {
        /// When its clock is set.
        until: DateTime<Utc>,
    },
}

/// The plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Steps in time order.
    pub steps: Vec<(DateTime<Utc>, Step)>,
    /// When the replay starts: noon the day before the first punch.
    pub start: DateTime<Utc>,
    /// The weekday the outage covers whole.
    pub outage_day: NaiveDate,
}

/// The kiosk a punch goes to. Stable: it depends only on the employee, the day and the
/// direction. Employees with an odd number check in at one kiosk and out at the other;
/// everyone changes kiosk from one day to the next; on any day about half the employees
/// start at each kiosk.
pub fn kiosk_for(employee: &str, day: NaiveDate, direction: Direction) -> usize {
    let digits: String = employee.chars().filter(char::is_ascii_digit).collect();
    // Numbers without digits get a stable hash instead (FNV-1a).
    let n = digits.parse::<u64>().unwrap_or_else(|_| {
        employee
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    });
    let switch = u64::from(direction == Direction::Out && n % 2 == 1);
    ((n + n / 2 + u64::from(day.ordinal()) + switch) % 2) as usize
}

fn at_local(day: NaiveDate, hour: u32, zone: Tz) -> anyhow::Result<DateTime<Utc>> {
    let time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default();
    Ok(resolve_local(day.and_time(time), zone)?)
}

/// Makes the plan for `export` in `zone`.
pub fn plan(export: &Export, zone: Tz) -> anyhow::Result<Plan> {
    let Some(first) = export.taps.iter().map(|t| t.minute).min() else {
        anyhow::bail!("taps.csv holds no punches");
    };
    let mut steps = Vec::new();

    // Taps that share a minute keep their file order, spread over its seconds.
    let mut i = 0;
    while i < export.taps.len() {
        let minute = export.taps[i].minute;
        let group: Vec<usize> = (i..export.taps.len())
            .take_while(|&j| export.taps[j].minute == minute)
            .filter(|&j| export.taps[j].source == Source::Tap)
            .collect();
        let end =
            (i..export.taps.len()).take_while(|&j| export.taps[j].minute == minute).count() + i;
        for (k, &index) in group.iter().enumerate() {
            let second = (k * 60 / group.len()) as i64;
            let tap = &export.taps[index];
            let kiosk = kiosk_for(&tap.employee, tap.local.date(), tap.direction);
            steps.push((minute + Duration::seconds(second), Step::Tap { index, kiosk }));
        }
        for index in i..end {
            if export.taps[index].source == Source::AdminEdit {
                steps.push((minute, Step::Correction { index }));
            }
        }
        i = end;
    }

    // The outage covers a whole weekday with taps: the third day of the log if it has
    // one, from 22:00 the evening before to 05:00 the morning after.
    let mut days: Vec<NaiveDate> = export.taps.iter().map(|t| t.local.date()).collect();
    days.sort();
    days.dedup();
    let outage_day = days[2.min(days.len() - 1)];
    let cut = at_local(outage_day.pred_opt().unwrap_or(outage_day), 22, zone)?;
    let check = at_local(outage_day, 23, zone)?;
    let restore = at_local(outage_day.succ_opt().unwrap_or(outage_day), 5, zone)?;
    steps.push((cut, Step::CutNetwork));
    steps.push((check, Step::CheckDuringOutage));
    steps.push((restore, Step::RestoreNetwork));
    // Mid-morning of the outage day, while taps go on at the kiosk that stays online.
    steps.push((at_local(outage_day, 10, zone)?, Step::RotateKey));
    // Two days later, kiosk A reboots at 05:00 with its clock at 1970 until noon.
    let unset_day = days[4.min(days.len() - 1)];
    let until = at_local(unset_day, 12, zone)?;
    steps.push((at_local(unset_day, 5, zone)?, Step::RebootWithoutClock { until }));

    // A stable sort keeps file order among equal instants.
    steps.sort_by_key(|(at, _)| *at);
    let start =
        at_local(first.with_timezone(&zone).date_naive().pred_opt().unwrap_or_default(), 12, zone)?;
    Ok(Plan { steps, start, outage_day })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_employees_change_kiosk_between_in_and_out() {
        let day = NaiveDate::from_ymd_opt(2025, 5, 12).unwrap();
        assert_ne!(kiosk_for("E01", day, Direction::In), kiosk_for("E01", day, Direction::Out));
        assert_eq!(kiosk_for("E02", day, Direction::In), kiosk_for("E02", day, Direction::Out));
        let next = day.succ_opt().unwrap();
        assert_ne!(kiosk_for("E02", day, Direction::In), kiosk_for("E02", next, Direction::In));
    }

    #[test]
    fn the_plan_spreads_a_minute_and_covers_a_whole_weekday_offline() {
        let zone = chrono_tz::America::Chicago;
        let export = Export::load(None, zone).unwrap();
        let plan = plan(&export, zone).unwrap();
        let taps = plan.steps.iter().filter(|(_, s)| matches!(s, Step::Tap { .. })).count();
        assert_eq!(taps, 658);
        assert_eq!(
            plan.steps.iter().filter(|(_, s)| matches!(s, Step::Correction { .. })).count(),
            2
        );
        assert_eq!(plan.outage_day, NaiveDate::from_ymd_opt(2025, 5, 14).unwrap());

        // 2025-05-12 07:54 had four taps: seconds 0, 15, 30, 45, in file order.
        let seconds: Vec<(u32, usize)> = plan
            .steps
            .iter()
            .filter_map(|(at, s)| match s {
                Step::Tap { index, .. }
                    if export.taps[*index].local.to_string() == "2025-05-12 07:54:00" =>
                {
                    Some((chrono::Timelike::second(at), *index))
                }
                _ => None,
            })
            .collect();
        assert_eq!(seconds, vec![(0, 0), (15, 1), (30, 2), (45, 3)]);

        let cut = plan.steps.iter().find(|(_, s)| *s == Step::CutNetwork).unwrap().0;
        let restore = plan.steps.iter().find(|(_, s)| *s == Step::RestoreNetwork).unwrap().0;
        let offline_taps = plan
            .steps
            .iter()
            .filter(|(at, s)| {
                *at > cut && *at < restore && matches!(s, Step::Tap { kiosk: CUT_KIOSK, .. })
            })
            .count();
        assert!(offline_taps > 20, "{offline_taps} taps at the cut kiosk during the outage");
    }
}
