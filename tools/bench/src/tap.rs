//! Workload 2: a tap reaches confirmation on the screen. A line goes into the simulated
//! reader (the script reader on its own thread), the tap comes out of its channel into the
//! kiosk's UI, whose controller looks the badge up in the roster, decides and stores the
//! event durably; the UI shows the outcome and the software renderer draws the whole
//! 800×480 screen into memory, as it would into the Pi's frame buffer. The clock stops
//! when the frame is drawn. The same taps through the headless controller alone are
//! measured beside it, so the share of drawing shows.

use std::io::{BufReader, Write};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;

use mtime_core::clock::SystemClock;
use mtime_core::event::ReasonCode;
use mtime_core::ids::{BootId, KioskId, OrgUnitId};
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{KioskConfig, ROSTER, Roster, RosterEmployee, RosterReason, SiteInfo};
use mtime_hardware::ReaderEvent;
use mtime_hardware::simulator::ScriptReader;
use mtime_kiosk::controller::{Controller, Feedback};
use mtime_kiosk::node::Node;
use mtime_kiosk::paths::DataDir;
use mtime_kiosk::ui::app::UiInput;
use mtime_kiosk::ui::render::{PanelScreen, Rotation};
use mtime_kiosk::ui::{KioskState, Screen};
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::{Identity, Outbox, OutboxOptions};
use slint::ComponentHandle;

use crate::chart::{Chart, Series};
use crate::config::Config;
use crate::events::Workforce;
use crate::report::Section;
use crate::stats::Samples;

/// The goal for p99, in ms.
const GOAL_P99_MS: f64 = 50.0;

/// A roster of `people` at a site in America/Chicago.
fn roster(kiosk: KioskId, people: &Workforce) -> anyhow::Result<Roster> {
    let work: ReasonCode = "WORK".parse().map_err(anyhow::Error::msg)?;
    let badge_key = mtime_core::badge::RosterKey::generate()?;
    Ok(Roster {
        kiosk,
        version: 1,
        issued_at: Utc::now(),
        site: SiteInfo {
            org_unit: OrgUnitId::random(),
            name: "Plant".into(),
            time_zone: "America/Chicago".into(),
        },
        config: KioskConfig::default(),
        employees: people
            .people
            .iter()
            .enumerate()
            .map(|(i, (id, badge))| RosterEmployee {
                id: *id,
                number: format!("E{i:05}"),
                name: format!("Employee {i}"),
                badges: vec![badge_key.key_of(badge)],
                active: true,
                last_punch: None,
                pin: None,
                kiosk_admin: false,
            })
            .collect(),
        reasons: vec![RosterReason {
            code: work.clone(),
            name: "Work".into(),
            counts_as_work: true,
        }],
        default_reason: work,
        badge_key,
    })
}

/// Taps `count` times through reader and controller with a roster of `size`.
fn measure(dir: &std::path::Path, size: usize, count: usize) -> anyhow::Result<Samples> {
    let people = Workforce::random(size);
    let kiosk = KioskId::random();
    let outbox = Arc::new(Outbox::open(&dir.join(format!("tap-{size}.redb")))?);
    let clock = Arc::new(SystemClock::new());
    let mut controller =
        Controller::new(kiosk, outbox, roster(kiosk, &people)?, clock, BootId::random())?;
    tap_through_reader(&people, count, |tap| {
        let feedback = controller.tap(tap);
        // What the node prints is part of confirming.
        let line = feedback.to_string();
        anyhow::ensure!(matches!(feedback, Feedback::Recorded { .. }), "not recorded: {line}");
        Ok(())
    })
}

/// Writes `count` tap lines into the simulated reader, hands each tap to `confirm`, and
/// times each from the line written to `confirm` done.
fn tap_through_reader(
    people: &Workforce,
    count: usize,
    mut confirm: impl FnMut(mtime_hardware::Tap) -> anyhow::Result<()>,
) -> anyhow::Result<Samples> {
    let size = people.people.len();
    let (script, mut feed) = std::io::pipe()?;
    let reader = ScriptReader::new(BufReader::new(script));
    let taps = mtime_hardware::spawn(Box::new(reader))?;
    let mut samples = Samples::new();
    for n in 0..count {
        // Badges far apart in the roster, each going in and out in turn.
        let (_, badge) = people.people[(n * 7919) % size];
        let visit = n / size;
        let action = if visit.is_multiple_of(2) { "in" } else { "out" };
        let started = Instant::now();
        writeln!(feed, "{badge} {action}")?;
        let tap = loop {
            match taps.recv().context("the reader stopped")? {
                ReaderEvent::Tap(tap) => break tap,
                ReaderEvent::Ready => continue,
                other => anyhow::bail!("the reader sent {other:?}"),
            }
        };
        confirm(tap)?;
        samples.push_ms(started.elapsed());
    }
    drop(feed);
    Ok(samples)
}

