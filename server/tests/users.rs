//! Interactive users under `/api/users`: created with a unique email address and a
//! built-in role, listed and filtered page by page, changed, deactivated and kept.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use common::{TestServer, call_as, key_with};

fn emails(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_user_is_created_shown_and_unique_by_email_in_any_case() {
    let server = TestServer::new();
    let site = server.site().await;
    let employee = server.employee(site, "E01", "04A1B2C3").await;

    let (status, user) = server
        .call(
            "POST",
            "/api/users",
            Some(json!({"email": " Ann.Lee@Example.com ", "display_name": " Ann Lee ",
                "role": "site_admin", "org_units": [site], "employee_id": employee})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        user,
        json!({
            "id": id,
            "email": "Ann.Lee@Example.com",
            "display_name": "Ann Lee",
            "role": "site_admin",
            "permissions": ["kiosks:read:*", "kiosks:write:*", "organization:read:*",
                "timesheet:read:*", "timesheet:write:*", "reports:read:*", "settings:read:*"],
            "org_units": [site],
            "employee_id": employee,
            "active": true,
            "created_at": "2025-05-11T17:00:00Z",
            "updated_at": "2025-05-11T17:00:00Z",
            "deactivated_at": null,
        })
    );
    let (status, shown) = server.call("GET", &format!("/api/users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, user);

    let again = json!({"email": "ann.lee@example.COM", "display_name": "Ann", "role": "payroll"});
    let (status, body) = server.call("POST", "/api/users", Some(again)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"]["message"],
        "a user with the email address \"ann.lee@example.COM\" exists"
    );
    let (_, page) = server.call("GET", "/api/users", None).await;
    assert_eq!(emails(&page), ["Ann.Lee@Example.com"]);

    let (status, body) = server.call("GET", &format!("/api/users/{employee}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], format!("user {employee} does not exist"));

    let (status, body) = server.call("GET", "/api/me", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "service keys are still no interactive user");
    assert_eq!(body["error"]["code"], "service_user_not_allowed");
}

#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let server = TestServer::new();
    let site = server.site().await;
    let ok = json!({"email": "ann@example.com", "display_name": "Ann", "role": "payroll"});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("email", json!("ann")), "is not an address"),
        (with("email", json!("ann smith@example.com")), "is not an address"),
        (with("email", json!("ann@localhost")), "is not an address"),
        (with("email", json!(format!("{}@example.com", "a".repeat(250)))), "is not an address"),
        (with("display_name", json!("  ")), "display_name must be 1 to 200 characters"),
        (with("display_name", json!(format!(" {}", "a".repeat(200)))), "1 to 200 characters"),
        (with("role", json!("superuser")), "role \"superuser\" does not exist"),
        (with("role", json!("custom")), "role \"custom\" does not exist"),
        (with("org_units", json!([uuid::Uuid::new_v4()])), "does not exist"),
        (with("employee_id", json!(uuid::Uuid::new_v4())), "does not exist"),
        (with("permissions", json!(["users:read:*"])), "unknown field"),
        (json!({"email": "ann@example.com", "role": "payroll"}), "missing field"),
    ];
    for (body, expected) in cases {
        let (status, answer) = server.call("POST", "/api/users", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let (_, page) = server.call("GET", "/api/users", None).await;
    assert_eq!(page["items"], json!([]), "nothing stored");

    let created = server.ok("POST", "/api/users", ok).await;
    let path = format!("/api/users/{}", created["id"].as_str().unwrap());
    for change in [
        json!({"role": "root"}),
        json!({"display_name": ""}),
        json!({"org_units": [uuid::Uuid::new_v4()]}),
        json!({"email": "new@example.com"}),
    ] {
        let (status, _) = server.call("PATCH", &path, Some(change.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}");
    }
    let (_, after) = server.call("GET", &path, None).await;
    assert_eq!(after, created, "nothing changed");
    let _ = site;
}

#[tokio::test]
async fn users_are_listed_page_by_page_and_filtered() {
    let server = TestServer::new();
    for (email, role) in [
        ("dora@example.com", "payroll"),
        ("Bob@example.com", "developer"),
        ("carl@example.com", "payroll"),
        ("ann@example.com", "admin"),
        ("bea@other.example", "payroll"),
    ] {
        server
            .ok("POST", "/api/users", json!({"email": email, "display_name": email, "role": role}))
            .await;
    }

    let mut seen = Vec::new();
    let mut path = "/api/users?limit=2".to_owned();
    loop {
        let (status, page) = server.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(emails(&page).into_iter().map(str::to_owned));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "ann@example.com",
            "bea@other.example",
            "Bob@example.com",
            "carl@example.com",
            "dora@example.com"
        ],
        "ordered by address regardless of case, each once"
    );

    let (_, page) = server.call("GET", "/api/users?role=payroll", None).await;
    assert_eq!(emails(&page), ["bea@other.example", "carl@example.com", "dora@example.com"]);
    let (_, page) = server.call("GET", "/api/users?email_prefix=B", None).await;
    assert_eq!(emails(&page), ["bea@other.example", "Bob@example.com"]);
    let (_, page) = server.call("GET", "/api/users?email_prefix=b&role=developer", None).await;
    assert_eq!(emails(&page), ["Bob@example.com"]);
    let (status, body) = server.call("GET", "/api/users?role=boss", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
    let (status, _) = server.call("GET", "/api/users?limit=0", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let long = format!("/api/users?email_prefix={}", "a".repeat(255));
    assert_eq!(server.call("GET", &long, None).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_change_takes_effect_at_once_and_a_deactivated_user_is_kept() {
    let server = TestServer::new();
    let site = server.site().await;
    let user = server
        .ok(
            "POST",
            "/api/users",
            json!({"email": "ann@example.com", "display_name": "Ann", "role": "payroll"}),
        )
        .await;
    let path = format!("/api/users/{}", user["id"].as_str().unwrap());

    server.clock.advance(Duration::from_secs(60));
    let (status, changed) = server
        .call(
            "PATCH",
            &path,
            Some(json!({"role": "integration_reader", "display_name": "Ann Lee",
                "org_units": [site]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["role"], "integration_reader");
    assert_eq!(
        changed["permissions"],
        json!(["organization:read:*", "timesheet:read:*", "reports:read:*", "events:read:*"])
    );
    assert_eq!(changed["display_name"], "Ann Lee");
    assert_eq!(changed["org_units"], json!([site]));
    assert_eq!(changed["created_at"], "2025-05-11T17:00:00Z");
    assert_eq!(changed["updated_at"], "2025-05-11T17:01:00Z");
    assert_eq!(server.call("GET", &path, None).await.1, changed);

    let (_, unchanged) = server.call("PATCH", &path, Some(json!({}))).await;
    assert_eq!(unchanged, changed, "an empty change changes nothing");
    let (_, widened) = server.call("PATCH", &path, Some(json!({"org_units": []}))).await;
    assert_eq!(widened["org_units"], json!([]), "empty: the whole workspace again");

    server.clock.advance(Duration::from_secs(60));
    let deactivate = format!("{path}/deactivate");
    let (status, gone) = server.call("POST", &deactivate, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gone["active"], false);
    assert_eq!(gone["deactivated_at"], "2025-05-11T17:02:00Z");
    assert_eq!(gone["email"], "ann@example.com", "the record is kept");

    server.clock.advance(Duration::from_secs(60));
    let (_, again) = server.call("POST", &deactivate, None).await;
    assert_eq!(again, gone, "deactivating again changes nothing");
    let (status, body) = server.call("PATCH", &path, Some(json!({"role": "admin"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "user_inactive");
    assert_eq!(server.call("GET", &path, None).await.1["role"], "integration_reader");

    let (_, active) = server.call("GET", "/api/users?active=true", None).await;
    assert_eq!(active["items"], json!([]));
    let (_, inactive) = server.call("GET", "/api/users?active=false", None).await;
    assert_eq!(emails(&inactive), ["ann@example.com"]);
    let (status, _) = server
        .call(
            "POST",
            "/api/users",
            Some(json!({"email": "ANN@example.com", "display_name": "A", "role": "payroll"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a deactivated user keeps its address");
}

#[tokio::test]
async fn nobody_grants_a_role_stronger_than_their_own() {
    let server = TestServer::new();
    let (_, manager) = key_with(
        &server,
        "manager",
        json!({"permissions": ["users:read:*", "users:write:*", "api:read:*", "settings:read:*"]}),
    )
    .await;
    let body = |role: &str| json!({"email": "x@example.com", "display_name": "X", "role": role});
    let (status, answer) =
        call_as(&server, &manager, "POST", "/api/users", Some(body("admin"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["error"]["code"], "exceeds_caller");
    let (status, user) =
        call_as(&server, &manager, "POST", "/api/users", Some(body("developer"))).await;
    assert_eq!(status, StatusCode::CREATED);

    let path = format!("/api/users/{}", user["id"].as_str().unwrap());
    let (status, answer) =
        call_as(&server, &manager, "PATCH", &path, Some(json!({"role": "payroll"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "payroll reads reports; the manager does not");
    assert_eq!(answer["error"]["code"], "exceeds_caller");
    let promoted = server.ok("PATCH", &path, json!({"role": "admin"})).await;
    assert_eq!(promoted["role"], "admin");
    let (status, _) = call_as(&server, &manager, "POST", &format!("{path}/deactivate"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor act for a user stronger than oneself");
    assert_eq!(server.call("GET", &path, None).await.1["active"], true);
}
