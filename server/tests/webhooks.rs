//! Outbound webhooks against a receiver on loopback: signed deliveries the test verifies
//! itself, retries of the same entry in order, kind filters, refused targets, the secret
//! shown once and never logged, and deletion stopping deliveries.
//!
//! Every test logs to one process-wide subscriber, so that what a test finds in the log is
//! not hidden by another test's choice of subscriber.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use common::TestServer;
use mtime_core::ids::{EmployeeId, WebhookId};
use mtime_server::model::{DELIVERY_LOG_LEN, DeliveryRecord};
use mtime_server::webhooks::target::HostAllowlist;
use mtime_server::webhooks::worker::{self, Worker, WorkerConfig};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged in this test binary so far, at every level.
fn logs() -> String {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    let captured = CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    });
    String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned()
}

/// What the receiver got.
struct Arrival {
    headers: HeaderMap,
    body: Bytes,
}

impl Arrival {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
}

#[derive(Clone)]
struct ReceiverState {
    /// Statuses to answer, in order; 200 once they run out.
    script: Arc<Mutex<VecDeque<u16>>>,
    arrivals: mpsc::UnboundedSender<Arrival>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
    let _ = state.arrivals.send(Arrival { headers, body });
    StatusCode::from_u16(status).unwrap()
}

/// An HTTP receiver on 127.0.0.1 that answers `script` first, then 200.
struct Receiver {
    url: String,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let (tx, arrivals) = mpsc::unbounded_channel();
        let state = ReceiverState {
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            arrivals: tx,
        };
        let app = Router::new().route("/hook", post(receive)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, arrivals }
    }

    async fn next(&mut self) -> Arrival {
        tokio::time::timeout(Duration::from_secs(10), self.arrivals.recv())
            .await
            .expect("a delivery within 10 s")
            .unwrap()
    }

    /// Asserts that nothing arrives for `quiet`.
    async fn nothing_for(&mut self, quiet: Duration) {
        if let Ok(Some(arrival)) = tokio::time::timeout(quiet, self.arrivals.recv()).await {
            panic!("unexpected delivery: {}", String::from_utf8_lossy(&arrival.body));
        }
    }
}

/// A worker that looks often and backs off from 20 ms, so tests take milliseconds.
fn fast_worker(server: &TestServer) -> Worker {
    let config = WorkerConfig {
        poll: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
    };
    worker::spawn(server.state.clone(), config).unwrap()
}

/// A site and an employee, whose corrections make feed entries.
async fn employee(server: &TestServer) -> EmployeeId {
    let site = server.site().await;
    server.employee(site, "E01", "04E87577DE9811").await
}

/// Adds the `n`th correction (in, out, in, …) a few minutes apart on the clock's morning:
/// one `presence.corrected` feed entry.
async fn correction(server: &TestServer, employee: EmployeeId, n: u32) {
    let direction = if n.is_multiple_of(2) { "in" } else { "out" };
    let at = format!("2025-05-11T08:{:02}:00-05:00", n * 3);
    let path = format!("/api/employees/{employee}/timesheet/corrections");
    server.ok("POST", &path, json!({"direction": direction, "at": at})).await;
}

async fn create(server: &TestServer, body: Value) -> (WebhookId, String, Value) {
    let created = server.ok("POST", "/api/webhooks", body).await;
    let id = created["webhook"]["id"].as_str().unwrap().parse().unwrap();
    (id, created["secret"].as_str().unwrap().to_owned(), created)
}