thread_local! {
    /// The bench thread's screen: Slint takes one platform per thread.
    static PANEL: Option<PanelScreen> = PanelScreen::install(800, 480, Rotation::None).ok();
}

/// Taps `count` times through reader, UI, controller and store, drawing the screen after
/// each, with a roster of `size`.
fn measure_rendered(dir: &std::path::Path, size: usize, count: usize) -> anyhow::Result<Samples> {
    let people = Workforce::random(size);
    let data = paired_offline(&dir.join(format!("ui-{size}")), &people)?;
    let clock = Arc::new(SystemClock::new());
    let boot = BootId::random();
    PANEL.with(|panel| {
        let panel = panel.as_ref().context("no software-rendered screen on this thread")?;
        let ui = crate::idle_ui::shown_ui(clock.clone())?;
        let node = Node::start(&data, OutboxOptions::default(), clock, boot, |_, _| {})?;
        ui.set_node(node);
        let inputs = ui.inputs();
        let samples = tap_through_reader(&people, count, |tap| {
            inputs.send(UiInput::Reader(ReaderEvent::Tap(tap)));
            ui.pump();
            let frame = panel.render();
            let screen = ui.window().global::<KioskState>().get_screen();
            anyhow::ensure!(screen == Screen::Recorded, "the screen shows {screen:?}");
            anyhow::ensure!(frame.rgb.len() == 800 * 480 * 3, "a frame of the wrong size");
            Ok(())
        });
        ui.window().hide()?;
        samples
    })
}

/// A kiosk enrolled and holding its roster, on disk, without a server: its sync loop points
/// at a loopback port where nothing listens and only ever fails.
fn paired_offline(root: &std::path::Path, people: &Workforce) -> anyhow::Result<DataDir> {
    let data = DataDir::new(root);
    std::fs::create_dir_all(root)?;
    let kiosk = KioskId::random();
    let server_key = SigningKey::generate()?;
    let roster = roster(kiosk, people)?;
    let outbox = Outbox::open(&data.store())?;
    outbox.save_identity(&Identity {
        kiosk,
        name: "Bench".into(),
        server_url: "http://127.0.0.1:9".into(),
        server_ca_pem: None,
        server_key: server_key.public(),
        site: roster.site.clone(),
        config: roster.config.clone(),
    })?;
    outbox.save_roster_bytes(&mtime_core::seal::seal(ROSTER, &roster, &server_key)?)?;
    KeyFile::new(data.key()).create()?;
    Ok(data)
}

/// Runs workload 2 in `dir`.
pub fn run(config: &Config, dir: &std::path::Path) -> anyhow::Result<Section> {
    let mut section = Section::new(
        "2. Tap → confirmation rendered",
        &[
            "roster employees",
            "what",
            "median ms (p10–p90)",
            "p99 ms",
            "max ms",
            "p99 vs goal 50 ms",
        ],
    );
    section.note(
        "From the moment a tap line is written into the simulated reader until the kiosk's \
         800×480 screen showing the outcome is drawn by Slint's software renderer into \
         memory (the whole frame each time), with the event durable in the kiosk's outbox. \
         Beside it, the same taps through the headless controller alone, to the feedback \
         line: the difference is the UI and the drawing.",
    );
    let (mut rendered, mut headless) = (Vec::new(), Vec::new());
    for &size in &config.tap_rosters {
        for (what, points) in [("rendered", &mut rendered), ("headless", &mut headless)] {
            let samples = if what == "rendered" {
                measure_rendered(dir, size, config.tap_count)?
            } else {
                measure(dir, size, config.tap_count)?
            };
            let s = samples.summary();
            section.row(vec![
                size.to_string(),
                what.to_owned(),
                s.spread(3),
                format!("{:.3}", s.p99),
                format!("{:.3}", s.max),
                format!("{:.3}×", s.p99 / GOAL_P99_MS),
            ]);
            points.push((size as f64, s));
        }
    }
    if let Some((size, worst)) = rendered.last() {
        section.goal(
            "tap → confirmation rendered p99 ≤ 50 ms",
            format!("{:.2} ms with {size} employees in the roster", worst.p99),
            worst.p99 <= GOAL_P99_MS,
        );
    }
    let xs: Vec<f64> = rendered.iter().map(|p| p.0).collect();
    let series = |points: &[(f64, crate::stats::Summary)], f: fn(&crate::stats::Summary) -> f64| {
        points.iter().map(|(x, s)| (*x, f(s))).collect::<Vec<_>>()
    };
    section.chart(Chart {
        file: "tap.svg".into(),
        title: "Tap → confirmation rendered".into(),
        x_label: "employees in the roster".into(),
        y_label: "latency, ms".into(),
        series: vec![
            Series::measured("rendered p99", series(&rendered, |s| s.p99)),
            Series::measured("rendered median", series(&rendered, |s| s.median)),
            Series::measured("headless p99", series(&headless, |s| s.p99)),
            Series::goal("goal p99 50 ms", GOAL_P99_MS, &xs),
        ],
    });
    Ok(section)
}
