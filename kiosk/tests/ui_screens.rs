//! Every screen of the kiosk driven as an employee or admin would, through what the
//! screen shows (elements found by the text a person reads or the name a screen reader
//! says), with Slint's testing backend and the real controller, store and sync loop.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use i_slint_backend_testing::ElementHandle;
use mtime_core::event::{Amendment, Direction, RequestedAction};
use mtime_hardware::feedback::Outcome;
use mtime_hardware::{ReaderError, ReaderEvent, Tap};
use mtime_kiosk::ui::app::{KioskUi, UiInput};
use mtime_kiosk::ui::{KioskState, Screen};
use slint::ComponentHandle;

use common::{Fixture, PIN, Policy, Running, advance};

fn init() {
    i_slint_backend_testing::init_no_event_loop();
}

fn elements(ui: &KioskUi, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(ui.window(), label).collect()
}

/// The one element a person reads as `label`; fails when there is none.
fn element(ui: &KioskUi, label: &str) -> ElementHandle {
    let found = elements(ui, label);
    assert!(!found.is_empty(), "nothing on screen reads {label:?} (screen {:?})", screen(ui));
    found.into_iter().next().unwrap()
}

fn shows(ui: &KioskUi, label: &str) -> bool {
    !elements(ui, label).is_empty()
}

fn press(ui: &KioskUi, label: &str) {
    element(ui, label).invoke_accessible_default_action();
    ui.pump();
}

fn screen(ui: &KioskUi) -> Screen {
    ui.window().global::<KioskState>().get_screen()
}

fn tap(running: &Running, badge: &str) {
    let tap = Tap { uid: badge.parse().unwrap(), action: RequestedAction::Toggle };
    running.ui.inputs().send(UiInput::Reader(ReaderEvent::Tap(tap)));
    running.ui.pump();
}

fn outcomes(running: &Running) -> Vec<Outcome> {
    running.feedback.signals().into_iter().map(|(outcome, _)| outcome).collect()
}

#[test]
fn a_tap_shows_name_action_time_and_reason_then_goes_back_to_idle_by_itself() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;
    assert_eq!(screen(ui), Screen::Idle);
    assert!(shows(ui, "Tap your badge"));
    assert!(shows(ui, "Riverside Plant"));
    assert!(shows(ui, "07:54"), "the clock in the site's zone");

    tap(&running, &fixture.badge("E01"));

    assert_eq!(screen(ui), Screen::Recorded);
    assert!(shows(ui, "Åse Kristiansen"));
    assert!(shows(ui, "Checked in at 07:54"));
    assert!(shows(ui, "Work"));
    assert!(shows(ui, "Stored. Change within 8 s"));
    assert!(shows(ui, "1 waiting"), "the tap waits to sync: the server is unreachable");
    assert_eq!(outcomes(&running), [Outcome::CheckedIn]);

    advance(&fixture, ui, Duration::from_secs(3));
    assert!(shows(ui, "Stored. Change within 5 s"));
    advance(&fixture, ui, Duration::from_secs(5));
    assert_eq!(screen(ui), Screen::Idle);
    assert_eq!(running.node.outbox.pending().unwrap(), 1);
}

#[test]
fn switching_in_to_out_and_picking_a_reason_are_new_events_that_amend_the_tap() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;

    tap(&running, &fixture.badge("E02"));
    assert!(shows(ui, "Checked in at 07:54"));
    advance(&fixture, ui, Duration::from_secs(2));
    press(ui, "I am leaving");
    assert!(shows(ui, "Checked out at 07:54"), "a change keeps the tap's time");
    assert!(shows(ui, "Changed. Back in 8 s"), "the window starts again after a change");
    press(ui, "Doctor visit");
    assert!(shows(ui, "Doctor visit"));

    let events = running.node.outbox.events().unwrap();
    assert_eq!(events.len(), 3, "the tap and two amendments; nothing edited");
    assert_eq!((events[0].direction, events[0].reason.as_str()), (Direction::In, "WORK"));
    assert_eq!(events[0].amends, None);
    assert_eq!(events[1].direction, Direction::Out);
    assert_eq!(events[1].amends, Some(Amendment::Replaces(events[0].id)));
    assert_eq!((events[2].direction, events[2].reason.as_str()), (Direction::Out, "DOCTOR"));
    assert_eq!(events[2].amends, Some(Amendment::Replaces(events[1].id)));
    assert_eq!(outcomes(&running), [Outcome::CheckedIn, Outcome::CheckedOut, Outcome::CheckedOut]);

    // After the window nothing can be changed any more.
    advance(&fixture, ui, Duration::from_secs(9));
    assert_eq!(screen(ui), Screen::Idle);
    assert_eq!(running.node.outbox.events().unwrap().len(), 3);
}

