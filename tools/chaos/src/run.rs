//! The run: a faulty pair and a fault-free twin fed the same taps on one replay clock,
//! the plan's faults injected into the faulty pair one after another, then the verdict.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::mpsc;

use mtime_harness::processes::Line;
use mtime_harness::replay_clock::ClockDriver;

use crate::compare::{self, Seen, Tap};
use crate::pair::Pair;
use crate::plan::{self, Fault, Kind, KioskKillPoint, Plan, ServerKillPoint, Step};
use crate::relay::{self, Relay, Report};
use crate::schedule::{self, Person, PlannedTap, Schedule};

/// How long the harness waits for the relay to see the upload a fault waits for.
const FIRE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long, in real time, a kiosk may take to upload everything once faults stop.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How far the replay clock moves per look while waiting for the kiosk to catch up.
const SETTLE_STEP: TimeDelta = TimeDelta::seconds(5);

/// What the harness knows of one kiosk.
#[derive(Default)]
struct Ledger {
    seen: Seen,
    /// The highest seq the kiosk holds, as far as its answers tell.
    last_seq: u64,
    /// The highest seq a receipt covered, as the kiosk reported.
    synced: u64,
    taps: usize,
}

impl Ledger {
    /// Takes note of a `recorded` answer; whether it was one.
    fn recorded(&mut self, line: &Line) -> anyhow::Result<bool> {
        if line.kind != "recorded" {
            return Ok(false);
        }
        let field = |key: &str| line.fields.get(key).cloned().unwrap_or_default();
        let at = DateTime::parse_from_rfc3339(&field("at")).context("a recorded line's time")?;
        let seq = line.number("seq").context("a recorded line's seq")?;
        self.seen.confirmed.push(Tap {
            seq: Some(seq),
            employee: field("employee"),
            direction: field("direction"),
            at: at.with_timezone(&Utc),
        });
        self.last_seq = self.last_seq.max(seq);
        Ok(true)
    }
}

struct World {
    clock: ClockDriver,
    chaos: Pair,
    twin: Pair,
    relay: Relay,
    roster: Vec<Person>,
    schedule: Schedule,
    ledger: Ledger,
    twin_ledger: Ledger,
    injected: BTreeMap<Kind, usize>,
    problems: Vec<String>,
    server_starts: usize,
    started: Instant,
    first: DateTime<Utc>,
}

impl World {
    fn log(&self, step: &Step, what: &str) {
        println!(
            "fault #{} {} at {} (t+{:.1}s): {:?}{what}",
            step.index,
            step.fault.kind(),
            self.clock.now().to_rfc3339(),
            self.started.elapsed().as_secs_f64(),
            step.fault,
        );
    }

    /// The next tap of the schedule, at its instant or now if the clock is past it.
    fn next_tap(&mut self) -> anyhow::Result<(PlannedTap, String)> {
        let tap = self.schedule.next().context("the schedule never ends")?;
        self.clock.set(tap.at)?;
        Ok((tap, self.roster[tap.person].badge.clone()))
    }

    /// Taps the twin: it must record every tap.
    async fn tap_twin(&mut self, tap: &PlannedTap, badge: &str) -> anyhow::Result<()> {
        let answer = self.twin.kiosk()?.tap(badge, tap.key).await?;
        self.twin_ledger.taps += 1;
        if !self.twin_ledger.recorded(&answer)? {
            self.problems.push(format!("the twin answered {} to a tap", answer.kind));
        }
        Ok(())
    }

    /// The next tap at both kiosks.
    async fn tap_both(&mut self) -> anyhow::Result<()> {
        let (tap, badge) = self.next_tap()?;
        self.tap_twin(&tap, &badge).await?;
        let answer = self.chaos.kiosk()?.tap(&badge, tap.key).await?;
        self.ledger.taps += 1;
        if !self.ledger.recorded(&answer)? {
            self.problems.push(format!(
                "the kiosk answered {} where the twin recorded, at {}",
                answer.kind,
                self.clock.now()
            ));
        }
        Ok(())
    }

