//! Interactive users under `/api/users`: people with an email address, a built-in role and
//! optionally a set of org units, who will sign in through `/auth` (not built yet).
//! Records are never deleted: a user who leaves is deactivated and kept.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, OrgUnitId, UserId};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text};
use super::scope::{Intent, Scope};
use super::users::{check_org_units, may_act_for};
use crate::access::{self, ROLES};
use crate::model::{InteractiveUser, email_key};
use crate::state::AppState;

/// The longest email address (RFC 5321 limits a path to 254 characters).
const MAX_EMAIL: usize = 254;

/// A new interactive user.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Their email address; unique regardless of case.
    #[schemars(length(min = 3, max = 254))]
    email: String,
    /// The name people see: 1 to 200 characters.
    #[schemars(length(min = 1, max = 200))]
    display_name: String,
    /// One of the built-in roles (`GET /api/roles`).
    role: String,
    /// The org units they are limited to, with every unit below them; the whole workspace
    /// when absent or empty. A caller limited to org units must give units within them.
    #[serde(default)]
    #[schemars(length(max = 100))]
    org_units: Vec<OrgUnitId>,
    /// The employee this person is.
    employee_id: Option<EmployeeId>,
}

/// Changes to an interactive user; fields left out keep their value. Effective at once.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// A new name: 1 to 200 characters.
    #[schemars(length(min = 1, max = 200))]
    display_name: Option<String>,
    /// A new built-in role.
    role: Option<String>,
    /// New org units; empty for the whole workspace.
    #[schemars(length(max = 100))]
    org_units: Option<Vec<OrgUnitId>>,
}

/// `?role=&email_prefix=&active=` plus paging.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UsersQuery {
    /// Only users with this role.
    role: Option<String>,
    /// Only users whose email address starts with this, regardless of case.
    #[schemars(length(max = 254))]
    email_prefix: Option<String>,
    /// Only active (`true`) or deactivated (`false`) users.
    active: Option<bool>,
    /// Items per page: 1 to 1000, 100 when absent.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// An interactive user as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserView {
    /// Id.
    pub id: UserId,
    /// Email address, as given.
    pub email: String,
    /// The name people see.
    pub display_name: String,
    /// Built-in role.
    pub role: String,
    /// What the role lets them do.
    pub permissions: Vec<String>,
    /// The org units they are limited to; empty for the whole workspace.
    pub org_units: Vec<OrgUnitId>,
    /// The employee this person is.
    pub employee_id: Option<EmployeeId>,
    /// False once deactivated.
    pub active: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
    /// When the user was deactivated.
    pub deactivated_at: Option<DateTime<Utc>>,
}

fn view(user: &InteractiveUser) -> UserView {
    UserView {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role.clone(),
        permissions: user.permissions().iter().map(|p| p.to_string()).collect(),
        org_units: user.org_units.clone(),
        employee_id: user.employee,
        active: user.deactivated_at.is_none(),
        created_at: user.created_at,
        updated_at: user.updated_at,
        deactivated_at: user.deactivated_at,
    }
}

/// An email address, trimmed: a local part and a domain of dot-separated labels. Checks
/// the shape only; whether mail arrives is for sign-in to find out.
fn check_email(given: &str) -> ApiResult<String> {
    let email = given.trim();
    let refuse = || {
        ApiError::invalid(format!(
            "email {email:?} is not an address such as ann@example.com (at most {MAX_EMAIL} \
             characters, no spaces)"
        ))
    };
    // The length as sent, before trimming, as the documented maxLength counts it.
    if given.chars().count() > MAX_EMAIL
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(refuse());
    }
    let (local, domain) = email.split_once('@').ok_or_else(refuse)?;
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']);
    if local_ok && labels_ok { Ok(email.to_owned()) } else { Err(refuse()) }
}

