//! Reports for payroll and HR: every interval in a period, and worked time per employee
//! and local day, as JSON pages or as CSV files.

use std::collections::{BinaryHeap, HashSet};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, OrgUnitId};
use mtime_core::pairing::Interval;

use super::error::{ApiError, ApiResult};
use super::extract::QueryParams;
use super::page::{
    DEFAULT_LIMIT, Page, PageParams, paginate_by_text, sortable_instant, text_cursor,
};
use super::reports::within;
use super::scope::Scope;
use super::timesheet::{IntervalView, Zones, instant_range, interval_view};
use crate::model::EmployeeRecord;
use crate::state::AppState;
use crate::store::{OpenLimits, employee_intervals_at};

/// The longest period one report covers.
const MAX_DAYS: i64 = 366;

/// `?from=&to=` instants, an optional org unit, paging.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct IntervalsQuery {
    /// Start of the period (RFC 3339).
    from: DateTime<FixedOffset>,
    /// End of the period, excluded.
    to: DateTime<FixedOffset>,
    /// Only employees of this unit and the units below it.
    org_unit_id: Option<OrgUnitId>,
    /// Items per page: 1 to 1000 (JSON only).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page (JSON only).
    cursor: Option<String>,
}

/// `?from=&to=` local dates (both included), an optional org unit, paging.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TotalsQuery {
    /// First local day.
    from: NaiveDate,
    /// Last local day, included.
    to: NaiveDate,
    /// Only employees of this unit and the units below it.
    org_unit_id: Option<OrgUnitId>,
    /// Items per page: 1 to 1000 (JSON only).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page (JSON only).
    cursor: Option<String>,
}

/// One interval, with whose it is.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReportInterval {
    /// The employee's external number.
    pub number: String,
    /// The interval.
    #[serde(flatten)]
    pub interval: IntervalView,
}

/// Worked time of one employee on one local day.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DailyTotal {
    /// The employee.
    pub employee_id: EmployeeId,
    /// Their external number.
    pub number: String,
    /// The local day in the employee's site zone.
    pub date: NaiveDate,
    /// Seconds present with a reason that counts as work, intervals split at local midnight,
    /// each instant counted at its whole second.
    pub worked_seconds: u64,
}

/// The employees a report covers, with the zone of each: those of the caller's org units
/// (and of `unit`, when given) on the date `on`.
pub(super) fn covered(
    state: &AppState,
    scope: &Scope,
    unit: Option<OrgUnitId>,
    on: Option<NaiveDate>,
) -> ApiResult<Vec<(EmployeeRecord, Zones)>> {
    let units = state.store.org_units()?;
    if let Some(unit) = unit {
        scope.filter_unit(unit, &units)?;
    }
    let mut out = Vec::new();
    for record in state.store.employees()?.iter() {
        let zones = Zones::among(&units, record)?;
        let now = state.now();
        let date = on.unwrap_or_else(|| now.with_timezone(&zones.at(now)).date_naive());
        if !scope.allows_employee(record, date) {
            continue;
        }
        if let Some(unit) = unit {
            let version = record.version_at(date).or(record.versions.last());
            if !version.is_some_and(|v| within(v.org_unit, unit, &units)) {
                continue;
            }
        }
        out.push((record.clone(), zones));
    }
    Ok(out)
}

/// Where a page of a report starts and how long it is.
struct PageWindow {
    /// The key of the last row handed out, from the cursor.
    after: Option<String>,
    /// Rows per page.
    limit: usize,
}

impl PageWindow {
    fn of(params: &PageParams) -> ApiResult<Self> {
        let after = match &params.cursor {
            Some(text) => {
                Some(text_cursor(text).ok_or_else(|| ApiError::invalid("cursor is not valid"))?)
            }
            None => None,
        };
        Ok(Self { after, limit: params.limit.unwrap_or(DEFAULT_LIMIT) })
    }
}

/// The rows of the report, or, given a page, the rows that page needs. A row's key starts
/// with its employee's number and a newline, so employees are read in the order of that
/// prefix: those whose rows all lie before the cursor are skipped, and reading stops once
/// the page is full and the next employee's prefix sorts after the page's last key, since
/// none of that employee's rows could come before it. A page then reads about its own
/// employees, not the whole workforce.
fn interval_rows(
    state: &AppState,
    scope: &Scope,
    query: &IntervalsQuery,
    page: Option<&PageWindow>,
) -> ApiResult<Vec<(String, ReportInterval)>> {
    let (from, to) = instant_range(query.from, query.to)?;
    if to - from > chrono::TimeDelta::days(MAX_DAYS) {
        return Err(ApiError::invalid(format!("a report covers at most {MAX_DAYS} days")));
    }

    let mut employees: Vec<(String, EmployeeRecord, Zones)> =
        covered(state, scope, query.org_unit_id, Some(to.date_naive()))?
            .into_iter()
            .map(|(record, zones)| (format!("{}\n", record.number), record, zones))
            .collect();
    employees.sort_by(|a, b| a.0.cmp(&b.0));

    let limits = OpenLimits::load(state.store.as_ref())?;
    let now = state.now();
    let mut rows = Vec::new();
    // The smallest keys after the cursor seen so far, at most one more than the page holds.
    let mut nearest: BinaryHeap<String> = BinaryHeap::new();
    for (prefix, record, zones) in employees {
        if let Some(page) = page {
            let after = page.after.as_deref();
            if after.is_some_and(|a| prefix.as_str() < a && !a.starts_with(&prefix)) {
                continue;
            }
            let full = nearest.len() > page.limit;
            if full && nearest.peek().is_some_and(|last| prefix > *last) {
                break;
            }
        }

        let intervals = employee_intervals_at(state.store.as_ref(), &limits, record.id, now)?;
        for interval in intervals.into_iter().filter(|i| i.overlaps(from, to)) {
            let (at, event) = interval.anchor();
            let key = format!("{prefix}{}\n{event}", sortable_instant(at));
            if let Some(page) = page
                && page.after.as_deref().is_none_or(|a| key.as_str() > a)
            {
                nearest.push(key.clone());
                if nearest.len() > page.limit + 1 {
                    nearest.pop();
                }
            }
            let view = interval_view(record.id, &interval, &zones);
            rows.push((key, ReportInterval { number: record.number.clone(), interval: view }));
        }
    }
    Ok(rows)
}