#[test]
fn undo_withdraws_the_tap_and_the_next_tap_starts_from_before_it() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;

    tap(&running, &fixture.badge("E03"));
    press(ui, "Undo");
    assert_eq!(screen(ui), Screen::Idle);
    let events = running.node.outbox.events().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].amends, Some(Amendment::Withdraws(events[0].id)));

    // The undone check-in does not count: the next tap, past the repeat window, is a
    // check-in again, not a check-out.
    advance(&fixture, ui, Duration::from_secs(120));
    tap(&running, &fixture.badge("E03"));
    assert!(shows(ui, "Checked in at 07:56"));
}

#[test]
fn a_repeat_read_says_when_and_records_nothing() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;

    tap(&running, &fixture.badge("E01"));
    advance(&fixture, ui, Duration::from_secs(20));
    tap(&running, &fixture.badge("E01"));
    assert_eq!(screen(ui), Screen::Repeat);
    assert!(shows(ui, "Already checked in at 07:54"));
    assert_eq!(running.node.outbox.events().unwrap().len(), 1);
    assert_eq!(outcomes(&running), [Outcome::CheckedIn, Outcome::Repeated]);
    advance(&fixture, ui, Duration::from_secs(5));
    assert_eq!(screen(ui), Screen::Idle);
}

#[test]
fn an_unknown_badge_is_recorded_for_review_and_a_suspended_employee_is_refused() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;

    tap(&running, "0A0B0C0D");
    assert_eq!(screen(ui), Screen::UnknownBadge);
    assert!(shows(ui, "Badge not known"));
    assert!(shows(ui, "Your tap is stored for review. Please tell your site admin."));
    assert_eq!(running.node.outbox.events().unwrap().len(), 1, "kept for review");

    advance(&fixture, ui, Duration::from_secs(6));
    tap(&running, &fixture.badge("E05"));
    assert_eq!(screen(ui), Screen::Suspended);
    assert!(shows(ui, "Not allowed to check in"));
    assert_eq!(running.node.outbox.events().unwrap().len(), 1, "nothing stored");
    assert_eq!(outcomes(&running), [Outcome::Refused, Outcome::Refused]);
}

#[test]
fn a_lost_reader_is_said_at_once_and_taps_work_again_when_it_is_back() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;
    let inputs = ui.inputs();

    let lost = ReaderError::Unavailable("/dev/ttyUSB0: no such device".into());
    inputs.send(UiInput::Reader(ReaderEvent::Error(lost)));
    ui.pump();
    assert_eq!(screen(ui), Screen::ReaderLost);
    assert!(shows(ui, "Badge reader unavailable"));
    // Everything else goes on: the evacuation list opens and comes back to the notice.
    press(ui, "Who is in");
    assert_eq!(screen(ui), Screen::WhoIsIn);
    press(ui, "Back");
    assert_eq!(screen(ui), Screen::ReaderLost);

    inputs.send(UiInput::Reader(ReaderEvent::Ready));
    ui.pump();
    assert_eq!(screen(ui), Screen::Idle);
    tap(&running, &fixture.badge("E01"));
    assert_eq!(screen(ui), Screen::Recorded);
}

#[test]
fn an_employee_without_a_badge_checks_in_with_number_and_pin() {
    init();
    let fixture = Fixture::new(Policy { pin_fallback: true, admin: false });
    let running = common::start(&fixture);
    let ui = &running.ui;

    press(ui, "No badge? Use PIN");
    assert_eq!(screen(ui), Screen::Pin);
    // E04 types its number's digits first, then OK.
    for key in ["0", "4"] {
        press(ui, key);
    }
    assert!(shows(ui, "Employee number: 04"));
    press(ui, "OK");

    // A wrong PIN first.
    for digit in ["1", "2", "3", "4"] {
        press(ui, digit);
    }
    assert!(shows(ui, "PIN: ●●●●"), "digits are never shown");
    press(ui, "OK");
    assert!(shows(ui, "Number or PIN not right (4 tries left)"));
    assert_eq!(running.node.outbox.events().unwrap().len(), 0);

    for key in ["0", "4", "OK"] {
        press(ui, key);
    }
    for digit in PIN.chars() {
        press(ui, &digit.to_string());
    }
    press(ui, "OK");
    assert_eq!(screen(ui), Screen::Recorded);
    assert!(shows(ui, "Ngozi Okafor"));
    assert!(shows(ui, "Checked in at 07:54"));
    let events = running.node.outbox.events().unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        matches!(events[0].subject, mtime_core::event::Subject::Employee { badge: None, .. }),
        "a PIN punch carries no badge"
    );
}

