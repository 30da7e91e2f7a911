//! The routes kiosks call. They carry no API key: a kiosk proves itself by signing with
//! the key it registered at enrollment, and the server signs what it answers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use mtime_core::badge::RosterKey;
use mtime_core::batch::{BatchError, RECEIPT, Receipt, SealedBatch};
use mtime_core::event::Subject;
use mtime_core::ids::KioskId;
use mtime_core::keys::PublicKey;
use mtime_core::pairing::Punch;
use mtime_core::protocol::{
    EnrollRequest, EnrollResponse, HEARTBEAT_REPLY, Heartbeat, HeartbeatReply, KnownPunch,
    OutboxReport, ROSTER, ROSTER_REQUEST, Roster, RosterEmployee, RosterReason, RosterRequest,
    SiteInfo, open_heartbeat,
};
use mtime_core::rotation::{KEY_ROTATION_REPLY, KeyRotationReply, KeyRotationRequest};
use mtime_core::seal::{self, SealError};
use mtime_core::timing::{ClockSample, TimeAnchor};
use mtime_core::zone;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams};
use crate::model::{EventDetail, EventRecord, HeartbeatInfo, KioskRecord, feed_kind};
use crate::secret::enrollment_code_hash;
use crate::state::AppState;
use crate::store::{BatchOutcome, EnrollOutcome, KeyRotationOutcome, StoreError};

fn signed(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

fn body(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))
}

/// Keeps what a heartbeat tells about the kiosk's clocks: its reading when the wall clock
/// was trusted, and the round trip it measured last time. Events of a boot held for want
/// of an anchor are released.
fn anchor(state: &AppState, id: KioskId, beat: &Heartbeat) -> ApiResult<()> {
    let sampled = beat.clock_sample.as_ref().and_then(ClockSample::anchor);
    for anchor in [TimeAnchor::from_trusted(&beat.sent), sampled].into_iter().flatten() {
        let released = state.store.record_time_anchor(id, &anchor)?;
        if released > 0 {
            tracing::info!(
                kiosk.id = %id,
                released,
                "held events dated by the kiosk's monotonic clock",
            );
        }
    }
    Ok(())
}

/// The kiosk named in the path, if it is enrolled and not revoked.
fn enrolled_kiosk(state: &AppState, id: KioskId) -> ApiResult<(KioskRecord, PublicKey)> {
    let kiosk = state
        .store
        .kiosk(id)?
        .ok_or_else(|| ApiError::unauthorized(format!("kiosk {id} is not known")))?;
    if kiosk.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "kiosk_revoked",
            format!("kiosk {id} is revoked"),
        ));
    }
    let key = kiosk
        .public_key
        .ok_or_else(|| ApiError::unauthorized(format!("kiosk {id} has not enrolled")))?;
    Ok((kiosk, key))
}

fn seal_error(e: SealError) -> ApiError {
    match e {
        SealError::BadSignature { .. } => {
            ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string())
        }
        SealError::TooLarge { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        other => ApiError::invalid(other.to_string()),
    }
}

fn site_info(state: &AppState, kiosk: &KioskRecord) -> ApiResult<SiteInfo> {
    let (tz, site) = state.site_of(kiosk.org_unit)?;
    Ok(SiteInfo { org_unit: kiosk.org_unit, name: site.name, time_zone: tz.name().to_owned() })
}

/// Failed enrollments one client address may make within [`GUESS_WINDOW`].
const MAX_FAILED_ENROLLMENTS: usize = 10;
/// The window over which failed enrollments are counted.
const GUESS_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// The client's address, when the server knows it (not in tests without a socket).
fn client_ip(connect: Option<&ClientAddr>) -> std::net::IpAddr {
    connect.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip())
}

type ClientAddr = axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>;

