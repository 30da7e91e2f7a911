//! The device routes: enrollment, roster, batches, heartbeat.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::TimeDelta;
use serde_json::Value;

use common::TestServer;
use mtime_core::batch::{Batch, BatchHash, RECEIPT, Receipt, SealedBatch};
use mtime_core::event::{Direction, DirectionSource, PresenceEvent, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{
    HEARTBEAT, HEARTBEAT_REPLY, Heartbeat, HeartbeatReply, ROSTER, ROSTER_REQUEST, Roster,
    RosterRequest,
};
use mtime_core::rotation::{KEY_ROTATION_REPLY, KeyRotation, KeyRotationReply, KeyRotationRequest};
use mtime_core::seal;

fn events(
    server: &TestServer,
    kiosk: KioskId,
    employee: EmployeeId,
    seqs: std::ops::RangeInclusive<u64>,
) -> Vec<PresenceEvent> {
    let boot = BootId::random();
    let start = server.state.now();
    // One tap an hour from now on; the server's clock moves past the last, so none is
    // dated in the future when it arrives.
    server.clock.advance(Duration::from_secs(*seqs.end() * 3600));
    seqs.map(|seq| PresenceEvent {
        id: EventId::random(),
        kiosk,
        seq,
        subject: Subject::Employee { id: employee, badge: Some("04E87577DE9811".parse().unwrap()) },
        direction: if seq % 2 == 1 { Direction::In } else { Direction::Out },
        direction_source: DirectionSource::Explicit,
        reason: "WORK".parse().unwrap(),
        time: TimeReading {
            wall: start + TimeDelta::hours(seq as i64),
            boot,
            monotonic: Duration::from_secs(seq * 3600),
            wall_trusted: true,
        },
        amends: None,
    })
    .collect()
}

fn batch(
    kiosk: KioskId,
    prev: BatchHash,
    events: Vec<PresenceEvent>,
    key: &SigningKey,
) -> SealedBatch {
    Batch { kiosk, prev, events }.seal(key).unwrap()
}

/// Everything a batch could change, to compare before and after a refusal.
fn snapshot(
    server: &TestServer,
    kiosk: KioskId,
    employee: EmployeeId,
) -> (u64, BatchHash, usize, usize) {
    let k = server.store().kiosk(kiosk).unwrap().unwrap();
    let events = server.store().employee_events(employee).unwrap().len();
    let unknown = server.store().unknown_badge_events().unwrap().len();
    (k.head.last_seq, k.head.last_hash, events, unknown)
}

fn error_code(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    v["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_batch_is_stored_once_and_a_resend_gets_the_same_receipt() {
    let server = TestServer::new();
    let (_, employee, kiosk, key, answer) = server.enrolled().await;
    let path = format!("/api/kiosk/{kiosk}/batches");
    let taps = events(&server, kiosk, employee, 1..=4);
    let during = (taps[0].time.wall + TimeDelta::minutes(30)).to_rfc3339();
    assert!(server.present(Some(&during)).await.is_empty());
    let sealed = batch(kiosk, BatchHash::GENESIS, taps, &key);

    let (status, receipt_bytes) = server.post_bytes(&path, sealed.bytes.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.present(Some(&during)).await, [employee.to_string()], "in at once");
    let receipt: Receipt = seal::open(RECEIPT, &receipt_bytes, &answer.server_public_key).unwrap();
    assert!(receipt.covers(kiosk, sealed.hash, 4));
    assert_eq!(receipt.stored_through, 4);
    let after_first = snapshot(&server, kiosk, employee);
    assert_eq!(after_first.2, 4);
    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["stored_through"], 4);
    assert!(shown["last_batch_at"].is_string(), "{shown}");

    server.clock.advance(Duration::from_secs(60));
    let (status, again) = server.post_bytes(&path, sealed.bytes.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, receipt_bytes, "a resend gets the very same receipt");
    assert_eq!(snapshot(&server, kiosk, employee), after_first, "a resend changes nothing");

    let (status, value) = server
        .call("GET", &format!("/api/employees/{employee}/timesheet/presence?from=2025-05-11T00:00:00Z&to=2025-05-13T00:00:00Z"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(value["items"].as_array().unwrap().len(), 2, "{value}");
    assert_eq!(value["items"][0]["start_punch"]["kiosk_id"], kiosk.to_string());

    // The audit trail: every event with where it came from.
    let (status, trail) = server
        .call("GET", &format!("/api/employees/{employee}/timesheet/events?from=2025-05-11T00:00:00Z&to=2025-05-13T00:00:00Z"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<u64> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kiosk_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(trail["items"][0]["source"], "kiosk");
    assert_eq!(trail["items"][0]["wall_trusted"], true);
    assert_eq!(trail["items"][0]["direction_source"], "explicit");
}

#[tokio::test]
async fn any_flipped_byte_is_refused_with_401_and_changes_nothing() {
    let server = TestServer::new();
    let (_, employee, kiosk, key, _) = server.enrolled().await;
    let path = format!("/api/kiosk/{kiosk}/batches");
    let sealed = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=3), &key);
    let before = snapshot(&server, kiosk, employee);

    for position in 0..sealed.bytes.len() {
        let mut tampered = sealed.bytes.clone();
        tampered[position] ^= 0x01;
        let (status, body) = server.post_bytes(&path, tampered).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "byte {position}");
        assert_eq!(error_code(&body), "bad_signature");
    }
    assert_eq!(snapshot(&server, kiosk, employee), before);

    let (status, _) = server.post_bytes(&path, sealed.bytes).await;
    assert_eq!(status, StatusCode::OK, "the untouched batch is still accepted");
}

#[tokio::test]
async fn a_gap_is_answered_with_the_expected_seq_and_a_fork_is_refused() {
    let server = TestServer::new();
    let (_, employee, kiosk, key, _) = server.enrolled().await;
    let path = format!("/api/kiosk/{kiosk}/batches");
    let first = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=2), &key);
    assert_eq!(server.post_bytes(&path, first.bytes.clone()).await.0, StatusCode::OK);
    let stored = snapshot(&server, kiosk, employee);

    let gap = batch(kiosk, first.hash, events(&server, kiosk, employee, 5..=6), &key);
    let (status, body) = server.post_bytes(&path, gap.bytes).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "sequence_gap");
    assert_eq!(v["error"]["expected_seq"], 3);

    let fork = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=2), &key);
    assert_ne!(fork.hash, first.hash);
    let (status, body) = server.post_bytes(&path, fork.bytes).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "fork");

    let wrong_prev =
        batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 3..=3), &key);
    assert_eq!(server.post_bytes(&path, wrong_prev.bytes).await.0, StatusCode::CONFLICT);
    assert_eq!(snapshot(&server, kiosk, employee), stored, "nothing stored by refused batches");
}

