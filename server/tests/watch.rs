//! The watchers: closed and flagged intervals, and kiosks falling silent, reach the feed
//! exactly once each.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use common::TestServer;
use mtime_core::event::TimeReading;
use mtime_core::ids::BootId;
use mtime_core::protocol::{HEARTBEAT, Heartbeat};
use mtime_core::seal;
use mtime_server::watch::{intervals, silence};

/// The feed entries after `after`, as (kind, employee, event, kiosk).
async fn feed(server: &TestServer, after: u64) -> Vec<(String, Value, Value, Value)> {
    let (status, page) = server.call("GET", &format!("/api/events?after={after}"), None).await;
    assert_eq!(status, StatusCode::OK);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["kind"].as_str().unwrap().to_owned();
            (kind, e["employee_id"].clone(), e["event_id"].clone(), e["kiosk_id"].clone())
        })
        .collect()
}

/// The interval announcements after `after`, as (kind, event naming the interval).
async fn announced(server: &TestServer, after: u64) -> Vec<(String, Value)> {
    let entries = feed(server, after).await.into_iter();
    entries.filter(|e| e.0.starts_with("interval.")).map(|e| (e.0, e.2)).collect()
}

async fn last_seq(server: &TestServer) -> u64 {
    let (_, page) = server.call("GET", "/api/events?limit=1000", None).await;
    page["items"].as_array().unwrap().last().map_or(0, |e| e["seq"].as_u64().unwrap())
}

#[tokio::test]
async fn closed_and_flagged_intervals_are_announced_once() {
    let server = TestServer::new();
    let site = server.site().await;
    let ann = server.employee(site, "E01", "04E87577DE9811").await;
    let timesheet = format!("/api/employees/{ann}/timesheet");

    // An open interval is not announced.
    let first_in = server.ok("POST", &format!("{timesheet}/clock-in"), json!({})).await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 0);
    let mark = last_seq(&server).await;

    server.clock.advance(Duration::from_secs(90 * 60));
    server.ok("POST", &format!("{timesheet}/clock-out"), json!({})).await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 1);
    let entries = feed(&server, mark).await;
    let closed: Vec<_> = entries.iter().filter(|e| e.0.starts_with("interval.")).collect();
    assert_eq!(closed.len(), 1, "{entries:?}");
    assert_eq!(closed[0].0, "interval.closed");
    assert_eq!(closed[0].1, json!(ann));
    assert_eq!(closed[0].2, first_in["punch"]["event_id"], "named by its check-in");
    assert_eq!(closed[0].3, Value::Null);

    // Nothing new: nothing announced, however often the watcher looks.
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 0);
    let mark = last_seq(&server).await;
    assert_eq!(feed(&server, mark).await, vec![]);

    // Out after 17 hours: closed and flagged over-long.
    let long_in = server.ok("POST", &format!("{timesheet}/clock-in"), json!({})).await;
    server.clock.advance(Duration::from_secs(17 * 3600));
    server.ok("POST", &format!("{timesheet}/clock-out"), json!({})).await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 1);
    let kinds = announced(&server, mark).await;
    let long = &long_in["punch"]["event_id"];
    let expected = [("interval.closed", long), ("interval.flagged", long)];
    assert_eq!(kinds, expected.map(|(kind, event)| (kind.to_owned(), event.clone())));
}

