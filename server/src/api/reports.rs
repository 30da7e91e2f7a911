//! Reports: who is in, and badges no roster knew.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, EventId, KioskId, OrgUnitId};
use mtime_core::pairing::PunchOrigin;

use super::error::ApiResult;
use super::extract::QueryParams;
use super::page::{Page, PageParams, paginate_by_text, sortable_instant};
use super::scope::{Intent, Scope};
use super::timesheet::Zones;
use crate::model::EventDetail;
use crate::state::AppState;
use crate::store::{OpenLimits, presence_at};

/// `?at=`
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AtInstant {
    /// The instant; now when absent.
    at: Option<DateTime<FixedOffset>>,
    /// Only employees of this org unit and the units below it (a site's evacuation list).
    org_unit_id: Option<OrgUnitId>,
}

/// One employee present.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PresentEmployee {
    /// Id.
    pub employee_id: EmployeeId,
    /// External number.
    pub number: String,
    /// Name.
    pub name: String,
    /// Checked in since.
    pub since: DateTime<FixedOffset>,
    /// The kiosk they checked in at, if a kiosk.
    pub kiosk_id: Option<KioskId>,
    /// The reason.
    pub reason: String,
}

/// Who is in at an instant.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PresenceReport {
    /// The instant.
    pub at: DateTime<Utc>,
    /// Everyone in then, by number.
    pub present: Vec<PresentEmployee>,
}

/// Whether `unit` is `ancestor` or below it.
pub fn within(unit: OrgUnitId, ancestor: OrgUnitId, units: &[crate::model::OrgUnitRecord]) -> bool {
    let mut current = Some(unit);
    // The hierarchy is shallow; the bound guards against a cycle.
    for _ in 0..64 {
        match current {
            Some(id) if id == ancestor => return true,
            Some(id) => {
                current = units.iter().find(|u| u.unit.id == id).and_then(|u| u.unit.parent)
            }
            None => return false,
        }
    }
    false
}

/// `GET /api/reports/presence?at=&org_unit_id=`
pub async fn presence(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<AtInstant>,
) -> ApiResult<Json<PresenceReport>> {
    let at = query.at.map_or_else(|| state.now(), |t| t.with_timezone(&Utc));
    let mut present = Vec::new();
    let units = state.store.org_units()?;
    if let Some(unit) = query.org_unit_id {
        scope.filter_unit(unit, &units)?;
    }
    let limits = OpenLimits::load(state.store.as_ref())?;
    let employees = state.store.employees()?;
    let mut asked = Vec::new();
    for record in employees.iter() {
        let tz = Zones::among(&units, record)?.at(at);
        let date = at.with_timezone(&tz).date_naive();
        if !scope.allows_employee(record, date) {
            continue;
        }
        if let Some(unit) = query.org_unit_id {
            let version = record.version_at(date);
            let inside = version.is_some_and(|v| within(v.org_unit, unit, &units));
            if !inside {
                continue;
            }
        }
        asked.push((record, tz, date));
    }

    let ids: Vec<EmployeeId> = asked.iter().map(|(record, ..)| record.id).collect();
    let found = presence_at(state.store.as_ref(), &limits, &ids, at)?;
    for ((record, tz, date), interval) in asked.into_iter().zip(found) {
        let Some(interval) = interval else { continue };
        let Some(start) = &interval.start else { continue };
        let name = record
            .version_at(date)
            .or(record.versions.first())
            .map(|v| v.name.clone())
            .unwrap_or_default();
        present.push(PresentEmployee {
            employee_id: record.id,
            number: record.number.clone(),
            name,
            since: start.at.with_timezone(&tz).fixed_offset(),
            kiosk_id: match start.origin {
                PunchOrigin::Kiosk { kiosk, .. } => Some(kiosk),
                PunchOrigin::Api { .. } => None,
            },
            reason: interval.reason.to_string(),
        });
    }
    Ok(Json(PresenceReport { at, present }))
}

/// A tap by a badge no roster knew.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnknownBadgeTap {
    /// The event.
    pub event_id: EventId,
    /// The badge, canonical hex.
    pub badge: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Where.
    pub kiosk_id: Option<KioskId>,
}

/// `GET /api/reports/unknown-badges`: the taps at kiosks of the caller's org units.
pub async fn unknown_badges(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<UnknownBadgeTap>>> {
    let kiosks = state.store.kiosks()?;
    let seen = |kiosk: Option<KioskId>| {
        scope.is_whole() || kiosks.iter().any(|k| Some(k.id) == kiosk && scope.allows_kiosk(k))
    };
    let taps: Vec<UnknownBadgeTap> = state
        .store
        .unknown_badge_events()?
        .into_iter()
        .map(|e| UnknownBadgeTap {
            event_id: e.punch.event,
            badge: match &e.detail {
                EventDetail::Kiosk { badge, .. } => badge.map(|b| b.to_string()),
                EventDetail::Api => None,
            },
            at: e.punch.at,
            kiosk_id: match e.punch.origin {
                PunchOrigin::Kiosk { kiosk, .. } => Some(kiosk),
                PunchOrigin::Api { .. } => None,
            },
        })
        .filter(|t| seen(t.kiosk_id))
        .collect();
    let key = |t: &UnknownBadgeTap| format!("{}\n{}", sortable_instant(t.at), t.event_id);
    Ok(Json(paginate_by_text(taps, &query, key)?))
}

/// Gives an unknown badge's taps to an employee.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBadge {
    /// The badge, as the review queue shows it.
    badge: String,
    /// The employee it belongs to; the badge must be on their record.
    employee_id: EmployeeId,
}

/// How many taps moved.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assigned {
    /// Taps that left the review queue for the employee's timesheet.
    pub assigned: usize,
}

/// `POST /api/reports/unknown-badges/assign`
pub async fn assign_unknown_badge(
    State(state): State<AppState>,
    scope: Scope,
    super::extract::JsonBody(body): super::extract::JsonBody<AssignBadge>,
) -> ApiResult<Json<Assigned>> {
    let badge: mtime_core::badge::BadgeUid =
        body.badge.parse().map_err(|e| super::error::ApiError::invalid(format!("{e}")))?;
    let employee = scope.employee(&state, body.employee_id, Intent::Change)?;
    if !employee.all_badges().any(|b| *b == badge) {
        return Err(super::error::ApiError::conflict(
            "badge_not_on_employee",
            format!("add badge {badge} to employee {} first (a new version)", employee.number),
        ));
    }
    let assigned = state.store.assign_unknown_badge(&badge, employee.id, state.now())?;
    tracing::info!(employee.id = %employee.id, assigned, "unknown-badge taps assigned");
    Ok(Json(Assigned { assigned }))
}
