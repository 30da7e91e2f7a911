//! Settings: reasons, dimensions and activities.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use mtime_core::event::ReasonCode;
use mtime_core::ids::{KioskId, OrgUnitId};

use super::effective_from;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text};
use super::scope::Scope;
use crate::model::{ActivityRecord, ActivityType, DimensionRecord, ReasonRecord};
use crate::state::AppState;

/// A new reason.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReason {
    /// 1 to 32 of A-Z, 0-9, '_' and '-'.
    #[schemars(regex(pattern = r"^[A-Z0-9_-]{1,32}$"))]
    code: String,
    #[schemars(length(min = 1, max = 200))]
    name: String,
    #[serde(default = "yes")]
    counts_as_work: bool,
    #[serde(default)]
    default: bool,
    /// The kiosks that may offer it; every kiosk when empty.
    #[serde(default)]
    allowed_kiosks: Vec<KioskId>,
    /// The org units (and units below) whose kiosks may offer it; all when empty.
    #[serde(default)]
    allowed_org_units: Vec<OrgUnitId>,
    effective_from: Option<NaiveDate>,
    #[serde(default)]
    retroactive: bool,
}

fn yes() -> bool {
    true
}

/// A reason as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReasonView {
    /// Code.
    pub code: ReasonCode,
    /// Name.
    pub name: String,
    /// Whether presence with it counts as work.
    pub counts_as_work: bool,
    /// Whether taps without a chosen reason get it.
    pub default: bool,
    /// The kiosks that may offer it; every kiosk when empty.
    pub allowed_kiosks: Vec<KioskId>,
    /// The org units whose kiosks may offer it; all when empty.
    pub allowed_org_units: Vec<OrgUnitId>,
    /// First day in force.
    pub effective_from: NaiveDate,
}

fn view(r: &ReasonRecord) -> ReasonView {
    ReasonView {
        code: r.code.clone(),
        name: r.name.clone(),
        counts_as_work: r.counts_as_work,
        default: r.is_default,
        allowed_kiosks: r.allowed_kiosks.clone(),
        allowed_org_units: r.allowed_org_units.clone(),
        effective_from: r.effective_from,
    }
}

/// A name: 1 to 200 characters once trimmed.
pub fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

/// A settings code: 1 to 32 of A-Z, 0-9, '_' and '-'.
pub fn check_code(code: &str) -> ApiResult<String> {
    if mtime_core::event::is_code(code) {
        Ok(code.to_owned())
    } else {
        Err(ApiError::invalid(format!(
            "code {code:?} must be 1 to 32 characters of A-Z, 0-9, '_' and '-'"
        )))
    }
}

/// `POST /api/settings/reasons`
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    JsonBody(body): JsonBody<NewReason>,
) -> ApiResult<(StatusCode, Json<ReasonView>)> {
    scope.require_whole("settings, which apply to every site")?;
    let code: ReasonCode = body.code.parse().map_err(ApiError::invalid)?;
    let name = check_name(&body.name)?;
    for kiosk in &body.allowed_kiosks {
        state
            .store
            .kiosk(*kiosk)?
            .ok_or_else(|| ApiError::invalid(format!("kiosk {kiosk} does not exist")))?;
    }
    for unit in &body.allowed_org_units {
        state
            .store
            .org_unit(*unit)?
            .ok_or_else(|| ApiError::invalid(format!("org unit {unit} does not exist")))?;
    }
    let record = ReasonRecord {
        code,
        name,
        counts_as_work: body.counts_as_work,
        is_default: body.default,
        allowed_kiosks: body.allowed_kiosks,
        allowed_org_units: body.allowed_org_units,
        effective_from: effective_from(
            body.effective_from,
            body.retroactive,
            state.now().date_naive(),
        )?,
    };
    state.store.insert_reason(&record)?;
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// `GET /api/settings/reasons`
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<ReasonView>>> {
    let views: Vec<ReasonView> = state.store.reasons()?.iter().map(view).collect();
    Ok(Json(paginate_by_text(views, &query, |v| v.code.to_string())?))
}

/// The reason for punches that name none.
pub fn default_reason(state: &AppState) -> ApiResult<ReasonCode> {
    let reasons = state.store.reasons()?;
    reasons.iter().find(|r| r.is_default).or(reasons.first()).map(|r| r.code.clone()).ok_or_else(
        || ApiError::conflict("no_reason", "create a reason first (POST /api/settings/reasons)"),
    )
}

/// Checks that a reason exists.
pub fn known_reason(state: &AppState, code: &str) -> ApiResult<ReasonCode> {
    let code: ReasonCode = code.parse().map_err(ApiError::invalid)?;
    if state.store.reasons()?.iter().any(|r| r.code == code) {
        Ok(code)
    } else {
        Err(ApiError::invalid(format!("reason {code} does not exist")))
    }
}

/// A new dimension.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDimension {
    /// 1 to 32 of A-Z, 0-9, '_' and '-'.
    #[schemars(regex(pattern = r"^[A-Z0-9_-]{1,32}$"))]
    code: String,
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// The allowed values: at least one, each 1 to 100 characters, no repeats.
    #[schemars(length(min = 1, max = 1000))]
    values: Vec<String>,
    effective_from: Option<NaiveDate>,
    #[serde(default)]
    retroactive: bool,
}

/// A dimension as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DimensionView {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Allowed values.
    pub values: Vec<String>,
    /// First day in force.
    pub effective_from: NaiveDate,
}