#[test]
fn pin_entry_is_offered_only_where_the_kiosk_allows_it() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    assert!(!shows(&running.ui, "No badge? Use PIN"));
    assert!(shows(&running.ui, "Who is in"));
}

#[test]
fn the_evacuation_list_comes_from_local_data_while_the_server_is_unreachable() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;

    tap(&running, &fixture.badge("E01"));
    advance(&fixture, ui, Duration::from_secs(9));
    tap(&running, &fixture.badge("E02"));
    advance(&fixture, ui, Duration::from_secs(9));
    tap(&running, &fixture.badge("E03"));
    advance(&fixture, ui, Duration::from_secs(120));
    tap(&running, &fixture.badge("E03")); // E03 leaves again
    advance(&fixture, ui, Duration::from_secs(9));

    assert!(shows(ui, "offline"));
    press(ui, "Who is in");
    assert_eq!(screen(ui), Screen::WhoIsIn);
    assert!(shows(ui, "2 on site (as of 07:56)"));
    let ase = element(ui, "Åse Kristiansen");
    assert_eq!(ase.accessible_value().unwrap(), "07:54");
    assert!(shows(ui, "Jürgen Müller"));
    assert!(!shows(ui, "Zoë Dvořák"), "checked out again");
    assert_eq!(running.node.outbox.pending().unwrap(), 4, "nothing reached the server");
}

#[test]
fn admin_mode_opens_with_an_admin_pin_or_badge_and_shows_diagnostics() {
    init();
    let fixture = Fixture::new(Policy { pin_fallback: false, admin: true });
    let running = common::start(&fixture);
    let ui = &running.ui;

    press(ui, "Admin");
    assert_eq!(screen(ui), Screen::AdminUnlock);
    // An employee who is not an admin cannot open it with their own PIN.
    for key in ["0", "2", "OK"].into_iter().chain(["4", "7", "1", "1", "OK"]) {
        press(ui, key);
    }
    assert_eq!(screen(ui), Screen::AdminUnlock);
    assert!(shows(ui, "Number or PIN not right (4 tries left)"));

    // The admin's badge opens it, and records no punch.
    tap(&running, &fixture.badge("E01"));
    assert_eq!(screen(ui), Screen::Admin);
    assert_eq!(running.node.outbox.events().unwrap().len(), 0);

    press(ui, "Diagnostics");
    assert_eq!(screen(ui), Screen::Diagnostics);
    assert_eq!(element(ui, "reader").accessible_value().unwrap(), "ok");
    assert_eq!(element(ui, "queue").accessible_value().unwrap(), "0");
    assert_eq!(element(ui, "version").accessible_value().unwrap(), "test");
    assert_eq!(element(ui, "kiosk").accessible_value().unwrap(), fixture.kiosk.to_string());
    press(ui, "Back");
    assert_eq!(screen(ui), Screen::Admin);

    // The language changes on the spot.
    press(ui, "nb");
    press(ui, "Forlat admin");
    assert_eq!(screen(ui), Screen::Idle);
    assert!(shows(ui, "Hold kortet ditt her"));
}

#[test]
fn storage_that_fails_is_said_and_nothing_is_confirmed() {
    init();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let ui = &running.ui;

    running.disk.fill();
    tap(&running, &fixture.badge("E01"));
    assert_eq!(screen(ui), Screen::StorageFull);
    assert!(shows(ui, "Kiosk storage is full"));
    assert_eq!(outcomes(&running), [Outcome::Refused]);

    running.disk.free();
    advance(&fixture, ui, Duration::from_secs(6));
    tap(&running, &fixture.badge("E01"));
    assert_eq!(screen(ui), Screen::Recorded);
    assert_eq!(running.node.outbox.events().unwrap().len(), 1);
}
