//! Org-unit scope: a caller limited to site A sees and changes site A (and the units below
//! it) and nothing of site B, in lists, by id, in reports and in what it may create.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use common::{TestServer, call_as, key_with};
use mtime_core::ids::{EmployeeId, KioskId, OrgUnitId};

/// Two sites: A (with a hall below it) and B, an employee in each unit and a kiosk at each
/// site.
struct World {
    site_a: OrgUnitId,
    hall: OrgUnitId,
    site_b: OrgUnitId,
    e01: EmployeeId,
    e02: EmployeeId,
    e03: EmployeeId,
    kiosk_a: KioskId,
    kiosk_b: KioskId,
}

async fn unit(server: &TestServer, body: Value) -> OrgUnitId {
    let unit = server.ok("POST", "/api/org-units", body).await;
    serde_json::from_value(unit["id"].clone()).unwrap()
}

async fn kiosk(server: &TestServer, name: &str, unit: OrgUnitId) -> KioskId {
    let k = server.ok("POST", "/api/kiosks", json!({"name": name, "org_unit_id": unit})).await;
    serde_json::from_value(k["kiosk"]["id"].clone()).unwrap()
}

async fn world(server: &TestServer) -> World {
    let site_a = server.site().await;
    let site_b = unit(
        server,
        json!({"name": "Depot", "time_zone": "America/Chicago",
            "effective_from": "2025-01-01", "retroactive": true}),
    )
    .await;
    let hall = unit(server, json!({"name": "Hall", "parent_id": site_a})).await;
    World {
        site_a,
        hall,
        site_b,
        e01: server.employee(site_a, "E01", "04A1B2C3").await,
        e02: server.employee(hall, "E02", "04A1B2C4").await,
        e03: server.employee(site_b, "E03", "04A1B2C5").await,
        kiosk_a: kiosk(server, "Door A", site_a).await,
        kiosk_b: kiosk(server, "Door B", site_b).await,
    }
}

/// A `site_admin` limited to site A.
async fn site_admin(server: &TestServer, w: &World) -> String {
    key_with(server, "site A admin", json!({"role": "site_admin", "org_units": [w.site_a]})).await.1
}

/// `field` of every item of a page.
fn column(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[field].as_str().unwrap().to_owned())
        .collect()
}

async fn get(server: &TestServer, key: &str, path: &str) -> (StatusCode, Value) {
    call_as(server, key, "GET", path, None).await
}

