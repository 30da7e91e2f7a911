//! The HTTP API under `/api`.

pub mod auth;
pub mod device;
pub mod employees;
pub mod error;
pub mod extract;
pub mod feed;
pub mod kiosks;
pub mod openapi;
pub mod operation;
pub mod org;
pub mod page;
pub mod reports;
pub mod settings;
pub mod timesheet;
pub mod totals;
pub mod users;
pub mod webhooks;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use chrono::NaiveDate;

use error::{ApiError, ApiResult};
use operation::{Access, Content, Operation, op};

use crate::access;

use crate::state::AppState;

/// The largest request body accepted; a batch is at most 1 MiB.
const MAX_BODY: usize = 2 << 20;

/// What `GET /api/` answers.
pub const IDENTIFIER: &str = concat!("mtime ", env!("CARGO_PKG_VERSION"));

/// Every operation of the API, in the order of the document.
pub fn operations() -> Vec<Operation> {
    use Access::{Device, Key, Public};
    use access::*;
    use axum::http::Method as M;

    vec![
        op(
            M::GET,
            "/api/",
            "health",
            "Meta",
            "Health check: a plain identifier",
            Public,
            get(health),
        )
        .returns_content(200, Content::Text),
        op(
            M::GET,
            "/api/openapi.json",
            "openapiJson",
            "Meta",
            "This document, as JSON",
            Key(API_READ),
            get(openapi::json),
        )
        .returns_with(200, openapi::document_schema),
        op(
            M::GET,
            "/api/openapi.yaml",
            "openapiYaml",
            "Meta",
            "This document, as YAML",
            Key(API_READ),
            get(openapi::yaml),
        )
        .returns_content(200, Content::Yaml),
        op(
            M::GET,
            "/api/metrics",
            "metrics",
            "Meta",
            "Operating figures in the Prometheus text format",
            Key(METRICS_READ),
            get(metrics),
        )
        .returns_content(200, Content::Text),
        op(
            M::GET,
            "/api/events",
            "listEvents",
            "Events",
            "The durable feed of what happened, in order, after a cursor",
            Key(EVENTS_READ),
            get(feed::list),
        )
        .query::<feed::FeedQuery>()
        .returns::<page::Page<feed::FeedEntryView>>(200)
        .errors(&[400]),
        op(
            M::GET,
            "/api/sse",
            "streamEvents",
            "Events",
            "The feed as server-sent events: from a cursor or Last-Event-ID, then live",
            Key(EVENTS_READ),
            get(feed::stream),
        )
        .query::<feed::StreamQuery>()
        .returns_content(200, Content::EventStream)
        .errors(&[400]),
        op(
            M::GET,
            "/api/webhooks",
            "listWebhooks",
            "Events",
            "List webhook subscriptions (never their secrets)",
            Key(WEBHOOKS_READ),
            get(webhooks::list),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<webhooks::WebhookView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/webhooks",
            "createWebhook",
            "Events",
            "Subscribe a URL to the feed; its signing secret is shown once",
            Key(WEBHOOKS_WRITE),
            post(webhooks::create),
        )
        .describe(webhooks::CREATE_DESCRIPTION)
        .json_body::<webhooks::NewWebhook>()
        .returns::<webhooks::WebhookCreated>(201)
        .errors(&[400, 409, 413])
        .link("getWebhook", &[("id", "$response.body#/webhook/id")])
        .link("listWebhookDeliveries", &[("id", "$response.body#/webhook/id")])
        .link("deleteWebhook", &[("id", "$response.body#/webhook/id")]),
        op(
            M::GET,
            "/api/webhooks/{id}",
            "getWebhook",
            "Events",
            "One webhook subscription (never its secret)",
            Key(WEBHOOKS_READ),
            get(webhooks::show),
        )
        .returns::<webhooks::WebhookView>(200)
        .errors(&[404]),
        op(
            M::DELETE,
            "/api/webhooks/{id}",
            "deleteWebhook",
            "Events",
            "Delete a webhook subscription: its deliveries stop and its log goes",
            Key(WEBHOOKS_WRITE),
            delete(webhooks::delete),
        )
        .returns_content(204, Content::None)
        .errors(&[404]),
        op(
            M::GET,
            "/api/webhooks/{id}/deliveries",
            "listWebhookDeliveries",
            "Events",
            "A webhook's delivery attempts, oldest first; the last 1000 are kept",
            Key(WEBHOOKS_READ),
            get(webhooks::deliveries),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<webhooks::DeliveryView>>(200)
        .errors(&[400, 404]),
        // Users
        op(
            M::GET,
            "/api/roles",
            "listRoles",
            "Users",
            "The roles and their permissions",
            Key(USERS_READ),
            get(users::roles),
        )
        .returns::<Vec<users::RoleView>>(200),
        op(
            M::GET,
            "/api/service-users",
            "listServiceUsers",
            "Users",
            "List service users",
            Key(USERS_READ),
            get(users::list),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<users::ServiceUserView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/service-users",
            "createServiceUser",
            "Users",
            "Create a service user with a role or permissions",
            Key(USERS_WRITE),
            post(users::create),
        )
        .json_body::<users::NewServiceUser>()
        .returns::<users::ServiceUserView>(201)
        .errors(&[400, 409, 413])
        .link("getServiceUser", &[("id", "$response.body#/id")])
        .link("listApiKeys", &[("id", "$response.body#/id")])
        .link("createApiKey", &[("id", "$response.body#/id")]),
        op(
            M::GET,
            "/api/service-users/{id}",
            "getServiceUser",
            "Users",
            "One service user",
            Key(USERS_READ),
            get(users::show),
        )
        .returns::<users::ServiceUserView>(200)
        .errors(&[404]),
        op(
            M::GET,
            "/api/service-users/{id}/api-keys",
            "listApiKeys",
            "Users",
            "A service user's API keys (metadata only)",
            Key(USERS_READ),
            get(users::list_keys),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<users::ApiKeyView>>(200)
        .errors(&[400, 404]),
        op(
            M::POST,
            "/api/service-users/{id}/api-keys",
            "createApiKey",
            "Users",
            "Issue an API key, shown once",
            Key(USERS_WRITE),
            post(users::create_key),
        )
        .optional_json_body::<users::NewApiKey>()
        .returns::<users::ApiKeyCreated>(201)
        .errors(&[400, 404, 413])
        .link("revokeApiKey", &[("id", "$request.path.id"), ("key_id", "$response.body#/key/id")]),
        op(
            M::POST,
            "/api/service-users/{id}/api-keys/{key_id}/revoke",
            "revokeApiKey",
            "Users",
            "Revoke an API key",
            Key(USERS_WRITE),
            post(users::revoke_key),
        )
        .returns::<users::ApiKeyView>(200)
        .errors(&[404]),
        op(
            M::GET,
            "/api/me",
            "getMe",
            "Me",
            "The signed-in interactive user; refuses service-user keys",
            Key(ME_READ),
            get(users::me),
        )
        .returns::<error::ErrorBody>(403),
        // Organization
        op(
            M::GET,
            "/api/org-units",
            "listOrgUnits",
            "Organization",
            "List org units",
            Key(ORGANIZATION_READ),
            get(org::list),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<org::OrgUnitView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/org-units",
            "createOrgUnit",
            "Organization",
            "Create an org unit; one with a time zone is a site",
            Key(ORGANIZATION_WRITE),
            post(org::create),
        )
        .json_body::<org::NewOrgUnit>()
        .returns::<org::OrgUnitView>(201)
        .errors(&[400, 409, 413])
        .link("getOrgUnit", &[("id", "$response.body#/id")]),
        op(
            M::GET,
            "/api/org-units/{id}",
            "getOrgUnit",
            "Organization",
            "One org unit",
            Key(ORGANIZATION_READ),
            get(org::show),
        )
        .returns::<org::OrgUnitView>(200)
        .errors(&[404]),
        op(
            M::GET,
            "/api/employees",
            "listEmployees",
            "Organization",
            "List employees as of a date",
            Key(ORGANIZATION_READ),
            get(employees::list),
        )
        .query::<employees::AtDate>()
        .returns::<page::Page<employees::EmployeeView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/employees",
            "createEmployee",
            "Organization",
            "Create an employee",
            Key(ORGANIZATION_WRITE),
            post(employees::create),
        )
        .json_body::<employees::NewEmployee>()
        .returns::<employees::EmployeeView>(201)
        .errors(&[400, 409, 413])
        .link("getEmployee", &[("id", "$response.body#/id")])
        .link("addEmployeeVersion", &[("id", "$response.body#/id")])
        .link("listPresence", &[("id", "$response.body#/id")])
        .link("clockIn", &[("id", "$response.body#/id")])
        .link("clockOut", &[("id", "$response.body#/id")])
        .link("correctPresence", &[("id", "$response.body#/id")]),
        op(
            M::GET,
            "/api/employees/{id}",
            "getEmployee",
            "Organization",
            "One employee as of a date",
            Key(ORGANIZATION_READ),
            get(employees::show),
        )
        .query::<employees::AtDate>()
        .returns::<employees::EmployeeView>(200)
        .errors(&[400, 404]),
        op(
            M::POST,
            "/api/employees/{id}/versions",
            "addEmployeeVersion",
            "Organization",
            "A new version of an employee's record from a date",
            Key(ORGANIZATION_WRITE),
            post(employees::add_version),
        )
        .json_body::<employees::NewVersion>()
        .returns::<employees::EmployeeView>(201)
        .errors(&[400, 404, 409, 413]),
        // Timesheet
        op(
            M::GET,
            "/api/employees/{id}/timesheet/presence",
            "listPresence",
            "Timesheet",
            "Presence intervals overlapping a range",
            Key(TIMESHEET_READ),
            get(timesheet::presence),
        )
        .query::<timesheet::PresenceQuery>()
        .returns::<page::Page<timesheet::IntervalView>>(200)
        .errors(&[400, 404]),
        op(
            M::GET,
            "/api/employees/{id}/timesheet/events",
            "listPresenceEvents",
            "Timesheet",
            "The presence events of a period: the audit trail behind the intervals",
            Key(TIMESHEET_READ),
            get(timesheet::events),
        )
        .query::<timesheet::PresenceQuery>()
        .returns::<page::Page<timesheet::EventView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/employees/{id}/timesheet/clock-in",
            "clockIn",
            "Timesheet",
            "Clock in now",
            Key(TIMESHEET_WRITE),
            post(timesheet::clock_in),
        )
        .optional_json_body::<timesheet::ClockRequest>()
        .returns::<timesheet::PunchCreated>(201)
        .errors(&[400, 404, 409, 413]),
        op(
            M::POST,
            "/api/employees/{id}/timesheet/clock-out",
            "clockOut",
            "Timesheet",
            "Clock out now",
            Key(TIMESHEET_WRITE),
            post(timesheet::clock_out),
        )
        .optional_json_body::<timesheet::ClockRequest>()
        .returns::<timesheet::PunchCreated>(201)
        .errors(&[400, 404, 409, 413]),
        op(
            M::POST,
            "/api/employees/{id}/timesheet/corrections",
            "correctPresence",
            "Timesheet",
            "Add a punch after the fact, with author and note",
            Key(TIMESHEET_WRITE),
            post(timesheet::correct),
        )
        .json_body::<timesheet::CorrectionRequest>()
        .returns::<timesheet::PunchCreated>(201)
        .errors(&[400, 404, 409, 413]),
        // Settings
        op(
            M::GET,
            "/api/settings/reasons",
            "listReasons",
            "Settings",
            "List reasons",
            Key(SETTINGS_READ),
            get(settings::list),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<settings::ReasonView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/settings/reasons",
            "createReason",
            "Settings",
            "Create a reason",
            Key(SETTINGS_CREATE),
            post(settings::create),
        )
        .json_body::<settings::NewReason>()
        .returns::<settings::ReasonView>(201)
        .errors(&[400, 409, 413]),
        op(
            M::GET,
            "/api/settings/dimensions",
            "listDimensions",
            "Settings",
            "List dimensions and their allowed values",
            Key(SETTINGS_READ),
            get(settings::list_dimensions),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<settings::DimensionView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/settings/dimensions",
            "createDimension",
            "Settings",
            "Create a dimension with its allowed values",
            Key(SETTINGS_CREATE),
            post(settings::create_dimension),
        )
        .json_body::<settings::NewDimension>()
        .returns::<settings::DimensionView>(201)
        .errors(&[400, 409, 413]),
        op(
            M::GET,
            "/api/settings/activities",
            "listActivities",
            "Settings",
            "List activities",
            Key(SETTINGS_READ),
            get(settings::list_activities),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<settings::ActivityView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/settings/activities",
            "createActivity",
            "Settings",
            "Create an activity; a child shares its parent's type",
            Key(SETTINGS_CREATE),
            post(settings::create_activity),
        )
        .json_body::<settings::NewActivity>()
        .returns::<settings::ActivityView>(201)
        .errors(&[400, 409, 413]),
        op(
            M::GET,
            "/api/settings/activities/{code}",
            "getActivity",
            "Settings",
            "One activity",
            Key(SETTINGS_READ),
            get(settings::show_activity),
        )
        .returns::<settings::ActivityView>(200)
        .errors(&[404]),
        // Kiosks
        op(
            M::GET,
            "/api/kiosks",
            "listKiosks",
            "Kiosks",
            "List kiosks with their status",
            Key(KIOSKS_READ),
            get(kiosks::list),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<kiosks::KioskView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/kiosks",
            "createKiosk",
            "Kiosks",
            "Create a kiosk; its enrollment code is shown once",
            Key(KIOSKS_WRITE),
            post(kiosks::create),
        )
        .json_body::<kiosks::NewKiosk>()
        .returns::<kiosks::EnrollmentCodeView>(201)
        .errors(&[400, 413])
        .link("getKiosk", &[("id", "$response.body#/kiosk/id")])
        .link("newEnrollmentCode", &[("id", "$response.body#/kiosk/id")])
        .link("revokeKiosk", &[("id", "$response.body#/kiosk/id")]),
        op(
            M::GET,
            "/api/kiosks/{id}",
            "getKiosk",
            "Kiosks",
            "One kiosk",
            Key(KIOSKS_READ),
            get(kiosks::show),
        )
        .returns::<kiosks::KioskView>(200)
        .errors(&[404]),
        op(
            M::POST,
            "/api/kiosks/{id}/enrollment-code",
            "newEnrollmentCode",
            "Kiosks",
            "A new enrollment code for a kiosk not yet enrolled",
            Key(KIOSKS_WRITE),
            post(kiosks::new_code),
        )
        .returns::<kiosks::EnrollmentCodeView>(201)
        .errors(&[404, 409]),
        op(
            M::POST,
            "/api/kiosks/{id}/settings",
            "updateKioskSettings",
            "Kiosks",
            "Change a kiosk's name or behaviour (repeat window, maximum open interval, language)",
            Key(KIOSKS_WRITE),
            post(kiosks::update_settings),
        )
        .json_body::<kiosks::KioskSettings>()
        .returns::<kiosks::KioskView>(200)
        .errors(&[400, 404, 413]),
        op(
            M::POST,
            "/api/kiosks/{id}/revoke",
            "revokeKiosk",
            "Kiosks",
            "Revoke a kiosk: its batches are refused from now on",
            Key(KIOSKS_WRITE),
            post(kiosks::revoke),
        )
        .returns::<kiosks::KioskView>(200)
        .errors(&[404]),
        op(
            M::POST,
            "/api/kiosk/enroll",
            "enrollKiosk",
            "Kiosks",
            "Device: enroll with a one-time code and the kiosk's public key",
            Device,
            post(device::enroll),
        )
        .json_body::<mtime_core::protocol::EnrollRequest>()
        .returns::<mtime_core::protocol::EnrollResponse>(200)
        .errors(&[400, 413, 429]),
        op(
            M::POST,
            "/api/kiosk/{id}/roster",
            "kioskRoster",
            "Kiosks",
            "Device: the kiosk's roster, signed by the server",
            Device,
            post(device::roster),
        )
        .signed_body()
        .returns_content(200, Content::Signed)
        .errors(&[400, 403, 413]),
        op(
            M::POST,
            "/api/kiosk/{id}/batches",
            "kioskBatch",
            "Kiosks",
            "Device: upload a signed batch; answers a signed receipt",
            Device,
            post(device::batches),
        )
        .signed_body()
        .returns_content(200, Content::Signed)
        .errors(&[400, 403, 409, 413]),
        op(
            M::POST,
            "/api/kiosk/{id}/heartbeat",
            "kioskHeartbeat",
            "Kiosks",
            "Device: report status; answers the server's time, signed",
            Device,
            post(device::heartbeat),
        )
        .signed_body()
        .returns_content(200, Content::Signed)
        .errors(&[400, 403, 413]),
        op(
            M::GET,
            "/api/reports/intervals",
            "reportIntervals",
            "Reports",
            "Every presence interval overlapping a period, by employee",
            Key(REPORTS_READ),
            get(totals::intervals),
        )
        .query::<totals::IntervalsQuery>()
        .returns::<page::Page<totals::ReportInterval>>(200)
        .errors(&[400]),
        op(
            M::GET,
            "/api/reports/intervals.csv",
            "reportIntervalsCsv",
            "Reports",
            "The same intervals as one CSV file",
            Key(REPORTS_READ),
            get(totals::intervals_csv),
        )
        .query::<totals::IntervalsQuery>()
        .returns_content(200, Content::Csv)
        .errors(&[400]),
        op(
            M::GET,
            "/api/reports/daily-totals",
            "reportDailyTotals",
            "Reports",
            "Worked time per employee and local day",
            Key(REPORTS_READ),
            get(totals::daily_totals),
        )
        .query::<totals::TotalsQuery>()
        .returns::<page::Page<totals::DailyTotal>>(200)
        .errors(&[400]),
        op(
            M::GET,
            "/api/reports/daily-totals.csv",
            "reportDailyTotalsCsv",
            "Reports",
            "The same totals as one CSV file",
            Key(REPORTS_READ),
            get(totals::daily_totals_csv),
        )
        .query::<totals::TotalsQuery>()
        .returns_content(200, Content::Csv)
        .errors(&[400]),
        op(
            M::POST,
            "/api/reports/unknown-badges/assign",
            "assignUnknownBadge",
            "Reports",
            "Give an unknown badge's taps to the employee who holds it",
            Key(TIMESHEET_WRITE),
            post(reports::assign_unknown_badge),
        )
        .json_body::<reports::AssignBadge>()
        .returns::<reports::Assigned>(200)
        .errors(&[400, 404, 409, 413]),
        // Reports
        op(
            M::GET,
            "/api/reports/presence",
            "presenceReport",
            "Reports",
            "Who is in, now or at an instant",
            Key(REPORTS_READ),
            get(reports::presence),
        )
        .query::<reports::AtInstant>()
        .returns::<reports::PresenceReport>(200)
        .errors(&[400]),
        op(
            M::GET,
            "/api/reports/unknown-badges",
            "unknownBadges",
            "Reports",
            "Taps of badges no roster knew",
            Key(REPORTS_READ),
            get(reports::unknown_badges),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<reports::UnknownBadgeTap>>(200)
        .errors(&[400]),
    ]
}

/// The whole API, ready to serve or to call in tests without a socket.
pub fn router(state: AppState) -> Router {
    operation::router(&state, operations())
        .route("/api", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(auth::refuse_key_in_query))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn health() -> &'static str {
    IDENTIFIER
}

/// `GET /api/metrics`
async fn metrics(State(state): State<AppState>) -> ApiResult<String> {
    let now = state.now();
    let mut counts = crate::metrics::KioskCounts::default();
    for kiosk in state.store.kiosks()? {
        let silent_after = chrono::TimeDelta::seconds(3 * i64::from(kiosk.config.heartbeat_secs));
        let heard = kiosk.last_heartbeat.as_ref().map(|h| now - h.received_at);
        match (kiosk.revoked_at, kiosk.public_key, heard) {
            (Some(_), _, _) => counts.revoked += 1,
            (None, None, _) => counts.awaiting_enrollment += 1,
            (None, Some(_), Some(age)) if age <= silent_after => counts.online += 1,
            (None, Some(_), _) => counts.silent += 1,
        }
    }
    Ok(state.metrics.render(counts))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /api/openapi.json",
    )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the API lives under /api")
}

/// One line per request: method, route, status, duration. Never the query string, which
/// could carry a secret by mistake.
async fn log_request(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // A key pasted into a URL by mistake must not reach the log.
    let path = redact(request.uri().path());
    let slot = auth::CallerSlot::default();
    request.extensions_mut().insert(slot.clone());

    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    // Unknown methods share one series, so callers cannot grow the metrics at will.
    let known = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    let metric_method = if known.contains(&method.as_str()) { method.as_str() } else { "OTHER" };
    state.metrics.request(metric_method, &route, status, seconds);
    let ms = seconds * 1000.0;
    let key = slot.key_id().map(|k| k.to_string()).unwrap_or_else(|| "-".to_owned());
    if status >= 500 {
        tracing::error!(http.method = %method, http.route = %route, http.path = %path, http.status = status, ms, caller.key_id = %key, "request");
    } else {
        tracing::info!(http.method = %method, http.route = %route, http.path = %path, http.status = status, ms, caller.key_id = %key, "request");
    }
    response
}

/// The path with anything that looks like an API key masked.
fn redact(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let secret = segment.contains("mtime_ak_") || segment.contains("mtime_whsec_");
            if secret { "[redacted]" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
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
