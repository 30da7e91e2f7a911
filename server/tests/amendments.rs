//! Amendments: a tap the employee changed or undid on the kiosk's screen. Both events stay
//! in the audit trail; intervals, reports and the feed see only what counts.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};

use common::TestServer;
use mtime_core::batch::{BATCH, Batch, BatchHash};
use mtime_core::event::{
    Amendment, Direction, DirectionSource, PresenceEvent, Subject, TimeReading,
};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId, OrgUnitId};
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{HEARTBEAT, Heartbeat};
use mtime_core::seal;
use mtime_core::timing::ClockSample;
use mtime_server::api::device::event_records;
use mtime_server::store::{BatchOutcome, UnappliedAmendment};
use mtime_server::watch::intervals;

const DAY: &str = "from=2025-05-11T00:00:00Z&to=2025-05-12T00:00:00Z";

struct Kiosk {
    site: OrgUnitId,
    id: KioskId,
    key: SigningKey,
    employee: EmployeeId,
    boot: BootId,
    seq: u64,
    prev: BatchHash,
}

/// 2025-05-11 at `h:m:s` UTC; the site is at UTC-5 that day.
fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 11, h, m, s).unwrap()
}

/// A site with WORK and TRAVEL, an employee and an enrolled kiosk created at 17:00; the
/// clock then stands at 19:00, after every tap below.
async fn setup(server: &TestServer) -> Kiosk {
    let (site, employee, id, key, _) = server.enrolled().await;
    server.ok("POST", "/api/settings/reasons", json!({"code": "TRAVEL", "name": "Travel"})).await;
    server.clock.advance(Duration::from_secs(2 * 3600));
    Kiosk { site, id, key, employee, boot: BootId::random(), seq: 0, prev: BatchHash::GENESIS }
}

/// The kiosk's next event: a trusted tap at `at`.
fn tap(
    k: &mut Kiosk,
    direction: Direction,
    reason: &str,
    at: DateTime<Utc>,
    amends: Option<Amendment>,
) -> PresenceEvent {
    k.seq += 1;
    let since_boot = (at - utc(17, 0, 0)).num_seconds().unsigned_abs();
    PresenceEvent {
        id: EventId::random(),
        kiosk: k.id,
        seq: k.seq,
        subject: Subject::Employee {
            id: k.employee,
            badge: Some("04E87577DE9811".parse().unwrap()),
        },
        direction,
        direction_source: DirectionSource::Explicit,
        reason: reason.parse().unwrap(),
        time: TimeReading {
            wall: at,
            boot: k.boot,
            monotonic: Duration::from_secs(since_boot),
            wall_trusted: true,
        },
        amends,
    }
}

async fn send(server: &TestServer, k: &mut Kiosk, events: Vec<PresenceEvent>) {
    let sealed = Batch { kiosk: k.id, prev: k.prev, events }.seal(&k.key).unwrap();
    k.prev = sealed.hash;
    let (status, body) =
        server.post_bytes(&format!("/api/kiosk/{}/batches", k.id), sealed.bytes).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

/// The employee's intervals of the day as (start, end, reason, flags, end event).
async fn intervals_of(server: &TestServer, employee: EmployeeId) -> Vec<Value> {
    let path = format!("/api/employees/{employee}/timesheet/presence?{DAY}");
    let (status, page) = server.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!([
                i["start"],
                i["end"],
                i["reason"],
                i["flags"],
                i["start_punch"]["event_id"],
                i["end_punch"]["event_id"]
            ])
        })
        .collect()
}

/// The audit trail of the day as (kiosk seq, direction, reason, amends).
async fn trail(server: &TestServer, employee: EmployeeId) -> Vec<Value> {
    let path = format!("/api/employees/{employee}/timesheet/events?{DAY}");
    let (status, page) = server.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["kiosk_seq"], e["direction"], e["reason"], e["amends"]]))
        .collect()
}

