//! The kiosk's controller, headless: what a tap stores and what it shows.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use mtime_core::badge::RosterKey;
use mtime_core::clock::Clock;
use mtime_core::clock::ManualClock;
use mtime_core::event::{Direction, RequestedAction, Subject};
use mtime_core::ids::{BootId, EmployeeId, KioskId, OrgUnitId};
use mtime_core::protocol::{
    KioskConfig, KnownPunch, Roster, RosterEmployee, RosterReason, SiteInfo,
};
use mtime_core::timing::TimeAnchor;
use mtime_hardware::Tap;
use mtime_kiosk::controller::{Controller, Feedback};
use mtime_sync::outbox::Outbox;

const ANN: &str = "04E87577DE9811";
const BOB: &str = "1FF31632";

fn roster(kiosk: KioskId) -> Roster {
    let badge_key = RosterKey::from_bytes([3; 32]);
    let employee = |n: u128, number: &str, badge: &str, active| RosterEmployee {
        id: EmployeeId(uuid::Uuid::from_u128(n)),
        number: number.into(),
        name: format!("Name {number}"),
        badges: vec![badge_key.key_of(&badge.parse().unwrap())],
        active,
        last_punch: None,
        pin: None,
        kiosk_admin: false,
    };
    Roster {
        kiosk,
        version: 1,
        issued_at: Utc::now(),
        site: SiteInfo {
            org_unit: OrgUnitId::random(),
            name: "Plant".into(),
            time_zone: "America/Chicago".into(),
        },
        config: KioskConfig::default(),
        employees: vec![employee(1, "E01", ANN, true), employee(2, "E05", BOB, false)],
        reasons: vec![RosterReason {
            code: "WORK".parse().unwrap(),
            name: "Work".into(),
            counts_as_work: true,
        }],
        default_reason: "WORK".parse().unwrap(),
        badge_key,
    }
}

fn tap(badge: &str, action: RequestedAction) -> Tap {
    Tap { uid: badge.parse().unwrap(), action }
}

struct Setup {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    clock: Arc<ManualClock>,
    controller: Controller,
    kiosk: KioskId,
    boot: BootId,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.redb");
    let outbox = Arc::new(Outbox::open(&path).unwrap());
    let clock = Arc::new(ManualClock::at(Utc.with_ymd_and_hms(2025, 5, 12, 12, 54, 0).unwrap()));
    let kiosk = KioskId::random();
    let boot = BootId::random();
    let controller = Controller::new(kiosk, outbox, roster(kiosk), clock.clone(), boot).unwrap();
    Setup { _dir: dir, path, clock, controller, kiosk, boot }
}

#[test]
fn a_tap_is_stored_durably_before_it_is_confirmed() {
    let mut s = setup();
    let feedback = s.controller.tap(tap(ANN, RequestedAction::Explicit(Direction::In)));
    let Feedback::Recorded { seq, number, direction, at, pending, .. } = &feedback else {
        panic!("{feedback}");
    };
    assert_eq!((*seq, number.as_str(), *direction, *pending), (1, "E01", Direction::In, 1));
    assert_eq!(at.to_rfc3339(), "2025-05-12T07:54:00-05:00");
    assert!(feedback.to_string().starts_with("recorded seq=1 employee=E01 direction=in"));

    // The event is on disk: a second handle on the same file sees it.
    drop(s.controller);
    let events = Outbox::open(&s.path).unwrap().events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kiosk, s.kiosk);
    assert_eq!(
        events[0].subject,
        Subject::Employee {
            id: EmployeeId(uuid::Uuid::from_u128(1)),
            badge: Some(ANN.parse().unwrap())
        }
    );
}

#[test]
fn a_repeat_read_records_nothing_and_says_since_when() {
    let mut s = setup();
    s.controller.tap(tap(ANN, RequestedAction::Toggle));
    s.clock.advance(Duration::from_secs(20));
    let feedback = s.controller.tap(tap(ANN, RequestedAction::Toggle));
    assert!(matches!(feedback, Feedback::Repeat { direction: Direction::In, .. }), "{feedback}");
    assert!(feedback.to_string().contains("already checked in at 07:54"), "{feedback}");

    // A different action chosen explicitly is always new.
    let out = s.controller.tap(tap(ANN, RequestedAction::Explicit(Direction::Out)));
    assert!(matches!(out, Feedback::Recorded { seq: 2, direction: Direction::Out, .. }), "{out}");
}

#[test]
fn toggle_alternates_and_an_overdue_interval_reports_the_missing_check_out() {
    let mut s = setup();
    s.controller.tap(tap(ANN, RequestedAction::Toggle));
    s.clock.advance(Duration::from_secs(4 * 3600));
    let out = s.controller.tap(tap(ANN, RequestedAction::Toggle));
    assert!(matches!(out, Feedback::Recorded { direction: Direction::Out, .. }), "{out}");
    s.clock.advance(Duration::from_secs(3600));
    s.controller.tap(tap(ANN, RequestedAction::Toggle));
    s.clock.advance(Duration::from_secs(20 * 3600));
    let next = s.controller.tap(tap(ANN, RequestedAction::Toggle));
    assert!(
        matches!(
            next,
            Feedback::Recorded { direction: Direction::In, missing_check_out: true, .. }
        ),
        "{next}"
    );
    assert!(next.to_string().contains("your last check-out is missing"));
}

