//! Workload 2: a tap reaches confirmation. A line goes into the simulated reader (the
//! script reader on its own thread, as `mtime-kiosk run` uses it), the tap comes out of
//! its channel into the headless controller, which looks the badge up in the roster,
//! decides, stores the event durably and returns what to show. Rendering is not included:
//! the Slint UI does not exist yet, so the clock stops when the feedback line is made.

use std::io::{BufReader, Write};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;

use mtime_core::clock::SystemClock;
use mtime_core::event::ReasonCode;
use mtime_core::ids::{BootId, KioskId, OrgUnitId};
use mtime_core::protocol::{KioskConfig, Roster, RosterEmployee, RosterReason, SiteInfo};
use mtime_hardware::ReaderEvent;
use mtime_hardware::simulator::ScriptReader;
use mtime_kiosk::controller::{Controller, Feedback};
use mtime_sync::outbox::Outbox;

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
        let tap = match taps.recv().context("the reader stopped")? {
            ReaderEvent::Tap(tap) => tap,
            other => anyhow::bail!("the reader sent {other:?}"),
        };
        let feedback = controller.tap(tap);
        // What the node prints is part of confirming.
        let line = feedback.to_string();
        samples.push_ms(started.elapsed());
        anyhow::ensure!(matches!(feedback, Feedback::Recorded { .. }), "not recorded: {line}");
    }
    drop(feed);
    Ok(samples)
}

/// Runs workload 2 in `dir`.
pub fn run(config: &Config, dir: &std::path::Path) -> anyhow::Result<Section> {
    let mut section = Section::new(
        "2. Tap → confirmation (headless)",
        &["roster employees", "median ms (p10–p90)", "p99 ms", "max ms", "p99 vs goal 50 ms"],
    );
    section.note(
        "From the moment a tap line is written into the simulated reader to the feedback line \
         the controller returns, with the event durable in the kiosk's outbox. **Rendering is \
         not included**: the Slint UI does not exist yet, so this is the headless controller.",
    );
    let mut points = Vec::new();
    for &size in &config.tap_rosters {
        let s = measure(dir, size, config.tap_count)?.summary();
        section.row(vec![
            size.to_string(),
            s.spread(3),
            format!("{:.3}", s.p99),
            format!("{:.3}", s.max),
            format!("{:.3}×", s.p99 / GOAL_P99_MS),
        ]);
        points.push((size as f64, s));
    }
    if let Some((size, worst)) = points.last() {
        section.goal(
            "tap → confirmation p99 ≤ 50 ms (headless, no rendering)",
            format!("{:.2} ms with {size} employees in the roster", worst.p99),
            worst.p99 <= GOAL_P99_MS,
        );
    }
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    section.chart(Chart {
        file: "tap.svg".into(),
        title: "Tap → confirmation (headless, no rendering)".into(),
        x_label: "employees in the roster".into(),
        y_label: "latency, ms".into(),
        series: vec![
            Series::measured("mtime p99", points.iter().map(|(x, s)| (*x, s.p99)).collect()),
            Series::measured("mtime median", points.iter().map(|(x, s)| (*x, s.median)).collect()),
            Series::goal("goal p99 50 ms", GOAL_P99_MS, &xs),
        ],
    });
    Ok(section)
}
