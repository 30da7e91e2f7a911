//! The weekly overtime report: the week counter (see [`mtime_core::weeks`]) run over each
//! employee's presence with the norm of the employment terms they are assigned to.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, OrgUnitId};
use mtime_core::pairing::{Flag, Interval};
use mtime_core::totals;
use mtime_core::weeks::{self, WeeklyNorm};

use super::error::ApiResult;
use super::extract::QueryParams;
use super::page::{Page, PageParams, paginate_by_text};
use super::scope::Scope;
use super::timesheet::Zones;
use super::totals::{check_period, covered, working_reasons};
use crate::model::{EmployeeRecord, EmploymentTermsRecord};
use crate::state::AppState;
use crate::store::{OpenLimits, employee_intervals_at};

/// `?from=&to=` local dates, an optional org unit, paging.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WeeksQuery {
    /// A local day; every week holding a day from `from` to `to` is reported whole.
    from: NaiveDate,
    /// A local day, included.
    to: NaiveDate,
    /// Only employees of this unit and the units below it.
    org_unit_id: Option<OrgUnitId>,
    /// Items per page: 1 to 1000.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One employee's week.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WeekRow {
    /// The employee.
    pub employee_id: EmployeeId,
    /// Their external number.
    pub number: String,
    /// The employment terms whose norm applied.
    pub employment_terms: String,
    /// The week's first local day.
    pub week_start: NaiveDate,
    /// The week's last local day: six days after its first, unless the day weeks start on
    /// changed in it (the week then runs until the new day).
    pub week_end: NaiveDate,
    /// The norm that applied, in minutes.
    pub weekly_norm_minutes: u32,
    /// Time worked in the week (reasons that count as work).
    pub worked_seconds: u64,
    /// Worked time up to the norm.
    pub regular_seconds: u64,
    /// Worked time beyond the norm.
    pub overtime_seconds: u64,
    /// What was flagged on intervals in the week; flagged time counts as recorded until
    /// an admin corrects it.
    pub flags: Vec<Flag>,
    /// Whether the week is over (its last local day has ended).
    pub complete: bool,
}

