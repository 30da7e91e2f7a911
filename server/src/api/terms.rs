//! Employment terms: what applies to the employees assigned to them. This first version
//! carries the week counter's configuration (weekly norm and week start); employees are
//! assigned to terms in their effective-dated versions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use mtime_core::weeks::WeeklyNorm;

use super::auth::Caller;
use super::effective_from;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text};
use super::scope::Scope;
use super::settings::{CodePath, check_code, check_name};
use crate::model::{EmploymentTermsRecord, TermsVersion};
use crate::state::AppState;

/// New employment terms.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTerms {
    /// 1 to 32 of A-Z, 0-9, '_' and '-'.
    #[schemars(regex(pattern = r"^[A-Z0-9_-]{1,32}$"))]
    code: String,
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// The week counter's configuration (see `/api/descriptor/plugins/`).
    weekly_overtime: WeeklyNorm,
    /// First day in force; today when absent.
    effective_from: Option<NaiveDate>,
    /// Needed for an `effective_from` in the past.
    #[serde(default)]
    retroactive: bool,
}

/// A new version of employment terms, from a date.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTermsVersion {
    effective_from: NaiveDate,
    #[serde(default)]
    retroactive: bool,
    weekly_overtime: WeeklyNorm,
}

/// One version as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TermsVersionView {
    /// First day in force.
    pub effective_from: NaiveDate,
    /// The week counter's configuration.
    pub weekly_overtime: WeeklyNorm,
    /// Who recorded it.
    pub author: String,
}

/// Employment terms as the API shows them.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TermsView {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Every version, oldest first.
    pub versions: Vec<TermsVersionView>,
}

fn view(terms: &EmploymentTermsRecord) -> TermsView {
    TermsView {
        code: terms.code.clone(),
        name: terms.name.clone(),
        versions: terms
            .versions
            .iter()
            .map(|v| TermsVersionView {
                effective_from: v.effective_from,
                weekly_overtime: v.weekly_overtime,
                author: v.author.clone(),
            })
            .collect(),
    }
}

fn check_norm(norm: &WeeklyNorm) -> ApiResult<()> {
    norm.validate().map_err(|e| ApiError::invalid(e.to_string()))
}

/// The employment terms with this code, or 404.
pub fn load(state: &AppState, code: &str) -> ApiResult<EmploymentTermsRecord> {
    state
        .store
        .employment_terms()?
        .into_iter()
        .find(|t| t.code == code)
        .ok_or_else(|| ApiError::not_found(format!("employment terms {code} do not exist")))
}

/// `POST /api/settings/employment-terms`
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<NewTerms>,
) -> ApiResult<(StatusCode, Json<TermsView>)> {
    scope.require_whole("settings, which apply to every site")?;
    let code = check_code(&body.code)?;
    let name = check_name(&body.name)?;
    check_norm(&body.weekly_overtime)?;
    let from = effective_from(body.effective_from, body.retroactive, state.now().date_naive())?;

    let terms = EmploymentTermsRecord {
        code,
        name,
        versions: vec![TermsVersion {
            effective_from: from,
            weekly_overtime: body.weekly_overtime,
            author: caller.user.name.clone(),
            recorded_at: state.now(),
        }],
    };
    state.store.insert_employment_terms(&terms)?;
    tracing::info!(terms = %terms.code, "employment terms created");
    Ok((StatusCode::CREATED, Json(view(&terms))))
}

/// `POST /api/settings/employment-terms/{code}/versions`
pub async fn add_version(
    State(state): State<AppState>,
    scope: Scope,
    Extension(caller): Extension<Caller>,
    PathParams(path): PathParams<CodePath>,
    JsonBody(body): JsonBody<NewTermsVersion>,
) -> ApiResult<(StatusCode, Json<TermsView>)> {
    scope.require_whole("settings, which apply to every site")?;
    let mut terms = load(&state, &path.code)?;
    check_norm(&body.weekly_overtime)?;
    effective_from(Some(body.effective_from), body.retroactive, state.now().date_naive())?;

    terms.put_version(TermsVersion {
        effective_from: body.effective_from,
        weekly_overtime: body.weekly_overtime,
        author: caller.user.name.clone(),
        recorded_at: state.now(),
    });
    state.store.update_employment_terms(&terms)?;
    tracing::info!(terms = %terms.code, from = %body.effective_from, "employment terms changed");
    Ok((StatusCode::CREATED, Json(view(&terms))))
}

/// `GET /api/settings/employment-terms`
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<TermsView>>> {
    let views: Vec<TermsView> = state.store.employment_terms()?.iter().map(view).collect();
    Ok(Json(paginate_by_text(views, &query, |v| v.code.clone())?))
}

/// `GET /api/settings/employment-terms/{code}`
pub async fn show(
    State(state): State<AppState>,
    PathParams(path): PathParams<CodePath>,
) -> ApiResult<Json<TermsView>> {
    Ok(Json(view(&load(&state, &path.code)?)))
}