/// Reads `path` until `done` holds for it (10 s at most).
async fn wait_for(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, value) = server.call("GET", path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {value}");
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < until, "{path} never got there: {value}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn hmac_hex(key: &str, data: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn a_delivery_carries_the_feed_entry_and_a_signature_the_receiver_can_check() {
    logs();
    let server = TestServer::new();
    let employee = employee(&server).await;
    correction(&server, employee, 0).await; // seq 1: before the subscription, not delivered
    let mut receiver = Receiver::start(&[]).await;
    let (id, secret, created) =
        create(&server, json!({"url": receiver.url, "description": "payroll bridge"})).await;
    assert!(secret.starts_with("mtime_whsec_"));
    assert_eq!(secret.len(), "mtime_whsec_".len() + 64);
    assert_eq!(created["webhook"]["url"], receiver.url);
    assert_eq!(created["webhook"]["kinds"], json!([]));
    assert_eq!(created["webhook"]["description"], "payroll bridge");
    assert_eq!(created["webhook"]["delivered_through"], 1, "it starts at the feed's end");

    let _worker = fast_worker(&server);
    correction(&server, employee, 1).await; // seq 2
    let arrival = receiver.next().await;

    let timestamp = arrival.header("mtime-timestamp");
    assert_eq!(timestamp, server.state.now().timestamp().to_string(), "the server's clock");
    let signed = [timestamp.as_bytes(), b".", &arrival.body].concat();
    assert_eq!(arrival.header("mtime-signature"), format!("v1={}", hmac_hex(&secret, &signed)));
    assert_ne!(
        arrival.header("mtime-signature"),
        format!("v1={}", hmac_hex("mtime_whsec_wrong", &signed)),
        "another secret gives another signature"
    );
    assert_eq!(arrival.header("mtime-webhook-id"), id.to_string());
    assert_eq!(arrival.header("content-type"), "application/json");

    let body = arrival.json();
    let (_, events) = server.call("GET", "/api/events?after=1", None).await;
    let entry = &events["items"][0];
    assert_eq!(body["seq"], 2);
    assert_eq!(body["kind"], "presence.corrected");
    assert_eq!(body["employee_id"], employee.to_string());
    for field in ["seq", "at", "kind", "employee_id", "kiosk_id", "event_id"] {
        assert_eq!(body[field], entry[field], "{field} as in GET /api/events");
    }
    assert_eq!(body["webhook_id"], id.to_string());
    assert_eq!(body["delivery_id"], arrival.header("mtime-delivery-id"));

    let path = format!("/api/webhooks/{id}");
    wait_for(&server, &path, |w| w["delivered_through"] == 2).await;
    let log = wait_for(&server, &format!("{path}/deliveries"), |p| p["items"] != json!([])).await;
    let attempt = &log["items"][0];
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    assert_eq!(attempt["number"], 1);
    assert_eq!(attempt["seq"], 2);
    assert_eq!(attempt["attempt"], 1);
    assert_eq!(attempt["status"], 200);
    assert_eq!(attempt["delivered"], true);
    assert_eq!(attempt["error"], Value::Null);
    assert_eq!(attempt["delivery_id"], body["delivery_id"]);
    assert_eq!(attempt["at"], json!(server.state.now()));
    assert!(attempt["duration_ms"].as_u64().unwrap() < 2000);
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_entry_again_after_backoff_then_the_rest_in_order() {
    logs();
    let server = TestServer::new();
    let employee = employee(&server).await;
    let mut receiver = Receiver::start(&[500, 503, 404]).await;
    let (id, _, _) = create(&server, json!({"url": receiver.url})).await;
    for n in 0..3 {
        correction(&server, employee, n).await; // seq 1, 2, 3
    }
    let started = Instant::now();
    let _worker = fast_worker(&server);

    let mut got = Vec::new();
    for _ in 0..6 {
        let body = receiver.next().await.json();
        got.push((body["seq"].as_u64().unwrap(), body["delivery_id"].as_str().unwrap().to_owned()));
    }
    let waited = started.elapsed();
    let seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, [1, 1, 1, 1, 2, 3], "the same entry until it is taken, then in order");
    assert!(got[..4].iter().all(|(_, d)| *d == got[0].1), "one delivery id for every attempt");
    assert_ne!(got[4].1, got[0].1);
    // Three failures wait at least half of 20 + 40 + 80 ms.
    assert!(waited >= Duration::from_millis(70), "{waited:?}");
    receiver.nothing_for(Duration::from_millis(200)).await;

    let path = format!("/api/webhooks/{id}/deliveries");
    let log = wait_for(&server, &path, |p| p["items"].as_array().unwrap().len() == 6).await;
    let rows: Vec<(u64, u64, u64, bool)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let status = d["status"].as_u64().unwrap();
            let row = (d["seq"].as_u64().unwrap(), d["attempt"].as_u64().unwrap(), status);
            (row.0, row.1, row.2, d["delivered"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, 1, 500, false),
            (1, 2, 503, false),
            (1, 3, 404, false),
            (1, 4, 200, true),
            (2, 1, 200, true),
            (3, 1, 200, true)
        ]
    );
    let numbers: Vec<u64> =
        log["items"].as_array().unwrap().iter().map(|d| d["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    wait_for(&server, &format!("/api/webhooks/{id}"), |w| w["delivered_through"] == 3).await;

    // Paged like every list.
    let (_, first) = server.call("GET", &format!("{path}?limit=4"), None).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 4);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, rest) = server.call("GET", &format!("{path}?limit=4&cursor={cursor}"), None).await;
    assert_eq!(rest["items"][0]["number"], 5);
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_receiver_that_is_not_there_is_logged_with_the_error_and_retried() {
    logs();
    let server = TestServer::new();
    let employee = employee(&server).await;
    // A loopback port with nothing listening on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (id, _, _) = create(&server, json!({"url": format!("http://127.0.0.1:{port}/")})).await;
    let _worker = fast_worker(&server);
    correction(&server, employee, 0).await;

    let path = format!("/api/webhooks/{id}/deliveries");
    let log = wait_for(&server, &path, |p| p["items"].as_array().unwrap().len() >= 2).await;
    for (n, attempt) in log["items"].as_array().unwrap().iter().take(2).enumerate() {
        assert_eq!(attempt["seq"], 1);
        assert_eq!(attempt["attempt"], n as u64 + 1);
        assert_eq!(attempt["status"], Value::Null);
        assert_eq!(attempt["delivered"], false);
        let error = attempt["error"].as_str().unwrap();
        assert!(error.starts_with("connection failed"), "{error}");
        assert!(!error.contains("127.0.0.1"), "no URL in the error: {error}");
    }
    let (_, hook) = server.call("GET", &format!("/api/webhooks/{id}"), None).await;
    assert_eq!(hook["delivered_through"], 0, "never skipped");
    assert!(logs().contains(&format!("webhook.id={id}")));
}