#[tokio::test]
async fn a_site_admin_lists_and_finds_only_their_sites_employees_kiosks_and_units() {
    let server = TestServer::new();
    let w = world(&server).await;
    let sa = site_admin(&server, &w).await;

    let (status, page) = get(&server, &sa, "/api/employees").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(column(&page, "number"), ["E01", "E02"], "the hall lies below site A");
    let (_, page) = server.call("GET", "/api/employees", None).await;
    assert_eq!(column(&page, "number"), ["E01", "E02", "E03"], "the admin sees everything");

    let (status, body) = get(&server, &sa, &format!("/api/employees/{}", w.e03)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["message"], format!("employee {} does not exist", w.e03));
    let unknown = EmployeeId::random();
    let (_, none) = get(&server, &sa, &format!("/api/employees/{unknown}")).await;
    assert_eq!(none["error"]["message"], format!("employee {unknown} does not exist"));
    let (status, e02) = get(&server, &sa, &format!("/api/employees/{}", w.e02)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e02["current"]["name"], "Name E02");

    let (_, page) = get(&server, &sa, "/api/kiosks").await;
    assert_eq!(column(&page, "name"), ["Door A"]);
    assert_eq!(column(&page, "id"), [w.kiosk_a.to_string()]);
    let (_, page) = server.call("GET", "/api/kiosks", None).await;
    assert_eq!(column(&page, "name"), ["Door A", "Door B"]);
    let (status, body) = get(&server, &sa, &format!("/api/kiosks/{}", w.kiosk_b)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], format!("kiosk {} does not exist", w.kiosk_b));
    assert_eq!(get(&server, &sa, &format!("/api/kiosks/{}", w.kiosk_a)).await.0, StatusCode::OK);

    let (_, page) = get(&server, &sa, "/api/org-units").await;
    assert_eq!(column(&page, "name"), ["Hall", "Plant"]);
    let (_, page) = server.call("GET", "/api/org-units", None).await;
    assert_eq!(column(&page, "name"), ["Depot", "Hall", "Plant"]);
    let (status, _) = get(&server, &sa, &format!("/api/org-units/{}", w.site_b)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, hall) = get(&server, &sa, &format!("/api/org-units/{}", w.hall)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hall["effective_time_zone"], "America/Chicago");

    let period = "from=2025-05-11T00:00:00-05:00&to=2025-05-12T00:00:00-05:00";
    for path in [
        format!("/api/employees/{}/timesheet/presence?{period}", w.e03),
        format!("/api/employees/{}/timesheet/events?{period}", w.e03),
    ] {
        let (status, body) = get(&server, &sa, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let path = format!("/api/employees/{}/timesheet/presence?{period}", w.e02);
    assert_eq!(get(&server, &sa, &path).await.0, StatusCode::OK);
}

#[tokio::test]
async fn reports_cover_only_the_site_admins_units() {
    let server = TestServer::new();
    let w = world(&server).await;
    let sa = site_admin(&server, &w).await;

    // 12:00 in Chicago: the site admin clocks in A's people; B's is not theirs to clock.
    for e in [w.e01, w.e02] {
        let path = format!("/api/employees/{e}/timesheet/clock-in");
        assert_eq!(call_as(&server, &sa, "POST", &path, None).await.0, StatusCode::CREATED);
    }
    let path = format!("/api/employees/{}/timesheet/clock-in", w.e03);
    let (status, body) = call_as(&server, &sa, "POST", &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    assert_eq!(
        body["error"]["message"],
        format!("employee {} is not within the org units this caller is limited to", w.e03)
    );
    let events = format!(
        "/api/employees/{}/timesheet/events?from=2025-05-01T00:00:00Z&to=2025-06-01T00:00:00Z",
        w.e03
    );
    assert_eq!(server.call("GET", &events, None).await.1["items"], json!([]), "nothing stored");
    server.ok("POST", &format!("/api/employees/{}/timesheet/clock-in", w.e03), json!({})).await;

    server.clock.advance(Duration::from_secs(3600));
    let (_, report) = get(&server, &sa, "/api/reports/presence").await;
    let present: Vec<&str> = report["present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_str().unwrap())
        .collect();
    assert_eq!(present, ["E01", "E02"]);
    assert_eq!(report["present"][0]["since"], "2025-05-11T12:00:00-05:00");
    let (_, report) = server.call("GET", "/api/reports/presence", None).await;
    assert_eq!(report["present"].as_array().unwrap().len(), 3);
    let (_, report) =
        get(&server, &sa, &format!("/api/reports/presence?org_unit_id={}", w.hall)).await;
    assert_eq!(report["present"][0]["number"], "E02");
    assert_eq!(report["present"].as_array().unwrap().len(), 1);
    let (status, body) =
        get(&server, &sa, &format!("/api/reports/presence?org_unit_id={}", w.site_b)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a unit outside reads as unknown");
    assert_eq!(body["error"]["message"], format!("org unit {} does not exist", w.site_b));

    for e in [w.e01, w.e02, w.e03] {
        server.ok("POST", &format!("/api/employees/{e}/timesheet/clock-out"), json!({})).await;
    }

    let period = "from=2025-05-11T00:00:00-05:00&to=2025-05-12T00:00:00-05:00";
    let (status, page) = get(&server, &sa, &format!("/api/reports/intervals?{period}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(column(&page, "number"), ["E01", "E02"]);
    let durations: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["duration_seconds"].as_i64().unwrap())
        .collect();
    assert_eq!(durations, [3600, 3600]);
    let (_, page) = server.call("GET", &format!("/api/reports/intervals?{period}"), None).await;
    assert_eq!(column(&page, "number"), ["E01", "E02", "E03"]);
    let path = format!("/api/reports/intervals?{period}&org_unit_id={}", w.site_b);
    assert_eq!(get(&server, &sa, &path).await.0, StatusCode::BAD_REQUEST);

    let days = "from=2025-05-11&to=2025-05-11";
    let (_, page) = get(&server, &sa, &format!("/api/reports/daily-totals?{days}")).await;
    assert_eq!(
        page["items"],
        json!([
            {"employee_id": w.e01, "number": "E01", "date": "2025-05-11", "worked_seconds": 3600},
            {"employee_id": w.e02, "number": "E02", "date": "2025-05-11", "worked_seconds": 3600},
        ])
    );
    let (_, page) = server.call("GET", &format!("/api/reports/daily-totals?{days}"), None).await;
    assert_eq!(column(&page, "number"), ["E01", "E02", "E03"]);

    let request = axum::http::Request::get(format!("/api/reports/daily-totals.csv?{days}"))
        .header("authorization", format!("Bearer {sa}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, csv) = server.raw(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&csv),
        "employee,date,worked_seconds,worked_hours\n\
         E01,2025-05-11,3600,1.00\n\
         E02,2025-05-11,3600,1.00\n"
    );
}

#[tokio::test]
async fn writes_into_another_site_are_refused_and_store_nothing() {
    let server = TestServer::new();
    let w = world(&server).await;
    let sa = site_admin(&server, &w).await;
    let (_, hr) = key_with(
        &server,
        "site A HR",
        json!({"permissions": ["organization:read:*", "organization:write:*"],
            "org_units": [w.site_a]}),
    )
    .await;

    let new_in = |unit: OrgUnitId, number: &str| {
        let mut body = json!({"number": number, "name": "New"});
        body["org_unit_id"] = json!(unit);
        body
    };
    let (status, body) =
        call_as(&server, &hr, "POST", "/api/employees", Some(new_in(w.site_b, "E09"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    let (_, page) = server.call("GET", "/api/employees", None).await;
    assert_eq!(column(&page, "number"), ["E01", "E02", "E03"], "nothing stored");
    let (status, created) =
        call_as(&server, &hr, "POST", "/api/employees", Some(new_in(w.hall, "E04"))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["current"]["org_unit_id"], json!(w.hall));

    // Moving an employee out of scope, or changing one outside it, is refused.
    let versions = format!("/api/employees/{}/versions", w.e01);
    let move_out = json!({"effective_from": "2025-05-12", "org_unit_id": w.site_b});
    let (status, body) = call_as(&server, &hr, "POST", &versions, Some(move_out)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    let (_, e01) = server.call("GET", &format!("/api/employees/{}", w.e01), None).await;
    assert_eq!(e01["versions"].as_array().unwrap().len(), 1);
    let rename = json!({"effective_from": "2025-05-12", "name": "Other"});
    let path = format!("/api/employees/{}/versions", w.e03);
    let (status, body) = call_as(&server, &hr, "POST", &path, Some(rename.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    let (status, _) = call_as(&server, &hr, "POST", &versions, Some(rename)).await;
    assert_eq!(status, StatusCode::CREATED);

    // Units: only below the caller's own.
    for body in [json!({"name": "Top"}), json!({"name": "Yard", "parent_id": w.site_b})] {
        let (status, answer) = call_as(&server, &hr, "POST", "/api/org-units", Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(answer["error"]["code"], "outside_scope");
    }
    let bay = json!({"name": "Bay", "parent_id": w.hall});
    assert_eq!(
        call_as(&server, &hr, "POST", "/api/org-units", Some(bay)).await.0,
        StatusCode::CREATED
    );
    let (_, page) = server.call("GET", "/api/org-units", None).await;
    assert_eq!(column(&page, "name"), ["Bay", "Depot", "Hall", "Plant"]);

    // Kiosks: none created at B, none of B's changed.
    let at_b = json!({"name": "Door B2", "org_unit_id": w.site_b});
    let (status, body) = call_as(&server, &sa, "POST", "/api/kiosks", Some(at_b)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    let at_hall = json!({"name": "Hall door", "org_unit_id": w.hall});
    assert_eq!(
        call_as(&server, &sa, "POST", "/api/kiosks", Some(at_hall)).await.0,
        StatusCode::CREATED
    );
    let settings = format!("/api/kiosks/{}/settings", w.kiosk_b);
    let (status, body) =
        call_as(&server, &sa, "POST", &settings, Some(json!({"name": "Renamed"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    for action in ["revoke", "enrollment-code", "rotate-key"] {
        let path = format!("/api/kiosks/{}/{action}", w.kiosk_b);
        let (status, body) = call_as(&server, &sa, "POST", &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
        assert_eq!(body["error"]["code"], "outside_scope");
    }
    let (_, kiosk_b) = server.call("GET", &format!("/api/kiosks/{}", w.kiosk_b), None).await;
    assert_eq!(kiosk_b["name"], "Door B");
    assert_eq!(kiosk_b["status"], "awaiting_enrollment");
    let (_, page) = server.call("GET", "/api/kiosks", None).await;
    assert_eq!(column(&page, "name"), ["Door A", "Door B", "Hall door"]);

    // An unknown employee is refused exactly like one outside: nothing leaks.
    let unknown = EmployeeId::random();
    let path = format!("/api/employees/{unknown}/timesheet/clock-in");
    let (status, body) = call_as(&server, &sa, "POST", &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    let assign = json!({"badge": "04A1B2C5", "employee_id": w.e03});
    let (status, _) =
        call_as(&server, &sa, "POST", "/api/reports/unknown-badges/assign", Some(assign)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_scoped_user_cannot_hand_out_more_reach_than_it_has() {
    let server = TestServer::new();
    let w = world(&server).await;
    let (status, body) = server
        .call(
            "POST",
            "/api/service-users",
            Some(json!({"name": "x", "role": "payroll", "org_units": [OrgUnitId::random()]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let permissions = ["users:read:*", "users:write:*", "api:read:*", "settings:read:*"];
    let (manager_id, manager) = key_with(
        &server,
        "site A manager",
        json!({"permissions": permissions, "org_units": [w.site_a, w.site_a]}),
    )
    .await;
    let (_, shown) = server.call("GET", &format!("/api/service-users/{manager_id}"), None).await;
    assert_eq!(shown["org_units"], json!([w.site_a]), "named once");

    for org_units in [json!([]), json!([w.site_b]), json!([w.hall, w.site_b])] {
        let body = json!({"name": "wide", "role": "developer", "org_units": org_units});
        let (status, answer) =
            call_as(&server, &manager, "POST", "/api/service-users", Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{org_units}");
        assert_eq!(answer["error"]["code"], "exceeds_caller");
    }
    let body = json!({"name": "hall helper", "role": "developer", "org_units": [w.hall]});
    let (status, helper) =
        call_as(&server, &manager, "POST", "/api/service-users", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(helper["org_units"], json!([w.hall]));
    assert_eq!(helper["role"], "developer");

    // Keys: for the helper, never for the unscoped admin.
    let (_, users) = server.call("GET", "/api/service-users", None).await;
    let admin = users["items"].as_array().unwrap().iter().find(|u| u["name"] == "admin").unwrap();
    let admin = admin["id"].as_str().unwrap();
    let path = format!("/api/service-users/{admin}/api-keys");
    let (status, body) = call_as(&server, &manager, "POST", &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    let (_, keys) = server.call("GET", &path, None).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "no key issued");
    let path = format!("/api/service-users/{}/api-keys", helper["id"].as_str().unwrap());
    assert_eq!(call_as(&server, &manager, "POST", &path, None).await.0, StatusCode::CREATED);

    let (_, page) = get(&server, &manager, "/api/service-users").await;
    assert_eq!(column(&page, "name"), ["hall helper", "site A manager"]);
    let (status, _) = get(&server, &manager, &format!("/api/service-users/{admin}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Interactive users: the same rule.
    let person = |org_units: Value| {
        json!({"email": "dev@example.com", "display_name": "Dev", "role": "developer",
            "org_units": org_units})
    };
    let (status, body) =
        call_as(&server, &manager, "POST", "/api/users", Some(person(json!([])))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "exceeds_caller");
    let (status, created) =
        call_as(&server, &manager, "POST", "/api/users", Some(person(json!([w.hall])))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let widen = json!({"org_units": []});
    let path = format!("/api/users/{}", created["id"].as_str().unwrap());
    let (status, body) = call_as(&server, &manager, "PATCH", &path, Some(widen)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "exceeds_caller");
    let (_, unchanged) = server.call("GET", &path, None).await;
    assert_eq!(unchanged["org_units"], json!([w.hall]));

    let everyone = server
        .ok(
            "POST",
            "/api/users",
            json!({"email": "boss@example.com", "display_name": "Boss", "role": "developer"}),
        )
        .await;
    let (_, page) = get(&server, &manager, "/api/users").await;
    assert_eq!(column(&page, "email"), ["dev@example.com"]);
    let path = format!("/api/users/{}", everyone["id"].as_str().unwrap());
    assert_eq!(get(&server, &manager, &path).await.0, StatusCode::NOT_FOUND);
    let (status, body) =
        call_as(&server, &manager, "POST", &format!("{path}/deactivate"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "outside_scope");
    assert_eq!(server.call("GET", &path, None).await.1["active"], true);
}

#[tokio::test]
async fn workspace_wide_feeds_refuse_a_scoped_caller() {
    let server = TestServer::new();
    let w = world(&server).await;
    let (_, reader) = key_with(
        &server,
        "reader A",
        json!({"role": "integration_reader", "org_units": [w.site_a]}),
    )
    .await;
    for path in ["/api/events", "/api/sse?wait=0"] {
        let (status, body) = get(&server, &reader, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"]["code"], "outside_scope");
    }
    let (_, unscoped) = key_with(&server, "reader", json!({"role": "integration_reader"})).await;
    assert_eq!(get(&server, &unscoped, "/api/events").await.0, StatusCode::OK);
}

/// Webhooks carry the whole feed and settings apply to every site: a caller limited to
/// org units may do neither, whatever its role, and nothing changes.
#[tokio::test]
async fn a_scoped_admin_may_not_subscribe_to_the_feed_or_change_settings() {
    let server = TestServer::new();
    let w = world(&server).await;
    let (_, key) =
        key_with(&server, "site A all", json!({"role": "admin", "org_units": [w.site_a]})).await;
    let hook = json!({"url": "http://127.0.0.1:9/x"});
    let created = server.ok("POST", "/api/webhooks", hook.clone()).await;
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();

    let attempts = [
        ("POST", "/api/webhooks".to_owned(), Some(hook)),
        ("GET", "/api/webhooks".to_owned(), None),
        ("GET", format!("/api/webhooks/{id}"), None),
        ("DELETE", format!("/api/webhooks/{id}"), None),
        ("GET", format!("/api/webhooks/{id}/deliveries"), None),
        ("POST", "/api/settings/reasons".to_owned(), Some(json!({"code": "EVIL", "name": "x"}))),
        (
            "POST",
            "/api/settings/dimensions".to_owned(),
            Some(json!({"code": "VAN", "name": "Van", "values": ["1"]})),
        ),
        (
            "POST",
            "/api/settings/activities".to_owned(),
            Some(json!({"code": "X", "name": "X", "type": "work"})),
        ),
        (
            "POST",
            "/api/settings/employment-terms".to_owned(),
            Some(json!({"code": "FT", "name": "FT",
                "weekly_overtime": {"weekly_norm_minutes": 60, "week_start": "monday"}})),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = call_as(&server, &key, method, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "outside_scope", "{method} {path}");
    }

    let (_, hooks) = server.call("GET", "/api/webhooks", None).await;
    assert_eq!(hooks["items"].as_array().unwrap().len(), 1, "the admin's webhook stays");
    let (_, reasons) = server.call("GET", "/api/settings/reasons", None).await;
    assert_eq!(column(&reasons, "code"), ["WORK"]);
}
