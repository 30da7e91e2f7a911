//! The HTTP API under `/api`.

pub mod auth;
pub mod device;
pub mod employees;
pub mod error;
pub mod extract;
pub mod kiosks;
pub mod org;
pub mod page;
pub mod reports;
pub mod settings;
pub mod timesheet;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::NaiveDate;

use error::{ApiError, ApiResult};

use crate::state::AppState;

/// The largest request body accepted; a batch is at most 1 MiB.
const MAX_BODY: usize = 2 << 20;

/// What `GET /api/` answers.
pub const IDENTIFIER: &str = concat!("mtime ", env!("CARGO_PKG_VERSION"));

/// The whole API, ready to serve or to call in tests without a socket.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/org-units", get(org::list).post(org::create))
        .route("/api/org-units/{id}", get(org::show))
        .route("/api/employees", get(employees::list).post(employees::create))
        .route("/api/employees/{id}", get(employees::show))
        .route("/api/employees/{id}/versions", post(employees::add_version))
        .route("/api/employees/{id}/timesheet/presence", get(timesheet::presence))
        .route("/api/employees/{id}/timesheet/clock-in", post(timesheet::clock_in))
        .route("/api/employees/{id}/timesheet/clock-out", post(timesheet::clock_out))
        .route("/api/employees/{id}/timesheet/corrections", post(timesheet::correct))
        .route("/api/settings/reasons", get(settings::list).post(settings::create))
        .route("/api/kiosks", get(kiosks::list).post(kiosks::create))
        .route("/api/kiosks/{id}", get(kiosks::show))
        .route("/api/kiosks/{id}/enrollment-code", post(kiosks::new_code))
        .route("/api/kiosks/{id}/revoke", post(kiosks::revoke))
        .route("/api/reports/presence", get(reports::presence))
        .route("/api/reports/unknown-badges", get(reports::unknown_badges))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_key));

    // Device routes authenticate by the kiosk's signature, not by API key.
    let device = Router::new()
        .route("/api/kiosk/enroll", post(device::enroll))
        .route("/api/kiosk/{id}/roster", post(device::roster))
        .route("/api/kiosk/{id}/batches", post(device::batches))
        .route("/api/kiosk/{id}/heartbeat", post(device::heartbeat));

    Router::new()
        .route("/api/", get(health))
        .route("/api", get(health))
        .merge(protected)
        .merge(device)
        .fallback(not_found)
        .layer(middleware::from_fn(auth::refuse_key_in_query))
        .layer(middleware::from_fn(log_request))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn health() -> &'static str {
    IDENTIFIER
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the API lives under /api")
}

/// One line per request: method, route, status, duration. Never the query string, which
/// could carry a secret by mistake.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(http.method = %method, http.route = %route, http.path = %path, http.status = status, ms, "request");
    } else {
        tracing::info!(http.method = %method, http.route = %route, http.path = %path, http.status = status, ms, "request");
    }
    response
}

/// The effective date of a new record: the one given, or `today`. A date in the past
/// changes history, so it needs `retroactive: true`.
pub fn effective_from(
    given: Option<NaiveDate>,
    retroactive: bool,
    today: NaiveDate,
) -> ApiResult<NaiveDate> {
    match given {
        None => Ok(today),
        Some(date) if date < today && !retroactive => Err(ApiError::invalid(format!(
            "effective_from {date} lies in the past (today is {today}); \
             set \"retroactive\": true to change a past period"
        ))),
        Some(date) => Ok(date),
    }
}
