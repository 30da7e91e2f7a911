//! What an employee may do at a kiosk besides badging: a PIN for when they forgot their
//! badge (where the kiosk allows it, `pin_fallback` in its settings), and the kiosk-admin
//! flag that lets their badge or PIN open a kiosk's admin mode.
//!
//! The server keeps a PIN only as its salted hash ([`PinHash`]) and hands kiosks that hash
//! in their roster. The PIN itself appears in no response, log line, stored record or error
//! message: a malformed one is refused with the rule it breaks, never with its value.
//!
//! # Limitations
//!
//! The request body is read into memory as JSON before the PIN is taken out of it, and
//! those buffers are not wiped; only the PIN from there on is ([`Pin`] zeroizes on drop).
//! Changes are not in the feed: the stored record keeps who changed it last and when.

use std::fmt;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::Zeroizing;

use mtime_core::ids::EmployeeId;
use mtime_core::pin::{Pin, PinHash};

use super::auth::Caller;
use super::employees::{EmployeeView, shown_today};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams};
use super::scope::{Intent, Scope};
use crate::model::KioskAccessRecord;
use crate::state::AppState;

/// A new PIN.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPin {
    /// 4 to 8 digits, as a string.
    #[schemars(schema_with = "pin_schema")]
    pin: PinText,
}

fn pin_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": "^[0-9]{4,8}$",
        "writeOnly": true,
        "description": "4 to 8 digits. Never returned."
    })
}

/// The PIN as sent, wiped when dropped. Deserializing it never repeats what was sent: a
/// number where a string belongs is refused with the rule, not with the number.
struct PinText(Zeroizing<String>);

impl<'de> Deserialize<'de> for PinText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PinVisitor)
    }
}

const PIN_RULE: &str = "pin must be a string of 4 to 8 digits";

struct PinVisitor;

impl<'de> serde::de::Visitor<'de> for PinVisitor {
    type Value = PinText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PIN_RULE)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<PinText, E> {
        Ok(PinText(Zeroizing::new(text.to_owned())))
    }

    // Every other kind of value is refused without echoing it: serde's default message
    // would quote a number, which may well be the PIN.
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<PinText, E> {
        Err(E::custom(PIN_RULE))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<PinText, E> {
        Err(E::custom(PIN_RULE))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<PinText, E> {
        Err(E::custom(PIN_RULE))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<PinText, E> {
        Err(E::custom(PIN_RULE))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<PinText, E> {
        Err(E::custom(PIN_RULE))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<PinText, A::Error> {
        Err(serde::de::Error::custom(PIN_RULE))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<PinText, A::Error> {
        Err(serde::de::Error::custom(PIN_RULE))
    }
}

/// Whether an employee's badge or PIN opens a kiosk's admin mode.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KioskAccess {
    /// Opens the admin mode of the kiosks that carry the employee in their roster.
    pub kiosk_admin: bool,
}

/// The record as it stands after a change by `caller` now.
fn changed(
    state: &AppState,
    caller: &Caller,
    stored: Option<KioskAccessRecord>,
    change: impl FnOnce(&mut KioskAccessRecord),
) -> KioskAccessRecord {
    let mut record = stored.unwrap_or(KioskAccessRecord {
        pin: None,
        kiosk_admin: false,
        updated_at: state.now(),
        author: String::new(),
    });
    change(&mut record);
    record.updated_at = state.now();
    record.author = caller.user.name.clone();
    record
}

/// `PUT /api/employees/{id}/pin`: sets or replaces the employee's PIN; kiosks receive its
/// hash with their next roster.
pub async fn set_pin(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    JsonBody(body): JsonBody<NewPin>,
) -> ApiResult<StatusCode> {
    scope.employee(&state, id, Intent::Change)?;
    let pin: Pin = body.pin.0.parse().map_err(|_| ApiError::invalid(PIN_RULE))?;
    let hash = PinHash::new(&pin).map_err(ApiError::internal)?;

    let mut hash = Some(hash);
    state.store.update_kiosk_access(id, &mut |stored| {
        changed(&state, &caller, stored, |r| r.pin = hash.take())
    })?;
    tracing::info!(employee.id = %id, caller = %caller.user.name, "employee PIN set");
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/employees/{id}/pin`: the employee has no PIN any more.
pub async fn delete_pin(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
) -> ApiResult<StatusCode> {
    scope.employee(&state, id, Intent::Change)?;
    state.store.update_kiosk_access(id, &mut |stored| {
        changed(&state, &caller, stored, |r| r.pin = None)
    })?;
    tracing::info!(employee.id = %id, caller = %caller.user.name, "employee PIN removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/employees/{id}/kiosk-access`: whether the employee is a kiosk admin.
pub async fn set_kiosk_access(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    JsonBody(body): JsonBody<KioskAccess>,
) -> ApiResult<Json<EmployeeView>> {
    let record = scope.employee(&state, id, Intent::Change)?;
    let admin = body.kiosk_admin;
    state.store.update_kiosk_access(id, &mut |stored| {
        changed(&state, &caller, stored, |r| r.kiosk_admin = admin)
    })?;
    tracing::info!(employee.id = %id, kiosk_admin = admin, "employee kiosk access changed");
    Ok(Json(shown_today(&state, &record)?))
}