fn dimension_view(d: &DimensionRecord) -> DimensionView {
    DimensionView {
        code: d.code.clone(),
        name: d.name.clone(),
        values: d.values.clone(),
        effective_from: d.effective_from,
    }
}

/// `POST /api/settings/dimensions`
pub async fn create_dimension(
    State(state): State<AppState>,
    scope: Scope,
    JsonBody(body): JsonBody<NewDimension>,
) -> ApiResult<(StatusCode, Json<DimensionView>)> {
    scope.require_whole("settings, which apply to every site")?;
    let mut values: Vec<String> = Vec::new();
    for value in &body.values {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > 100 {
            return Err(ApiError::invalid("each value must be 1 to 100 characters"));
        }
        if values.iter().any(|v| v == value) {
            return Err(ApiError::invalid(format!("value {value:?} is given twice")));
        }
        values.push(value.to_owned());
    }
    if values.is_empty() || values.len() > 1000 {
        return Err(ApiError::invalid("a dimension has 1 to 1000 values"));
    }
    let record = DimensionRecord {
        code: check_code(&body.code)?,
        name: check_name(&body.name)?,
        values,
        effective_from: effective_from(
            body.effective_from,
            body.retroactive,
            state.now().date_naive(),
        )?,
    };
    state.store.insert_dimension(&record)?;
    Ok((StatusCode::CREATED, Json(dimension_view(&record))))
}

/// `GET /api/settings/dimensions`
pub async fn list_dimensions(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<DimensionView>>> {
    let views: Vec<DimensionView> = state.store.dimensions()?.iter().map(dimension_view).collect();
    Ok(Json(paginate_by_text(views, &query, |v| v.code.clone())?))
}

/// A new activity.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    /// 1 to 32 of A-Z, 0-9, '_' and '-'.
    #[schemars(regex(pattern = r"^[A-Z0-9_-]{1,32}$"))]
    code: String,
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// Its type; a child must share its parent's.
    #[serde(rename = "type")]
    kind: ActivityType,
    /// The parent activity's code.
    parent: Option<String>,
    #[serde(default)]
    requires_project: bool,
    /// Codes of dimensions a registration must give a value for.
    #[serde(default)]
    required_dimensions: Vec<String>,
    effective_from: Option<NaiveDate>,
    #[serde(default)]
    retroactive: bool,
}

/// An activity as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActivityView {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// The parent's code.
    pub parent: Option<String>,
    /// Whether a registration must name a project.
    pub requires_project: bool,
    /// Dimensions a registration must give a value for.
    pub required_dimensions: Vec<String>,
    /// First day in force.
    pub effective_from: NaiveDate,
}

fn activity_view(a: &ActivityRecord) -> ActivityView {
    ActivityView {
        code: a.code.clone(),
        name: a.name.clone(),
        kind: a.kind,
        parent: a.parent.clone(),
        requires_project: a.requires_project,
        required_dimensions: a.required_dimensions.clone(),
        effective_from: a.effective_from,
    }
}

/// `POST /api/settings/activities`
pub async fn create_activity(
    State(state): State<AppState>,
    scope: Scope,
    JsonBody(body): JsonBody<NewActivity>,
) -> ApiResult<(StatusCode, Json<ActivityView>)> {
    scope.require_whole("settings, which apply to every site")?;
    let code = check_code(&body.code)?;
    if let Some(parent) = &body.parent {
        let found = state.store.activities()?.into_iter().find(|a| &a.code == parent);
        let parent = found
            .ok_or_else(|| ApiError::invalid(format!("parent activity {parent} does not exist")))?;
        if parent.kind != body.kind {
            return Err(ApiError::invalid(format!(
                "a child activity shares its parent's type: {} is {:?}",
                parent.code, parent.kind
            )));
        }
    }
    let dimensions = state.store.dimensions()?;
    for required in &body.required_dimensions {
        if !dimensions.iter().any(|d| &d.code == required) {
            return Err(ApiError::invalid(format!("dimension {required} does not exist")));
        }
    }
    let record = ActivityRecord {
        code,
        name: check_name(&body.name)?,
        kind: body.kind,
        parent: body.parent,
        requires_project: body.requires_project,
        required_dimensions: body.required_dimensions,
        effective_from: effective_from(
            body.effective_from,
            body.retroactive,
            state.now().date_naive(),
        )?,
    };
    state.store.insert_activity(&record)?;
    Ok((StatusCode::CREATED, Json(activity_view(&record))))
}

/// `GET /api/settings/activities`
pub async fn list_activities(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<ActivityView>>> {
    let views: Vec<ActivityView> = state.store.activities()?.iter().map(activity_view).collect();
    Ok(Json(paginate_by_text(views, &query, |v| v.code.clone())?))
}

/// Path of one settings record named by its code.
#[derive(Debug, Deserialize)]
pub struct CodePath {
    /// The code.
    pub code: String,
}

/// `GET /api/settings/activities/{code}`
pub async fn show_activity(
    State(state): State<AppState>,
    PathParams(path): PathParams<CodePath>,
) -> ApiResult<Json<ActivityView>> {
    let found = state.store.activities()?.into_iter().find(|a| a.code == path.code);
    found
        .map(|a| Json(activity_view(&a)))
        .ok_or_else(|| ApiError::not_found(format!("activity {} does not exist", path.code)))
}
