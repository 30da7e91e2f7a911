//! Access and the contract: every operation in the served OpenAPI document is refused
//! with 403 naming its `x-required-permission` to a key that holds every permission but
//! that one; roles, key revocation and expiry.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use common::{TestServer, call_as, key_with};
use mtime_server::access;

async fn spec(server: &TestServer) -> Value {
    let (status, spec) = server.call("GET", "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    spec
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_operation_declares_tag_permission_and_errors() {
    let server = TestServer::new();
    let spec = spec(&server).await;
    assert_eq!(spec["openapi"], "3.1.0");
    let tags: Vec<&str> =
        spec["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();

    let mut count = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            count += 1;
            let what = format!("{method} {path}");
            let tag = operation["tags"][0].as_str().unwrap();
            assert!(tags.contains(&tag), "{what}: tag {tag}");
            let permission = operation["x-required-permission"].as_str().unwrap();
            assert!(
                access::permission(permission).is_some()
                    || ["none", "kiosk:device"].contains(&permission),
                "{what}: {permission}"
            );
            assert!(operation["operationId"].is_string(), "{what}");
            if access::permission(permission).is_some() {
                let forbidden =
                    &operation["responses"]["403"]["content"]["application/json"]["schema"];
                assert!(forbidden.is_object(), "{what} documents its 403");
            }
        }
    }
    assert!(count >= 30, "{count} operations");

    // Every schema reference resolves.
    let text = spec.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(spec["components"]["schemas"][name].is_object(), "dangling $ref {name}");
    }

    let request =
        Request::get("/api/openapi.yaml").header("authorization", format!("Bearer {}", server.key));
    let (status, yaml) = server.raw(request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let parsed: Value = serde_norway::from_slice(&yaml).unwrap();
    assert_eq!(parsed, spec, "the YAML and JSON documents are the same");
}

#[tokio::test]
async fn every_operation_refuses_a_key_lacking_exactly_its_permission() {
    let server = TestServer::new();
    let spec = spec(&server).await;

    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let required = operation["x-required-permission"].as_str().unwrap();
            if access::permission(required).is_none() {
                continue; // the health check and the device routes carry no key
            }
            let others: Vec<&str> =
                access::ALL.iter().copied().filter(|p| *p != required).collect();
            let (_, key) = key_with(
                &server,
                &format!("without {required} {checked}"),
                json!({"permissions": others}),
            )
            .await;

            let concrete = path
                .split('/')
                .map(|s| {
                    if s.starts_with('{') { uuid::Uuid::new_v4().to_string() } else { s.to_owned() }
                })
                .collect::<Vec<_>>()
                .join("/");
            let body = operation.get("requestBody").map(|_| json!({}));
            let (status, answer) =
                call_as(&server, &key, &method.to_uppercase(), &concrete, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["required_permission"], required, "{method} {path}");
            assert!(answer["error"]["message"].as_str().unwrap().contains(required));
            checked += 1;
        }
    }
    assert!(checked >= 28, "{checked} operations checked");
}

