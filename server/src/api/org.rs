//! Org units: the hierarchy, and the sites in it that carry a time zone.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use mtime_core::ids::OrgUnitId;
use mtime_core::zone::{self, OrgUnit};

use super::effective_from;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text};
use super::scope::{Intent, Scope};
use crate::model::OrgUnitRecord;
use crate::state::AppState;

/// A new org unit.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgUnit {
    name: String,
    parent_id: Option<OrgUnitId>,
    /// Makes the unit a site.
    time_zone: Option<String>,
    effective_from: Option<NaiveDate>,
    #[serde(default)]
    retroactive: bool,
}

/// An org unit as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrgUnitView {
    /// Its id.
    pub id: OrgUnitId,
    /// Its name.
    pub name: String,
    /// Its parent.
    pub parent_id: Option<OrgUnitId>,
    /// Its own zone, set on sites.
    pub time_zone: Option<String>,
    /// The zone in force: its own or inherited; absent outside any site.
    pub effective_time_zone: Option<String>,
    /// The first day it exists.
    pub effective_from: NaiveDate,
}

fn view(record: &OrgUnitRecord, all: &[OrgUnitRecord]) -> OrgUnitView {
    let lookup = |id| all.iter().find(|u| u.unit.id == id).map(|u| &u.unit);
    OrgUnitView {
        id: record.unit.id,
        name: record.unit.name.clone(),
        parent_id: record.unit.parent,
        time_zone: record.unit.time_zone.clone(),
        effective_time_zone: zone::zone_of(record.unit.id, lookup)
            .ok()
            .map(|(tz, _)| tz.name().to_owned()),
        effective_from: record.effective_from,
    }
}

/// `POST /api/org-units`
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    JsonBody(body): JsonBody<NewOrgUnit>,
) -> ApiResult<(StatusCode, Json<OrgUnitView>)> {
    // A caller limited to org units adds units below them, never beside or above.
    match body.parent_id {
        Some(parent) => scope.place(parent, "an org unit")?,
        None => scope.require_whole("a unit at the top of the hierarchy")?,
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    if let Some(parent) = body.parent_id {
        state
            .store
            .org_unit(parent)?
            .ok_or_else(|| ApiError::invalid(format!("parent org unit {parent} does not exist")))?;
    }

    // A unit outside any site has no zone of its own; its dates are UTC dates.
    let zone = match (&body.time_zone, body.parent_id) {
        (Some(tz), _) => zone::parse_zone(tz).map_err(|e| ApiError::invalid(e.to_string()))?,
        (None, Some(parent)) => state.site_of(parent).map_or(chrono_tz::UTC, |(tz, _)| tz),
        (None, None) => chrono_tz::UTC,
    };
    let today = zone::local_date(state.now(), zone);

    let record = OrgUnitRecord {
        unit: OrgUnit {
            id: OrgUnitId::random(),
            name: name.to_owned(),
            parent: body.parent_id,
            time_zone: body.time_zone,
        },
        effective_from: effective_from(body.effective_from, body.retroactive, today)?,
        created_at: state.now(),
    };
    state.store.insert_org_unit(&record)?;
    let all = state.store.org_units()?;
    Ok((StatusCode::CREATED, Json(view(&record, &all))))
}

/// `GET /api/org-units`: the caller's org units and those below them.
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<OrgUnitView>>> {
    let all = state.store.org_units()?;
    let views: Vec<OrgUnitView> =
        all.iter().filter(|u| scope.allows(u.unit.id)).map(|u| view(u, &all)).collect();
    Ok(Json(paginate_by_text(views, &query, |v| format!("{}\n{}", v.name, v.id))?))
}

/// `GET /api/org-units/{id}`
pub async fn show(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<OrgUnitId>,
) -> ApiResult<Json<OrgUnitView>> {
    let all = state.store.org_units()?;
    let record = all
        .iter()
        .find(|u| u.unit.id == id && scope.allows(id))
        .ok_or_else(|| scope.unseen(Intent::Read, format!("org unit {id}")))?;
    Ok(Json(view(record, &all)))
}
