//! Kiosks as admins manage them: create one (with a one-time enrollment code), list,
//! issue a new code, revoke.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::batch::ChainHead;
use mtime_core::capacity::CapacityState;
use mtime_core::ids::{KioskId, OrgUnitId};
use mtime_core::protocol::KioskConfig;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text};
use super::scope::{Intent, Scope};
use crate::model::{Enrollment, KioskOutbox, KioskRecord};
use crate::secret::{enrollment_code_hash, new_enrollment_code};
use crate::state::AppState;

/// How long an enrollment code works.
const CODE_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// A new kiosk.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKiosk {
    name: String,
    org_unit_id: OrgUnitId,
    config: Option<KioskConfig>,
}

/// A kiosk as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KioskView {
    /// Id.
    pub id: KioskId,
    /// Name.
    pub name: String,
    /// The org unit it stands in.
    pub org_unit_id: OrgUnitId,
    /// `awaiting_enrollment`, `enrolled` or `revoked`.
    pub status: String,
    /// When it enrolled.
    pub enrolled_at: Option<DateTime<Utc>>,
    /// The highest event seq stored from it.
    pub stored_through: u64,
    /// When it last reported.
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Events it held unsynced at its last report.
    pub pending_at_last_heartbeat: Option<u64>,
    /// When its last new batch was stored.
    pub last_batch_at: Option<DateTime<Utc>>,
    /// The server's clock minus the kiosk's at its last report, in milliseconds (network
    /// delay included); large values mean the kiosk's clock is off.
    pub clock_offset_ms: Option<i64>,
    /// The software version it reported.
    pub software_version: Option<String>,
    /// Whether it reported within three heartbeat intervals.
    pub online: bool,
    /// When an admin asked it to replace its key; cleared once it has.
    pub key_rotation_requested_at: Option<DateTime<Utc>>,
    /// When it last replaced its key.
    pub key_rotated_at: Option<DateTime<Utc>>,
    /// How it behaves.
    pub config: KioskConfig,
    /// Its outbox at its last report; absent until a kiosk that reports it (version 2
    /// heartbeats) has sent one.
    pub outbox: Option<OutboxView>,
}

/// A kiosk's outbox as its last heartbeat reported it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboxView {
    /// When the report arrived.
    pub reported_at: DateTime<Utc>,
    /// Events the kiosk held that the server had not acknowledged.
    pub pending: u64,
    /// Unsynced events from which the kiosk counts as full. A warning mark: the kiosk
    /// keeps storing taps past it while its disk allows.
    pub capacity: u64,
    /// `ok`; `filling` from 80% of the capacity; `full` at the capacity or past it.
    pub state: String,
    /// The kiosk's disk was full: it was refusing taps.
    pub storage_full: bool,
    /// The kiosk stopped uploading for good (its history forks from the server's, skips a
    /// seq, or it was revoked): it refuses taps, and its unsynced events wait on it.
    pub halted: bool,
}

impl From<KioskOutbox> for OutboxView {
    fn from(o: KioskOutbox) -> Self {
        let state = match o.report.state() {
            CapacityState::Ok => "ok",
            CapacityState::Filling { .. } => "filling",
            CapacityState::Full { .. } => "full",
        };
        Self {
            reported_at: o.reported_at,
            pending: o.report.pending,
            capacity: o.report.capacity,
            state: state.to_owned(),
            storage_full: o.report.storage_full,
            halted: o.report.halted,
        }
    }
}

/// A one-time code, shown once.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnrollmentCodeView {
    /// The kiosk.
    pub kiosk: KioskView,
    /// The code to type on the kiosk.
    pub enrollment_code: String,
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
}

/// The kiosk as the API shows it, with its last outbox report.
fn shown(state: &AppState, k: &KioskRecord, now: DateTime<Utc>) -> ApiResult<KioskView> {
    let mut shown = view(k, now);
    shown.outbox = state.store.kiosk_outbox(k.id)?.map(OutboxView::from);
    Ok(shown)
}