/// A batch that carries an event id stored already cannot be stored however often it is
/// sent: the kiosk is told its history conflicts, as for a fork, so that it stops and says so.
#[tokio::test]
async fn a_batch_repeating_a_stored_event_id_is_refused_as_a_fork() {
    let server = TestServer::new();
    let (_, employee, kiosk, key, _) = server.enrolled().await;
    let path = format!("/api/kiosk/{kiosk}/batches");
    let first_events = events(&server, kiosk, employee, 1..=2);
    let first = batch(kiosk, BatchHash::GENESIS, first_events.clone(), &key);
    assert_eq!(server.post_bytes(&path, first.bytes.clone()).await.0, StatusCode::OK);
    let stored = snapshot(&server, kiosk, employee);

    let mut repeating = events(&server, kiosk, employee, 3..=4);
    repeating[1].id = first_events[0].id;
    let second = batch(kiosk, first.hash, repeating, &key);
    for _ in 0..2 {
        let (status, body) = server.post_bytes(&path, second.bytes.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(error_code(&body), "fork");
        let v: Value = serde_json::from_slice(&body).unwrap();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(&first_events[0].id.to_string()), "{message}");
    }
    assert_eq!(snapshot(&server, kiosk, employee), stored, "nothing stored by the refusal");
}

#[tokio::test]
async fn wrong_key_unknown_kiosk_and_revoked_kiosk_are_refused() {
    let server = TestServer::new();
    let (_, employee, kiosk, key, _) = server.enrolled().await;
    let before = snapshot(&server, kiosk, employee);

    let other = SigningKey::generate().unwrap();
    let forged = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=1), &other);
    let (status, _) = server.post_bytes(&format!("/api/kiosk/{kiosk}/batches"), forged.bytes).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let stranger = KioskId::random();
    let sealed =
        batch(stranger, BatchHash::GENESIS, events(&server, stranger, employee, 1..=1), &key);
    let (status, _) =
        server.post_bytes(&format!("/api/kiosk/{stranger}/batches"), sealed.bytes).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let good = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=1), &key);
    let (status, _) = server.call("POST", &format!("/api/kiosks/{kiosk}/revoke"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        server.post_bytes(&format!("/api/kiosk/{kiosk}/batches"), good.bytes).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "kiosk_revoked");
    assert_eq!(snapshot(&server, kiosk, employee), before);
}

