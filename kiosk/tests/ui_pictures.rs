//! Every screen drawn by the software renderer at 800×480, landscape and portrait, compared
//! with the reference pictures in `kiosk/tests/screens/` within a stated tolerance; and a
//! panel mounted a quarter turn, touched where a button is drawn, hits that button.
//!
//! The fonts are the kiosk's own (`kiosk/ui/fonts`), so the pictures do not depend on the
//! machine. To draw the references anew after a deliberate change to the screens:
//! `MTIME_DRAW_SCREENS=1 cargo test -p mtime-kiosk --test ui_pictures`, then look at them
//! before committing. A missing reference fails the test; it is never made silently.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use i_slint_backend_testing::ElementHandle;
use mtime_core::event::RequestedAction;
use mtime_hardware::{ReaderError, ReaderEvent, Tap};
use mtime_kiosk::ui::app::UiInput;
use mtime_kiosk::ui::render::{Frame, PanelScreen, Rotation};
use mtime_kiosk::ui::{KioskState, Screen};
use slint::ComponentHandle;

use common::{Fixture, PIN, Policy, Running, advance};

/// A pixel differs when one of its channels differs by more than this.
const CHANNEL_TOLERANCE: u8 = 24;
/// A picture matches when at most this share of its pixels differ (anti-aliasing of text
/// may change by a shade between renderer versions; a moved or missing element does not
/// fit in it).
const DIFFERING_PIXELS: f64 = 0.002;

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/screens").join(format!("{name}.png"))
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, frame.width, frame.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&frame.rgb).unwrap();
    writer.finish().unwrap();
    bytes
}

fn decode(bytes: &[u8]) -> Frame {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.truncate(info.buffer_size());
    Frame { width: info.width, height: info.height, rgb }
}

/// The share of pixels that differ beyond [`CHANNEL_TOLERANCE`].
fn differing(a: &Frame, b: &Frame) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "pictures of different sizes");
    let differ = a
        .rgb
        .chunks(3)
        .zip(b.rgb.chunks(3))
        .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > CHANNEL_TOLERANCE))
        .count();
    differ as f64 / f64::from(a.width * a.height)
}

/// Compares `frame` with its reference, or draws the reference when asked to.
fn check(name: &str, frame: &Frame) -> Result<(), String> {
    let path = reference(name);
    if std::env::var_os("MTIME_DRAW_SCREENS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, encode(frame)).unwrap();
        return Ok(());
    }
    let Ok(bytes) = std::fs::read(&path) else {
        return Err(format!("{name}: no reference picture at {}", path.display()));
    };
    let share = differing(&decode(&bytes), frame);
    if share > DIFFERING_PIXELS {
        let seen = std::env::temp_dir().join(format!("mtime-screen-{name}.png"));
        std::fs::write(&seen, encode(frame)).unwrap();
        return Err(format!(
            "{name}: {:.2}% of pixels differ (at most {:.2}% may); drawn now: {}",
            share * 100.0,
            DIFFERING_PIXELS * 100.0,
            seen.display()
        ));
    }
    Ok(())
}

fn tap(running: &Running, badge: &str) {
    let tap = Tap { uid: badge.parse().unwrap(), action: RequestedAction::Toggle };
    running.ui.inputs().send(UiInput::Reader(ReaderEvent::Tap(tap)));
    running.ui.pump();
}

fn press(running: &Running, label: &str) {
    let element = ElementHandle::find_by_accessible_label(running.ui.window(), label).next();
    element.unwrap_or_else(|| panic!("no {label:?} on screen")).invoke_accessible_default_action();
    running.ui.pump();
}

