//! The outbox's state travels with the heartbeat: a kiosk that comes back with its outbox
//! past the warning mark is announced as filling, and as drained once it has synced. (The
//! real sync engine against the real server, on loopback.)

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use mtime_core::clock::SystemClock;
use mtime_core::event::{Direction, DirectionSource, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId};
use mtime_core::protocol::EnrollRequest;
use mtime_server::state::AppState;
use mtime_sync::client::Client;
use mtime_sync::engine::SyncEngine;
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::{EventDraft, Identity, Outbox, OutboxOptions};

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

fn tap(employee: EmployeeId, boot: BootId) -> EventDraft {
    EventDraft {
        subject: Subject::Employee { id: employee, badge: None },
        direction: Direction::In,
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
async fn a_kiosk_back_with_a_filling_outbox_is_announced_filling_then_drained() {
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
        json!({"name": "Mine", "time_zone": "UTC"}),
    )
    .await;
    let reason = json!({"code": "WORK", "name": "Work", "default": true});
    admin(&http, &base, &api_key, "/api/settings/reasons", reason).await;
    let ann = json!({"number": "E01", "name": "Ann", "org_unit_id": site["id"]});
    let ann = admin(&http, &base, &api_key, "/api/employees", ann).await;
    let employee: EmployeeId = ann["id"].as_str().unwrap().parse().unwrap();
    let config = json!({"repeat_window_secs": 60, "heartbeat_secs": 5,
        "max_batch_events": 500, "max_open_hours": 16, "language": "en"});
    let kiosk = json!({"name": "Shaft", "org_unit_id": site["id"], "config": config});
    let created = admin(&http, &base, &api_key, "/api/kiosks", kiosk).await;

    let key_file = KeyFile::new(dir.path().join("kiosk.key"));
    let key = key_file.create().unwrap();
    let client = Client::new(&base, None).unwrap();
    let code = created["enrollment_code"].as_str().unwrap().to_owned();
    let answer = client.enroll(&EnrollRequest { code, public_key: key.public() }).await.unwrap();
    let identity = Identity {
        kiosk: answer.kiosk_id,
        name: answer.kiosk_name,
        server_url: base.clone(),
        server_ca_pem: None,
        server_key: answer.server_public_key,
        site: answer.site,
        config: answer.config,
    };

    // Offline for a while: 4 taps against a capacity of 5, past the 80% mark.
    let options = OutboxOptions { capacity: 5, ..OutboxOptions::default() };
    let outbox = Arc::new(Outbox::open_with(&dir.path().join("kiosk.redb"), options).unwrap());
    outbox.save_identity(&identity).unwrap();
    let boot = BootId::random();
    outbox.append_all(identity.kiosk, (0..4).map(|_| tap(employee, boot)).collect()).unwrap();

    let (events_tx, _events) = mpsc::unbounded_channel();
    let engine = SyncEngine {
        outbox: outbox.clone(),
        client,
        identity: identity.clone(),
        key: Arc::new(key),
        key_file,
        clock,
        boot,
        wake: Arc::new(Notify::new()),
        events: events_tx,
        roster_version: 0,
        roster_wanted: Arc::new(AtomicBool::new(false)),
    };
    let task = tokio::spawn(engine.run());

    // The first heartbeat goes before the upload; the next, five seconds on, after it.
    let outbox_kinds = || {
        let entries = state.store.feed_after(0, 1000).unwrap();
        let kinds = entries.into_iter().filter(|e| e.kind.starts_with("kiosk.outbox_"));
        kinds.map(|e| (e.kind, e.kiosk)).collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while outbox_kinds().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "announced: {:?}", outbox_kinds());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();

    let kiosk = Some(identity.kiosk);
    assert_eq!(
        outbox_kinds(),
        vec![
            ("kiosk.outbox_filling".to_owned(), kiosk),
            ("kiosk.outbox_drained".to_owned(), kiosk)
        ]
    );
    let kept = state.store.kiosk_outbox(identity.kiosk).unwrap().unwrap();
    assert_eq!((kept.report.pending, kept.report.capacity), (0, 5));
    assert!(!kept.report.storage_full);
    assert_eq!(outbox.pending().unwrap(), 0);
}