async fn present(server: &TestServer) -> usize {
    let (status, report) = server.call("GET", "/api/reports/presence", None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report["present"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_tap_switched_to_out_counts_as_one_out_at_the_time_of_the_tap() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let first = tap(&mut k, Direction::In, "WORK", utc(18, 0, 0), None);
    let switched =
        tap(&mut k, Direction::Out, "WORK", utc(18, 0, 4), Some(Amendment::Replaces(first.id)));
    let (first_id, switched_id) = (first.id, switched.id);
    send(&server, &mut k, vec![first, switched]).await;

    assert_eq!(
        intervals_of(&server, k.employee).await,
        vec![json!([
            null,
            "2025-05-11T13:00:00-05:00",
            "WORK",
            ["missing_check_in"],
            null,
            switched_id
        ])]
    );
    assert_eq!(
        trail(&server, k.employee).await,
        vec![
            json!([1, "in", "WORK", null]),
            json!([2, "out", "WORK", {"kind": "replaces", "event_id": first_id}])
        ],
        "both events stay, the amendment visible"
    );
    assert_eq!(present(&server).await, 0, "checked out, not in");

    // The feed tells the second apart from a tap.
    let (_, feed) = server.call("GET", "/api/events?limit=100", None).await;
    let kinds: Vec<(&str, &str)> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("presence."))
        .map(|e| (e["kind"].as_str().unwrap(), e["event_id"].as_str().unwrap()))
        .collect();
    let (first_id, switched_id) = (first_id.to_string(), switched_id.to_string());
    assert_eq!(
        kinds,
        vec![("presence.recorded", first_id.as_str()), ("presence.amended", switched_id.as_str())]
    );
}

#[tokio::test]
async fn a_new_reason_keeps_the_time_and_an_undo_leaves_nothing() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let first = tap(&mut k, Direction::In, "WORK", utc(18, 0, 0), None);
    let travel =
        tap(&mut k, Direction::In, "TRAVEL", utc(18, 0, 6), Some(Amendment::Replaces(first.id)));
    let travel_id = travel.id;
    send(&server, &mut k, vec![first, travel]).await;
    assert_eq!(
        intervals_of(&server, k.employee).await,
        vec![json!(["2025-05-11T13:00:00-05:00", null, "TRAVEL", [], travel_id, null])]
    );
    assert_eq!(present(&server).await, 1);

    // Undone a moment later, in the next batch: nothing counts.
    let undo =
        tap(&mut k, Direction::In, "TRAVEL", utc(18, 0, 9), Some(Amendment::Withdraws(travel_id)));
    send(&server, &mut k, vec![undo]).await;
    assert_eq!(intervals_of(&server, k.employee).await, Vec::<Value>::new());
    assert_eq!(present(&server).await, 0);
    assert_eq!(trail(&server, k.employee).await.len(), 3, "every event stays as the record");
}

#[tokio::test]
async fn a_plain_undo_and_a_replacement_undone_count_for_nothing() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let first = tap(&mut k, Direction::In, "WORK", utc(18, 0, 0), None);
    let undo =
        tap(&mut k, Direction::In, "WORK", utc(18, 0, 3), Some(Amendment::Withdraws(first.id)));
    send(&server, &mut k, vec![first, undo]).await;
    assert_eq!(intervals_of(&server, k.employee).await, Vec::<Value>::new());

    // In at 18:10, switched to out, the switch undone: the in is gone with it.
    let second = tap(&mut k, Direction::In, "WORK", utc(18, 10, 0), None);
    let out =
        tap(&mut k, Direction::Out, "WORK", utc(18, 10, 2), Some(Amendment::Replaces(second.id)));
    let undo_out =
        tap(&mut k, Direction::Out, "WORK", utc(18, 10, 5), Some(Amendment::Withdraws(out.id)));
    send(&server, &mut k, vec![second, out]).await;
    send(&server, &mut k, vec![undo_out]).await;
    assert_eq!(intervals_of(&server, k.employee).await, Vec::<Value>::new());

    // The day's totals count nothing either.
    let (status, totals) =
        server.call("GET", "/api/reports/daily-totals?from=2025-05-11&to=2025-05-11", None).await;
    assert_eq!(status, StatusCode::OK, "{totals}");
    let worked: i64 = totals["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["worked_seconds"].as_i64().unwrap())
        .sum();
    assert_eq!(worked, 0, "{totals}");
}

