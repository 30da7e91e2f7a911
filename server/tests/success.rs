//! Every operation in the served OpenAPI document succeeds with a valid request: the cases
//! below are keyed by operationId, and the test fails for an operation the document has
//! and no case covers, so a new operation cannot ship without one.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use common::TestServer;
use mtime_core::batch::{Batch, BatchHash};
use mtime_core::event::{Direction, DirectionSource, PresenceEvent, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId, OrgUnitId};
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{HEARTBEAT, Heartbeat, ROSTER_REQUEST, RosterRequest};
use mtime_core::rotation::{KeyRotation, KeyRotationRequest};
use mtime_core::seal;

/// What a case sends.
enum Payload {
    None,
    Json(Value),
    Signed(Vec<u8>),
}

/// A workspace with a site, an employee with a badge, and an enrolled kiosk.
struct World {
    site: OrgUnitId,
    employee: EmployeeId,
    kiosk: KioskId,
    key: SigningKey,
}

fn reading(server: &TestServer) -> TimeReading {
    TimeReading {
        wall: server.state.now(),
        boot: BootId::random(),
        monotonic: Duration::ZERO,
        wall_trusted: true,
    }
}

/// The first tap of the world's kiosk.
fn tap(w: &World, time: TimeReading) -> PresenceEvent {
    PresenceEvent {
        id: EventId::random(),
        kiosk: w.kiosk,
        seq: 1,
        subject: Subject::Employee {
            id: w.employee,
            badge: Some("04E87577DE9811".parse().unwrap()),
        },
        direction: Direction::In,
        direction_source: DirectionSource::Explicit,
        reason: "WORK".parse().unwrap(),
        time,
        amends: None,
    }
}

async fn id_of(server: &TestServer, path: &str, body: Value) -> String {
    server.ok("POST", path, body).await["id"].as_str().unwrap().to_owned()
}

