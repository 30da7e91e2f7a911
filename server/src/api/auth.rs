//! Bearer API keys, checked in one place for every protected route.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use crate::model::ServiceUser;
use crate::secret::{API_KEY_PREFIX, api_key_display_prefix, api_key_hash};
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The service user whose key was presented.
    pub user: ServiceUser,
    /// The key's displayable prefix, for logs.
    pub key_prefix: String,
}

/// How often a key's last use is written back.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Refuses a request without a valid `Authorization: Bearer mtime_ak_…` header.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("send an API key as Authorization: Bearer mtime_ak_…")
    })?;
    let value =
        header.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let key = value
        .strip_prefix("Bearer ")
        .map(str::trim)
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

    request.extensions_mut().insert(Caller { user, key_prefix: api_key_display_prefix(&key) });
    Ok(next.run(request).await)
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
