//! What kiosks report of their outboxes: kept, shown on the kiosk, and announced in the
//! feed once each time the queue crosses the warning mark, either way.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use common::TestServer;
use mtime_core::event::TimeReading;
use mtime_core::ids::{BootId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{
    HEARTBEAT, HEARTBEAT_WITH_OUTBOX, Heartbeat, HeartbeatWithOutbox, OutboxReport,
};
use mtime_core::seal;

fn beat(server: &TestServer, kiosk: KioskId, pending: u64) -> Heartbeat {
    Heartbeat {
        kiosk,
        sent: TimeReading {
            wall: server.state.now(),
            boot: BootId::random(),
            monotonic: Duration::ZERO,
            wall_trusted: true,
        },
        pending,
        acked_through: 0,
        roster_version: 0,
        software: "test".into(),
        clock_sample: None,
    }
}

/// Sends a version 2 heartbeat reporting `pending` of `capacity`.
async fn report(server: &TestServer, kiosk: KioskId, key: &SigningKey, pending: u64, full: bool) {
    let outbox = OutboxReport { pending, capacity: 1000, storage_full: full, halted: false };
    send_report(server, kiosk, key, outbox).await;
}

/// Sends a version 2 heartbeat carrying `outbox`.
async fn send_report(server: &TestServer, kiosk: KioskId, key: &SigningKey, outbox: OutboxReport) {
    let pending = outbox.pending;
    let with = HeartbeatWithOutbox { beat: beat(server, kiosk, pending), outbox };
    let bytes = seal::seal(HEARTBEAT_WITH_OUTBOX, &with, key).unwrap();
    let (status, _) = server.post_bytes(&format!("/api/kiosk/{kiosk}/heartbeat"), bytes).await;
    assert_eq!(status, StatusCode::OK);
    server.clock.advance(Duration::from_secs(60));
}

/// The outbox kinds in the feed after `after`, with the kiosk they name.
async fn announced(server: &TestServer, after: u64) -> Vec<(String, Value)> {
    let (status, page) = server.call("GET", &format!("/api/events?after={after}"), None).await;
    assert_eq!(status, StatusCode::OK);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let kind = e["kind"].as_str().unwrap();
            kind.starts_with("kiosk.outbox_") || kind == "kiosk.halted"
        })
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["kiosk_id"].clone()))
        .collect()
}

#[tokio::test]
async fn each_crossing_of_the_warning_mark_is_announced_once() {
    let server = TestServer::new();
    let (_, _, kiosk, key, _) = server.enrolled().await;

    // Fine, then filling (80% of 1000), deeper, full, full and refusing: one entry.
    for pending in [10, 799, 800, 950, 1000, 1200] {
        report(&server, kiosk, &key, pending, false).await;
    }
    assert_eq!(announced(&server, 0).await, vec![("kiosk.outbox_filling".into(), json!(kiosk))]);

    // Synced down past the mark: drained, once; up again: filling again, once.
    for pending in [500, 0, 0, 900, 850] {
        report(&server, kiosk, &key, pending, false).await;
    }
    let filling = ("kiosk.outbox_filling".to_owned(), json!(kiosk));
    let drained = ("kiosk.outbox_drained".to_owned(), json!(kiosk));
    assert_eq!(announced(&server, 0).await, vec![filling.clone(), drained, filling]);
}

#[tokio::test]
async fn the_kiosk_shows_its_last_queue_depth_capacity_and_state() {
    let server = TestServer::new();
    let (_, _, kiosk, key, _) = server.enrolled().await;
    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["outbox"], Value::Null, "nothing reported yet");

    let reported_at = server.state.now();
    report(&server, kiosk, &key, 812, true).await;
    let (status, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        shown["outbox"],
        json!({"reported_at": reported_at, "pending": 812, "capacity": 1000,
            "state": "filling", "storage_full": true, "halted": false})
    );
    assert_eq!(shown["pending_at_last_heartbeat"], 812);

    // The list shows the same.
    let (_, list) = server.call("GET", "/api/kiosks", None).await;
    assert_eq!(list["items"][0]["outbox"]["state"], "filling");
}

#[tokio::test]
async fn an_older_kiosks_heartbeat_is_still_taken_and_leaves_the_last_report_alone() {
    let server = TestServer::new();
    let (_, _, kiosk, key, _) = server.enrolled().await;
    report(&server, kiosk, &key, 900, false).await;

    let old = seal::seal(HEARTBEAT, &beat(&server, kiosk, 3), &key).unwrap();
    let (status, _) = server.post_bytes(&format!("/api/kiosk/{kiosk}/heartbeat"), old).await;
    assert_eq!(status, StatusCode::OK);

    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["pending_at_last_heartbeat"], 3);
    assert_eq!(shown["outbox"]["pending"], 900, "a version 1 heartbeat reports no outbox");
    assert_eq!(announced(&server, 0).await.len(), 1, "and announces nothing");
}

#[tokio::test]
async fn a_report_signed_by_another_key_changes_nothing() {
    let server = TestServer::new();
    let (_, _, kiosk, _, _) = server.enrolled().await;
    let stranger = SigningKey::generate().unwrap();
    let outbox = OutboxReport { pending: 999, capacity: 1000, storage_full: false, halted: false };
    let with = HeartbeatWithOutbox { beat: beat(&server, kiosk, 999), outbox };
    let bytes = seal::seal(HEARTBEAT_WITH_OUTBOX, &with, &stranger).unwrap();
    let (status, _) = server.post_bytes(&format!("/api/kiosk/{kiosk}/heartbeat"), bytes).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["outbox"], Value::Null);
    assert!(announced(&server, 0).await.is_empty());
}

#[tokio::test]
async fn a_kiosk_that_stopped_uploading_is_announced_once_and_shown_halted() {
    let server = TestServer::new();
    let (_, _, kiosk, key, _) = server.enrolled().await;
    report(&server, kiosk, &key, 1, false).await;
    let halted = OutboxReport { pending: 1, capacity: 1000, storage_full: false, halted: true };
    for _ in 0..3 {
        send_report(&server, kiosk, &key, halted).await;
    }
    assert_eq!(announced(&server, 0).await, vec![("kiosk.halted".to_owned(), json!(kiosk))]);
    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["outbox"]["halted"], true);
    assert_eq!(shown["outbox"]["pending"], 1);
}
