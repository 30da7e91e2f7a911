//! Employees: a stable id and external number, with effective-dated versions of the rest.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use mtime_core::badge::BadgeUid;
use mtime_core::ids::{EmployeeId, OrgUnitId};

use super::auth::Caller;
use super::effective_from;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate};
use super::scope::{Intent, Scope};
use crate::model::{EmployeeRecord, EmployeeVersion, KioskAccessRecord};
use crate::state::AppState;

/// A new employee.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEmployee {
    /// The employee's number in payroll and HR systems: 1 to 64 characters, no control
    /// characters, unique.
    number: String,
    name: String,
    org_unit_id: OrgUnitId,
    #[serde(default)]
    badges: Vec<String>,
    /// The code of the employment terms that apply (see `/api/settings/employment-terms`).
    employment_terms: Option<String>,
    effective_from: Option<NaiveDate>,
    #[serde(default)]
    retroactive: bool,
}

/// A new version of an employee's record, from a date; fields left out keep the value
/// in force on that date.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    effective_from: NaiveDate,
    #[serde(default)]
    retroactive: bool,
    name: Option<String>,
    org_unit_id: Option<OrgUnitId>,
    badges: Option<Vec<String>>,
    active: Option<bool>,
    /// The code of the employment terms that apply from this date.
    employment_terms: Option<String>,
}

/// `?at=` on reads.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AtDate {
    at: Option<NaiveDate>,
    /// Items per page: 1 to 1000, 100 when absent.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One version as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VersionView {
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Name.
    pub name: String,
    /// Org unit.
    pub org_unit_id: OrgUnitId,
    /// Badges, canonical hex.
    pub badges: Vec<String>,
    /// Whether they may check in.
    pub active: bool,
    /// The employment terms that apply.
    pub employment_terms: Option<String>,
    /// Who recorded it.
    pub author: String,
}

/// An employee as the API shows them: the version in force on the date asked for.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EmployeeView {
    /// Id.
    pub id: EmployeeId,
    /// External number.
    pub number: String,
    /// The date this view is for.
    pub at: NaiveDate,
    /// The version in force then.
    pub current: VersionView,
    /// Every version.
    pub versions: Vec<VersionView>,
    /// Whether they have a PIN for kiosks that allow one (the PIN itself is never shown).
    pub pin_set: bool,
    /// Whether their badge or PIN opens a kiosk's admin mode.
    pub kiosk_admin: bool,
}

fn version_view(v: &EmployeeVersion) -> VersionView {
    VersionView {
        effective_from: v.effective_from,
        name: v.name.clone(),
        org_unit_id: v.org_unit,
        badges: v.badges.iter().map(ToString::to_string).collect(),
        active: v.active,
        employment_terms: v.employment_terms.clone(),
        author: v.author.clone(),
    }
}

fn view(
    record: &EmployeeRecord,
    at: NaiveDate,
    access: Option<&KioskAccessRecord>,
) -> Option<EmployeeView> {
    let current = record.version_at(at)?;
    Some(EmployeeView {
        id: record.id,
        number: record.number.clone(),
        at,
        current: version_view(current),
        versions: record.versions.iter().map(version_view).collect(),
        pin_set: access.is_some_and(|a| a.pin.is_some()),
        kiosk_admin: access.is_some_and(|a| a.kiosk_admin),
    })
}

/// The employee as of today in their site (or their first day, before it), with their
/// kiosk access as stored now.
pub fn shown_today(state: &AppState, record: &EmployeeRecord) -> ApiResult<EmployeeView> {
    let today = today_of(state, record)?;
    let first = record.versions.first().map_or(today, |v| v.effective_from);
    let access = state.store.kiosk_access(record.id)?;
    view(record, today.max(first), access.as_ref())
        .ok_or_else(|| ApiError::internal(format!("employee {} has no version", record.id)))
}

fn parse_badges(badges: &[String]) -> ApiResult<Vec<BadgeUid>> {
    let mut out: Vec<BadgeUid> = Vec::with_capacity(badges.len());
    for text in badges {
        let badge: BadgeUid = text.parse().map_err(|e| ApiError::invalid(format!("{e}")))?;
        if !out.contains(&badge) {
            out.push(badge);
        }
    }
    Ok(out)
}

/// An employee number as payroll and HR systems key it: printable text on one line, since it
/// is written into CSV rows, report cursors and log lines.
fn check_number(number: &str) -> ApiResult<String> {
    let number = number.trim();
    if number.is_empty() || number.chars().count() > 64 {
        return Err(ApiError::invalid("number must be 1 to 64 characters"));
    }
    if number.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "number must not hold control characters (tabs, line breaks)",
        ));
    }
    Ok(number.to_owned())
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

