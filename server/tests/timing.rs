//! Time truth on the server: kiosk events dated from the monotonic clock and an anchor of
//! the same boot, held in quarantine when their time cannot be believed, released when an
//! anchor arrives, accepted by an admin with a corrected time.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use common::TestServer;
use mtime_core::batch::{Batch, BatchHash};
use mtime_core::event::{Direction, DirectionSource, PresenceEvent, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{HEARTBEAT, Heartbeat};
use mtime_core::seal;
use mtime_core::timing::ClockSample;

struct Kiosk {
    id: KioskId,
    key: SigningKey,
    employee: EmployeeId,
    seq: u64,
    prev: BatchHash,
}

fn reading(wall: DateTime<Utc>, boot: BootId, mono_secs: u64, trusted: bool) -> TimeReading {
    TimeReading { wall, boot, monotonic: Duration::from_secs(mono_secs), wall_trusted: trusted }
}

fn epoch(secs: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::seconds(secs)
}

/// A heartbeat carrying the round trip of the one before, measured around `mono` seconds
/// of the boot, 0.4 s long, answered with the server's time now.
async fn heartbeat(server: &TestServer, k: &Kiosk, sent: TimeReading, mono: Option<u64>) {
    let clock_sample = mono.map(|mono| ClockSample {
        boot: sent.boot,
        sent: Duration::from_secs(mono) - Duration::from_millis(200),
        received: Duration::from_secs(mono) + Duration::from_millis(200),
        server_time: server.state.now(),
    });
    let beat = Heartbeat {
        kiosk: k.id,
        sent,
        pending: 0,
        acked_through: 0,
        roster_version: 0,
        software: "test".into(),
        clock_sample,
    };
    let bytes = seal::seal(HEARTBEAT, &beat, &k.key).unwrap();
    let (status, _) = server.post_bytes(&format!("/api/kiosk/{}/heartbeat", k.id), bytes).await;
    assert_eq!(status, StatusCode::OK);
}

/// Sends one tap per reading, in order; returns their event ids.
async fn taps(
    server: &TestServer,
    k: &mut Kiosk,
    readings: &[(Direction, TimeReading)],
) -> Vec<EventId> {
    let events: Vec<PresenceEvent> = readings
        .iter()
        .map(|(direction, time)| {
            k.seq += 1;
            PresenceEvent {
                id: EventId::random(),
                kiosk: k.id,
                seq: k.seq,
                subject: Subject::Employee {
                    id: k.employee,
                    badge: Some("04E87577DE9811".parse().unwrap()),
                },
                direction: *direction,
                direction_source: DirectionSource::Explicit,
                reason: "WORK".parse().unwrap(),
                time: *time,
                amends: None,
            }
        })
        .collect();
    let ids = events.iter().map(|e| e.id).collect();
    let sealed = Batch { kiosk: k.id, prev: k.prev, events }.seal(&k.key).unwrap();
    k.prev = sealed.hash;
    let (status, _) =
        server.post_bytes(&format!("/api/kiosk/{}/batches", k.id), sealed.bytes).await;
    assert_eq!(status, StatusCode::OK);
    ids
}

async fn setup(server: &TestServer) -> Kiosk {
    let (_, employee, id, key, _) = server.enrolled().await;
    // The kiosk was created at 17:00; two hours later its taps come in.
    server.clock.advance(Duration::from_secs(2 * 3600));
    Kiosk { id, key, employee, seq: 0, prev: BatchHash::GENESIS }
}

/// The employee's events as (at, kiosk_wall).
async fn trail(server: &TestServer, k: &Kiosk) -> Vec<(String, Value)> {
    let path = format!(
        "/api/employees/{}/timesheet/events?from=1970-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
        k.employee
    );
    let (status, page) = server.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let at: DateTime<Utc> = e["at"].as_str().unwrap().parse().unwrap();
            (at.to_rfc3339(), e["kiosk_wall"].clone())
        })
        .collect()
}