#[tokio::test]
async fn roles_bundle_permissions() {
    let server = TestServer::new();
    let (_, developer) = key_with(&server, "dev", json!({"role": "developer"})).await;
    assert_eq!(
        call_as(&server, &developer, "GET", "/api/openapi.json", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call_as(&server, &developer, "GET", "/api/settings/reasons", None).await.0,
        StatusCode::OK
    );
    let (status, body) = call_as(&server, &developer, "GET", "/api/employees", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["required_permission"], "organization:read:*");

    let (_, reader) = key_with(&server, "reader", json!({"role": "integration_reader"})).await;
    assert_eq!(call_as(&server, &reader, "GET", "/api/employees", None).await.0, StatusCode::OK);
    let (status, _) = call_as(
        &server,
        &reader,
        "POST",
        "/api/settings/reasons",
        Some(json!({"code": "X", "name": "X"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, reasons) = server.call("GET", "/api/settings/reasons", None).await;
    assert_eq!(reasons["items"], json!([]), "a refused call changes nothing");

    let (status, body) = server
        .call("POST", "/api/service-users", Some(json!({"name": "x", "role": "superuser"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("integration_reader"));
    let (status, _) = server
        .call("POST", "/api/service-users", Some(json!({"name": "dev", "role": "developer"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "names are unique");

    let (_, roles) = server.call("GET", "/api/roles", None).await;
    assert_eq!(roles.as_array().unwrap().len(), access::ROLES.len());
}

#[tokio::test]
async fn keys_are_shown_once_listed_by_prefix_and_stop_working_when_revoked_or_expired() {
    let server = TestServer::new();
    let (user, key) = key_with(&server, "payroll", json!({"role": "payroll"})).await;
    assert_eq!(call_as(&server, &key, "GET", "/api/employees", None).await.0, StatusCode::OK);

    let (status, keys) =
        server.call("GET", &format!("/api/service-users/{user}/api-keys"), None).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let keys = keys["items"].clone();
    assert!(keys.is_array(), "{keys}");
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(key.starts_with(keys[0]["prefix"].as_str().unwrap()));
    assert!(!keys.to_string().contains(&key), "a listing never shows the key");
    assert!(keys[0]["last_used_at"].is_string());

    let key_id = keys[0]["id"].as_str().unwrap();
    server
        .ok("POST", &format!("/api/service-users/{user}/api-keys/{key_id}/revoke"), json!({}))
        .await;
    let (status, body) = call_as(&server, &key, "GET", "/api/employees", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"));

    let expires = (server.state.now() + chrono::TimeDelta::hours(1)).to_rfc3339();
    let short = server
        .ok("POST", &format!("/api/service-users/{user}/api-keys"), json!({"expires_at": expires}))
        .await;
    let short = short["api_key"].as_str().unwrap();
    assert_eq!(call_as(&server, short, "GET", "/api/employees", None).await.0, StatusCode::OK);
    server.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        call_as(&server, short, "GET", "/api/employees", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn me_refuses_service_user_keys() {
    let server = TestServer::new();
    let (status, body) = server.call("GET", "/api/me", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "service_user_not_allowed");
}

#[tokio::test]
async fn nobody_hands_out_more_than_they_hold() {
    let server = TestServer::new();
    let (_, manager) =
        key_with(&server, "manager", json!({"permissions": ["users:write:*", "users:read:*"]}))
            .await;

    let (status, body) = call_as(
        &server,
        &manager,
        "POST",
        "/api/service-users",
        Some(json!({"name": "evil", "role": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "exceeds_caller");

    let (_, users) = server.call("GET", "/api/service-users", None).await;
    let admin =
        users["items"].as_array().unwrap().iter().find(|u| u["name"] == "admin").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let (status, _) = call_as(
        &server,
        &manager,
        "POST",
        &format!("/api/service-users/{admin}/api-keys"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no key for a stronger user");

    let (status, _) = call_as(
        &server,
        &manager,
        "POST",
        "/api/service-users",
        Some(json!({"name": "helper", "permissions": ["users:read:*"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "a weaker user is fine");
}

#[tokio::test]
async fn the_last_key_that_manages_users_cannot_be_revoked() {
    let server = TestServer::new();
    let (_, users) = server.call("GET", "/api/service-users", None).await;
    let admin = users["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, keys) = server.call("GET", &format!("/api/service-users/{admin}/api-keys"), None).await;
    let key_id = keys["items"][0]["id"].as_str().unwrap().to_owned();

    let revoke = format!("/api/service-users/{admin}/api-keys/{key_id}/revoke");
    let (status, body) = server.call("POST", &revoke, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "last_admin_key");

    let spare = server.ok("POST", &format!("/api/service-users/{admin}/api-keys"), json!({})).await;
    assert!(spare["api_key"].is_string());
    let (status, _) = server.call("POST", &revoke, None).await;
    assert_eq!(status, StatusCode::OK, "with a spare key the old one may go");
}

#[test]
fn the_operator_can_issue_a_new_admin_key_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(mtime_core::clock::SystemClock::new());
    let first = mtime_server::workspace::init(dir.path(), clock.clone()).unwrap();
    let second = mtime_server::workspace::issue_admin_key(dir.path(), clock).unwrap();
    assert!(second.starts_with("mtime_ak_"));
    assert_ne!(first, second);
}

/// Everything a write could change, counted through the API.
async fn footprint(server: &TestServer) -> Vec<usize> {
    let mut counts = Vec::new();
    for list in [
        "/api/org-units",
        "/api/employees",
        "/api/kiosks",
        "/api/settings/reasons",
        "/api/settings/dimensions",
        "/api/settings/activities",
        "/api/service-users",
        "/api/users",
        "/api/events",
        "/api/reports/unknown-badges",
        "/api/webhooks",
    ] {
        let (status, page) = server.call("GET", &format!("{list}?limit=1000"), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        counts.push(page["items"].as_array().unwrap().len());
    }
    counts
}

#[tokio::test]
async fn every_operation_with_a_body_refuses_bad_input_and_changes_nothing() {
    let server = TestServer::new();
    let site = server.site().await;
    let employee = server.employee(site, "E01", "04E87577DE9811").await;
    let (kiosk, _) = server.kiosk(site).await;
    let spec = spec(&server).await;
    let before = footprint(&server).await;

    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(body) = operation.get("requestBody") else { continue };
            // Real ids, so that the refusal is about the body, not a missing resource.
            let concrete = path
                .replace(
                    "{id}",
                    &if path.contains("/kiosk") { kiosk.to_string() } else { employee.to_string() },
                )
                .replace("{key_id}", &uuid::Uuid::new_v4().to_string());
            let json_body = body["content"].get("application/json").is_some();
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header("authorization", format!("Bearer {}", server.key));
            let request = if json_body {
                request
                    .header("content-type", "application/json")
                    .body(Body::from("[1, \"two\", null]"))
            } else {
                request
                    .header("content-type", "application/octet-stream")
                    .body(Body::from(vec![0xFFu8; 40]))
            };
            let (status, answer) = server.raw(request.unwrap()).await;
            assert!(status.is_client_error(), "{method} {path}: {status}");
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            assert!(answer["error"]["code"].is_string(), "{method} {path}: one error shape");
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} operations with a body");
    assert_eq!(footprint(&server).await, before, "bad input changed nothing");
}
