//! Settings: reasons.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use mtime_core::event::ReasonCode;

use super::effective_from;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryParams};
use super::page::{Page, PageParams, paginate_by_text};
use crate::model::ReasonRecord;
use crate::state::AppState;

/// A new reason.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReason {
    code: String,
    name: String,
    #[serde(default = "yes")]
    counts_as_work: bool,
    #[serde(default)]
    default: bool,
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
    /// First day in force.
    pub effective_from: NaiveDate,
}

fn view(r: &ReasonRecord) -> ReasonView {
    ReasonView {
        code: r.code.clone(),
        name: r.name.clone(),
        counts_as_work: r.counts_as_work,
        default: r.is_default,
        effective_from: r.effective_from,
    }
}

/// `POST /api/settings/reasons`
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewReason>,
) -> ApiResult<(StatusCode, Json<ReasonView>)> {
    let code: ReasonCode = body.code.parse().map_err(ApiError::invalid)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    let record = ReasonRecord {
        code,
        name: name.to_owned(),
        counts_as_work: body.counts_as_work,
        is_default: body.default,
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