#[tokio::test]
async fn a_kind_filter_delivers_only_those_kinds() {
    logs();
    let server = TestServer::new();
    let employee = employee(&server).await;
    let mut receiver = Receiver::start(&[]).await;
    let body = json!({"url": receiver.url, "kinds": ["presence.entered", "presence.entered"]});
    let (id, _, created) = create(&server, body).await;
    assert_eq!(created["webhook"]["kinds"], json!(["presence.entered"]), "kept once");
    let _worker = fast_worker(&server);

    correction(&server, employee, 0).await; // seq 1: presence.corrected
    correction(&server, employee, 1).await; // seq 2: presence.corrected
    let clock_in = format!("/api/employees/{employee}/timesheet/clock-in");
    server.ok("POST", &clock_in, json!({})).await; // seq 3: presence.entered
    correction(&server, employee, 2).await; // seq 4: presence.corrected

    let body = receiver.next().await.json();
    assert_eq!(body["seq"], 3);
    assert_eq!(body["kind"], "presence.entered");
    receiver.nothing_for(Duration::from_millis(300)).await;
    wait_for(&server, &format!("/api/webhooks/{id}"), |w| w["delivered_through"] == 4).await;
    let (_, log) = server.call("GET", &format!("/api/webhooks/{id}/deliveries"), None).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "passed-over entries are not attempts");
}