async fn held(server: &TestServer, status: &str) -> Vec<Value> {
    let (code, page) =
        server.call("GET", &format!("/api/reports/quarantine?status={status}"), None).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The server's clock stands at 2025-05-11 19:00:00 UTC. A kiosk booted at 1970 measured
/// a round trip whose midpoint was monotonic 3,000 s, answered with 19:00:00; taps at
/// monotonic 600 s and 2,400 s were 2,400 s and 600 s before: 18:20:00 and 18:50:00.
#[tokio::test]
async fn a_kiosk_booted_at_1970_has_its_taps_dated_from_its_monotonic_clock() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let boot = BootId::random();
    heartbeat(&server, &k, reading(epoch(3005), boot, 3005, false), Some(3000)).await;
    taps(
        &server,
        &mut k,
        &[
            (Direction::In, reading(epoch(600), boot, 600, false)),
            (Direction::Out, reading(epoch(2400), boot, 2400, false)),
        ],
    )
    .await;
    assert_eq!(
        trail(&server, &k).await,
        vec![
            ("2025-05-11T18:20:00+00:00".into(), json!("1970-01-01T00:10:00Z")),
            ("2025-05-11T18:50:00+00:00".into(), json!("1970-01-01T00:40:00Z")),
        ]
    );
    assert!(held(&server, "all").await.is_empty());
}

/// Taps sent before anything tells that boot's time are held; the heartbeat carrying the boot's
/// first round trip dates and releases them. The wall clock jumped back between the taps (a stale
/// saved time replaced by another): order follows the monotonic clock.
#[tokio::test]
async fn taps_held_for_want_of_an_anchor_are_released_by_the_next_heartbeat_in_monotonic_order() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let boot = BootId::random();
    let saved = "2025-05-09T17:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let ids = taps(
        &server,
        &mut k,
        &[
            (Direction::In, reading(saved + TimeDelta::seconds(100), boot, 100, false)),
            (Direction::Out, reading(saved - TimeDelta::hours(5), boot, 400, false)),
        ],
    )
    .await;
    let waiting = held(&server, "open").await;
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0]["why"]["code"], "untrusted_clock");
    assert!(trail(&server, &k).await.is_empty(), "held taps are not presence yet");
    let (_, feed) = server.call("GET", "/api/events?limit=1000", None).await;
    let quarantined = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "presence.quarantined")
        .count();
    assert_eq!(quarantined, 2);

    // Monotonic 1,000 s arrives at 19:00:00: the taps were at 18:45:00 and 18:50:00.
    // A heartbeat alone, with no round trip measured yet, tells nothing.
    heartbeat(&server, &k, reading(saved + TimeDelta::seconds(990), boot, 990, false), None).await;
    assert_eq!(held(&server, "open").await.len(), 2);
    let during = Some("2025-05-11T18:47:00Z");
    assert!(server.present(during).await.is_empty());
    heartbeat(
        &server,
        &k,
        reading(saved + TimeDelta::seconds(1005), boot, 1005, false),
        Some(1000),
    )
    .await;
    let placed: Vec<String> = trail(&server, &k).await.into_iter().map(|(at, _)| at).collect();
    assert_eq!(placed, ["2025-05-11T18:45:00+00:00", "2025-05-11T18:50:00+00:00"]);
    assert!(held(&server, "open").await.is_empty());
    assert_eq!(server.present(during).await, [k.employee.to_string()], "released, counted at once");
    let path = format!(
        "/api/employees/{}/timesheet/presence?from=2025-05-11T00:00:00Z&to=2025-05-12T00:00:00Z",
        k.employee
    );
    let (_, presence) = server.call("GET", &path, None).await;
    assert_eq!(presence["items"][0]["duration_seconds"], 300, "{presence}");
    assert_eq!(presence["items"][0]["start_punch"]["event_id"], json!(ids[0]));
}