fn view(k: &KioskRecord, now: DateTime<Utc>) -> KioskView {
    let status = if k.revoked_at.is_some() {
        "revoked"
    } else if k.public_key.is_some() {
        "enrolled"
    } else {
        "awaiting_enrollment"
    };
    KioskView {
        id: k.id,
        name: k.name.clone(),
        org_unit_id: k.org_unit,
        status: status.to_owned(),
        enrolled_at: k.enrolled_at,
        stored_through: k.head.last_seq,
        last_heartbeat_at: k.last_heartbeat.as_ref().map(|h| h.received_at),
        pending_at_last_heartbeat: k.last_heartbeat.as_ref().map(|h| h.pending),
        last_batch_at: k.last_batch_at,
        clock_offset_ms: k
            .last_heartbeat
            .as_ref()
            .map(|h| (h.received_at - h.kiosk_time.wall).num_milliseconds()),
        software_version: k.last_heartbeat.as_ref().map(|h| h.software.clone()),
        online: k.is_active() && k.heard_within(now),
        key_rotation_requested_at: k.key_rotation_requested_at,
        key_rotated_at: k.key_rotated_at,
        config: k.config.clone(),
        outbox: None,
    }
}

fn check_config(config: &KioskConfig) -> ApiResult<()> {
    let ok = (1..=3600).contains(&config.repeat_window_secs)
        && (5..=86_400).contains(&config.heartbeat_secs)
        && (1..=mtime_core::batch::MAX_BATCH_EVENTS as u32).contains(&config.max_batch_events)
        && (1..=72).contains(&config.max_open_hours);
    // A language tag: letters, digits and dashes, starting with a letter.
    let language = &config.language;
    let tag_ok = (2..=35).contains(&language.len())
        && language.starts_with(|c: char| c.is_ascii_alphabetic())
        && language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok && tag_ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "config out of range: repeat_window_secs 1-3600, heartbeat_secs 5-86400, \
             max_batch_events 1-5000, max_open_hours 1-72, language a tag such as en or nb-NO",
        ))
    }
}

fn fresh_enrollment(state: &AppState) -> ApiResult<(String, Enrollment)> {
    let code = new_enrollment_code().map_err(ApiError::internal)?;
    let enrollment = Enrollment {
        code_hash: enrollment_code_hash(&code),
        expires_at: state.now() + CODE_LIFETIME,
    };
    Ok((code, enrollment))
}

/// `POST /api/kiosks`
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    JsonBody(body): JsonBody<NewKiosk>,
) -> ApiResult<(StatusCode, Json<EnrollmentCodeView>)> {
    scope.place(body.org_unit_id, "a kiosk")?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    state.site_of(body.org_unit_id)?;
    // A kiosk's roster names a default reason; without one it could not enroll.
    super::settings::default_reason(&state)?;
    let config = body.config.unwrap_or_default();
    check_config(&config)?;

    let (code, enrollment) = fresh_enrollment(&state)?;
    let expires_at = enrollment.expires_at;
    let record = KioskRecord {
        id: KioskId::random(),
        name: name.to_owned(),
        org_unit: body.org_unit_id,
        created_at: state.now(),
        public_key: None,
        enrolled_at: None,
        enrollment: Some(enrollment),
        revoked_at: None,
        config,
        head: ChainHead::default(),
        last_heartbeat: None,
        last_batch_at: None,
        key_rotation_requested_at: None,
        key_rotated_at: None,
    };
    state.store.insert_kiosk(&record)?;
    tracing::info!(kiosk.id = %record.id, "kiosk created, awaiting enrollment");
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentCodeView {
            kiosk: shown(&state, &record, state.now())?,
            enrollment_code: code,
            expires_at,
        }),
    ))
}

/// `GET /api/kiosks`: the kiosks of the caller's org units.
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<KioskView>>> {
    let now = state.now();
    let kiosks = state.store.kiosks()?;
    let views = kiosks
        .iter()
        .filter(|k| scope.allows_kiosk(k))
        .map(|k| shown(&state, k, now))
        .collect::<ApiResult<Vec<KioskView>>>()?;
    Ok(Json(paginate_by_text(views, &query, |v| format!("{}\n{}", v.name, v.id))?))
}