/// The watcher announces what it sees when it looks; an amendment arriving after an
/// announcement makes a new one for the interval it changes, and the old one stays in the
/// feed as history, as after a correction. Withdrawing a check-out reopens the interval:
/// nothing new is announced, and `presence.amended` tells readers to look again.
#[tokio::test]
async fn the_watcher_announces_an_amended_interval_again_and_a_reopened_one_not() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let check_in = tap(&mut k, Direction::In, "WORK", utc(17, 10, 0), None);
    let check_out = tap(&mut k, Direction::Out, "WORK", utc(18, 0, 0), None);
    let (in_id, out_id) = (check_in.id, check_out.id);
    send(&server, &mut k, vec![check_in, check_out]).await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 1);

    let travel =
        tap(&mut k, Direction::Out, "TRAVEL", utc(18, 0, 5), Some(Amendment::Replaces(out_id)));
    let travel_id = travel.id;
    send(&server, &mut k, vec![travel]).await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 1, "the changed interval");
    assert_eq!(
        intervals_of(&server, k.employee).await,
        vec![json!([
            "2025-05-11T12:10:00-05:00",
            "2025-05-11T13:00:00-05:00",
            "WORK",
            [],
            in_id,
            travel_id
        ])]
    );

    let undo =
        tap(&mut k, Direction::Out, "TRAVEL", utc(18, 0, 8), Some(Amendment::Withdraws(travel_id)));
    send(&server, &mut k, vec![undo]).await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 0, "open again: nothing to announce");
    assert_eq!(
        intervals_of(&server, k.employee).await,
        vec![json!(["2025-05-11T12:10:00-05:00", null, "WORK", [], in_id, null])]
    );
    assert_eq!(present(&server).await, 1);

    let (_, feed) = server.call("GET", "/api/events?limit=100", None).await;
    let closed: Vec<&Value> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "interval.closed" || e["kind"] == "presence.amended")
        .map(|e| &e["kind"])
        .collect();
    assert_eq!(
        closed,
        vec!["interval.closed", "presence.amended", "interval.closed", "presence.amended"]
    );
}

#[tokio::test]
async fn an_amendment_that_cannot_apply_is_kept_and_changes_nothing() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let bob = server.employee(k.site, "E02", "04A1B2C4").await;

    let ann_in = tap(&mut k, Direction::In, "WORK", utc(17, 10, 0), None);
    let mut bob_in = tap(&mut k, Direction::In, "WORK", utc(17, 20, 0), None);
    bob_in.subject = Subject::Employee { id: bob, badge: Some("04A1B2C4".parse().unwrap()) };
    let (ann_in_id, bob_in_id) = (ann_in.id, bob_in.id);
    send(&server, &mut k, vec![ann_in, bob_in]).await;

    let nowhere = EventId::random();
    let unknown =
        tap(&mut k, Direction::Out, "WORK", utc(18, 0, 0), Some(Amendment::Replaces(nowhere)));
    let bobs =
        tap(&mut k, Direction::Out, "WORK", utc(18, 0, 1), Some(Amendment::Withdraws(bob_in_id)));
    let (unknown_id, bobs_id) = (unknown.id, bobs.id);
    let batch = Batch { kiosk: k.id, prev: k.prev, events: vec![unknown, bobs] };
    let sealed = batch.clone().seal(&k.key).unwrap();
    let records = event_records(&batch, server.state.now());
    let receipt = b"receipt".to_vec();
    let outcome = server.store().store_batch(&sealed, &records, &receipt).unwrap();
    let BatchOutcome::Stored { unapplied, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        unapplied,
        vec![
            UnappliedAmendment { event: unknown_id, target: nowhere, why: "its target is unknown" },
            UnappliedAmendment {
                event: bobs_id,
                target: bob_in_id,
                why: "its target is another employee's"
            },
        ]
    );

    // Ann's tap stands, Bob's too; the stray amendments are in the record.
    assert_eq!(
        intervals_of(&server, k.employee).await,
        vec![json!(["2025-05-11T12:10:00-05:00", null, "WORK", [], ann_in_id, null])]
    );
    assert_eq!(intervals_of(&server, bob).await.len(), 1);
    let ann_trail = trail(&server, k.employee).await;
    assert_eq!(ann_trail.len(), 3, "{ann_trail:?}");
    assert_eq!(ann_trail[1], json!([3, "out", "WORK", {"kind": "replaces", "event_id": nowhere}]));
    assert_eq!(
        ann_trail[2],
        json!([4, "out", "WORK", {"kind": "withdraws", "event_id": bob_in_id}])
    );
}