/// `POST /api/employees`
pub async fn create(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    JsonBody(body): JsonBody<NewEmployee>,
) -> ApiResult<(StatusCode, Json<EmployeeView>)> {
    scope.place(body.org_unit_id, "an employee")?;
    let number = check_number(&body.number)?;
    let name = check_name(&body.name)?;
    let badges = parse_badges(&body.badges)?;
    let today = state.today_in(body.org_unit_id)?;
    let from = effective_from(body.effective_from, body.retroactive, today)?;
    unit_exists_on(&state, body.org_unit_id, from)?;
    if state.store.employee_by_number(&number)?.is_some() {
        return Err(ApiError::conflict("conflict", format!("employee number {number:?} exists")));
    }

    let record = EmployeeRecord {
        id: EmployeeId::random(),
        number,
        versions: vec![EmployeeVersion {
            effective_from: from,
            name,
            org_unit: body.org_unit_id,
            badges,
            active: true,
            employment_terms: check_terms(&state, body.employment_terms.as_deref())?,
            author: caller.user.name.clone(),
            recorded_at: state.now(),
        }],
    };
    state.store.put_employee(&record)?;
    let shown =
        view(&record, from.max(today), None).ok_or_else(|| ApiError::internal("no version"))?;
    Ok((StatusCode::CREATED, Json(shown)))
}

/// `POST /api/employees/{id}/versions`
pub async fn add_version(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    JsonBody(body): JsonBody<NewVersion>,
) -> ApiResult<(StatusCode, Json<EmployeeView>)> {
    let mut record = scope.employee(&state, id, Intent::Change)?;
    if let Some(unit) = body.org_unit_id {
        scope.place(unit, "an employee")?;
    }
    let base = record
        .version_at(body.effective_from)
        .or_else(|| record.versions.first())
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("employee {id} has no version")))?;

    let org_unit = body.org_unit_id.unwrap_or(base.org_unit);
    let today = state.today_in(org_unit)?;
    effective_from(Some(body.effective_from), body.retroactive, today)?;
    unit_exists_on(&state, org_unit, body.effective_from)?;
    let version = EmployeeVersion {
        effective_from: body.effective_from,
        name: match &body.name {
            Some(name) => check_name(name)?,
            None => base.name,
        },
        org_unit,
        badges: match &body.badges {
            Some(badges) => parse_badges(badges)?,
            None => base.badges,
        },
        active: body.active.unwrap_or(base.active),
        employment_terms: match &body.employment_terms {
            Some(code) => check_terms(&state, Some(code))?,
            None => base.employment_terms,
        },
        author: caller.user.name.clone(),
        recorded_at: state.now(),
    };
    record.put_version(version);
    state.store.put_employee(&record)?;
    let access = state.store.kiosk_access(id)?;
    let shown = view(&record, body.effective_from, access.as_ref())
        .ok_or_else(|| ApiError::internal("no version"))?;
    Ok((StatusCode::CREATED, Json(shown)))
}

/// The code of employment terms that exist.
fn check_terms(state: &AppState, code: Option<&str>) -> ApiResult<Option<String>> {
    match code {
        None => Ok(None),
        Some(code) => match super::terms::load(state, code) {
            Ok(terms) => Ok(Some(terms.code)),
            Err(_) => Err(ApiError::invalid(format!("employment terms {code} do not exist"))),
        },
    }
}

/// Refuses to place an employee in an org unit before the unit exists.
fn unit_exists_on(state: &AppState, unit: OrgUnitId, date: NaiveDate) -> ApiResult<()> {
    let record = state
        .store
        .org_unit(unit)?
        .ok_or_else(|| ApiError::invalid(format!("org unit {unit} does not exist")))?;
    if record.effective_from > date {
        return Err(ApiError::invalid(format!(
            "org unit {} exists only from {}; the employee's version starts {date}",
            record.unit.name, record.effective_from
        )));
    }
    Ok(())
}

/// Today in the zone of the employee's newest version.
pub fn today_of(state: &AppState, record: &EmployeeRecord) -> ApiResult<NaiveDate> {
    match record.versions.last() {
        Some(version) => state.today_in(version.org_unit),
        None => Ok(state.now().date_naive()),
    }
}

/// The date a read is for: `?at=`, or today in the employee's site.
fn read_date(
    state: &AppState,
    record: &EmployeeRecord,
    at: Option<NaiveDate>,
) -> ApiResult<NaiveDate> {
    match at {
        Some(at) => Ok(at),
        None => today_of(state, record),
    }
}

/// `GET /api/employees/{id}`: a caller limited to org units finds an employee only while
/// their version on the date asked for lies within them.
pub async fn show(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    QueryParams(query): QueryParams<AtDate>,
) -> ApiResult<Json<EmployeeView>> {
    let record = state.store.employee(id)?;
    let Some(record) = record else {
        return Err(scope.unseen(Intent::Read, format!("employee {id}")));
    };
    let at = read_date(&state, &record, query.at)?;
    if !scope.allows_employee(&record, at) {
        return Err(scope.unseen(Intent::Read, format!("employee {id}")));
    }
    let access = state.store.kiosk_access(id)?;
    view(&record, at, access.as_ref())
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("employee {id} does not exist on {at}")))
}

/// `GET /api/employees`: the employees of the caller's org units on the date.
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<AtDate>,
) -> ApiResult<Json<Page<EmployeeView>>> {
    let mut views = Vec::new();
    let access = state.store.kiosk_accesses()?;
    for record in state.store.employees()?.iter() {
        let at = read_date(&state, record, query.at)?;
        if scope.allows_employee(record, at) {
            views.extend(view(record, at, access.get(&record.id)));
        }
    }
    let page = paginate(
        views,
        &PageParams { limit: query.limit, cursor: query.cursor.clone() },
        |v| v.number.clone(),
        Clone::clone,
        |s| Some(s.to_owned()),
    )?;
    Ok(Json(page))
}