#[tokio::test]
async fn urls_with_a_host_not_allowed_a_bad_scheme_or_credentials_are_refused_and_not_stored() {
    logs();
    let allowed = HostAllowlist::new(["127.0.0.1", "::1"]).unwrap();
    let server = TestServer::with_state(|state| state.with_webhook_hosts(allowed));
    for (body, says) in [
        (json!({"url": "https://hooks.example/in"}), "may not point at hooks.example"),
        (json!({"url": "http://127.0.0.2:9000/in"}), "may not point at 127.0.0.2"),
        (json!({"url": "ftp://127.0.0.1/in"}), "http or https"),
        (json!({"url": "file:///etc/passwd"}), "http or https"),
        (json!({"url": "javascript:alert(1)"}), "http or https"),
        (json!({"url": "http://user:pass@127.0.0.1/in"}), "user name or password"),
        (json!({"url": "http://token@127.0.0.1/in"}), "user name or password"),
        (json!({"url": "127.0.0.1/in"}), "absolute"),
        (json!({"url": ""}), "absolute"),
        (json!({"url": "http://127.0.0.1/", "kinds": ["payroll.run"]}), "unknown feed kind"),
        (json!({"url": "http://127.0.0.1/", "secret": "mine"}), "unknown field"),
        (json!({"url": "http://127.0.0.1/", "description": "x".repeat(201)}), "at most 200"),
        (json!({"kinds": []}), "missing field `url`"),
    ] {
        let (status, answer) = server.call("POST", "/api/webhooks", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }

    // A caller that may manage webhooks but not read the feed cannot have it sent out.
    let user = server
        .ok(
            "POST",
            "/api/service-users",
            json!({"name": "hooks", "permissions": ["webhooks:write:*", "webhooks:read:*"]}),
        )
        .await;
    let key = server
        .ok(
            "POST",
            &format!("/api/service-users/{}/api-keys", user["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    let request = axum::http::Request::post("/api/webhooks")
        .header("authorization", format!("Bearer {}", key["api_key"].as_str().unwrap()))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"url": "http://127.0.0.1/in"}).to_string()))
        .unwrap();
    let (status, answer) = server.raw(request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["error"]["required_permission"], "events:read:*");

    let (_, list) = server.call("GET", "/api/webhooks", None).await;
    assert_eq!(list["items"], json!([]), "nothing stored");
    assert!(server.store().webhooks().unwrap().is_empty());

    let (status, created) =
        server.call("POST", "/api/webhooks", Some(json!({"url": "http://[::1]:9/in"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn the_secret_is_shown_once_and_never_listed_read_or_logged() {
    logs();
    let server = TestServer::new();
    let employee = employee(&server).await;
    let mut receiver = Receiver::start(&[503]).await;
    let (id, secret, _) = create(&server, json!({"url": receiver.url})).await;
    let _worker = fast_worker(&server);
    correction(&server, employee, 0).await;
    receiver.next().await; // 503
    receiver.next().await; // 200
    let path = format!("/api/webhooks/{id}/deliveries");
    wait_for(&server, &path, |p| p["items"].as_array().unwrap().len() == 2).await;

    let hex_part = &secret["mtime_whsec_".len()..];
    for read in ["/api/webhooks".to_owned(), format!("/api/webhooks/{id}"), path] {
        let (status, body) = server.call("GET", &read, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.to_string().contains(hex_part), "{read} shows the secret");
    }
    let (_, spec) = server.call("GET", "/api/openapi.json", None).await;
    assert!(!spec.to_string().contains(hex_part));

    // A secret pasted into a URL by mistake is masked in the request log too.
    server.call("GET", &format!("/api/webhooks/{secret}"), None).await;

    let logs = logs();
    assert!(logs.contains("webhook created"), "creation is logged");
    assert!(logs.contains("webhook delivery failed") && logs.contains("webhook delivered"));
    assert!(logs.contains(&format!("webhook.id={id}")));
    assert!(!logs.contains(hex_part), "the secret reached the logs");
}

#[tokio::test]
async fn deleting_a_webhook_stops_its_deliveries_even_mid_retry() {
    logs();
    let server = TestServer::new();
    let employee = employee(&server).await;
    let mut steady = Receiver::start(&[]).await;
    let mut failing = Receiver::start(&[500; 1000]).await;
    let (steady_id, _, _) = create(&server, json!({"url": steady.url})).await;
    let (failing_id, _, _) = create(&server, json!({"url": failing.url})).await;
    let _worker = fast_worker(&server);

    correction(&server, employee, 0).await;
    assert_eq!(steady.next().await.json()["seq"], 1);
    assert_eq!(failing.next().await.json()["seq"], 1);
    assert_eq!(failing.next().await.json()["seq"], 1, "retried");

    for id in [steady_id, failing_id] {
        let (status, body) = server.call("DELETE", &format!("/api/webhooks/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    // Anything already in flight when the delete landed may still arrive; then silence.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while failing.arrivals.try_recv().is_ok() {}
    correction(&server, employee, 1).await;
    steady.nothing_for(Duration::from_millis(400)).await;
    failing.nothing_for(Duration::from_millis(400)).await;

    for id in [steady_id, failing_id] {
        let (status, _) = server.call("GET", &format!("/api/webhooks/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server.call("GET", &format!("/api/webhooks/{id}/deliveries"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server.call("DELETE", &format!("/api/webhooks/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert!(server.store().deliveries(failing_id).unwrap().is_empty(), "the log went too");
}

#[tokio::test]
async fn the_delivery_log_keeps_the_last_attempts_only() {
    logs();
    let server = TestServer::new();
    let (id, _, _) = create(&server, json!({"url": "http://127.0.0.1:9/"})).await;
    let attempt = |n: u64| DeliveryRecord {
        number: 0,
        seq: 1,
        delivery_id: uuid::Uuid::nil(),
        attempt: u32::try_from(n).unwrap(),
        at: server.state.now(),
        status: Some(500),
        error: None,
        duration_ms: 1,
    };
    let store = server.store();
    for n in 1..=DELIVERY_LOG_LEN + 5 {
        let logged = store.record_delivery(id, &attempt(n)).unwrap().unwrap();
        assert_eq!(logged.number, n);
    }
    let log = store.deliveries(id).unwrap();
    assert_eq!(log.len() as u64, DELIVERY_LOG_LEN);
    assert_eq!(log[0].number, 6, "the oldest went");
    assert_eq!(log.last().unwrap().number, DELIVERY_LOG_LEN + 5);
    assert_eq!(store.webhook(id).unwrap().unwrap().cursor, 0, "failures never advance");
}

#[tokio::test]
async fn a_host_dropped_from_the_allowed_list_gets_nothing_more() {
    let server = TestServer::new();
    let employee = employee(&server).await;
    let mut receiver = Receiver::start(&[]).await;
    let (id, _, _) = create(&server, json!({"url": receiver.url})).await;

    // The server restarts with webhook_hosts narrowed to ::1: the subscription to
    // 127.0.0.1 stays, and is not delivered.
    let narrowed = server.state.clone().with_webhook_hosts(HostAllowlist::new(["::1"]).unwrap());
    let config = WorkerConfig {
        poll: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
    };
    let _worker = worker::spawn(narrowed, config).unwrap();
    correction(&server, employee, 0).await;

    let path = format!("/api/webhooks/{id}/deliveries");
    let log = wait_for(&server, &path, |p| p["items"].as_array().unwrap().len() >= 2).await;
    let first = &log["items"][0];
    assert_eq!(first["delivered"], false);
    assert_eq!(first["error"], "not sent: its host is not among webhook_hosts");
    receiver.nothing_for(Duration::from_millis(300)).await;
    let (_, hook) = server.call("GET", &format!("/api/webhooks/{id}"), None).await;
    assert_eq!(hook["delivered_through"], 0, "never skipped");
}
