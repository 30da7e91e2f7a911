//! Users and access: roles, service users and their API keys, and `/api/me`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{OrgUnitId, UserId};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text, sortable_instant};
use super::scope::{Intent, Scope};
use crate::access::{self, ROLES};
use crate::model::{ApiKeyRecord, ServiceUser};
use crate::state::AppState;

/// A role as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleView {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// What it may do.
    pub permissions: Vec<String>,
}

/// A new service user: a role, or an explicit list of permissions.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceUser {
    name: String,
    role: Option<String>,
    permissions: Option<Vec<String>>,
    /// The org units it is limited to, with every unit below them; the whole workspace
    /// when absent or empty. A caller limited to org units must give units within them.
    #[serde(default)]
    #[schemars(length(max = 100))]
    org_units: Vec<OrgUnitId>,
}

/// A service user as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceUserView {
    /// Id.
    pub id: UserId,
    /// Name.
    pub name: String,
    /// Role, or `custom`.
    pub role: String,
    /// What it may do.
    pub permissions: Vec<String>,
    /// The org units it is limited to, with every unit below them; empty for the whole
    /// workspace.
    pub org_units: Vec<OrgUnitId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new API key's options.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// When the key stops working; never if absent.
    expires_at: Option<DateTime<Utc>>,
}

/// An API key's metadata; the key itself is never shown again.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKeyView {
    /// Id, for revoking.
    pub id: uuid::Uuid,
    /// The key's first characters.
    pub prefix: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new API key, shown this once.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKeyCreated {
    /// Its metadata.
    pub key: ApiKeyView,
    /// The key: `mtime_ak_…`. Copy it now; it is stored only as a hash.
    pub api_key: String,
}

/// Path of one key.
#[derive(Debug, Deserialize)]
pub struct KeyPath {
    id: UserId,
    key_id: uuid::Uuid,
}

fn user_view(u: &ServiceUser) -> ServiceUserView {
    ServiceUserView {
        id: u.id,
        name: u.name.clone(),
        role: u.role.clone(),
        permissions: u.permissions.clone(),
        org_units: u.org_units.clone(),
        created_at: u.created_at,
    }
}

fn key_view(k: &ApiKeyRecord) -> ApiKeyView {
    ApiKeyView {
        id: k.id,
        prefix: k.prefix.clone(),
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        expires_at: k.expires_at,
        revoked_at: k.revoked_at,
    }
}

/// The service user `id`. A caller limited to org units sees only users limited to units
/// within its own; reading any other is not found, acting for it is refused.
fn load_user(
    state: &AppState,
    scope: &Scope,
    id: UserId,
    intent: Intent,
) -> ApiResult<ServiceUser> {
    let found = state.store.service_users()?.into_iter().find(|u| u.id == id);
    match found {
        Some(user) if scope.covers(&user.org_units) => Ok(user),
        _ => Err(scope.unseen(intent, format!("service user {id}"))),
    }
}

/// [`may_act_for`] a service user.
fn may_act_for_service_user(caller: &Caller, scope: &Scope, user: &ServiceUser) -> ApiResult<()> {
    let permissions: Vec<&str> = user.permissions.iter().map(String::as_str).collect();
    may_act_for(caller, scope, &user.name, &permissions, &user.org_units)
}

/// Refuses to let a caller act for a user (service or interactive) that holds a
/// permission or an org unit the caller does not: creating one, changing it, issuing its
/// keys or revoking them would hand out more than the caller has.
pub(super) fn may_act_for(
    caller: &Caller,
    scope: &Scope,
    name: &str,
    permissions: &[&str],
    org_units: &[OrgUnitId],
) -> ApiResult<()> {
    let refuse = |message: String| ApiError::new(StatusCode::FORBIDDEN, "exceeds_caller", message);
    if let Some(missing) = permissions.iter().find(|p| !caller.user.may(p)) {
        return Err(refuse(format!(
            "{name:?} holds {missing}, which the caller does not; only a caller holding \
             every permission of a user may act for it"
        )));
    }
    if !scope.covers(org_units) {
        let reach = if org_units.is_empty() { "the whole workspace" } else { "org units" };
        return Err(refuse(format!(
            "{name:?} reaches {reach} beyond the caller's; a caller limited to org units may \
             act only for users limited to units within them"
        )));
    }
    Ok(())
}

/// The org units of a grant, each existing and named once. A caller limited to org units
/// may name only units within them; an unknown unit is outside too, so nothing is learnt
/// about units the caller cannot see.
pub(super) fn check_org_units(
    state: &AppState,
    scope: &Scope,
    given: &[OrgUnitId],
) -> ApiResult<Vec<OrgUnitId>> {
    if given.len() > 100 {
        return Err(ApiError::invalid("org_units holds at most 100 units"));
    }
    let all = state.store.org_units()?;
    let mut out: Vec<OrgUnitId> = Vec::with_capacity(given.len());
    for unit in given {
        if !scope.allows(*unit) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "exceeds_caller",
                format!("org unit {unit} lies outside the org units the caller is limited to"),
            ));
        }
        if !all.iter().any(|u| u.unit.id == *unit) {
            return Err(ApiError::invalid(format!("org unit {unit} does not exist")));
        }
        if !out.contains(unit) {
            out.push(*unit);
        }
    }
    Ok(out)
}

