//! Employee PINs, kiosk admins and the kiosk's PIN fallback setting: set through the API,
//! delivered to kiosks in the roster as a hash, never shown.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use common::{TestServer, call_as, key_with};
use mtime_core::event::TimeReading;
use mtime_core::ids::{BootId, EmployeeId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_core::pin::Pin;
use mtime_core::protocol::{ROSTER, ROSTER_REQUEST, Roster, RosterEmployee, RosterRequest};
use mtime_core::seal;

async fn roster(server: &TestServer, kiosk: KioskId, key: &SigningKey) -> (Roster, Vec<u8>) {
    let sent = TimeReading {
        wall: server.state.now(),
        boot: BootId::random(),
        monotonic: Duration::ZERO,
        wall_trusted: true,
    };
    let request = RosterRequest { kiosk, have_version: 0, sent };
    let bytes = seal::seal(ROSTER_REQUEST, &request, key).unwrap();
    let (status, body) = server.post_bytes(&format!("/api/kiosk/{kiosk}/roster"), bytes).await;
    assert_eq!(status, StatusCode::OK);
    let server_key = server.state.key.public();
    (seal::open(ROSTER, &body, &server_key).unwrap(), body.to_vec())
}

fn in_roster(roster: &Roster, id: EmployeeId) -> &RosterEmployee {
    roster.employee(id).unwrap()
}

async fn employee(server: &TestServer, id: EmployeeId) -> Value {
    let (status, shown) = server.call("GET", &format!("/api/employees/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    shown
}

#[tokio::test]
async fn a_pin_reaches_the_roster_as_a_hash_that_verifies_it_and_can_be_removed() {
    let server = TestServer::new();
    let (_, ann, kiosk, key, _) = server.enrolled().await;
    let (before, _) = roster(&server, kiosk, &key).await;
    assert_eq!(in_roster(&before, ann).pin, None);
    assert!(!in_roster(&before, ann).kiosk_admin);

    let pin = "80417326";
    let (status, body) =
        server.call("PUT", &format!("/api/employees/{ann}/pin"), Some(json!({"pin": pin}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null, "no body at all");

    let shown = employee(&server, ann).await;
    assert_eq!(
        (shown["pin_set"].clone(), shown["kiosk_admin"].clone()),
        (json!(true), json!(false))
    );
    assert!(!shown.to_string().contains(pin));

    let (after, bytes) = roster(&server, kiosk, &key).await;
    assert!(after.version > before.version, "a new PIN is a new roster");
    let hash = in_roster(&after, ann).pin.clone().unwrap();
    assert!(hash.verify(&pin.parse::<Pin>().unwrap()));
    assert!(!hash.verify(&"80417327".parse::<Pin>().unwrap()));
    let digits = pin.as_bytes();
    assert!(!bytes.windows(digits.len()).any(|w| w == digits), "the roster carries no PIN");

    let (status, _) = server.call("DELETE", &format!("/api/employees/{ann}/pin"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(employee(&server, ann).await["pin_set"], json!(false));
    let (removed, _) = roster(&server, kiosk, &key).await;
    assert!(removed.version > after.version);
    assert_eq!(in_roster(&removed, ann).pin, None);
}

#[tokio::test]
async fn a_kiosk_admin_is_flagged_in_the_roster_and_keeps_their_pin() {
    let server = TestServer::new();
    let (_, ann, kiosk, key, _) = server.enrolled().await;
    server.ok("PUT", &format!("/api/employees/{ann}/pin"), json!({"pin": "4711"})).await;

    let shown = server
        .ok("PUT", &format!("/api/employees/{ann}/kiosk-access"), json!({"kiosk_admin": true}))
        .await;
    assert_eq!(
        (shown["pin_set"].clone(), shown["kiosk_admin"].clone()),
        (json!(true), json!(true))
    );
    let (_, listed) = server.call("GET", "/api/employees", None).await;
    assert_eq!(listed["items"][0]["kiosk_admin"], json!(true));

    let (r, _) = roster(&server, kiosk, &key).await;
    assert!(in_roster(&r, ann).kiosk_admin);
    assert!(in_roster(&r, ann).pin.as_ref().unwrap().verify(&"4711".parse().unwrap()));

    server
        .ok("PUT", &format!("/api/employees/{ann}/kiosk-access"), json!({"kiosk_admin": false}))
        .await;
    let (r, _) = roster(&server, kiosk, &key).await;
    assert!(!in_roster(&r, ann).kiosk_admin);
}

#[tokio::test]
async fn a_malformed_pin_is_refused_with_the_rule_and_never_echoed() {
    let server = TestServer::new();
    let (_, ann, _, _, _) = server.enrolled().await;
    let path = format!("/api/employees/{ann}/pin");
    for (body, digits) in [
        (json!({"pin": "12a4"}), "12a4"),
        (json!({"pin": "123"}), "123"),
        (json!({"pin": "123456789"}), "123456789"),
        (json!({"pin": 4711}), "4711"),
        (json!({"pin": -4711.5}), "4711"),
    ] {
        let (status, answer) = server.call("PUT", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("4 to 8 digits"), "{message}");
        assert!(!message.contains(digits), "{message} repeats the PIN");
    }
    assert_eq!(employee(&server, ann).await["pin_set"], json!(false), "nothing changed");
}

#[tokio::test]
async fn a_caller_limited_to_another_site_can_neither_see_nor_set_pins() {
    let server = TestServer::new();
    let (_, ann, _, _, _) = server.enrolled().await;
    let depot = server
        .ok("POST", "/api/org-units", json!({"name": "Depot", "time_zone": "America/Chicago"}))
        .await;
    let (_, key) = key_with(
        &server,
        "depot admin",
        json!({"permissions": ["organization:read:*", "organization:write:*"],
            "org_units": [depot["id"]]}),
    )
    .await;

    let pin = format!("/api/employees/{ann}/pin");
    let (status, body) = call_as(&server, &key, "PUT", &pin, Some(json!({"pin": "4711"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "outside_scope");
    let (status, body) = call_as(&server, &key, "DELETE", &pin, None).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("outside_scope"))
    );
    let access = format!("/api/employees/{ann}/kiosk-access");
    let (status, _) =
        call_as(&server, &key, "PUT", &access, Some(json!({"kiosk_admin": true}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call_as(&server, &key, "GET", &format!("/api/employees/{ann}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "outside the scope reads as absent");

    let shown = employee(&server, ann).await;
    assert_eq!(
        (shown["pin_set"].clone(), shown["kiosk_admin"].clone()),
        (json!(false), json!(false))
    );

    let nobody = uuid::Uuid::new_v4();
    let (status, _) = server
        .call("PUT", &format!("/api/employees/{nobody}/pin"), Some(json!({"pin": "4711"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_pin_fallback_setting_reaches_the_roster_and_the_kiosk_view() {
    let server = TestServer::new();
    let (_, _, kiosk, key, enrolled) = server.enrolled().await;
    assert!(!enrolled.config.pin_fallback, "off unless an admin turns it on");

    let mut config = serde_json::to_value(&enrolled.config).unwrap();
    config["pin_fallback"] = json!(true);
    let shown = server
        .ok("POST", &format!("/api/kiosks/{kiosk}/settings"), json!({"config": config}))
        .await;
    assert_eq!(shown["config"]["pin_fallback"], json!(true));
    let (r, _) = roster(&server, kiosk, &key).await;
    assert!(r.config.pin_fallback);
    assert!(server.store().kiosk(kiosk).unwrap().unwrap().config.pin_fallback, "stored");

    // A config sent without the field turns it off, as every field left out of a config
    // takes its default.
    config.as_object_mut().unwrap().remove("pin_fallback");
    let shown = server
        .ok("POST", &format!("/api/kiosks/{kiosk}/settings"), json!({"config": config}))
        .await;
    assert_eq!(shown["config"]["pin_fallback"], json!(false));
}
