//! Bearer API keys, checked in one place for every protected route.

use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use crate::access::Permission;
use crate::model::ServiceUser;
use crate::secret::{API_KEY_PREFIX, api_key_hash};
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The service user whose key was presented.
    pub user: ServiceUser,
    /// The id of the key presented (not the key), for logs.
    pub key_id: uuid::Uuid,
}

/// How often a key's last use is written back.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The caller of a request, from its `Authorization: Bearer mtime_ak_…` header.
async fn authenticate(
    state: &AppState,
    header: Option<axum::http::HeaderValue>,
) -> Result<Caller, ApiError> {
    let header = header.ok_or_else(|| {
        ApiError::unauthorized("send an API key as Authorization: Bearer mtime_ak_…")
    })?;
    let value =
        header.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    // The scheme's name is case-insensitive (RFC 9110).
    let key = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|k| k.starts_with(API_KEY_PREFIX))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::unauthorized("Authorization must be Bearer mtime_ak_…"))?;

    let hash = api_key_hash(&key);
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.api_key(&hash))
        .await
        .map_err(ApiError::internal)??;
    let (record, user) = found.ok_or_else(|| ApiError::unauthorized("unknown API key"))?;

    let now = state.now();
    if record.revoked_at.is_some() {
        return Err(ApiError::unauthorized("this API key was revoked"));
    }
    if record.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::unauthorized("this API key expired"));
    }
    if record.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.touch_api_key(&hash, now)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not record an API key's last use"),
            Err(e) => tracing::warn!(error = %e, "could not record an API key's last use"),
        }
    }
    Ok(Caller { user, key_id: record.id })
}

/// Authenticates the caller and checks that they hold `permission`; the one place every
/// protected operation's access is decided.
pub async fn authorize(
    state: &AppState,
    permission: Permission,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(AUTHORIZATION).cloned();
    let caller = authenticate(state, header).await?;
    if !caller.user.may(permission) {
        return Err(ApiError::forbidden(permission));
    }
    if let Some(slot) = request.extensions().get::<CallerSlot>() {
        slot.set(caller.key_id);
    }
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// Filled by [`authorize`] so that the request log can name the caller's key id.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(std::sync::Arc<std::sync::OnceLock<uuid::Uuid>>);

impl CallerSlot {
    fn set(&self, key: uuid::Uuid) {
        let _ = self.0.set(key);
    }

    /// The key id, once known.
    pub fn key_id(&self) -> Option<uuid::Uuid> {
        self.0.get().copied()
    }
}

/// Refuses any request that carries an API key in its query string: URLs end up in logs
/// and browser histories.
pub async fn refuse_key_in_query(request: Request, next: Next) -> Result<Response, ApiError> {
    if request.uri().query().is_some_and(|q| q.contains(API_KEY_PREFIX)) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "api_key_in_query",
            "API keys are accepted only in the Authorization header, never in the URL",
        ));
    }
    Ok(next.run(request).await)
}