/// Drives the kiosk through every screen and draws each; returns every mismatch.
fn draw_every_screen(orientation: &str, panel: &PanelScreen) -> Vec<String> {
    let fixture = Fixture::new(Policy { pin_fallback: true, admin: true });
    let running = common::start(&fixture);
    let ui = &running.ui;
    let mut failures = Vec::new();
    let mut shot = |name: &str, expected: Screen| {
        assert_eq!(ui.window().global::<KioskState>().get_screen(), expected, "{name}");
        if let Err(e) = check(&format!("{orientation}-{name}"), &panel.render()) {
            failures.push(e);
        }
    };
    let wait = |seconds| advance(&fixture, ui, Duration::from_secs(seconds));

    shot("idle", Screen::Idle);
    tap(&running, &fixture.badge("E01"));
    shot("recorded", Screen::Recorded);
    wait(20);
    tap(&running, &fixture.badge("E01"));
    shot("repeat", Screen::Repeat);
    wait(6);
    tap(&running, "0A0B0C0D");
    shot("unknown-badge", Screen::UnknownBadge);
    wait(6);
    tap(&running, &fixture.badge("E05"));
    shot("suspended", Screen::Suspended);
    wait(6);
    press(&running, "Who is in");
    shot("who-is-in", Screen::WhoIsIn);
    press(&running, "Back");
    press(&running, "No badge? Use PIN");
    for key in ["0", "2", "OK", "4", "7"] {
        press(&running, key);
    }
    shot("pin", Screen::Pin);
    press(&running, "Cancel");
    press(&running, "Admin");
    shot("admin-unlock", Screen::AdminUnlock);
    for key in ["0", "1", "OK"].into_iter().chain(PIN.split("").filter(|d| !d.is_empty())) {
        press(&running, key);
    }
    press(&running, "OK");
    shot("admin", Screen::Admin);
    press(&running, "Diagnostics");
    shot("diagnostics", Screen::Diagnostics);
    press(&running, "Back");
    press(&running, "Pair again");
    shot("pairing", Screen::Pairing);
    press(&running, "Back");
    press(&running, "Leave admin mode");

    let lost = ReaderError::Unavailable("/dev/ttyUSB0: no such device".into());
    ui.inputs().send(UiInput::Reader(ReaderEvent::Error(lost)));
    ui.pump();
    shot("reader-lost", Screen::ReaderLost);
    ui.inputs().send(UiInput::Reader(ReaderEvent::Ready));
    ui.pump();

    running.disk.fill();
    tap(&running, &fixture.badge("E02"));
    shot("storage-full", Screen::StorageFull);
    running.disk.free();
    wait(6);

    running.node.controller.lock().unwrap().stop_service("revoked".into());
    tap(&running, &fixture.badge("E02"));
    shot("out-of-service", Screen::OutOfService);
    failures
}

#[test]
fn every_screen_looks_as_drawn_in_landscape() {
    let panel = PanelScreen::install(800, 480, Rotation::None).unwrap();
    let failures = draw_every_screen("landscape", &panel);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_screen_looks_as_drawn_in_portrait() {
    let panel = PanelScreen::install(480, 800, Rotation::None).unwrap();
    let failures = draw_every_screen("portrait", &panel);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn on_a_panel_turned_a_quarter_a_touch_where_a_button_is_drawn_hits_it() {
    // An 800×480 panel mounted upright: the user sees a 480×800 window.
    let panel = PanelScreen::install(800, 480, Rotation::Right).unwrap();
    let fixture = Fixture::new(Policy::default());
    let running = common::start(&fixture);
    let window = panel.window_size();
    assert_eq!(window, (480, 800));

    let button =
        ElementHandle::find_by_accessible_label(running.ui.window(), "Who is in").next().unwrap();
    let (at, size) = (button.absolute_position(), button.size());
    // Inside the button, clear of its label and its rounded corners.
    let probe = (at.x + size.width / 2.0, at.y + 8.0);
    let (x, y) = Rotation::Right.to_panel(probe, window);
    assert!(x < 800.0 && y < 480.0);

    // The button's colour is drawn there on the panel.
    let frame = panel.render();
    let pixel = |x: f32, y: f32| {
        let i = (y as usize * frame.width as usize + x as usize) * 3;
        [frame.rgb[i], frame.rgb[i + 1], frame.rgb[i + 2]]
    };
    let button_colour = [0x2c, 0x3e, 0x50];
    let near = |p: [u8; 3]| p.iter().zip(button_colour).all(|(a, b)| a.abs_diff(b) <= 8);
    assert!(near(pixel(x, y)), "at {x},{y}: {:?}", pixel(x, y));

    panel.touch(x, y);
    running.ui.pump();
    assert_eq!(running.ui.window().global::<KioskState>().get_screen(), Screen::WhoIsIn);
}