/// The request of one operation's case; `None` when the document has an operation this
/// test does not know.
async fn case(
    server: &TestServer,
    w: &World,
    operation: &str,
) -> Option<(&'static str, String, Payload)> {
    use Payload::{Json, None as Empty, Signed};
    let (site, employee, kiosk) = (w.site, w.employee, w.kiosk);
    let timesheet = format!("/api/employees/{employee}/timesheet");
    let period = "from=2025-05-11T00:00:00-05:00&to=2025-05-12T00:00:00-05:00";
    let days = "from=2025-05-11&to=2025-05-11";
    let terms = json!({"code": "FT", "name": "Full time",
        "weekly_overtime": {"weekly_norm_minutes": 2400, "week_start": "monday"}});
    let user = json!({"email": "ann@example.com", "display_name": "Ann", "role": "payroll"});
    // Nothing listens there: the test server runs no delivery worker.
    let hook = json!({"url": "http://127.0.0.1:9/hook", "kinds": ["interval.closed"]});

    Some(match operation {
        "health" => ("GET", "/api/".into(), Empty),
        "openapiJson" => ("GET", "/api/openapi.json".into(), Empty),
        "openapiYaml" => ("GET", "/api/openapi.yaml".into(), Empty),
        "metrics" => ("GET", "/api/metrics".into(), Empty),
        "listEvents" => ("GET", "/api/events?limit=5".into(), Empty),
        "streamEvents" => ("GET", "/api/sse".into(), Empty),
        "listWebhooks" => ("GET", "/api/webhooks".into(), Empty),
        "createWebhook" => ("POST", "/api/webhooks".into(), Json(hook)),
        "getWebhook" | "deleteWebhook" | "listWebhookDeliveries" => {
            let created = server.ok("POST", "/api/webhooks", hook).await;
            let id = created["webhook"]["id"].as_str().unwrap().to_owned();
            match operation {
                "getWebhook" => ("GET", format!("/api/webhooks/{id}"), Empty),
                "deleteWebhook" => ("DELETE", format!("/api/webhooks/{id}"), Empty),
                _ => ("GET", format!("/api/webhooks/{id}/deliveries"), Empty),
            }
        }
        "listRoles" => ("GET", "/api/roles".into(), Empty),
        "listUsers" => ("GET", "/api/users".into(), Empty),
        "createUser" => ("POST", "/api/users".into(), Json(user)),
        "getUser" => {
            ("GET", format!("/api/users/{}", id_of(server, "/api/users", user).await), Empty)
        }
        "updateUser" => {
            let id = id_of(server, "/api/users", user).await;
            ("PATCH", format!("/api/users/{id}"), Json(json!({"role": "developer"})))
        }
        "deactivateUser" => {
            let id = id_of(server, "/api/users", user).await;
            ("POST", format!("/api/users/{id}/deactivate"), Empty)
        }
        "listServiceUsers" => ("GET", "/api/service-users".into(), Empty),
        "createServiceUser" => {
            ("POST", "/api/service-users".into(), Json(json!({"name": "hr", "role": "payroll"})))
        }
        "getServiceUser" | "listApiKeys" | "createApiKey" | "revokeApiKey" => {
            let body = json!({"name": "hr", "role": "payroll"});
            let id = id_of(server, "/api/service-users", body).await;
            let keys = format!("/api/service-users/{id}/api-keys");
            match operation {
                "getServiceUser" => ("GET", format!("/api/service-users/{id}"), Empty),
                "listApiKeys" => ("GET", keys, Empty),
                "createApiKey" => ("POST", keys, Json(json!({}))),
                _ => {
                    let created = server.ok("POST", &keys, json!({})).await;
                    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
                    ("POST", format!("{keys}/{key_id}/revoke"), Empty)
                }
            }
        }
        // Served to interactive users only, who sign in through `/auth` (not built): a
        // service key is refused, which is this operation's whole behaviour for now.
        "getMe" => ("GET", "/api/me".into(), Empty),
        "listOrgUnits" => ("GET", "/api/org-units".into(), Empty),
        "createOrgUnit" => {
            ("POST", "/api/org-units".into(), Json(json!({"name": "Line 1", "parent_id": site})))
        }
        "getOrgUnit" => ("GET", format!("/api/org-units/{site}"), Empty),
        "listEmployees" => ("GET", "/api/employees".into(), Empty),
        "createEmployee" => (
            "POST",
            "/api/employees".into(),
            Json(json!({"number": "E02", "name": "Bob", "org_unit_id": site})),
        ),
        "getEmployee" => ("GET", format!("/api/employees/{employee}"), Empty),
        "addEmployeeVersion" => (
            "POST",
            format!("/api/employees/{employee}/versions"),
            Json(json!({"effective_from": "2025-06-01", "name": "Renamed"})),
        ),
        "setEmployeePin" => {
            ("PUT", format!("/api/employees/{employee}/pin"), Json(json!({"pin": "4711"})))
        }
        "deleteEmployeePin" => {
            let path = format!("/api/employees/{employee}/pin");
            server.ok("PUT", &path, json!({"pin": "4711"})).await;
            ("DELETE", path, Empty)
        }
        "setEmployeeKioskAccess" => (
            "PUT",
            format!("/api/employees/{employee}/kiosk-access"),
            Json(json!({"kiosk_admin": true})),
        ),
        "listPresence" => ("GET", format!("{timesheet}/presence?{period}"), Empty),
        "listPresenceEvents" => ("GET", format!("{timesheet}/events?{period}"), Empty),
        "clockIn" => ("POST", format!("{timesheet}/clock-in"), Json(json!({}))),
        "clockOut" => {
            server.ok("POST", &format!("{timesheet}/clock-in"), json!({})).await;
            server.clock.advance(Duration::from_secs(3600));
            ("POST", format!("{timesheet}/clock-out"), Json(json!({})))
        }
        "correctPresence" => (
            "POST",
            format!("{timesheet}/corrections"),
            Json(json!({"direction": "in", "at": "2025-05-11T07:00:00-05:00", "note": "late"})),
        ),
        "listReasons" => ("GET", "/api/settings/reasons".into(), Empty),
        "createReason" => (
            "POST",
            "/api/settings/reasons".into(),
            Json(json!({"code": "TRAVEL", "name": "Travel"})),
        ),
        "listDimensions" => ("GET", "/api/settings/dimensions".into(), Empty),
        "createDimension" => (
            "POST",
            "/api/settings/dimensions".into(),
            Json(json!({"code": "VAN", "name": "Van", "values": ["V1", "V2"]})),
        ),
        "listActivities" => ("GET", "/api/settings/activities".into(), Empty),
        "createActivity" => (
            "POST",
            "/api/settings/activities".into(),
            Json(json!({"code": "ASSEMBLY", "name": "Assembly", "type": "work"})),
        ),
        "getActivity" => {
            let body = json!({"code": "ASSEMBLY", "name": "Assembly", "type": "work"});
            server.ok("POST", "/api/settings/activities", body).await;
            ("GET", "/api/settings/activities/ASSEMBLY".into(), Empty)
        }
        "listEmploymentTerms" => ("GET", "/api/settings/employment-terms".into(), Empty),
        "createEmploymentTerms" => ("POST", "/api/settings/employment-terms".into(), Json(terms)),
        "getEmploymentTerms" | "addEmploymentTermsVersion" => {
            server.ok("POST", "/api/settings/employment-terms", terms).await;
            if operation == "getEmploymentTerms" {
                ("GET", "/api/settings/employment-terms/FT".into(), Empty)
            } else {
                let version = json!({"effective_from": "2025-06-02",
                    "weekly_overtime": {"weekly_norm_minutes": 2250, "week_start": "monday"}});
                ("POST", "/api/settings/employment-terms/FT/versions".into(), Json(version))
            }
        }
        "listPlugins" => ("GET", "/api/descriptor/plugins/".into(), Empty),
        "getPluginSchema" => {
            ("GET", "/api/descriptor/plugins/counters/weekly-overtime/schema".into(), Empty)
        }
        "listKiosks" => ("GET", "/api/kiosks".into(), Empty),
        "createKiosk" => {
            ("POST", "/api/kiosks".into(), Json(json!({"name": "Back door", "org_unit_id": site})))
        }
        "getKiosk" => ("GET", format!("/api/kiosks/{kiosk}"), Empty),
        "newEnrollmentCode" => {
            let body = json!({"name": "Back door", "org_unit_id": site});
            let waiting = server.ok("POST", "/api/kiosks", body).await;
            let id = waiting["kiosk"]["id"].as_str().unwrap().to_owned();
            ("POST", format!("/api/kiosks/{id}/enrollment-code"), Empty)
        }
        "updateKioskSettings" => {
            ("POST", format!("/api/kiosks/{kiosk}/settings"), Json(json!({"name": "Gate"})))
        }
        "revokeKiosk" => ("POST", format!("/api/kiosks/{kiosk}/revoke"), Empty),
        "rotateKioskKey" => ("POST", format!("/api/kiosks/{kiosk}/rotate-key"), Empty),
        "enrollKiosk" => {
            let body = json!({"name": "Back door", "org_unit_id": site});
            let waiting = server.ok("POST", "/api/kiosks", body).await;
            let code = waiting["enrollment_code"].as_str().unwrap();
            let public_key = SigningKey::generate().unwrap().public();
            let request = mtime_core::protocol::EnrollRequest { code: code.into(), public_key };
            ("POST", "/api/kiosk/enroll".into(), Json(serde_json::to_value(request).unwrap()))
        }
        "kioskRoster" => {
            let request = RosterRequest { kiosk, have_version: 0, sent: reading(server) };
            let bytes = seal::seal(ROSTER_REQUEST, &request, &w.key).unwrap();
            ("POST", format!("/api/kiosk/{kiosk}/roster"), Signed(bytes))
        }
        "kioskBatch" => {
            let event = tap(w, reading(server));
            let batch = Batch { kiosk, prev: BatchHash::GENESIS, events: vec![event] };
            (
                "POST",
                format!("/api/kiosk/{kiosk}/batches"),
                Signed(batch.seal(&w.key).unwrap().bytes),
            )
        }
        "kioskHeartbeat" => {
            let beat = Heartbeat {
                kiosk,
                sent: reading(server),
                pending: 0,
                acked_through: 0,
                roster_version: 0,
                software: "test".into(),
                clock_sample: None,
            };
            let bytes = seal::seal(HEARTBEAT, &beat, &w.key).unwrap();
            ("POST", format!("/api/kiosk/{kiosk}/heartbeat"), Signed(bytes))
        }
        "kioskRotateKey" => {
            server.ok("POST", &format!("/api/kiosks/{kiosk}/rotate-key"), json!({})).await;
            let next = SigningKey::generate().unwrap();
            let statement = KeyRotation { kiosk, new_key: next.public(), sent: reading(server) };
            let request = KeyRotationRequest::new(&statement, &w.key, &next).unwrap();
            ("POST", format!("/api/kiosk/{kiosk}/key"), Signed(request.to_bytes().unwrap()))
        }
        "reportIntervals" => ("GET", format!("/api/reports/intervals?{period}"), Empty),
        "reportIntervalsCsv" => ("GET", format!("/api/reports/intervals.csv?{period}"), Empty),
        "reportWeeklyOvertime" => ("GET", format!("/api/reports/weekly-overtime?{days}"), Empty),
        "reportDailyTotals" => ("GET", format!("/api/reports/daily-totals?{days}"), Empty),
        "reportDailyTotalsCsv" => ("GET", format!("/api/reports/daily-totals.csv?{days}"), Empty),
        "assignUnknownBadge" => (
            "POST",
            "/api/reports/unknown-badges/assign".into(),
            Json(json!({"badge": "04E87577DE9811", "employee_id": employee})),
        ),
        "presenceReport" => ("GET", "/api/reports/presence".into(), Empty),
        "quarantinedTaps" => ("GET", "/api/reports/quarantine?status=all".into(), Empty),
        "acceptQuarantinedTap" => {
            // A tap dated a day ahead of the server's clock is held.
            let mut time = reading(server);
            time.wall += chrono::TimeDelta::days(1);
            let event = tap(w, time);
            let id = event.id;
            let batch = Batch { kiosk, prev: BatchHash::GENESIS, events: vec![event] };
            let path = format!("/api/kiosk/{kiosk}/batches");
            let (status, _) = server.post_bytes(&path, batch.seal(&w.key).unwrap().bytes).await;
            assert_eq!(status, StatusCode::OK);
            let at = json!({"at": "2025-05-11T11:30:00-05:00", "note": "badge log"});
            ("POST", format!("/api/reports/quarantine/{id}/accept"), Json(at))
        }
        "unknownBadges" => ("GET", "/api/reports/unknown-badges".into(), Empty),
        _ => return None,
    })
}