/// `GET /api/kiosks/{id}`
pub async fn show(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<KioskId>,
) -> ApiResult<Json<KioskView>> {
    let kiosk = scope.kiosk(&state, id, Intent::Read)?;
    Ok(Json(shown(&state, &kiosk, state.now())?))
}

/// `POST /api/kiosks/{id}/enrollment-code`: a new code for a kiosk not yet enrolled (the
/// old code stops working).
pub async fn new_code(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<KioskId>,
) -> ApiResult<(StatusCode, Json<EnrollmentCodeView>)> {
    let current = scope.kiosk(&state, id, Intent::Change)?;
    if current.revoked_at.is_some() || current.public_key.is_some() {
        return Err(ApiError::conflict(
            "already_enrolled",
            "this kiosk is enrolled or revoked; create a new kiosk to pair another device",
        ));
    }
    let (code, enrollment) = fresh_enrollment(&state)?;
    let expires_at = enrollment.expires_at;
    let mut enrollment = Some(enrollment);
    let updated = state.store.update_kiosk(id, &mut |k| k.enrollment = enrollment.take())?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentCodeView {
            kiosk: shown(&state, &updated, state.now())?,
            enrollment_code: code,
            expires_at,
        }),
    ))
}

/// New settings for a kiosk; fields left out keep their value.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KioskSettings {
    /// How it behaves.
    config: Option<KioskConfig>,
    /// A new name.
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
}

/// `POST /api/kiosks/{id}/settings`: the kiosk picks the change up with its next roster.
pub async fn update_settings(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<KioskId>,
    JsonBody(body): JsonBody<KioskSettings>,
) -> ApiResult<Json<KioskView>> {
    scope.kiosk(&state, id, Intent::Change)?;
    if let Some(config) = &body.config {
        check_config(config)?;
    }
    let name = match &body.name {
        Some(name) if name.trim().is_empty() || name.chars().count() > 200 => {
            return Err(ApiError::invalid("name must be 1 to 200 characters"));
        }
        Some(name) => Some(name.trim().to_owned()),
        None => None,
    };
    let (mut config, mut name) = (body.config, name);
    let updated = state.store.update_kiosk(id, &mut |k| {
        if let Some(config) = config.take() {
            k.config = config;
        }
        if let Some(name) = name.take() {
            k.name = name;
        }
    })?;
    state.store.touch_roster()?;
    tracing::info!(kiosk.id = %id, "kiosk settings changed");
    Ok(Json(shown(&state, &updated, state.now())?))
}

/// `POST /api/kiosks/{id}/rotate-key`: the kiosk replaces its key at its next heartbeat,
/// after the batch it has in flight; until then its current key stays valid.
pub async fn rotate_key(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<KioskId>,
) -> ApiResult<(StatusCode, Json<KioskView>)> {
    let kiosk = scope.kiosk(&state, id, Intent::Change)?;
    let now = state.now();
    if !kiosk.is_active() {
        return Err(ApiError::conflict(
            "kiosk_not_enrolled",
            format!(
                "kiosk {id} is {}; only an enrolled kiosk has a key to rotate",
                view(&kiosk, now).status.replace('_', " ")
            ),
        ));
    }
    let updated = state.store.update_kiosk(id, &mut |k| {
        k.key_rotation_requested_at.get_or_insert(now);
    })?;
    tracing::info!(kiosk.id = %id, "kiosk key rotation requested");
    Ok((StatusCode::ACCEPTED, Json(shown(&state, &updated, now)?)))
}

/// `POST /api/kiosks/{id}/revoke`: the kiosk's batches are refused from now on.
pub async fn revoke(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<KioskId>,
) -> ApiResult<Json<KioskView>> {
    scope.kiosk(&state, id, Intent::Change)?;
    let now = state.now();
    let updated = state.store.update_kiosk(id, &mut |k| {
        k.revoked_at.get_or_insert(now);
        k.enrollment = None;
    })?;
    tracing::warn!(kiosk.id = %id, "kiosk revoked");
    Ok(Json(shown(&state, &updated, now)?))
}