fn check_display_name(given: &str) -> ApiResult<String> {
    let name = given.trim();
    if name.is_empty() || given.chars().count() > 200 {
        return Err(ApiError::invalid("display_name must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

fn check_role(role: &str) -> ApiResult<&'static access::Role> {
    access::role(role).ok_or_else(|| {
        let names: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
        ApiError::invalid(format!("role {role:?} does not exist; roles: {}", names.join(", ")))
    })
}

/// Refuses the caller a user whose role or org units reach beyond its own.
fn may_act_as(
    caller: &Caller,
    scope: &Scope,
    email: &str,
    role: &access::Role,
    org_units: &[OrgUnitId],
) -> ApiResult<()> {
    may_act_for(caller, scope, email, role.permissions, org_units)
}

/// The user `id`. A caller limited to org units sees only users limited to units within
/// its own; reading any other is not found, changing it is refused.
fn load(state: &AppState, scope: &Scope, id: UserId, intent: Intent) -> ApiResult<InteractiveUser> {
    match state.store.user(id)? {
        Some(user) if scope.covers(&user.org_units) => Ok(user),
        _ => Err(scope.unseen(intent, format!("user {id}"))),
    }
}

/// `POST /api/users`
pub async fn create(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let email = check_email(&body.email)?;
    let display_name = check_display_name(&body.display_name)?;
    let role = check_role(&body.role)?;
    let org_units = check_org_units(&state, &scope, &body.org_units)?;
    if let Some(employee) = body.employee_id {
        // An employee the caller cannot see reads as one that does not exist.
        scope
            .employee(&state, employee, Intent::Read)
            .map_err(|_| ApiError::invalid(format!("employee {employee} does not exist")))?;
    }
    may_act_as(&caller, &scope, &email, role, &org_units)?;

    let now = state.now();
    let user = InteractiveUser {
        id: UserId::random(),
        email,
        display_name,
        role: role.name.to_owned(),
        org_units,
        employee: body.employee_id,
        created_at: now,
        updated_at: now,
        deactivated_at: None,
    };
    state.store.insert_user(&user)?;
    tracing::info!(user.id = %user.id, role = %user.role, "interactive user created");
    Ok((StatusCode::CREATED, Json(view(&user))))
}

/// `GET /api/users`: a caller limited to org units lists the users limited to units within
/// its own.
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<UsersQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    if let Some(role) = &query.role {
        check_role(role)?;
    }
    if query.email_prefix.as_ref().is_some_and(|p| p.chars().count() > MAX_EMAIL) {
        return Err(ApiError::invalid(format!("email_prefix is at most {MAX_EMAIL} characters")));
    }
    let prefix = query.email_prefix.as_deref().map(email_key);
    let views: Vec<UserView> = state
        .store
        .users()?
        .iter()
        .filter(|u| scope.covers(&u.org_units))
        .filter(|u| query.role.as_ref().is_none_or(|r| *r == u.role))
        .filter(|u| prefix.as_ref().is_none_or(|p| u.email_key().starts_with(p.as_str())))
        .filter(|u| query.active.is_none_or(|a| a == u.deactivated_at.is_none()))
        .map(view)
        .collect();
    let params = PageParams { limit: query.limit, cursor: query.cursor.clone() };
    Ok(Json(paginate_by_text(views, &params, |v| format!("{}\n{}", email_key(&v.email), v.id))?))
}

/// `GET /api/users/{id}`
pub async fn show(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<UserId>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(view(&load(&state, &scope, id, Intent::Read)?)))
}

/// `PATCH /api/users/{id}`: a new name, role or org units, in force at once. The caller
/// must be able to act for the user both as it is and as it becomes.
pub async fn update(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<UserId>,
    JsonBody(body): JsonBody<UserChange>,
) -> ApiResult<Json<UserView>> {
    let current = load(&state, &scope, id, Intent::Change)?;
    let display_name = body.display_name.as_deref().map(check_display_name).transpose()?;
    let role = body.role.as_deref().map(check_role).transpose()?;
    let org_units = body.org_units.as_deref().map(|u| check_org_units(&state, &scope, u));
    let org_units = org_units.transpose()?;

    let current_role = check_role(&current.role)?;
    may_act_as(&caller, &scope, &current.email, current_role, &current.org_units)?;
    let new_role = role.unwrap_or(current_role);
    let new_units = org_units.as_deref().unwrap_or(&current.org_units);
    may_act_as(&caller, &scope, &current.email, new_role, new_units)?;
    if current.deactivated_at.is_some() {
        return Err(ApiError::conflict(
            "user_inactive",
            format!("user {id} is deactivated; a deactivated user is kept as it was"),
        ));
    }
    let changes = display_name.is_some() || role.is_some() || org_units.is_some();
    if !changes {
        return Ok(Json(view(&current)));
    }

    let now = state.now();
    let (mut display_name, mut org_units) = (display_name, org_units);
    let updated = state.store.update_user(id, &mut |user| {
        if let Some(name) = display_name.take() {
            user.display_name = name;
        }
        if let Some(role) = role {
            user.role = role.name.to_owned();
        }
        if let Some(units) = org_units.take() {
            user.org_units = units;
        }
        user.updated_at = now;
    })?;
    tracing::info!(user.id = %id, role = %updated.role, "interactive user changed");
    Ok(Json(view(&updated)))
}

/// `POST /api/users/{id}/deactivate`: the user is kept, marked inactive from now; doing it
/// again changes nothing.
pub async fn deactivate(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<UserId>,
) -> ApiResult<Json<UserView>> {
    let current = load(&state, &scope, id, Intent::Change)?;
    let role = check_role(&current.role)?;
    may_act_as(&caller, &scope, &current.email, role, &current.org_units)?;
    if current.deactivated_at.is_some() {
        return Ok(Json(view(&current)));
    }
    let now = state.now();
    let updated = state.store.update_user(id, &mut |user| {
        user.deactivated_at.get_or_insert(now);
        user.updated_at = now;
    })?;
    tracing::warn!(user.id = %id, "interactive user deactivated");
    Ok(Json(view(&updated)))
}

#[cfg(test)]
mod tests {
    use super::check_email;

    #[test]
    fn email_addresses_are_checked_for_shape() {
        for good in ["ann@example.com", " Ann.B+time@Plant.example.org ", "a@b.co", "ø@bø.no"] {
            assert_eq!(check_email(good).ok().as_deref(), Some(good.trim()), "{good}");
        }
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "ann smith@example.com",
            "ann@-example.com",
            "ann@example..com",
            ".ann@example.com",
            "ann\u{0}@example.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        assert!(check_email(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