#[tokio::test]
async fn a_correction_that_closes_a_forgotten_check_out_is_announced() {
    let server = TestServer::new();
    let site = server.site().await;
    let bob = server.employee(site, "E02", "04724972925B14").await;
    let corrections = format!("/api/employees/{bob}/timesheet/corrections");

    // Two check-ins (at 02:00 and 10:00): the first interval lacks its check-out, which closes it,
    // flagged.
    let monday = server
        .ok("POST", &corrections, json!({"direction": "in", "at": "2025-05-11T02:00:00-05:00"}))
        .await;
    server
        .ok("POST", &corrections, json!({"direction": "in", "at": "2025-05-11T10:00:00-05:00"}))
        .await;
    let mark = last_seq(&server).await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 1);
    let monday_id = &monday["punch"]["event_id"];
    let kinds: Vec<(String, Value)> =
        feed(&server, mark).await.into_iter().map(|e| (e.0, e.2)).collect();
    assert_eq!(
        kinds,
        vec![
            ("interval.closed".to_owned(), monday_id.clone()),
            ("interval.flagged".to_owned(), monday_id.clone())
        ]
    );

    // The admin enters Monday's check-out: a new, clean interval is announced; the flagged
    // one stays in the feed as history.
    let mark = last_seq(&server).await;
    server
        .ok("POST", &corrections, json!({"direction": "out", "at": "2025-05-11T06:00:00-05:00"}))
        .await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 1);
    let kinds = announced(&server, mark).await;
    assert_eq!(kinds, vec![("interval.closed".to_owned(), monday_id.clone())]);
}

/// A check-in entered late inside a closed interval takes its check-out: the interval it
/// leaves without one is announced closed and flagged, though none of its punches is late.
#[tokio::test]
async fn a_late_check_in_that_breaks_a_closed_interval_announces_it_flagged() {
    let server = TestServer::new();
    let site = server.site().await;
    let cy = server.employee(site, "E03", "04724972925B15").await;
    let corrections = format!("/api/employees/{cy}/timesheet/corrections");

    let morning = server
        .ok("POST", &corrections, json!({"direction": "in", "at": "2025-05-11T02:00:00-05:00"}))
        .await;
    server
        .ok("POST", &corrections, json!({"direction": "out", "at": "2025-05-11T10:00:00-05:00"}))
        .await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 1);

    let mark = last_seq(&server).await;
    let noon = server
        .ok("POST", &corrections, json!({"direction": "in", "at": "2025-05-11T06:00:00-05:00"}))
        .await;
    assert_eq!(intervals::catch_up(&server.state).unwrap(), 2);
    let kinds = announced(&server, mark).await;
    let (morning, noon) = (&morning["punch"]["event_id"], &noon["punch"]["event_id"]);
    assert_eq!(
        kinds,
        vec![
            ("interval.closed".to_owned(), morning.clone()),
            ("interval.flagged".to_owned(), morning.clone()),
            ("interval.closed".to_owned(), noon.clone()),
        ]
    );
}

#[tokio::test]
async fn a_kiosk_that_falls_silent_and_returns_is_announced_once_each_way() {
    let server = TestServer::new();
    let (_, _, kiosk, key, _) = server.enrolled().await;
    let mark = last_seq(&server).await;

    // Just enrolled: heard from.
    assert_eq!(silence::check(&server.state).unwrap(), 0);

    // Three heartbeat periods (300 s each) pass without a word.
    server.clock.advance(Duration::from_secs(3 * 300 + 1));
    assert_eq!(silence::check(&server.state).unwrap(), 1);
    assert_eq!(silence::check(&server.state).unwrap(), 0, "said once");
    let (_, shown) = server.call("GET", &format!("/api/kiosks/{kiosk}"), None).await;
    assert_eq!(shown["online"], false);

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
    let (status, _) = server
        .post_bytes(
            &format!("/api/kiosk/{kiosk}/heartbeat"),
            seal::seal(HEARTBEAT, &beat, &key).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(silence::check(&server.state).unwrap(), 1);

    let entries: Vec<(String, Value)> =
        feed(&server, mark).await.into_iter().map(|e| (e.0, e.3)).collect();
    assert_eq!(
        entries,
        vec![("kiosk.silent".to_owned(), json!(kiosk)), ("kiosk.resumed".to_owned(), json!(kiosk))]
    );

    // A revoked kiosk is expected to be quiet: never announced.
    let (status, _) = server.call("POST", &format!("/api/kiosks/{kiosk}/revoke"), None).await;
    assert_eq!(status, StatusCode::OK);
    server.clock.advance(Duration::from_secs(3600));
    assert_eq!(silence::check(&server.state).unwrap(), 0);
}