/// `GET /api/reports/intervals`
pub async fn intervals(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<IntervalsQuery>,
) -> ApiResult<Json<Page<ReportInterval>>> {
    let params = PageParams { limit: query.limit, cursor: query.cursor.clone() };
    let window = PageWindow::of(&params)?;
    let rows = interval_rows(&state, &scope, &query, Some(&window))?;
    let page = paginate_by_text(rows, &params, |(key, _)| key.clone())?;
    Ok(Json(Page {
        items: page.items.into_iter().map(|(_, r)| r).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One CSV text field, quoted when it needs to be. Text that a spreadsheet would take for
/// a formula (starting with = + - @ or a tab) gets a leading apostrophe.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv(name: &str, text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        text,
    )
        .into_response()
}

/// `GET /api/reports/intervals.csv`: the whole period in one file.
pub async fn intervals_csv(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<IntervalsQuery>,
) -> ApiResult<Response> {
    let mut rows = interval_rows(&state, &scope, &query, None)?;
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from(
        "employee,start,end,duration_seconds,reason,flags,start_corrected_by,start_note,\
         end_corrected_by,end_note\n",
    );
    for (_, row) in rows {
        let i = &row.interval;
        // Flags as the JSON spells them.
        let flags: Vec<String> = i
            .flags
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        let correction = |end: &str| i.corrections.iter().find(|c| c.punch == end);
        let (start_fix, end_fix) = (correction("start"), correction("end"));
        let line = [
            field(&row.number),
            i.start.map(|t| t.to_rfc3339()).unwrap_or_default(),
            i.end.map(|t| t.to_rfc3339()).unwrap_or_default(),
            i.duration_seconds.map(|d| d.to_string()).unwrap_or_default(),
            field(&i.reason),
            field(&flags.join(" ")),
            field(start_fix.map(|c| c.author.as_str()).unwrap_or("")),
            field(start_fix.and_then(|c| c.note.as_deref()).unwrap_or("")),
            field(end_fix.map(|c| c.author.as_str()).unwrap_or("")),
            field(end_fix.and_then(|c| c.note.as_deref()).unwrap_or("")),
        ];
        out.push_str(&line.join(","));
        out.push('\n');
    }
    Ok(csv("intervals.csv", out))
}

/// The codes of reasons whose presence counts as work.
pub(super) fn working_reasons(state: &AppState) -> ApiResult<HashSet<String>> {
    Ok(state
        .store
        .reasons()?
        .into_iter()
        .filter(|r| r.counts_as_work)
        .map(|r| r.code.to_string())
        .collect())
}

/// Refuses a period that is reversed or longer than a report covers.
pub(super) fn check_period(from: NaiveDate, to: NaiveDate) -> ApiResult<()> {
    if from > to {
        return Err(ApiError::invalid("from must not be after to"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid(format!("a report covers at most {MAX_DAYS} days")));
    }
    Ok(())
}

fn total_rows(state: &AppState, scope: &Scope, query: &TotalsQuery) -> ApiResult<Vec<DailyTotal>> {
    check_period(query.from, query.to)?;
    let working = working_reasons(state)?;

    let limits = OpenLimits::load(state.store.as_ref())?;
    let now = state.now();
    let mut rows = Vec::new();
    for (record, zones) in covered(state, scope, query.org_unit_id, Some(query.to))? {
        let intervals = employee_intervals_at(state.store.as_ref(), &limits, record.id, now)?;
        let counts = |i: &Interval| working.contains(i.reason.as_str());
        // Days are cut at midnight in the zone of the site the employee belonged to then.
        for (date, worked) in zones.daily(&intervals, query.from, query.to, counts) {
            rows.push(DailyTotal {
                employee_id: record.id,
                number: record.number.clone(),
                date,
                worked_seconds: worked.as_secs(),
            });
        }
    }
    rows.sort_by(|a, b| (&a.number, a.date).cmp(&(&b.number, b.date)));
    Ok(rows)
}

/// `GET /api/reports/daily-totals`
pub async fn daily_totals(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<TotalsQuery>,
) -> ApiResult<Json<Page<DailyTotal>>> {
    let rows = total_rows(&state, &scope, &query)?;
    let params = PageParams { limit: query.limit, cursor: query.cursor.clone() };
    Ok(Json(paginate_by_text(rows, &params, |r| format!("{}\n{}", r.number, r.date))?))
}

/// `GET /api/reports/daily-totals.csv`
pub async fn daily_totals_csv(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<TotalsQuery>,
) -> ApiResult<Response> {
    let mut out = String::from("employee,date,worked_seconds,worked_hours\n");
    for row in total_rows(&state, &scope, &query)? {
        let hours = row.worked_seconds as f64 / 3600.0;
        out.push_str(&format!(
            "{},{},{},{hours:.2}\n",
            field(&row.number),
            row.date,
            row.worked_seconds
        ));
    }
    Ok(csv("daily-totals.csv", out))
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(field("E01"), "E01");
        assert_eq!(field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+SUM(A1)"), "'+SUM(A1)");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
    }
}