    fn note_synced(&mut self) {
        if let Some(kiosk) = self.chaos.kiosk.as_mut() {
            kiosk.drain();
            self.ledger.synced = self.ledger.synced.max(kiosk.sync.synced_through);
        }
        if let Some(kiosk) = self.twin.kiosk.as_mut() {
            kiosk.drain();
            self.twin_ledger.synced = self.twin_ledger.synced.max(kiosk.sync.synced_through);
        }
    }

    /// Moves the replay clock until both kiosks have uploaded all they hold: a kiosk
    /// that cannot is a stuck outbox.
    async fn settle(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            self.note_synced();
            let behind = |l: &Ledger| l.synced < l.last_seq;
            if !behind(&self.ledger) && !behind(&self.twin_ledger) {
                return Ok(());
            }
            if started.elapsed() > SETTLE_TIMEOUT {
                bail!(
                    "stuck outbox: after {}s the kiosk has uploaded through seq {} of {} \
                     (twin {} of {})",
                    SETTLE_TIMEOUT.as_secs(),
                    self.ledger.synced,
                    self.ledger.last_seq,
                    self.twin_ledger.synced,
                    self.twin_ledger.last_seq
                );
            }
            let next = self.clock.now() + SETTLE_STEP;
            self.clock.set(next)?;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn kill_kiosk(&mut self) -> anyhow::Result<Vec<Line>> {
        let kiosk = self.chaos.kiosk.take().context("no kiosk to kill")?;
        self.ledger.synced = self.ledger.synced.max(kiosk.sync.synced_through);
        let left = kiosk.kill().await?;
        self.ledger.synced = self.ledger.synced.max(
            left.iter()
                .filter(|l| l.kind == "synced")
                .filter_map(|l| l.number("through"))
                .max()
                .unwrap_or(0),
        );
        Ok(left)
    }

    async fn restart_server(&mut self) -> anyhow::Result<()> {
        self.server_starts += 1;
        self.chaos.start_server(self.server_starts).await
    }

    /// Waits for the relay's next report on an armed fault.
    async fn report(
        &mut self,
        reports: &mut mpsc::UnboundedReceiver<Report>,
        step: &Step,
    ) -> anyhow::Result<Option<Report>> {
        match tokio::time::timeout(FIRE_TIMEOUT, reports.recv()).await {
            Ok(Some(report)) => Ok(Some(report)),
            _ => {
                self.relay.disarm();
                self.problems.push(format!("fault #{} never fired: no upload came", step.index));
                Ok(None)
            }
        }
    }

    /// Arms a relay fault, taps so that an upload follows, and waits until it is done.
    async fn relay_fault(&mut self, step: &Step, fault: relay::Fault) -> anyhow::Result<bool> {
        let mut reports = self.relay.arm(fault);
        self.tap_both().await?;
        match self.report(&mut reports, step).await? {
            Some(Report::Done { reached_server }) => {
                println!("  fault #{}: reached the server: {reached_server}", step.index);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn inject(&mut self, step: &Step) -> anyhow::Result<bool> {
        let fired = match step.fault {
            Fault::KioskKill(point) => self.kill_kiosk_at(step, point).await?,
            Fault::ServerKill(ServerKillPoint::MidBatch { after_us }) => {
                let mut reports = self.relay.arm(relay::Fault::SignalForwarded);
                self.tap_both().await?;
                let forwarded = self.report(&mut reports, step).await?;
                std::thread::sleep(Duration::from_micros(after_us));
                self.chaos.kill_server().await?;
                if let Ok(Some(Report::Done { reached_server })) =
                    tokio::time::timeout(FIRE_TIMEOUT, reports.recv()).await
                {
                    println!("  fault #{}: answered before the kill: {reached_server}", step.index);
                }
                self.restart_server().await?;
                matches!(forwarded, Some(Report::Forwarded))
            }
            Fault::ServerKill(ServerKillPoint::Idle { after_ms }) => {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                self.chaos.kill_server().await?;
                self.restart_server().await?;
                true
            }
            Fault::RequestDrop => self.relay_fault(step, relay::Fault::DropRequest).await?,
            Fault::ResponseDrop => self.relay_fault(step, relay::Fault::DropResponse).await?,
            Fault::Delay { request_ms, response_ms } => {
                let request = Duration::from_millis(request_ms);
                let response = Duration::from_millis(response_ms);
                self.relay_fault(step, relay::Fault::Delay { request, response }).await?
            }
            Fault::Duplicate { answer_second } => {
                self.relay_fault(step, relay::Fault::Duplicate { answer_second }).await?
            }
            Fault::Reorder => {
                let mut reports = self.relay.arm(relay::Fault::Reorder);
                self.tap_both().await?;
                // The kiosk resends the same batch; only a later batch releases the old.
                self.settle().await?;
                self.tap_both().await?;
                matches!(self.report(&mut reports, step).await?, Some(Report::Done { .. }))
            }
            Fault::LongCut { taps } => {
                self.relay.cut();
                for _ in 0..taps {
                    self.tap_both().await?;
                }
                self.relay.restore();
                true
            }
            Fault::ServerAway => {
                self.chaos.kill_server().await?;
                let back = self.clock.now() + TimeDelta::days(1);
                while self.schedule.peek().at < back {
                    self.tap_both().await?;
                }
                self.clock.set(back)?;
                self.restart_server().await?;
                true
            }
        };
        self.settle().await?;
        Ok(fired)
    }

    async fn kill_kiosk_at(&mut self, step: &Step, point: KioskKillPoint) -> anyhow::Result<bool> {
        match point {
            KioskKillPoint::InTap { after_us } => {
                let (tap, badge) = self.next_tap()?;
                self.tap_twin(&tap, &badge).await?;
                self.chaos.kiosk()?.send_tap(&badge, tap.key).await?;
                self.ledger.taps += 1;
                std::thread::sleep(Duration::from_micros(after_us));
                let left = self.kill_kiosk().await?;
                let mut confirmed = false;
                for line in &left {
                    confirmed |= self.ledger.recorded(line)?;
                }
                self.chaos.start_kiosk().await?;
                // The employee saw nothing and taps again.
                let answer = self.chaos.kiosk()?.tap(&badge, tap.key).await?;
                self.ledger.taps += 1;
                let recorded = self.ledger.recorded(&answer)?;
                if !confirmed {
                    let person = &self.roster[tap.person];
                    self.ledger.seen.in_doubt.push(Tap {
                        seq: None,
                        employee: person.number.clone(),
                        direction: tap.key.to_owned(),
                        at: self.clock.now(),
                    });
                    if answer.kind == "repeat" {
                        // The killed tap was stored: the kiosk holds one seq more.
                        self.ledger.last_seq += 1;
                    }
                }
                if !recorded && answer.kind != "repeat" {
                    self.problems.push(format!("a tap again after a kill: {}", answer.kind));
                }
                self.log(
                    step,
                    &format!(" answered before the kill: {confirmed}, again: {}", answer.kind),
                );
                Ok(true)
            }
            KioskKillPoint::InUpload { forward } => {
                let mut reports = self.relay.arm(relay::Fault::Hold);
                self.tap_both().await?;
                let held = self.report(&mut reports, step).await?;
                self.kill_kiosk().await?;
                let Some(Report::Held(release)) = held else { return Ok(false) };
                let _ = release.send(forward);
                self.report(&mut reports, step).await?;
                self.chaos.start_kiosk().await?;
                Ok(true)
            }
            KioskKillPoint::Idle { after_ms } => {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                self.kill_kiosk().await?;
                self.chaos.start_kiosk().await?;
                Ok(true)
            }
        }
    }
}

/// Runs `plan` in `root` and prints the report; an error says what differed.
pub async fn run(plan: &Plan, root: &std::path::Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let roster = schedule::roster(plan.seed);
    let schedule = Schedule::new(plan.seed);
    let clock_file = root.join("replay-clock");
    let first = schedule.start();
    let clock = ClockDriver::create(&clock_file, first)?;

    let (mut chaos, chaos_code) = Pair::set_up("chaos", root, &clock_file, &roster).await?;
    let (mut twin, twin_code) = Pair::set_up("twin", root, &clock_file, &roster).await?;
    let relay = Relay::start(chaos.server_addr()?, "/batches ").await?;
    chaos.enroll(&format!("http://{}", relay.addr()), &chaos_code).await?;
    let twin_url = twin.server.as_ref().map(|s| s.base.clone()).unwrap_or_default();
    twin.enroll(&twin_url, &twin_code).await?;
    chaos.start_kiosk().await?;
    twin.start_kiosk().await?;

    let mut world = World {
        clock,
        chaos,
        twin,
        relay,
        roster,
        schedule,
        ledger: Ledger::default(),
        twin_ledger: Ledger::default(),
        injected: BTreeMap::new(),
        problems: Vec::new(),
        server_starts: 0,
        started,
        first,
    };
    for step in &plan.steps {
        for _ in 0..step.taps_before {
            world.tap_both().await?;
        }
        if !matches!(step.fault, Fault::KioskKill(KioskKillPoint::InTap { .. })) {
            world.log(step, "");
        }
        let fired = world
            .inject(step)
            .await
            .with_context(|| format!("fault #{} ({})", step.index, step.fault.kind()))?;
        if fired {
            *world.injected.entry(step.fault.kind()).or_default() += 1;
        }
    }

    // A request still held back is delivered now, then everything must arrive.
    world.relay.deliver_stale().await;
    world.settle().await?;
    let mut pending = Vec::new();
    for pair in [&mut world.chaos, &mut world.twin] {
        let kiosk = pair.kiosk.take().context("a kiosk stopped early")?;
        let seen = kiosk.stop().await?;
        if seen.pending > 0 || seen.halted.is_some() {
            pending.push(format!(
                "{}: {} pending, halted: {:?}",
                pair.name, seen.pending, seen.halted
            ));
        }
    }
    let last = world.clock.now() + TimeDelta::days(1);
    let (stored, spans) = world.chaos.read_back(first, last).await?;
    let (twin_stored, twin_spans) = world.twin.read_back(first, last).await?;
    world.chaos.kill_server().await?;
    world.twin.kill_server().await?;

    let verdict = compare::compare(&world.ledger.seen, &stored, &spans, &twin_spans);
    let twin_verdict = compare::compare(&world.twin_ledger.seen, &twin_stored, &[], &[]);
    report(plan, &world, &verdict, started);
    for problem in world.problems.iter().chain(&pending) {
        println!("  problem: {problem}");
    }
    let injected: usize = world.injected.values().sum();
    if !verdict.passed() || !twin_verdict.passed() {
        for (what, list) in [
            ("lost", &verdict.lost),
            ("duplicated", &verdict.duplicated),
            ("altered", &verdict.altered),
            ("unexplained", &verdict.unexplained),
            ("interval", &verdict.interval_differences),
            ("twin lost", &twin_verdict.lost),
            ("twin unexplained", &twin_verdict.unexplained),
        ] {
            for item in list {
                println!("  {what}: {item}");
            }
        }
        bail!("the server does not hold exactly what the kiosk confirmed");
    }
    if !world.problems.is_empty() || !pending.is_empty() {
        bail!("the run did not go as planned (see the problems above)");
    }
    if injected != plan.steps.len() {
        bail!("{injected} of {} planned faults were injected", plan.steps.len());
    }
    Ok(())
}

fn report(plan: &Plan, world: &World, verdict: &compare::Verdict, started: Instant) {
    println!("{:<20} {:>8} {:>8}", "kind", "planned", "injected");
    for kind in plan::KINDS {
        let injected = world.injected.get(&kind).copied().unwrap_or(0);
        println!("{:<20} {:>8} {:>8}", kind.to_string(), plan.count(kind), injected);
    }
    println!(
        "taps: {} at the faulty kiosk (with {} taps again after a kill), {} at the twin; \
         replay time {} days; server starts: {}",
        world.ledger.taps,
        world.ledger.taps.saturating_sub(world.twin_ledger.taps),
        world.twin_ledger.taps,
        (world.clock.now() - world.first).num_days(),
        world.server_starts + 1,
    );
    println!(
        "confirmed: {}, on the server: {}, stored but not confirmed: {}, in doubt: {}",
        verdict.confirmed,
        verdict.on_server,
        verdict.stored_unconfirmed,
        world.ledger.seen.in_doubt.len()
    );
    println!(
        "altered: {}, unexplained: {}, interval differences: {}",
        verdict.altered.len(),
        verdict.unexplained.len(),
        verdict.interval_differences.len()
    );
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    println!(
        "faults injected: {}, lost: {}, duplicated: {}",
        world.injected.values().sum::<usize>(),
        verdict.lost.len(),
        verdict.duplicated.len()
    );
}