/// A jump forward and one back of a trusted wall clock, against what the boot's anchor
/// says, and a tap dated in the future: each held with its reason; an admin accepts one
/// at the time they established, under their name.
#[tokio::test]
async fn implausible_times_are_held_with_the_reason_and_accepted_by_an_admin() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let boot = BootId::random();
    let now = server.state.now();
    heartbeat(&server, &k, reading(now, boot, 10_000, true), None).await;
    let ids = taps(
        &server,
        &mut k,
        &[
            // 100 s before the heartbeat by the monotonic clock, but an hour later by the wall.
            (Direction::In, reading(now + TimeDelta::seconds(3500), boot, 9_900, true)),
            (Direction::Out, reading(now - TimeDelta::seconds(1850), boot, 9_950, true)),
        ],
    )
    .await;
    let other_boot = BootId::random();
    taps(
        &server,
        &mut k,
        &[(Direction::In, reading(now + TimeDelta::days(2), other_boot, 5, true))],
    )
    .await;

    let waiting = held(&server, "open").await;
    let whys: Vec<(&Value, &Value)> =
        waiting.iter().map(|t| (&t["why"]["code"], &t["why"]["seconds"])).collect();
    assert_eq!(
        whys,
        vec![
            (&json!("far_from_known_offset"), &json!(3600)),
            (&json!("far_from_known_offset"), &json!(-1800)),
            (&json!("in_future"), &json!(172_800)),
        ]
    );
    assert_eq!(waiting[0]["kiosk_wall"], json!(now + TimeDelta::seconds(3500)));
    assert!(trail(&server, &k).await.is_empty());
    let after_it = Some("2025-05-11T14:00:00-05:00");
    assert!(server.present(after_it).await.is_empty());

    let accept = format!("/api/reports/quarantine/{}/accept", ids[0]);
    let body = json!({"at": "2025-05-11T13:58:20-05:00", "note": "door camera"});
    let (status, created) = server.call("POST", &accept, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["punch"]["author"], "admin");
    assert_eq!(created["direction"], "in");
    assert_eq!(trail(&server, &k).await.len(), 1, "the correction; the held tap stays out");
    assert_eq!(server.present(after_it).await, [k.employee.to_string()]);
    let (status, again) = server.call("POST", &accept, Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    let accepted = held(&server, "accepted").await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["accepted_by"], "admin");
    assert_eq!(accepted[0]["accepted_as"], created["punch"]["event_id"]);
    assert_eq!(held(&server, "open").await.len(), 2);
    let (status, _) = server.call("GET", "/api/reports/quarantine?status=maybe", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A signed batch naming an employee the server does not know, or a reason it does not
/// know, is stored (the kiosk's history stays whole) but held, not counted.
#[tokio::test]
async fn taps_for_unknown_employees_or_reasons_are_held() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let now = server.state.now();
    let boot = BootId::random();
    let mut stranger = PresenceEvent {
        id: EventId::random(),
        kiosk: k.id,
        seq: 1,
        subject: Subject::Employee { id: EmployeeId::random(), badge: None },
        direction: Direction::In,
        direction_source: DirectionSource::Explicit,
        reason: "WORK".parse().unwrap(),
        time: reading(now, boot, 10, true),
        amends: None,
    };
    let mut odd_reason = stranger.clone();
    odd_reason.id = EventId::random();
    odd_reason.seq = 2;
    odd_reason.subject = Subject::Employee { id: k.employee, badge: None };
    odd_reason.reason = "NOPE".parse().unwrap();
    stranger.seq = 1;
    let sealed = Batch { kiosk: k.id, prev: k.prev, events: vec![stranger, odd_reason] }
        .seal(&k.key)
        .unwrap();
    k.prev = sealed.hash;
    let (status, _) =
        server.post_bytes(&format!("/api/kiosk/{}/batches", k.id), sealed.bytes).await;
    assert_eq!(status, StatusCode::OK);

    let codes: Vec<Value> =
        held(&server, "open").await.iter().map(|t| t["why"]["code"].clone()).collect();
    assert_eq!(codes, vec![json!("unknown_employee"), json!("unknown_reason")]);
    assert!(trail(&server, &k).await.is_empty());
}

/// Over-long is measured against the maximum of the kiosk the check-in was made at: 13
/// hours at a kiosk set to 12 is flagged, where the default would be 16.
#[tokio::test]
async fn a_kiosks_own_maximum_decides_over_long() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let config = json!({"config": {"repeat_window_secs": 60, "heartbeat_secs": 300,
        "max_batch_events": 500, "max_open_hours": 12, "language": "en"}});
    server.ok("POST", &format!("/api/kiosks/{}/settings", k.id), config).await;
    let start = server.state.now();
    server.clock.advance(Duration::from_secs(20 * 3600));
    let boot = BootId::random();
    taps(
        &server,
        &mut k,
        &[
            (Direction::In, reading(start, boot, 0, true)),
            (Direction::Out, reading(start + TimeDelta::hours(13), boot, 13 * 3600, true)),
        ],
    )
    .await;
    let path = format!(
        "/api/employees/{}/timesheet/presence?from=2025-05-11T00:00:00Z&to=2025-05-13T00:00:00Z",
        k.employee
    );
    let (_, presence) = server.call("GET", &path, None).await;
    assert_eq!(presence["items"][0]["flags"], json!(["over_long"]), "{presence}");
}
