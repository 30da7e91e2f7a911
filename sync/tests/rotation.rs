//! A kiosk's key rotation whose answer is lost on the way back: the server has switched,
//! the kiosk has not heard. The kiosk must finish the switch before it signs anything else,
//! and every tap must still arrive. (The real sync engine against the real server, on
//! loopback, through a proxy that loses the first answer to the switch.)

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use mtime_core::clock::SystemClock;
use mtime_core::event::{Direction, DirectionSource, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId};
use mtime_core::protocol::EnrollRequest;
use mtime_server::state::AppState;
use mtime_sync::client::Client;
use mtime_sync::engine::{SyncEngine, SyncEvent};
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::{EventDraft, Identity, Outbox};

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    /// Answers to the key switch still to lose.
    lose: Arc<AtomicUsize>,
    lost: Arc<AtomicBool>,
}

/// Forwards every request; the first answers to `…/key` never reach the kiosk.
async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let url = format!("{}{}", proxy.upstream, parts.uri.path());
    let mut outgoing = proxy.http.request(parts.method.clone(), url).body(body.to_vec());
    if let Some(kind) = parts.headers.get("content-type") {
        outgoing = outgoing.header("content-type", kind.clone());
    }
    let answer = outgoing.send().await.unwrap();
    let status = answer.status();
    let bytes = answer.bytes().await.unwrap();
    let losing = parts.uri.path().ends_with("/key")
        && proxy
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if losing {
        proxy.lost.store(true, Ordering::SeqCst);
        return StatusCode::BAD_GATEWAY.into_response();
    }
    (status, [("content-type", "application/octet-stream")], bytes).into_response()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
    });
    format!("http://{addr}")
}

async fn admin(http: &reqwest::Client, base: &str, key: &str, path: &str, body: Value) -> Value {
    let answer =
        http.post(format!("{base}{path}")).bearer_auth(key).json(&body).send().await.unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

fn tap(employee: EmployeeId, direction: Direction, boot: BootId) -> EventDraft {
    EventDraft {
        subject: Subject::Employee { id: employee, badge: None },
        direction,
        direction_source: DirectionSource::Explicit,
        reason: "WORK".parse().unwrap(),
        time: TimeReading {
            wall: chrono::Utc::now(),
            boot,
            monotonic: Duration::from_secs(1),
            wall_trusted: true,
        },
        amends: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_key_switch_is_finished_before_anything_else_is_signed() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock::new());
    let api_key = mtime_server::workspace::init(&dir.path().join("server"), clock.clone()).unwrap();
    let (store, server_key) = mtime_server::workspace::open(&dir.path().join("server")).unwrap();
    let state = AppState::new(Arc::new(store), clock.clone(), server_key);
    let base = serve(mtime_server::api::router(state.clone())).await;
    let http = reqwest::Client::new();

    let site = admin(
        &http,
        &base,
        &api_key,
        "/api/org-units",
        json!({"name": "Plant", "time_zone": "UTC"}),
    )
    .await;
    admin(
        &http,
        &base,
        &api_key,
        "/api/settings/reasons",
        json!({"code": "WORK", "name": "Work", "default": true}),
    )
    .await;
    let ann = admin(
        &http,
        &base,
        &api_key,
        "/api/employees",
        json!({"number": "E01", "name": "Ann", "org_unit_id": site["id"]}),
    )
    .await;
    let employee: EmployeeId = ann["id"].as_str().unwrap().parse().unwrap();
    let config = json!({"repeat_window_secs": 60, "heartbeat_secs": 5,
        "max_batch_events": 500, "max_open_hours": 16, "language": "en"});
    let created = admin(
        &http,
        &base,
        &api_key,
        "/api/kiosks",
        json!({"name": "Door", "org_unit_id": site["id"], "config": config}),
    )
    .await;
    let kiosk_id = created["kiosk"]["id"].as_str().unwrap().to_owned();

    let lost = Arc::new(AtomicBool::new(false));
    let proxy = Proxy {
        upstream: base.clone(),
        http: reqwest::Client::new(),
        lose: Arc::new(AtomicUsize::new(1)),
        lost: lost.clone(),
    };
    let proxy_url = serve(axum::Router::new().fallback(forward).with_state(proxy)).await;

    let key_file = KeyFile::new(dir.path().join("kiosk.key"));
    let key = key_file.create().unwrap();
    let client = Client::new(&proxy_url, None).unwrap();
    let code = created["enrollment_code"].as_str().unwrap().to_owned();
    let answer = client.enroll(&EnrollRequest { code, public_key: key.public() }).await.unwrap();
    let identity = Identity {
        kiosk: answer.kiosk_id,
        name: answer.kiosk_name,
        server_url: proxy_url.clone(),
        server_ca_pem: None,
        server_key: answer.server_public_key,
        site: answer.site,
        config: answer.config,
    };
    let outbox = Arc::new(Outbox::open(&dir.path().join("kiosk.redb")).unwrap());
    outbox.save_identity(&identity).unwrap();
    let boot = BootId::random();
    outbox.append(identity.kiosk, tap(employee, Direction::In, boot)).unwrap();

    let (events_tx, mut events) = mpsc::unbounded_channel();
    let wake = Arc::new(Notify::new());
    let engine = SyncEngine {
        outbox: outbox.clone(),
        client,
        identity: identity.clone(),
        key: Arc::new(key),
        key_file: KeyFile::new(dir.path().join("kiosk.key")),
        clock,
        boot,
        wake: wake.clone(),
        events: events_tx,
        roster_version: 0,
        roster_wanted: Arc::new(AtomicBool::new(false)),
    };
    let task = tokio::spawn(engine.run());

    // The first tap arrives; then an admin asks for a new key.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv()).await.unwrap().unwrap();
        if matches!(event, SyncEvent::Uploaded { pending: 0, .. }) {
            break;
        }
    }
    admin(&http, &base, &api_key, &format!("/api/kiosks/{kiosk_id}/rotate-key"), json!({})).await;

    // The switch goes through and its answer is lost; a tap comes in right then, before
    // the kiosk asks again.
    while !lost.load(Ordering::SeqCst) {
        assert!(tokio::time::Instant::now() < deadline, "the kiosk never asked to switch");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    outbox.append(identity.kiosk, tap(employee, Direction::Out, boot)).unwrap();
    wake.notify_one();
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv()).await.unwrap().unwrap();
        if matches!(event, SyncEvent::KeyRotated) {
            break;
        }
        assert!(!matches!(event, SyncEvent::Halted { .. }), "{event:?}");
    }
    outbox.append(identity.kiosk, tap(employee, Direction::In, boot)).unwrap();
    wake.notify_one();
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv()).await.unwrap().unwrap();
        assert!(!matches!(event, SyncEvent::Halted { .. }), "{event:?}");
        if matches!(event, SyncEvent::Uploaded { pending: 0, last_seq: 3, .. }) {
            break;
        }
    }
    task.abort();

    // The server holds the key the kiosk now has, and every tap once.
    let kiosk = state.store.kiosk(identity.kiosk).unwrap().unwrap();
    let on_disk = KeyFile::new(dir.path().join("kiosk.key")).load().unwrap();
    assert_eq!(kiosk.public_key, Some(on_disk.public()));
    assert_eq!(kiosk.head.last_seq, 3);
    assert_eq!(state.store.employee_events(employee).unwrap().len(), 3);
    assert!(!outbox.halted().unwrap());
}