#[test]
fn unknown_badges_are_kept_and_suspended_employees_are_not_recorded() {
    let mut s = setup();
    let unknown = s.controller.tap(tap("DEADBEEF", RequestedAction::Toggle));
    assert!(matches!(unknown, Feedback::UnknownBadge { seq: Some(1), pending: 1 }), "{unknown}");
    let repeat = s.controller.tap(tap("DEADBEEF", RequestedAction::Toggle));
    assert!(matches!(repeat, Feedback::UnknownBadge { seq: None, pending: 1 }), "{repeat}");
    let suspended = s.controller.tap(tap(BOB, RequestedAction::Toggle));
    assert!(matches!(suspended, Feedback::Suspended { .. }), "{suspended}");
    let explicit_in = s.controller.tap(tap(BOB, RequestedAction::Explicit(Direction::In)));
    assert!(matches!(explicit_in, Feedback::Suspended { .. }), "{explicit_in}");

    drop(s.controller);
    let events = Outbox::open(&s.path).unwrap().events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].subject, Subject::UnknownBadge("DEADBEEF".parse().unwrap()));
}

#[test]
fn a_suspended_employee_who_is_in_may_still_check_out() {
    let mut s = setup();
    let mut r = roster(s.kiosk);
    r.employees[1].last_punch = Some(KnownPunch {
        direction: Direction::In,
        at: s.clock.now().wall - chrono::TimeDelta::hours(2),
    });
    s.controller.set_roster(r).unwrap();
    let out = s.controller.tap(tap(BOB, RequestedAction::Toggle));
    assert!(matches!(out, Feedback::Recorded { direction: Direction::Out, .. }), "{out}");
}

#[test]
fn letting_the_kiosk_decide_continues_from_a_punch_at_another_kiosk() {
    let mut s = setup();
    let mut r = roster(s.kiosk);
    // The server says Ann checked in at another kiosk an hour ago.
    r.employees[0].last_punch = Some(KnownPunch {
        direction: Direction::In,
        at: s.clock.now().wall - chrono::TimeDelta::hours(1),
    });
    s.controller.set_roster(r).unwrap();
    let out = s.controller.tap(tap(ANN, RequestedAction::Toggle));
    assert!(matches!(out, Feedback::Recorded { direction: Direction::Out, .. }), "{out}");
    // And this kiosk's own later punch wins over the roster's older one.
    s.clock.advance(Duration::from_secs(600));
    let next = s.controller.tap(tap(ANN, RequestedAction::Toggle));
    assert!(matches!(next, Feedback::Recorded { direction: Direction::In, .. }), "{next}");
}

#[test]
fn a_kiosk_out_of_service_records_nothing() {
    let mut s = setup();
    s.controller.stop_service("kiosk refused: kiosk_revoked".into());
    let refused = s.controller.tap(tap(ANN, RequestedAction::Explicit(Direction::In)));
    assert!(matches!(refused, Feedback::OutOfService { .. }), "{refused}");
    assert!(refused.to_string().contains("out of service"));
    drop(s.controller);
    assert!(Outbox::open(&s.path).unwrap().events().unwrap().is_empty());
}

#[test]
fn the_last_event_survives_a_restart_for_the_repeat_window() {
    let mut s = setup();
    s.controller.tap(tap(ANN, RequestedAction::Explicit(Direction::In)));
    drop(s.controller);

    s.clock.advance(Duration::from_secs(10));
    let outbox = Arc::new(Outbox::open(&s.path).unwrap());
    // A restart is a new boot; the wall clock decides across boots.
    let mut restarted =
        Controller::new(s.kiosk, outbox, roster(s.kiosk), s.clock.clone(), BootId::random())
            .unwrap();
    let again = restarted.tap(tap(ANN, RequestedAction::Explicit(Direction::In)));
    assert!(matches!(again, Feedback::Repeat { .. }), "{again}");
}

/// Booted at 1970: once a round trip tied this boot's monotonic clock to true time, the
/// employee sees the true time; the event keeps the reading as made.
#[test]
fn a_kiosk_without_a_clock_shows_true_time_once_a_round_trip_anchored_it() {
    let mut s = setup();
    s.clock.set_wall(chrono::DateTime::UNIX_EPOCH);
    s.clock.set_trusted(false);
    let before = s.controller.tap(tap(ANN, RequestedAction::Explicit(Direction::In)));
    let Feedback::Recorded { at, .. } = &before else { panic!("{before}") };
    assert_eq!(at.to_rfc3339(), "1969-12-31T18:00:00-06:00", "nothing known yet");

    // A round trip at monotonic 0 was answered with 12:54:00 UTC.
    let true_time = Utc.with_ymd_and_hms(2025, 5, 12, 12, 54, 0).unwrap();
    let other_boot = TimeAnchor {
        boot: BootId::random(),
        monotonic: std::time::Duration::ZERO,
        true_time: true_time + chrono::TimeDelta::days(1),
    };
    s.controller.set_time_anchor(other_boot);
    s.controller.set_time_anchor(TimeAnchor {
        boot: s.boot,
        monotonic: std::time::Duration::ZERO,
        true_time,
    });
    s.clock.advance(std::time::Duration::from_secs(600));
    let after = s.controller.tap(tap(ANN, RequestedAction::Explicit(Direction::Out)));
    let Feedback::Recorded { at, .. } = &after else { panic!("{after}") };
    assert_eq!(at.to_rfc3339(), "2025-05-12T08:04:00-05:00");

    drop(s.controller);
    let events = Outbox::open(&s.path).unwrap().events().unwrap();
    assert_eq!(events[1].time.wall, chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(600));
    assert!(!events[1].time.wall_trusted);
}