#[tokio::test]
async fn an_oversize_batch_is_refused() {
    let server = TestServer::new();
    let (_, employee, kiosk, _, _) = server.enrolled().await;
    let before = snapshot(&server, kiosk, employee);
    let (status, _) =
        server.post_bytes(&format!("/api/kiosk/{kiosk}/batches"), vec![1; 3 << 20]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) =
        server.post_bytes(&format!("/api/kiosk/{kiosk}/batches"), vec![1; (1 << 20) + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "too_large");
    assert_eq!(snapshot(&server, kiosk, employee), before);
}

#[tokio::test]
async fn an_enrollment_code_works_once_and_not_after_it_expires() {
    let server = TestServer::new();
    let site = server.site().await;

    let (_, code) = server.kiosk(site).await;
    let key = SigningKey::generate().unwrap();
    assert_eq!(server.enroll(&code, &key).await.0, StatusCode::OK);
    let (status, body) = server.enroll(&code, &SigningKey::generate().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "enrollment_code_invalid");

    let (_, code) = server.kiosk(site).await;
    server.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let (status, body) = server.enroll(&code, &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "enrollment_code_expired");
    let (status, _) = server.enroll("0000-0000-0000", &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_roster_and_heartbeat_are_signed_by_the_server() {
    let server = TestServer::new();
    let (site, employee, kiosk, key, answer) = server.enrolled().await;
    assert_eq!(answer.site.time_zone, "America/Chicago");
    assert_eq!(answer.kiosk_id, kiosk);
    // An employee of another site is not on this kiosk's roster.
    let elsewhere = server
        .ok(
            "POST",
            "/api/org-units",
            serde_json::json!({"name": "Mine", "time_zone": "Australia/Perth"}),
        )
        .await;
    server
        .employee(serde_json::from_value(elsewhere["id"].clone()).unwrap(), "E99", "11223344")
        .await;
    let _ = site;

    let now = TimeReading {
        wall: server.state.now(),
        boot: BootId::random(),
        monotonic: Duration::ZERO,
        wall_trusted: true,
    };
    let request =
        seal::seal(ROSTER_REQUEST, &RosterRequest { kiosk, have_version: 0, sent: now }, &key)
            .unwrap();
    let (status, bytes) =
        server.post_bytes(&format!("/api/kiosk/{kiosk}/roster"), request.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let roster: Roster = seal::open(ROSTER, &bytes, &answer.server_public_key).unwrap();
    assert_eq!(roster.employees.len(), 1);
    assert_eq!(roster.employees[0].id, employee);
    // The roster names the badge by its keyed hash only: the UID is nowhere in its bytes.
    let ann: mtime_core::badge::BadgeUid = "04E87577DE9811".parse().unwrap();
    assert_eq!(roster.by_badge(&ann).map(|e| e.id), Some(employee));
    assert!(!bytes.windows(ann.as_bytes().len()).any(|w| w == ann.as_bytes()));
    assert!(roster.by_badge(&"04724972925B14".parse().unwrap()).is_none());
    assert_eq!(roster.default_reason.as_str(), "WORK");
    assert_eq!(roster.reasons.len(), 1);

    // A reason for another site's kiosks only is not offered here.
    let other = server
        .ok("POST", "/api/org-units", serde_json::json!({"name": "Yard", "time_zone": "UTC"}))
        .await;
    server
        .ok(
            "POST",
            "/api/settings/reasons",
            serde_json::json!({"code": "YARD", "name": "Yard duty", "allowed_org_units": [other["id"]]}),
        )
        .await;
    server
        .ok(
            "POST",
            "/api/settings/reasons",
            serde_json::json!({"code": "TRAVEL", "name": "Travel"}),
        )
        .await;
    let (_, bytes) =
        server.post_bytes(&format!("/api/kiosk/{kiosk}/roster"), request.clone()).await;
    let roster: Roster = seal::open(ROSTER, &bytes, &answer.server_public_key).unwrap();
    let codes: Vec<&str> = roster.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["TRAVEL", "WORK"]);

    // New settings reach the kiosk with its next roster.
    let config = serde_json::json!({"repeat_window_secs": 30, "heartbeat_secs": 60, "max_batch_events": 100, "max_open_hours": 12, "language": "nb-NO"});
    let updated = server
        .ok("POST", &format!("/api/kiosks/{kiosk}/settings"), serde_json::json!({"config": config}))
        .await;
    assert_eq!(updated["config"]["language"], "nb-NO");
    let (_, bytes) =
        server.post_bytes(&format!("/api/kiosk/{kiosk}/roster"), request.clone()).await;
    let newer: Roster = seal::open(ROSTER, &bytes, &answer.server_public_key).unwrap();
    assert!(newer.version > roster.version);
    assert_eq!(newer.config.repeat_window_secs, 30);
    assert_eq!(newer.config.language, "nb-NO");
    let bad = serde_json::json!({"config": {"repeat_window_secs": 0, "heartbeat_secs": 60, "max_batch_events": 100, "max_open_hours": 12, "language": "nb-NO"}});
    assert_eq!(
        server.call("POST", &format!("/api/kiosks/{kiosk}/settings"), Some(bad)).await.0,
        StatusCode::BAD_REQUEST
    );

    let forged = seal::seal(
        ROSTER_REQUEST,
        &RosterRequest { kiosk, have_version: 0, sent: now },
        &SigningKey::generate().unwrap(),
    )
    .unwrap();
    assert_eq!(
        server.post_bytes(&format!("/api/kiosk/{kiosk}/roster"), forged).await.0,
        StatusCode::UNAUTHORIZED
    );

    let beat = Heartbeat {
        kiosk,
        sent: now,
        pending: 3,
        acked_through: 0,
        roster_version: roster.version,
        software: "test".into(),
        clock_sample: None,
    };
    let (status, bytes) = server
        .post_bytes(
            &format!("/api/kiosk/{kiosk}/heartbeat"),
            seal::seal(HEARTBEAT, &beat, &key).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reply: HeartbeatReply =
        seal::open(HEARTBEAT_REPLY, &bytes, &answer.server_public_key).unwrap();
    assert_eq!(reply.server_time, server.state.now());
    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["pending_at_last_heartbeat"], 3);
    assert_eq!(shown["status"], "enrolled");
    assert_eq!(shown["online"], true);
    assert_eq!(shown["software_version"], "test");
    assert_eq!(shown["clock_offset_ms"], 0);

    // Silent for more than three heartbeat intervals: offline.
    server.clock.advance(Duration::from_secs(3 * 300 + 1));
    let (_, later) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(later["online"], false);
}

#[tokio::test]
async fn an_unknown_badge_is_kept_for_review() {
    let server = TestServer::new();
    let (_, employee, kiosk, key, _) = server.enrolled().await;
    let mut list = events(&server, kiosk, employee, 1..=1);
    list[0].subject = Subject::UnknownBadge("DEADBEEF".parse().unwrap());
    let sealed = batch(kiosk, BatchHash::GENESIS, list, &key);
    assert_eq!(
        server.post_bytes(&format!("/api/kiosk/{kiosk}/batches"), sealed.bytes).await.0,
        StatusCode::OK
    );
    let (status, review) = server.call("GET", "/api/reports/unknown-badges", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(review["items"][0]["badge"], "DEADBEEF");
    assert_eq!(review["items"][0]["kiosk_id"], kiosk.to_string());

    // The badge turns out to be E01's: once it is on their record, its taps follow.
    let assign = serde_json::json!({"badge": "de:ad:be:ef", "employee_id": employee});
    let (status, body) =
        server.call("POST", "/api/reports/unknown-badges/assign", Some(assign.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let today = server.state.now().date_naive().to_string();
    server
        .ok(
            "POST",
            &format!("/api/employees/{employee}/versions"),
            serde_json::json!({"effective_from": today, "badges": ["04E87577DE9811", "DEADBEEF"]}),
        )
        .await;
    assert!(server.present(None).await.is_empty(), "not theirs yet");
    let moved = server.ok("POST", "/api/reports/unknown-badges/assign", assign).await;
    assert_eq!(moved["assigned"], 1);
    assert_eq!(server.present(None).await, [employee.to_string()], "their check-in counts");
    let (_, review) = server.call("GET", "/api/reports/unknown-badges", None).await;
    assert_eq!(review["items"], serde_json::json!([]));
    assert_eq!(server.store().employee_events(employee).unwrap().len(), 1);
}

#[tokio::test]
async fn guessing_enrollment_codes_is_slowed_down() {
    let server = TestServer::new();
    let site = server.site().await;
    let (_, code) = server.kiosk(site).await;
    let key = SigningKey::generate().unwrap();
    for guess in 0..10 {
        let (status, _) = server.enroll(&format!("0000-0000-{guess:04}"), &key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = server.enroll(&code, &key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even the right code waits: {body}");
    assert_eq!(body["error"]["code"], "too_many_attempts");

    server.clock.advance(Duration::from_secs(10 * 60));
    let (status, _) = server.enroll(&code, &key).await;
    assert_eq!(status, StatusCode::OK, "after the window the right code works");
}

#[tokio::test]
async fn the_event_feed_follows_what_was_stored_in_order_with_a_cursor() {
    let server = TestServer::new();
    let (_, employee, kiosk, key, _) = server.enrolled().await;
    let sealed = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=3), &key);
    assert_eq!(
        server.post_bytes(&format!("/api/kiosk/{kiosk}/batches"), sealed.bytes.clone()).await.0,
        StatusCode::OK
    );
    // A resend adds nothing to the feed.
    assert_eq!(
        server.post_bytes(&format!("/api/kiosk/{kiosk}/batches"), sealed.bytes).await.0,
        StatusCode::OK
    );
    let (status, _) = server.call("POST", &format!("/api/kiosks/{kiosk}/revoke"), None).await;
    assert_eq!(status, StatusCode::OK);

    let mut kinds = Vec::new();
    let mut seqs = Vec::new();
    let mut after = String::new();
    loop {
        let path = if after.is_empty() {
            "/api/events?limit=2".to_owned()
        } else {
            format!("/api/events?limit=2&after={after}")
        };
        let (status, page) = server.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for entry in page["items"].as_array().unwrap() {
            kinds.push(entry["kind"].as_str().unwrap().to_owned());
            seqs.push(entry["seq"].as_u64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        kinds,
        [
            "kiosk.enrolled",
            "presence.recorded",
            "presence.recorded",
            "presence.recorded",
            "kiosk.revoked"
        ]
    );
    assert_eq!(seqs, [1, 2, 3, 4, 5]);

    let (_, rest) = server.call("GET", "/api/events?after=5", None).await;
    assert_eq!(rest["items"], serde_json::json!([]));
    let (status, _) = server.call("GET", "/api/events?after=minus-one", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The same entries as server-sent events, resuming where the client left off.
    let sse = |query: &str, last_event: Option<&str>| {
        let mut request = axum::http::Request::get(format!("/api/sse?{query}"))
            .header("authorization", format!("Bearer {}", server.key));
        if let Some(id) = last_event {
            request = request.header("last-event-id", id);
        }
        request.body(axum::body::Body::empty()).unwrap()
    };
    let (status, body) = server.raw(sse("after=3&wait=0", None)).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("event: presence.recorded\nid: 4\n")
            || text.contains("id: 4\nevent: presence.recorded"),
        "{text}"
    );
    assert!(text.contains("kiosk.revoked"), "{text}");
    assert!(!text.contains("id: 3\n"), "{text}");
    let (_, body) = server.raw(sse("wait=0", Some("4"))).await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("id: 5") && !text.contains("id: 4\n"), "Last-Event-ID resumes: {text}");
    let (status, _) = server.raw(sse("wait=11", None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn heartbeat_bytes(server: &TestServer, kiosk: KioskId, key: &SigningKey) -> Vec<u8> {
    let beat = Heartbeat {
        kiosk,
        sent: TimeReading {
            wall: server.state.now(),
            boot: BootId::random(),
            monotonic: Duration::ZERO,
            wall_trusted: true,
        },
        pending: 0,
        acked_through: 0,
        roster_version: 0,
        software: "test".into(),
        clock_sample: None,
    };
    seal::seal(HEARTBEAT, &beat, key).unwrap()
}

fn rotation(server: &TestServer, kiosk: KioskId, old: &SigningKey, new: &SigningKey) -> Vec<u8> {
    let statement = KeyRotation {
        kiosk,
        new_key: new.public(),
        sent: TimeReading {
            wall: server.state.now(),
            boot: BootId::random(),
            monotonic: Duration::ZERO,
            wall_trusted: true,
        },
    };
    KeyRotationRequest::new(&statement, old, new).unwrap().to_bytes().unwrap()
}

#[tokio::test]
async fn a_kiosk_replaces_its_key_only_when_asked_and_the_old_key_stops_working() {
    let server = TestServer::new();
    let (_, employee, kiosk, old, answer) = server.enrolled().await;
    let new = SigningKey::generate().unwrap();
    let key_route = format!("/api/kiosk/{kiosk}/key");
    let beat_route = format!("/api/kiosk/{kiosk}/heartbeat");

    // Unasked: refused, and the old key still works.
    let (status, body) = server.post_bytes(&key_route, rotation(&server, kiosk, &old, &new)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "key_rotation_not_requested");
    let (status, bytes) =
        server.post_bytes(&beat_route, heartbeat_bytes(&server, kiosk, &old)).await;
    assert_eq!(status, StatusCode::OK);
    let reply: HeartbeatReply =
        seal::open(HEARTBEAT_REPLY, &bytes, &answer.server_public_key).unwrap();
    assert!(!reply.rotate_key);

    // The admin asks; the next heartbeat says so.
    let (status, shown) =
        server.call("POST", &format!("/api/kiosks/{kiosk}/rotate-key"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(shown["key_rotation_requested_at"].is_string(), "{shown}");
    let (_, bytes) = server.post_bytes(&beat_route, heartbeat_bytes(&server, kiosk, &old)).await;
    let reply: HeartbeatReply =
        seal::open(HEARTBEAT_REPLY, &bytes, &answer.server_public_key).unwrap();
    assert!(reply.rotate_key);

    // Sealed by a stranger in place of the current key: refused, nothing changed.
    let stranger = SigningKey::generate().unwrap();
    let (status, _) =
        server.post_bytes(&key_route, rotation(&server, kiosk, &stranger, &new)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.store().kiosk(kiosk).unwrap().unwrap().public_key, Some(old.public()));

    // Sealed by both: switched, and said so in the feed.
    let request = rotation(&server, kiosk, &old, &new);
    let (status, bytes) = server.post_bytes(&key_route, request.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let switched: KeyRotationReply =
        seal::open(KEY_ROTATION_REPLY, &bytes, &answer.server_public_key).unwrap();
    assert_eq!((switched.kiosk, switched.new_key), (kiosk, new.public()));
    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["key_rotation_requested_at"], Value::Null);
    assert_eq!(shown["key_rotated_at"], serde_json::json!(server.state.now()));
    let (_, feed) = server.call("GET", "/api/events?limit=1000", None).await;
    let last = feed["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["kiosk_id"].as_str()),
        (Some("kiosk.key_rotated"), Some(kiosk.to_string().as_str()))
    );

    // The reply was lost and the kiosk sends again: the same answer, nothing changes.
    server.clock.advance(Duration::from_secs(5));
    let (status, bytes) = server.post_bytes(&key_route, request).await;
    assert_eq!(status, StatusCode::OK);
    let again: KeyRotationReply =
        seal::open(KEY_ROTATION_REPLY, &bytes, &answer.server_public_key).unwrap();
    assert_eq!(again, switched);

    // The old key opens nothing any more; the new one does.
    let (status, _) = server.post_bytes(&beat_route, heartbeat_bytes(&server, kiosk, &old)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let path = format!("/api/kiosk/{kiosk}/batches");
    let stale = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=2), &old);
    assert_eq!(server.post_bytes(&path, stale.bytes).await.0, StatusCode::UNAUTHORIZED);
    let fresh = batch(kiosk, BatchHash::GENESIS, events(&server, kiosk, employee, 1..=2), &new);
    assert_eq!(server.post_bytes(&path, fresh.bytes).await.0, StatusCode::OK);

    // Junk and a revoked kiosk are refused.
    let (status, _) = server.post_bytes(&key_route, vec![1, 2, 3]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server.call("POST", &format!("/api/kiosks/{kiosk}/revoke"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        server.call("POST", &format!("/api/kiosks/{kiosk}/rotate-key"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}
