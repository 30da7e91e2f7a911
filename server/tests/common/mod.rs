//! A server in a temporary directory, called through its router without a socket.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

use mtime_core::clock::ManualClock;
use mtime_core::ids::{EmployeeId, KioskId, OrgUnitId};
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{EnrollRequest, EnrollResponse};
use mtime_server::api;
use mtime_server::state::AppState;
use mtime_server::store::Store;
use mtime_server::workspace;

/// Creates a service user with `grant` (`role` or `permissions`, and `org_units`) using the
/// admin key, and returns its id and a new API key.
pub async fn key_with(server: &TestServer, name: &str, grant: Value) -> (String, String) {
    let mut body = json!({"name": name});
    body.as_object_mut().unwrap().extend(grant.as_object().unwrap().clone());
    let user = server.ok("POST", "/api/service-users", body).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let key = server.ok("POST", &format!("/api/service-users/{id}/api-keys"), json!({})).await;
    (id, key["api_key"].as_str().unwrap().to_owned())
}

/// A JSON call with `key`.
pub async fn call_as(
    server: &TestServer,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    let body = match body {
        Some(v) => {
            request = request.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let (status, bytes) = server.raw(request.body(body).unwrap()).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub router: Router,
    pub key: String,
}

impl TestServer {
    /// A fresh workspace on a clock standing at 2025-05-11 17:00 UTC.
    pub fn new() -> Self {
        Self::with_state(|state| state)
    }

    /// The same, with the state changed by `adjust` (settings of `serve`) before serving.
    pub fn with_state(adjust: impl FnOnce(AppState) -> AppState) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::at(Utc.with_ymd_and_hms(2025, 5, 11, 17, 0, 0).unwrap()));
        let key = workspace::init(dir.path(), clock.clone()).unwrap();
        let (store, server_key) = workspace::open(dir.path()).unwrap();
        let state = adjust(AppState::new(Arc::new(store), clock.clone(), server_key));
        let router = api::router(state.clone());
        Self { dir, clock, state, router, key }
    }

    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    pub async fn raw(&self, request: Request<Body>) -> (StatusCode, Bytes) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, body)
    }

    /// A JSON call with the admin key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.key));
        let body = match body {
            Some(v) => {
                request = request.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (status, bytes) = self.raw(request.body(body).unwrap()).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        (status, value)
    }

    /// The ids of everyone the presence report lists as in at `at` (RFC 3339; now if none).
    pub async fn present(&self, at: Option<&str>) -> Vec<String> {
        let path = match at {
            Some(at) => format!("/api/reports/presence?at={}", at.replace('+', "%2B")),
            None => "/api/reports/presence".to_owned(),
        };
        let (status, report) = self.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        let present = report["present"].as_array().unwrap().iter();
        present.map(|p| p["employee_id"].as_str().unwrap().to_owned()).collect()
    }

    pub async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, value) = self.call(method, path, Some(body)).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    /// A site in America/Chicago with a WORK reason.
    pub async fn site(&self) -> OrgUnitId {
        // The site exists since January, so tests may add retroactive records.
        let body = json!({"name": "Plant", "time_zone": "America/Chicago",
            "effective_from": "2025-01-01", "retroactive": true});
        let site = self.ok("POST", "/api/org-units", body).await;
        self.ok(
            "POST",
            "/api/settings/reasons",
            json!({"code": "WORK", "name": "Work", "default": true}),
        )
        .await;
        serde_json::from_value(site["id"].clone()).unwrap()
    }

    pub async fn employee(&self, site: OrgUnitId, number: &str, badge: &str) -> EmployeeId {
        let e = self
            .ok("POST", "/api/employees", json!({"number": number, "name": format!("Name {number}"), "org_unit_id": site, "badges": [badge]}))
            .await;
        serde_json::from_value(e["id"].clone()).unwrap()
    }

    /// Creates a kiosk and returns its id and enrollment code.
    pub async fn kiosk(&self, site: OrgUnitId) -> (KioskId, String) {
        let k = self.ok("POST", "/api/kiosks", json!({"name": "Door", "org_unit_id": site})).await;
        (
            serde_json::from_value(k["kiosk"]["id"].clone()).unwrap(),
            k["enrollment_code"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn enroll(&self, code: &str, key: &SigningKey) -> (StatusCode, Value) {
        let body =
            serde_json::to_value(EnrollRequest { code: code.to_owned(), public_key: key.public() })
                .unwrap();
        let request = Request::post("/api/kiosk/enroll")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, bytes) = self.raw(request).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A site, one employee, and an enrolled kiosk with its key.
    pub async fn enrolled(&self) -> (OrgUnitId, EmployeeId, KioskId, SigningKey, EnrollResponse) {
        let site = self.site().await;
        let employee = self.employee(site, "E01", "04E87577DE9811").await;
        let (kiosk, code) = self.kiosk(site).await;
        let key = SigningKey::generate().unwrap();
        let (status, answer) = self.enroll(&code, &key).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        (site, employee, kiosk, key, serde_json::from_value(answer).unwrap())
    }

    pub async fn post_bytes(&self, path: &str, bytes: Vec<u8>) -> (StatusCode, Bytes) {
        let request = Request::post(path)
            .header("content-type", "application/octet-stream")
            .body(Body::from(bytes))
            .unwrap();
        self.raw(request).await
    }
}