/// `POST /api/kiosk/enroll`
pub async fn enroll(
    State(state): State<AppState>,
    connect: Option<ClientAddr>,
    JsonBody(request): JsonBody<EnrollRequest>,
) -> ApiResult<Json<EnrollResponse>> {
    // Codes carry 60 random bits; a client that keeps guessing is slowed to a few tries
    // per window, before its guess is even looked at.
    let ip = client_ip(connect.as_ref());
    let now = state.now();
    {
        let mut failures = state.enroll_failures.lock().unwrap_or_else(|e| e.into_inner());
        // Forget addresses whose failures have all aged out.
        failures.retain(|_, times| times.iter().any(|t| now - *t < GUESS_WINDOW));
        let recent = failures.entry(ip).or_default();
        recent.retain(|t| now - *t < GUESS_WINDOW);
        if recent.len() >= MAX_FAILED_ENROLLMENTS {
            tracing::warn!(client.ip = %ip, "enrollment refused: too many failed attempts");
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed enrollment attempts from this address; wait ten minutes",
            ));
        }
    }
    let fail = |state: &AppState| {
        let mut failures = state.enroll_failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.entry(ip).or_default().push(now);
    };

    let hash = enrollment_code_hash(&request.code);
    let kiosk = match state.store.enroll(&hash, request.public_key, now)? {
        EnrollOutcome::Enrolled(kiosk) => kiosk,
        EnrollOutcome::UnknownCode => {
            fail(&state);
            tracing::warn!("enrollment refused: unknown or used code");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "enrollment_code_invalid",
                "this enrollment code is not valid: unknown, already used, or its kiosk revoked",
            ));
        }
        EnrollOutcome::Expired => {
            fail(&state);
            tracing::warn!("enrollment refused: expired code");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "enrollment_code_expired",
                "this enrollment code has expired; ask for a new one",
            ));
        }
    };

    tracing::info!(kiosk.id = %kiosk.id, "kiosk enrolled");
    Ok(Json(EnrollResponse {
        kiosk_id: kiosk.id,
        kiosk_name: kiosk.name.clone(),
        server_public_key: state.key.public(),
        site: site_info(&state, &kiosk)?,
        config: kiosk.config.clone(),
    }))
}

/// Builds the roster of `kiosk`: the employees of its site on today's date there, and the
/// reasons.
pub fn build_roster(state: &AppState, kiosk: &KioskRecord) -> ApiResult<Roster> {
    let site = site_info(state, kiosk)?;
    let tz = zone::parse_zone(&site.time_zone).map_err(ApiError::internal)?;
    let today = zone::local_date(state.now(), tz);
    let (_, site_unit) = state.site_of(kiosk.org_unit)?;
    let units = state.store.org_units()?;
    let version = state.store.roster_version()?;
    // A fresh key per roster: the kiosk keeps hashes, never the UIDs themselves.
    let badge_key = RosterKey::generate().map_err(ApiError::internal)?;

    let mut employees = Vec::new();
    let access = state.store.kiosk_accesses()?;
    for record in state.store.employees()?.iter() {
        let Some(current) = record.version_at(today) else { continue };
        let in_site = zone::zone_of(current.org_unit, |id| {
            units.iter().find(|u| u.unit.id == id).map(|u| &u.unit)
        })
        .is_ok_and(|(_, s)| s.id == site_unit.id);
        if in_site {
            let last_punch = crate::store::effective_punches(state.store.as_ref(), record.id)?
                .into_iter()
                .max_by_key(|p| (p.at, p.event))
                .map(|p| KnownPunch { direction: p.direction, at: p.at });
            employees.push(RosterEmployee {
                last_punch,
                id: record.id,
                number: record.number.clone(),
                name: current.name.clone(),
                badges: current.badges.iter().map(|b| badge_key.key_of(b)).collect(),
                active: current.active,
                pin: access.get(&record.id).and_then(|a| a.pin.clone()),
                kiosk_admin: access.get(&record.id).is_some_and(|a| a.kiosk_admin),
            });
        }
    }

    // Only the reasons this kiosk may offer: named for it, for its unit or one above, or
    // for everyone.
    let reasons: Vec<_> = state
        .store
        .reasons()?
        .into_iter()
        .filter(|r| r.allowed_kiosks.is_empty() || r.allowed_kiosks.contains(&kiosk.id))
        .filter(|r| {
            r.allowed_org_units.is_empty()
                || r.allowed_org_units
                    .iter()
                    .any(|u| super::reports::within(kiosk.org_unit, *u, &units))
        })
        .collect();
    let global_default = super::settings::default_reason(state)?;
    let default_reason = if reasons.iter().any(|r| r.code == global_default) {
        global_default
    } else {
        reasons.first().map_or(global_default, |r| r.code.clone())
    };
    Ok(Roster {
        kiosk: kiosk.id,
        version,
        issued_at: state.now(),
        site,
        config: kiosk.config.clone(),
        employees,
        reasons: reasons
            .iter()
            .map(|r| RosterReason {
                code: r.code.clone(),
                name: r.name.clone(),
                counts_as_work: r.counts_as_work,
            })
            .collect(),
        default_reason,
        badge_key,
    })
}