#[tokio::test]
async fn an_event_amending_a_later_one_is_refused_whole() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let mut first = tap(&mut k, Direction::In, "WORK", utc(18, 0, 0), None);
    let second = tap(&mut k, Direction::Out, "WORK", utc(18, 0, 3), None);
    first.amends = Some(Amendment::Withdraws(second.id));
    // Sealed without the batch's own checks, as a faulty kiosk might.
    let bytes = seal::seal(
        BATCH,
        &Batch { kiosk: k.id, prev: k.prev, events: vec![first, second] },
        &k.key,
    )
    .unwrap();
    let (status, body) = server.post_bytes(&format!("/api/kiosk/{}/batches", k.id), bytes).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("may only change an earlier"));
    assert_eq!(trail(&server, k.employee).await, Vec::<Value>::new(), "nothing stored");
}

/// A kiosk whose clock was never set: the tap and its replacement are both held until a
/// heartbeat anchors their boot; released together, the replacement counts at the tap's
/// corrected time.
#[tokio::test]
async fn a_held_tap_and_its_replacement_count_once_released() {
    let server = TestServer::new();
    let mut k = setup(&server).await;
    let epoch = |secs: i64| DateTime::UNIX_EPOCH + TimeDelta::seconds(secs);
    let mut first = tap(&mut k, Direction::In, "WORK", utc(18, 0, 0), None);
    first.time = TimeReading {
        wall: epoch(600),
        boot: k.boot,
        monotonic: Duration::from_secs(600),
        wall_trusted: false,
    };
    let mut switched =
        tap(&mut k, Direction::Out, "WORK", utc(18, 0, 0), Some(Amendment::Replaces(first.id)));
    switched.time = TimeReading {
        wall: epoch(605),
        boot: k.boot,
        monotonic: Duration::from_secs(605),
        wall_trusted: false,
    };
    let switched_id = switched.id;
    send(&server, &mut k, vec![first, switched]).await;
    assert_eq!(intervals_of(&server, k.employee).await, Vec::<Value>::new(), "both held");

    // Monotonic 3,000 s is 19:00:00: the tap at 600 s was 18:20:00.
    let beat = Heartbeat {
        kiosk: k.id,
        sent: TimeReading {
            wall: epoch(3005),
            boot: k.boot,
            monotonic: Duration::from_secs(3005),
            wall_trusted: false,
        },
        pending: 0,
        acked_through: 2,
        roster_version: 0,
        software: "test".into(),
        clock_sample: Some(ClockSample {
            boot: k.boot,
            sent: Duration::from_millis(2_999_800),
            received: Duration::from_millis(3_000_200),
            server_time: server.state.now(),
        }),
    };
    let bytes = seal::seal(HEARTBEAT, &beat, &k.key).unwrap();
    let (status, _) = server.post_bytes(&format!("/api/kiosk/{}/heartbeat", k.id), bytes).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(
        intervals_of(&server, k.employee).await,
        vec![json!([
            null,
            "2025-05-11T13:20:00-05:00",
            "WORK",
            ["missing_check_in"],
            null,
            switched_id
        ])]
    );
}