/// The status an operation answers on success, per the document.
fn success_status(operation: &Value) -> u16 {
    let mut codes: Vec<u16> = operation["responses"]
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|k| k.parse().ok())
        .filter(|c| (200..300).contains(c))
        .collect();
    codes.sort();
    codes[0]
}

#[tokio::test]
async fn every_operation_in_the_document_succeeds_with_a_valid_request() {
    let served = TestServer::new();
    let (_, spec) = served.call("GET", "/api/openapi.json", None).await;
    let mut missing = Vec::new();
    let mut checked = 0;

    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            // A fresh workspace per operation, so no case depends on another.
            let server = TestServer::new();
            let (site, employee, kiosk, key, _) = server.enrolled().await;
            let world = World { site, employee, kiosk, key };
            let Some((verb, uri, payload)) = case(&server, &world, id).await else {
                missing.push(format!("{method} {path} ({id})"));
                continue;
            };
            assert_eq!(verb, method.to_uppercase(), "{id}: case uses another method");

            let mut request = Request::builder()
                .method(verb)
                .uri(&uri)
                .header("authorization", format!("Bearer {}", server.key));
            let body = match payload {
                Payload::None => Body::empty(),
                Payload::Json(v) => {
                    request = request.header("content-type", "application/json");
                    Body::from(v.to_string())
                }
                Payload::Signed(bytes) => {
                    request = request.header("content-type", "application/octet-stream");
                    Body::from(bytes)
                }
            };
            let response =
                server.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
            let status = response.status();
            let expected = if id == "getMe" { 403 } else { success_status(operation) };
            // The event stream is read only as far as its headers: it stays open.
            let text = if id == "streamEvents" {
                String::new()
            } else {
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            assert_eq!(status.as_u16(), expected, "{id}: {verb} {uri}: {text}");
            if status == StatusCode::OK && uri.ends_with("json") {
                serde_json::from_str::<Value>(&text).unwrap();
            }
            checked += 1;
        }
    }
    assert!(missing.is_empty(), "operations without a success case: {missing:?}");
    assert!(checked >= 60, "{checked} operations");
}
