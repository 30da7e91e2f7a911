//! The HTTP API under `/api`.

pub mod auth;
pub mod descriptor;
pub mod device;
pub mod employees;
pub mod error;
pub mod extract;
pub mod feed;
pub mod interactive_users;
pub mod kiosk_access;
pub mod kiosks;
pub mod openapi;
pub mod operation;
pub mod org;
pub mod page;
pub mod quarantine;
pub mod reports;
pub mod scope;
pub mod settings;
pub mod terms;
pub mod timesheet;
pub mod totals;
pub mod users;
pub mod webhooks;
pub mod weeks;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use chrono::NaiveDate;

use error::{ApiError, ApiResult};
use operation::{Access, Content, Operation, op};

use crate::access;

use crate::state::AppState;

/// The largest request body accepted; a batch is at most 1 MiB.
const MAX_BODY: usize = 2 << 20;

/// What lists that a caller limited to org units sees only part of say about it.
const SCOPED_LIST: &str = "A caller limited to org units (a service user's `org_units`) \
    sees only what lies within those units and the units below them; an unlimited caller \
    sees the whole workspace.";

/// What operations that cover the whole workspace say about callers limited to org units.
const WORKSPACE_WIDE: &str = "Covers the whole workspace, so a caller limited to org units \
    is refused with 403 outside_scope.";

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
        .describe(WORKSPACE_WIDE)
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
        .describe(WORKSPACE_WIDE)
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
        .describe(WORKSPACE_WIDE)
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
            "/api/users",
            "listUsers",
            "Users",
            "List interactive users, by role, email prefix or whether active",
            Key(USERS_READ),
            get(interactive_users::list),
        )
        .describe(
            "A caller limited to org units lists only the users limited to units within \
             its own; an unlimited caller lists every user.",
        )
        .query::<interactive_users::UsersQuery>()
        .returns::<page::Page<interactive_users::UserView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/users",
            "createUser",
            "Users",
            "Create an interactive user with a built-in role, optionally limited to org units",
            Key(USERS_WRITE),
            post(interactive_users::create),
        )
        .describe(
            "Nobody may create a user whose role or org units reach beyond their own. \
             Interactive sign-in (/auth) is not available yet.",
        )
        .json_body::<interactive_users::NewUser>()
        .returns::<interactive_users::UserView>(201)
        .errors(&[400, 409, 413])
        .link("getUser", &[("id", "$response.body#/id")])
        .link("updateUser", &[("id", "$response.body#/id")])
        .link("deactivateUser", &[("id", "$response.body#/id")]),
        op(
            M::GET,
            "/api/users/{id}",
            "getUser",
            "Users",
            "One interactive user",
            Key(USERS_READ),
            get(interactive_users::show),
        )
        .returns::<interactive_users::UserView>(200)
        .errors(&[404]),
        op(
            M::PATCH,
            "/api/users/{id}",
            "updateUser",
            "Users",
            "Change a user's name, role or org units; in force at once",
            Key(USERS_WRITE),
            patch(interactive_users::update),
        )
        .json_body::<interactive_users::UserChange>()
        .returns::<interactive_users::UserView>(200)
        .errors(&[400, 404, 409, 413]),
        op(
            M::POST,
            "/api/users/{id}/deactivate",
            "deactivateUser",
            "Users",
            "Deactivate a user: the record is kept, marked inactive",
            Key(USERS_WRITE),
            post(interactive_users::deactivate),
        )
        .returns::<interactive_users::UserView>(200)
        .errors(&[404]),
        op(
            M::GET,
            "/api/service-users",
            "listServiceUsers",
            "Users",
            "List service users",
            Key(USERS_READ),
            get(users::list),
        )
        .describe(
            "A caller limited to org units lists only the service users limited to units \
             within its own; an unlimited caller lists every one.",
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
        .describe(SCOPED_LIST)
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
        .describe(SCOPED_LIST)
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
        op(
            M::PUT,
            "/api/employees/{id}/pin",
            "setEmployeePin",
            "Organization",
            "Set the PIN an employee checks in with at kiosks that allow it",
            Key(ORGANIZATION_WRITE),
            put(kiosk_access::set_pin),
        )
        .describe(
            "Kiosks whose settings allow it (`pin_fallback`) let an employee without their \
             badge check in with their number and this PIN. The server keeps only a salted \
             hash and sends kiosks that hash with their next roster; the PIN is never \
             returned, logged or echoed in an error.",
        )
        .json_body::<kiosk_access::NewPin>()
        .returns_content(204, Content::None)
        .errors(&[400, 404, 413]),
        op(
            M::DELETE,
            "/api/employees/{id}/pin",
            "deleteEmployeePin",
            "Organization",
            "Remove an employee's PIN",
            Key(ORGANIZATION_WRITE),
            delete(kiosk_access::delete_pin),
        )
        .returns_content(204, Content::None)
        .errors(&[404]),
        op(
            M::PUT,
            "/api/employees/{id}/kiosk-access",
            "setEmployeeKioskAccess",
            "Organization",
            "Make an employee a kiosk admin, or not",
            Key(ORGANIZATION_WRITE),
            put(kiosk_access::set_kiosk_access),
        )
        .describe(
            "A kiosk admin's badge (or PIN) opens the admin mode of the kiosks that carry \
             them in their roster; kiosks pick the change up with their next roster.",
        )
        .json_body::<kiosk_access::KioskAccess>()
        .returns::<employees::EmployeeView>(200)
        .errors(&[400, 404, 413]),
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
        op(
            M::GET,
            "/api/settings/employment-terms",
            "listEmploymentTerms",
            "Settings",
            "List employment terms",
            Key(SETTINGS_READ),
            get(terms::list),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<terms::TermsView>>(200)
        .errors(&[400]),
        op(
            M::POST,
            "/api/settings/employment-terms",
            "createEmploymentTerms",
            "Settings",
            "Create employment terms: the weekly norm and week start of the week counter",
            Key(SETTINGS_CREATE),
            post(terms::create),
        )
        .json_body::<terms::NewTerms>()
        .returns::<terms::TermsView>(201)
        .errors(&[400, 409, 413]),
        op(
            M::GET,
            "/api/settings/employment-terms/{code}",
            "getEmploymentTerms",
            "Settings",
            "One set of employment terms with its versions",
            Key(SETTINGS_READ),
            get(terms::show),
        )
        .returns::<terms::TermsView>(200)
        .errors(&[404]),
        op(
            M::POST,
            "/api/settings/employment-terms/{code}/versions",
            "addEmploymentTermsVersion",
            "Settings",
            "Change employment terms from a date (a past date needs \"retroactive\": true)",
            Key(SETTINGS_CREATE),
            post(terms::add_version),
        )
        .json_body::<terms::NewTermsVersion>()
        .returns::<terms::TermsView>(201)
        .errors(&[400, 404, 413]),
        op(
            M::GET,
            "/api/descriptor/plugins/",
            "listPlugins",
            "Settings",
            "The rule engine's plugins, each with where its configuration schema is served",
            Key(SETTINGS_READ),
            get(descriptor::list),
        )
        .query::<page::PageParams>()
        .returns::<page::Page<descriptor::PluginView>>(200)
        .errors(&[400]),
        op(
            M::GET,
            "/api/descriptor/plugins/{registry}/{plugin_id}/schema",
            "getPluginSchema",
            "Settings",
            "A plugin's configuration schema (JSON Schema 2020-12)",
            Key(SETTINGS_READ),
            get(descriptor::schema),
        )
        .returns::<serde_json::Map<String, serde_json::Value>>(200)
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
        .describe(SCOPED_LIST)
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
            "/api/kiosks/{id}/rotate-key",
            "rotateKioskKey",
            "Kiosks",
            "Ask an enrolled kiosk to replace its key: it does at its next heartbeat, after the \
             batch in flight, and its current key stays valid until then",
            Key(KIOSKS_WRITE),
            post(kiosks::rotate_key),
        )
        .returns::<kiosks::KioskView>(202)
        .errors(&[404, 409]),
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
            M::POST,
            "/api/kiosk/{id}/key",
            "kioskRotateKey",
            "Kiosks",
            "Device: replace the kiosk's key, sealed by the current and the new key; answers \
             the switch, signed",
            Device,
            post(device::rotate_key),
        )
        .signed_body()
        .returns_content(200, Content::Signed)
        .errors(&[400, 403, 409, 413]),
        op(
            M::GET,
            "/api/reports/intervals",
            "reportIntervals",
            "Reports",
            "Every presence interval overlapping a period, by employee",
            Key(REPORTS_READ),
            get(totals::intervals),
        )
        .describe(SCOPED_LIST)
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
        .describe(SCOPED_LIST)
        .query::<totals::IntervalsQuery>()
        .returns_content(200, Content::Csv)
        .errors(&[400]),
        op(
            M::GET,
            "/api/reports/weekly-overtime",
            "reportWeeklyOvertime",
            "Reports",
            "Regular and overtime per employee and local week, by the norm of their \
             employment terms; every week holding a day of the period, whole",
            Key(REPORTS_READ),
            get(weeks::weekly_overtime),
        )
        .query::<weeks::WeeksQuery>()
        .returns::<page::Page<weeks::WeekRow>>(200)
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
        .describe(SCOPED_LIST)
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
        .describe(SCOPED_LIST)
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
        op(
            M::POST,
            "/api/reports/quarantine/{event_id}/accept",
            "acceptQuarantinedTap",
            "Reports",
            "Accept a held kiosk tap at the time an admin established: a correction under \
             their name; the kiosk's event stays as evidence",
            Key(TIMESHEET_WRITE),
            post(quarantine::accept),
        )
        .json_body::<quarantine::Acceptance>()
        .returns::<timesheet::PunchCreated>(201)
        .errors(&[400, 403, 404, 409, 413]),
        // Reports
        op(
            M::GET,
            "/api/reports/quarantine",
            "quarantinedTaps",
            "Reports",
            "Kiosk taps whose time cannot be believed, with the kiosk's clocks as read and why",
            Key(REPORTS_READ),
            get(quarantine::list),
        )
        .describe(SCOPED_LIST)
        .query::<quarantine::QuarantineQuery>()
        .returns::<page::Page<quarantine::QuarantinedTap>>(200)
        .errors(&[400]),
        op(
            M::GET,
            "/api/reports/presence",
            "presenceReport",
            "Reports",
            "Who is in, now or at an instant",
            Key(REPORTS_READ),
            get(reports::presence),
        )
        .describe(SCOPED_LIST)
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
        .describe(SCOPED_LIST)
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

/// `GET /api/metrics`: figures of the whole workspace, so not for a caller limited to org
/// units.
async fn metrics(State(state): State<AppState>, scope: scope::Scope) -> ApiResult<String> {
    scope.require_whole("the metrics")?;
    let now = state.now();
    let mut counts = crate::metrics::KioskCounts::default();
    for kiosk in state.store.kiosks()? {
        match (kiosk.revoked_at, kiosk.public_key) {
            (Some(_), _) => counts.revoked += 1,
            (None, None) => counts.awaiting_enrollment += 1,
            (None, Some(_)) if kiosk.heard_within(now) => counts.online += 1,
            (None, Some(_)) => counts.silent += 1,
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
        tracing::error!(
            http.method = %method,
            http.route = %route,
            http.path = %path,
            http.status = status,
            ms,
            caller.key_id = %key,
            "request",
        );
    } else {
        tracing::info!(
            http.method = %method,
            http.route = %route,
            http.path = %path,
            http.status = status,
            ms,
            caller.key_id = %key,
            "request",
        );
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
