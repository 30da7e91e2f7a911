//! Kiosk taps whose time cannot be believed (see [`mtime_core::timing`]), held for an
//! admin with the evidence: the kiosk's clocks as read and why they were not believed. An
//! admin accepts one with the time they established, entered as a correction under their
//! name; the kiosk's event stays as it was sent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::event::Direction;
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::pairing::PunchOrigin;
use mtime_core::timing::QuarantineReason;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text, sortable_instant};
use super::scope::Scope;
use super::timesheet::{PunchCreated, record_punch};
use crate::model::{EventDetail, EventRecord, QuarantineRecord};
use crate::state::AppState;

/// `?status=` plus paging.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct QuarantineQuery {
    /// `open` (the default), `accepted` or `all`.
    status: Option<String>,
    /// Items per page: 1 to 1000, 100 when absent.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One held tap, with the evidence.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuarantinedTap {
    /// The kiosk's event.
    pub event_id: EventId,
    /// The kiosk.
    pub kiosk_id: KioskId,
    /// The kiosk's sequence number.
    pub kiosk_seq: u64,
    /// The employee, when the roster knew the badge.
    pub employee_id: Option<EmployeeId>,
    /// In or out.
    pub direction: Direction,
    /// The reason chosen.
    pub reason: String,
    /// The kiosk's wall clock as read.
    pub kiosk_wall: DateTime<Utc>,
    /// Whether the kiosk trusted its wall clock.
    pub wall_trusted: bool,
    /// The boot it was read in.
    pub boot_id: BootId,
    /// The monotonic clock as read, in milliseconds since that boot.
    pub monotonic_ms: u64,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// Why its time is not believed.
    pub why: Why,
    /// The correction that took its place, once accepted.
    pub accepted_as: Option<EventId>,
    /// Who accepted it.
    pub accepted_by: Option<String>,
    /// When.
    pub accepted_at: Option<DateTime<Utc>>,
}

fn view(record: &QuarantineRecord, event: &EventRecord) -> Option<QuarantinedTap> {
    let (PunchOrigin::Kiosk { kiosk, seq }, EventDetail::Kiosk { time, .. }) =
        (&event.punch.origin, &event.detail)
    else {
        return None;
    };
    let resolution = record.resolution.as_ref();
    Some(QuarantinedTap {
        event_id: record.event,
        kiosk_id: *kiosk,
        kiosk_seq: *seq,
        employee_id: event.employee,
        direction: event.punch.direction,
        reason: event.punch.reason.to_string(),
        kiosk_wall: time.wall,
        wall_trusted: time.wall_trusted,
        boot_id: time.boot,
        monotonic_ms: u64::try_from(time.monotonic.as_millis()).unwrap_or(u64::MAX),
        received_at: event.received_at,
        why: record.reason.into(),
        accepted_as: resolution.map(|r| r.replacement),
        accepted_by: resolution.map(|r| r.author.clone()),
        accepted_at: resolution.map(|r| r.resolved_at),
    })
}

/// Why a tap is held.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Why {
    /// `untrusted_clock`, `in_future`, `before_kiosk`, `far_from_known_offset`,
    /// `unknown_employee` or `unknown_reason`.
    pub code: String,
    /// By how many seconds the time is off, where that is known.
    pub seconds: Option<i64>,
    /// The same, as a sentence.
    pub explanation: String,
}

impl From<QuarantineReason> for Why {
    fn from(reason: QuarantineReason) -> Self {
        Self {
            code: reason.code().to_owned(),
            seconds: reason.seconds(),
            explanation: reason.to_string(),
        }
    }
}

/// `GET /api/reports/quarantine`
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<QuarantineQuery>,
) -> ApiResult<Json<Page<QuarantinedTap>>> {
    let wanted = |accepted: bool| match query.status.as_deref() {
        None | Some("open") => Ok(!accepted),
        Some("accepted") => Ok(accepted),
        Some("all") => Ok(true),
        Some(other) => {
            Err(ApiError::invalid(format!("status {other:?} must be open, accepted or all")))
        }
    };
    wanted(false)?;

    let kiosks = state.store.kiosks()?;
    let mut taps = Vec::new();
    for (record, event) in state.store.quarantine()? {
        let Some(tap) = view(&record, &event) else { continue };
        let seen = scope.is_whole()
            || kiosks.iter().any(|k| k.id == tap.kiosk_id && scope.allows_kiosk(k));
        if seen && wanted(tap.accepted_as.is_some())? {
            taps.push(tap);
        }
    }
    let params = PageParams { limit: query.limit, cursor: query.cursor.clone() };
    // In the order the kiosk recorded them.
    let key = |t: &QuarantinedTap| {
        format!("{}\n{}\n{:020}", sortable_instant(t.received_at), t.kiosk_id, t.kiosk_seq)
    };
    Ok(Json(paginate_by_text(taps, &params, key)?))
}

/// The instant an admin established for a held tap.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// RFC 3339 with an explicit offset, so a repeated local hour is never ambiguous.
    at: DateTime<FixedOffset>,
    /// How the time was established.
    note: Option<String>,
}

/// Path of one held tap.
#[derive(Debug, Deserialize)]
pub struct HeldPath {
    event_id: EventId,
}

/// `POST /api/reports/quarantine/{event_id}/accept`: a correction at `at`, with the tap's
/// direction and reason, under the caller's name.
pub async fn accept(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    scope: Scope,
    PathParams(path): PathParams<HeldPath>,
    JsonBody(body): JsonBody<Acceptance>,
) -> ApiResult<(StatusCode, Json<PunchCreated>)> {
    let held = state.store.quarantine()?.into_iter().find(|(r, _)| r.event == path.event_id);
    let Some((record, event)) = held else {
        return Err(ApiError::not_found(format!("no held tap {}", path.event_id)));
    };
    if record.resolution.is_some() {
        return Err(ApiError::conflict(
            "not_quarantined",
            format!("tap {} was accepted already", path.event_id),
        ));
    }
    let Some(employee) = event.employee else {
        return Err(ApiError::conflict(
            "unknown_badge",
            "the tap's badge is on nobody's record; give the badge to its employee first",
        ));
    };
    let at = body.at.with_timezone(&Utc);
    if at > state.now() + chrono::TimeDelta::minutes(5) {
        return Err(ApiError::invalid("an accepted time cannot lie in the future"));
    }
    record_punch(
        &state,
        &caller,
        &scope,
        employee,
        event.punch.direction,
        at,
        Some(event.punch.reason.to_string()),
        body.note,
        true,
        Some(path.event_id),
    )
}