/// Refuses to revoke the last working key that can manage users across the whole
/// workspace: the workspace would be locked for good (`mtime-server issue-admin-key` on
/// the server's machine is the way back).
fn refuse_last_admin_key(state: &AppState, key: &ApiKeyRecord) -> ApiResult<()> {
    let now = state.now();
    let users = state.store.service_users()?;
    let manages = |k: &ApiKeyRecord| {
        k.revoked_at.is_none()
            && k.expires_at.is_none_or(|t| t > now)
            && users
                .iter()
                .any(|u| u.id == k.user && u.may(access::USERS_WRITE) && u.org_units.is_empty())
    };
    if !manages(key) {
        return Ok(());
    }
    let others =
        state.store.api_keys()?.into_iter().filter(|k| k.id != key.id && manages(k)).count();
    if others == 0 {
        return Err(ApiError::conflict(
            "last_admin_key",
            "this is the last working key that can manage users; issue another first",
        ));
    }
    Ok(())
}

/// `GET /api/roles`
pub async fn roles() -> Json<Vec<RoleView>> {
    Json(
        ROLES
            .iter()
            .map(|r| RoleView {
                name: r.name.to_owned(),
                description: r.description.to_owned(),
                permissions: r.permissions.iter().map(|p| p.to_string()).collect(),
            })
            .collect(),
    )
}

/// `POST /api/service-users`
pub async fn create(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    JsonBody(body): JsonBody<NewServiceUser>,
) -> ApiResult<(StatusCode, Json<ServiceUserView>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    let (role, permissions) = match (&body.role, &body.permissions) {
        (Some(role), None) => {
            let found = access::role(role).ok_or_else(|| {
                let names: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
                ApiError::invalid(format!(
                    "role {role:?} does not exist; roles: {}",
                    names.join(", ")
                ))
            })?;
            (found.name.to_owned(), found.permissions.iter().map(|p| p.to_string()).collect())
        }
        (None, Some(list)) => {
            let mut permissions: Vec<String> = Vec::new();
            for p in list {
                let known = access::permission(p)
                    .ok_or_else(|| ApiError::invalid(format!("permission {p:?} does not exist")))?;
                if !permissions.iter().any(|q| q == known) {
                    permissions.push(known.to_owned());
                }
            }
            ("custom".to_owned(), permissions)
        }
        _ => return Err(ApiError::invalid("give either a role or a list of permissions")),
    };
    let org_units = check_org_units(&state, &scope, &body.org_units)?;

    let user = ServiceUser {
        id: UserId::random(),
        name: name.to_owned(),
        role,
        permissions,
        created_at: state.now(),
        org_units,
    };
    may_act_for_service_user(&caller, &scope, &user)?;
    state.store.create_service_user(&user, None)?;
    tracing::info!(user.id = %user.id, role = %user.role, "service user created");
    Ok((StatusCode::CREATED, Json(user_view(&user))))
}

/// `GET /api/service-users`: a caller limited to org units lists the users limited to
/// units within its own.
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<ServiceUserView>>> {
    let users = state.store.service_users()?;
    let views: Vec<ServiceUserView> =
        users.iter().filter(|u| scope.covers(&u.org_units)).map(user_view).collect();
    Ok(Json(paginate_by_text(views, &query, |v| format!("{}\n{}", v.name, v.id))?))
}

/// `GET /api/service-users/{id}`
pub async fn show(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<UserId>,
) -> ApiResult<Json<ServiceUserView>> {
    Ok(Json(user_view(&load_user(&state, &scope, id, Intent::Read)?)))
}

/// `POST /api/service-users/{id}/api-keys`
pub async fn create_key(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<UserId>,
    super::extract::OptionalJson(body): super::extract::OptionalJson<NewApiKey>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let user = load_user(&state, &scope, id, Intent::Change)?;
    may_act_for_service_user(&caller, &scope, &user)?;
    let now = state.now();
    if body.expires_at.is_some_and(|t| chrono::Datelike::year(&t) > 9999) {
        return Err(ApiError::invalid("expires_at must lie before the year 10000"));
    }
    if body.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::invalid("expires_at must lie in the future"));
    }
    let (api_key, record) =
        ApiKeyRecord::issue(user.id, now, body.expires_at).map_err(ApiError::internal)?;
    state.store.put_api_key(&record)?;
    tracing::info!(user.id = %user.id, key.id = %record.id, "API key issued");
    Ok((StatusCode::CREATED, Json(ApiKeyCreated { key: key_view(&record), api_key })))
}

/// `GET /api/service-users/{id}/api-keys`
pub async fn list_keys(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<UserId>,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<ApiKeyView>>> {
    load_user(&state, &scope, id, Intent::Read)?;
    let keys: Vec<ApiKeyView> =
        state.store.api_keys()?.iter().filter(|k| k.user == id).map(key_view).collect();
    let key = |k: &ApiKeyView| format!("{}\n{}", sortable_instant(k.created_at), k.id);
    Ok(Json(paginate_by_text(keys, &query, key)?))
}

/// `POST /api/service-users/{id}/api-keys/{key_id}/revoke`
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(path): PathParams<KeyPath>,
) -> ApiResult<Json<ApiKeyView>> {
    let owner = load_user(&state, &scope, path.id, Intent::Change)?;
    may_act_for_service_user(&caller, &scope, &owner)?;
    let mut key = state
        .store
        .api_keys()?
        .into_iter()
        .find(|k| k.id == path.key_id && k.user == path.id)
        .ok_or_else(|| ApiError::not_found(format!("API key {} does not exist", path.key_id)))?;
    refuse_last_admin_key(&state, &key)?;
    key.revoked_at.get_or_insert(state.now());
    state.store.put_api_key(&key)?;
    tracing::warn!(user.id = %path.id, key.id = %key.id, "API key revoked");
    Ok(Json(key_view(&key)))
}

/// `GET /api/me`: the signed-in interactive user. Service-user keys are refused: a
/// service user is not a person and has no dashboard.
pub async fn me() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "service_user_not_allowed",
        "/api/me serves interactive users; service-user API keys are refused here",
    )
}