/// `POST /api/kiosk/{id}/roster`
pub async fn roster(
    State(state): State<AppState>,
    PathParams(id): PathParams<KioskId>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let bytes = body(bytes)?;
    let (kiosk, key) = enrolled_kiosk(&state, id)?;
    let request: RosterRequest = seal::open(ROSTER_REQUEST, &bytes, &key).map_err(seal_error)?;
    if request.kiosk != id {
        return Err(ApiError::unauthorized("roster request names another kiosk"));
    }

    let roster = build_roster(&state, &kiosk)?;
    tracing::info!(
        kiosk.id = %id,
        roster.version = roster.version,
        employees = roster.employees.len(),
        "roster sent",
    );
    let sealed = seal::seal(ROSTER, &roster, &state.key).map_err(ApiError::internal)?;
    Ok(signed(sealed))
}

/// The events of a verified batch as the server stores them, received at `now`. The
/// amendment an event carries is not among them: the store keeps it apart (see
/// [`crate::store::Store::store_batch`]).
pub fn event_records(batch: &mtime_core::batch::Batch, now: DateTime<Utc>) -> Vec<EventRecord> {
    batch
        .events
        .iter()
        .map(|e| EventRecord {
            employee: e.subject.employee(),
            // A verified batch's events all carry the batch's kiosk.
            punch: Punch::of_kiosk_event(e),
            detail: EventDetail::Kiosk {
                badge: match &e.subject {
                    Subject::Employee { badge, .. } => *badge,
                    Subject::UnknownBadge(badge) => Some(*badge),
                },
                direction_source: e.direction_source,
                time: e.time,
            },
            received_at: now,
        })
        .collect()
}