/// The week counter's norm on each day of `from..=to` for one employee: the terms named
/// by the version in force that day, in their own version in force that day.
fn norms(
    record: &EmployeeRecord,
    terms: &[EmploymentTermsRecord],
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<NaiveDate, (String, WeeklyNorm)> {
    let mut out = BTreeMap::new();
    let mut day = from;
    while day <= to {
        let code = record.version_at(day).and_then(|v| v.employment_terms.as_deref());
        let found = code
            .and_then(|code| terms.iter().find(|t| t.code == code))
            .and_then(|t| t.version_at(day).map(|v| (t.code.clone(), v.weekly_overtime)));
        if let Some(found) = found {
            out.insert(day, found);
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

/// The local days an interval's flags belong to: the day of its first punch.
fn flags_by_day(intervals: &[Interval], zones: &Zones) -> BTreeMap<NaiveDate, BTreeSet<Flag>> {
    let mut out: BTreeMap<NaiveDate, BTreeSet<Flag>> = BTreeMap::new();
    for interval in intervals.iter().filter(|i| !i.flags.is_empty()) {
        let (at, _) = interval.anchor();
        let day = at.with_timezone(&zones.at(at)).date_naive();
        out.entry(day).or_default().extend(interval.flags.iter().copied());
    }
    out
}

/// What the week counter needs besides an employee: every set of terms, the reasons that
/// count as work, how long an interval may stay open, and the time now.
pub struct WeekContext {
    terms: Vec<EmploymentTermsRecord>,
    working: HashSet<String>,
    limits: OpenLimits,
    now: DateTime<Utc>,
}

impl WeekContext {
    /// The context as stored now.
    pub fn load(state: &AppState) -> ApiResult<Self> {
        Ok(Self {
            terms: state.store.employment_terms()?,
            working: working_reasons(state)?,
            limits: OpenLimits::load(state.store.as_ref())?,
            now: state.now(),
        })
    }
}

/// One employee's weeks that hold a local day from `from` to `to`, counted whole by the
/// norm of the terms in force on each week's first day with terms; weeks without terms are
/// left out. Where the day weeks start on changes, the week in progress runs until the new
/// norm starts one ([`weeks::calendar`]), so no day is counted in two weeks.
pub fn employee_weeks(
    state: &AppState,
    context: &WeekContext,
    record: &EmployeeRecord,
    zones: &Zones,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Vec<WeekRow>> {
    // Whole weeks: far enough either side of the period for the longest a change makes.
    let (wide_from, wide_to) = (from - TimeDelta::days(27), to + TimeDelta::days(27));
    let norms = norms(record, &context.terms, wide_from, wide_to);
    let calendar = weeks::calendar(norms.iter().map(|(day, (_, norm))| (*day, norm)));
    let held: Vec<(NaiveDate, NaiveDate)> = calendar
        .into_iter()
        .filter(|(start, end)| {
            let (first, last) = ((*start).max(from), (*end).min(to));
            first <= last && norms.range(first..=last).next().is_some()
        })
        .collect();
    if held.is_empty() {
        return Ok(Vec::new());
    }

    let intervals =
        employee_intervals_at(state.store.as_ref(), &context.limits, record.id, context.now)?;
    let counts = |i: &Interval| context.working.contains(i.reason.as_str());
    let flags = flags_by_day(&intervals, zones);
    let mut rows = Vec::new();
    for (week_start, week_end) in held {
        let Some((_, (code, norm))) = norms.range(week_start..=week_end).next() else {
            continue;
        };
        let intervals = norm.round(&intervals, |at| zones.at(at));
        // Days are cut at midnight in the zone of the site the employee belonged to then.
        let days = zones.daily(&intervals, week_start, week_end, counts);
        let week_flags: BTreeSet<Flag> =
            flags.range(week_start..=week_end).flat_map(|(_, f)| f.iter().copied()).collect();
        if days.is_empty() && week_flags.is_empty() {
            continue;
        }
        let count = norm.week(week_start, days.values().sum(), week_flags);
        let ends = week_end.succ_opt().map(|d| totals::day_start(d, zones.on(week_end)));
        rows.push(WeekRow {
            employee_id: record.id,
            number: record.number.clone(),
            employment_terms: code.clone(),
            week_start,
            week_end,
            weekly_norm_minutes: norm.weekly_norm_minutes,
            worked_seconds: count.worked.as_secs(),
            regular_seconds: count.regular.as_secs(),
            overtime_seconds: count.overtime.as_secs(),
            flags: count.flags.into_iter().collect(),
            complete: ends.is_some_and(|end| end <= context.now),
        });
    }
    Ok(rows)
}

fn rows(state: &AppState, scope: &Scope, query: &WeeksQuery) -> ApiResult<Vec<WeekRow>> {
    check_period(query.from, query.to)?;
    let context = WeekContext::load(state)?;
    let mut rows = Vec::new();
    for (record, zones) in covered(state, scope, query.org_unit_id, Some(query.to))? {
        rows.extend(employee_weeks(state, &context, &record, &zones, query.from, query.to)?);
    }
    rows.sort_by(|a, b| (&a.number, a.week_start).cmp(&(&b.number, b.week_start)));
    Ok(rows)
}

/// `GET /api/reports/weekly-overtime`
pub async fn weekly_overtime(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<WeeksQuery>,
) -> ApiResult<Json<Page<WeekRow>>> {
    let rows = rows(&state, &scope, &query)?;
    let params = PageParams { limit: query.limit, cursor: query.cursor.clone() };
    Ok(Json(paginate_by_text(rows, &params, |r| format!("{}\n{}", r.number, r.week_start))?))
}