/// `POST /api/kiosk/{id}/batches`
pub async fn batches(
    State(state): State<AppState>,
    PathParams(id): PathParams<KioskId>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let bytes = body(bytes)?;
    let (_, key) = enrolled_kiosk(&state, id)?;
    let batch = SealedBatch::open(&bytes, id, &key).map_err(|e| match e {
        BatchError::Seal(e) => seal_error(e),
        other => ApiError::invalid(other.to_string()),
    })?;

    let now = state.now();
    let events = event_records(&batch.batch, now);
    let receipt = Receipt {
        kiosk: id,
        batch: batch.hash,
        first_seq: batch.batch.first_seq(),
        last_seq: batch.batch.last_seq(),
        stored_through: batch.batch.last_seq(),
        stored_at: now,
    };
    let receipt = seal::seal(RECEIPT, &receipt, &state.key).map_err(ApiError::internal)?;

    let store = state.store.clone();
    let stored = batch.clone();
    let outcome =
        tokio::task::spawn_blocking(move || store.store_batch(&stored, &events, &receipt))
            .await
            .map_err(ApiError::internal)?;

    let (first, last, count) =
        (batch.batch.first_seq(), batch.batch.last_seq(), batch.batch.events.len());
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // An event id stored already: the kiosk's history disagrees with the server's, and
        // sending the batch again cannot change that, so it is told to stop as for a fork.
        Err(StoreError::Conflict(message)) => {
            tracing::error!(
                kiosk.id = %id,
                batch.first = first,
                batch.last = last,
                %message,
                "batch repeats an event stored already; refused",
            );
            return Err(ApiError::conflict(
                "fork",
                format!(
                    "batch {first}..{last} conflicts with what is stored: {message}; \
                     nothing was stored"
                ),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    match outcome {
        BatchOutcome::Stored { receipt, unapplied } => {
            state.metrics.batch(count as u64);
            // Kept as evidence; a kiosk that sends these has a bug worth finding.
            for a in &unapplied {
                tracing::warn!(
                    kiosk.id = %id,
                    event.id = %a.event,
                    event.amends = %a.target,
                    why = a.why,
                    "amendment applies to nothing",
                );
            }
            tracing::info!(
                kiosk.id = %id,
                batch.first = first,
                batch.last = last,
                batch.events = count,
                "batch stored",
            );
            Ok(signed(receipt))
        }
        BatchOutcome::Replay { receipt } => {
            tracing::info!(
                kiosk.id = %id,
                batch.first = first,
                batch.last = last,
                "batch resent; stored receipt returned",
            );
            Ok(signed(receipt))
        }
        BatchOutcome::Fork { stored_through } => {
            tracing::error!(
                kiosk.id = %id,
                batch.first = first,
                batch.last = last,
                stored_through,
                "batch forks the kiosk's history; refused",
            );
            Err(ApiError::conflict(
                "fork",
                format!(
                    "batch {first}..{last} conflicts with the history stored for this kiosk \
                     (stored through seq {stored_through}); nothing was stored"
                ),
            ))
        }
        BatchOutcome::Gap { expected } => {
            tracing::warn!(
                kiosk.id = %id,
                batch.first = first,
                expected,
                "batch skips sequence numbers; refused",
            );
            Err(ApiError::gap(expected))
        }
        BatchOutcome::Revoked => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "kiosk_revoked",
            format!("kiosk {id} is revoked"),
        )),
    }
}

/// `POST /api/kiosk/{id}/heartbeat`
pub async fn heartbeat(
    State(state): State<AppState>,
    PathParams(id): PathParams<KioskId>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let bytes = body(bytes)?;
    let (_, key) = enrolled_kiosk(&state, id)?;
    // Version 2 carries the outbox's state; an older kiosk's version 1 does not.
    let (beat, outbox) = open_heartbeat(&bytes, &key).map_err(seal_error)?;
    if beat.kiosk != id {
        return Err(ApiError::unauthorized("heartbeat names another kiosk"));
    }

    let now = state.now();
    anchor(&state, id, &beat)?;
    let info = HeartbeatInfo {
        received_at: now,
        kiosk_time: beat.sent,
        pending: beat.pending,
        software: beat.software.clone(),
    };
    let mut info = Some(info);
    let kiosk = state.store.update_kiosk(id, &mut |k| k.last_heartbeat = info.take())?;
    tracing::debug!(kiosk.id = %id, pending = beat.pending, "heartbeat");
    if let Some(report) = outbox {
        record_outbox(&state, id, report, now)?;
    }

    let reply = HeartbeatReply {
        kiosk: id,
        server_time: now,
        roster_version: state.store.roster_version()?,
        stored_through: kiosk.head.last_seq,
        rotate_key: kiosk.key_rotation_requested_at.is_some(),
    };
    Ok(signed(seal::seal(HEARTBEAT_REPLY, &reply, &state.key).map_err(ApiError::internal)?))
}

/// Keeps a kiosk's outbox report; says in the log when it crosses the warning mark, once.
fn record_outbox(
    state: &AppState,
    id: KioskId,
    report: OutboxReport,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let (pending, capacity) = (report.pending, report.capacity);
    for kind in state.store.record_outbox(id, report, now)? {
        match kind {
            feed_kind::KIOSK_OUTBOX_FILLING => {
                tracing::warn!(kiosk.id = %id, pending, capacity, "kiosk outbox filling");
            }
            feed_kind::KIOSK_HALTED => tracing::error!(
                kiosk.id = %id,
                pending,
                "kiosk stopped uploading (fork, gap or revoked); its taps wait on it"
            ),
            _ => tracing::info!(kiosk.id = %id, pending, capacity, "kiosk outbox drained"),
        }
    }
    if report.storage_full {
        tracing::warn!(kiosk.id = %id, pending, "kiosk reports its disk full; taps refused");
    }
    Ok(())
}

/// `POST /api/kiosk/{id}/key`: the kiosk replaces its key, as an admin asked. The request
/// is sealed by the key held now and by the new one (see [`mtime_core::rotation`]); a
/// resend after the switch, sealed by the new key now held, gets the same answer.
pub async fn rotate_key(
    State(state): State<AppState>,
    PathParams(id): PathParams<KioskId>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let bytes = body(bytes)?;
    let (kiosk, held) = enrolled_kiosk(&state, id)?;
    let request = KeyRotationRequest::from_bytes(&bytes).map_err(seal_error)?;
    let now = state.now();

    let answer = |rotated_at| {
        let reply = KeyRotationReply { kiosk: id, new_key: held, rotated_at };
        seal::seal(KEY_ROTATION_REPLY, &reply, &state.key).map(signed).map_err(ApiError::internal)
    };
    if let Ok(statement) = request.verify_done(&held) {
        if statement.kiosk != id {
            return Err(ApiError::unauthorized("key rotation names another kiosk"));
        }
        tracing::info!(kiosk.id = %id, "kiosk key rotation resent after the switch");
        return answer(kiosk.key_rotated_at.unwrap_or(now));
    }

    let statement = request.verify(&held).map_err(seal_error)?;
    if statement.kiosk != id {
        return Err(ApiError::unauthorized("key rotation names another kiosk"));
    }
    match state.store.rotate_kiosk_key(id, held, statement.new_key, now)? {
        KeyRotationOutcome::Rotated(_) => {
            tracing::info!(kiosk.id = %id, "kiosk key rotated");
            let reply = KeyRotationReply { kiosk: id, new_key: statement.new_key, rotated_at: now };
            Ok(signed(
                seal::seal(KEY_ROTATION_REPLY, &reply, &state.key).map_err(ApiError::internal)?,
            ))
        }
        KeyRotationOutcome::NotRequested => Err(ApiError::conflict(
            "key_rotation_not_requested",
            "no admin asked this kiosk to replace its key; the key is unchanged",
        )),
        KeyRotationOutcome::Stale => Err(ApiError::conflict(
            "key_changed",
            "the kiosk's key or status changed meanwhile; the key is unchanged",
        )),
    }
}
