//! The run itself: set up, replay, read back, report.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::json;

use mtime_core::ids::{EmployeeId, KioskId};
use mtime_server::api::employees::EmployeeView;
use mtime_server::api::kiosks::EnrollmentCodeView;
use mtime_server::api::org::OrgUnitView;
use mtime_server::api::page::Page;
use mtime_server::api::timesheet::{EventView, IntervalView};
use mtime_server::api::weeks::WeekRow;

use mtime_harness::api::Api;
use mtime_harness::processes::{self, Kiosk};
use mtime_harness::replay_clock::{self, ClockDriver};
use mtime_harness::server::{self, Server};

use crate::Args;
use crate::export::{Export, Source};
use crate::matching::{ReadBack, match_pairs};
use crate::plan::{self, CUT_KIOSK, ROTATED_KIOSK, Step, UNSET_KIOSK};
use crate::relay::Relay;
use crate::secrets::Secrets;
use crate::tls;
use crate::weeks::match_weeks;

/// How far the replay clock moves between looks at the kiosks when nothing happens.
const STEP: TimeDelta = TimeDelta::seconds(120);
/// Intervals per page when reading back, small enough that paging is exercised.
const PAGE: usize = 10;
/// The kiosks' labels.
const LABELS: [&str; 2] = ["A", "B"];
/// The employment terms every employee of the export works under.
const TERMS: &str = "FT40";

struct World {
    clock: ClockDriver,
    kiosks: Vec<Kiosk>,
}

impl World {
    /// Moves the replay clock to `to` in steps, letting the kiosks' sync loops see time
    /// pass (backoff, heartbeats) on the way.
    async fn advance(&mut self, to: DateTime<Utc>) -> anyhow::Result<()> {
        while self.clock.now() + STEP < to {
            let next = self.clock.now() + STEP;
            self.clock.set(next)?;
            tokio::time::sleep(Duration::from_millis(1)).await;
            self.kiosks.iter_mut().for_each(Kiosk::drain);
        }
        self.clock.set(to)
    }
}

/// What happened during the outage.
#[derive(Default)]
struct Outage {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    buffered: Vec<(String, DateTime<Utc>, u64)>,
    visible_during: Option<usize>,
    other_kiosk_visible: usize,
    failed_before_restore: u64,
}

/// The command that runs a kiosk node, logging to `kiosk-<log>.log`.
fn kiosk_command(
    root: &std::path::Path,
    clock_file: &std::path::Path,
    label: &str,
    log: &str,
) -> anyhow::Result<tokio::process::Command> {
    let data = root.join(format!("kiosk-{label}"));
    let mut run = processes::role("kiosk", clock_file, &root.join(format!("kiosk-{log}.log")))?;
    run.args(["run", "--script", "-", "--linger-secs", "0", "--data-dir"]).arg(&data);
    Ok(run)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let zone: Tz = mtime_core::zone::parse_zone(&args.zone)?;
    let export = Export::load(args.data.as_deref(), zone)?;
    let plan = plan::plan(&export, zone)?;

    let dir = tempfile::Builder::new().prefix("mtime-demo-").tempdir()?;
    let root = dir.path().to_owned();
    let clock_file = root.join("replay-clock");
    let mut world =
        World { clock: ClockDriver::create(&clock_file, plan.start)?, kiosks: Vec::new() };
    let (cert, key) = tls::loopback_certificate(&root)?;

    // The server: initialise, then serve on a free loopback port.
    let server_dir = root.join("server");
    let api_key = server::init(&clock_file, &server_dir, &root.join("server-init.log")).await?;
    let mut secrets = Secrets::default();
    secrets.add("the admin API key", &api_key);
    secrets.add_file("the server's private key", &server_dir.join("server.key"))?;
    for e in &export.employees {
        secrets.add_badge(&e.badge);
    }

    let tls = Some((&cert, &key));
    let log = root.join("server.log");
    let server = Server::serve(&clock_file, &server_dir, "127.0.0.1:0", tls, &log).await?;
    let (base, server_addr) = (server.base.clone(), server.addr);
    let api = Api::new(&base, Some(&cert), &api_key)?;

    // The site, its reason, its employees and its kiosks.
    let site: OrgUnitView =
        api.post("/api/org-units", &json!({"name": "Dept 01", "time_zone": zone.name()})).await?;
    let _: serde_json::Value = api
        .post("/api/settings/reasons", &json!({"code": "WORK", "name": "Work", "default": true}))
        .await?;
    // The clock's terms: 40 hours a week, weeks from Monday, whole minutes (its punches
    // have minute precision; the replay spreads a minute's taps over its seconds).
    let terms = json!({"code": TERMS, "name": "Full time, 40 hours",
        "weekly_overtime": {"weekly_norm_minutes": 2400, "week_start": "monday",
            "punch_rounding_minutes": 1}});
    let _: serde_json::Value = api.post("/api/settings/employment-terms", &terms).await?;
    let mut employees: HashMap<String, EmployeeId> = HashMap::new();
    for e in &export.employees {
        let body = json!({"number": e.number, "name": e.number, "org_unit_id": site.id,
            "badges": [e.badge.to_string()], "employment_terms": TERMS});
        let created: EmployeeView = api.post("/api/employees", &body).await?;
        employees.insert(e.number.clone(), created.id);
    }

    let relay = Relay::start(server_addr).await?;
    let mut kiosk_ids: Vec<KioskId> = Vec::new();
    for (i, label) in LABELS.iter().enumerate() {
        let created: EnrollmentCodeView = api
            .post("/api/kiosks", &json!({"name": format!("Kiosk {label}"), "org_unit_id": site.id}))
            .await?;
        kiosk_ids.push(created.kiosk.id);
        // Kiosk B reaches the server through the relay the demo can cut.
        let url = if i == CUT_KIOSK { format!("https://{}", relay.addr()) } else { base.clone() };
        let data = root.join(format!("kiosk-{label}"));
        let log = root.join(format!("kiosk-{label}-enroll.log"));
        let code = &created.enrollment_code;
        processes::enroll(&clock_file, &data, &url, code, Some(&cert), &log).await?;
        secrets.add_file(&format!("kiosk {label}'s private key"), &data.join("kiosk.key"))?;

        let run = kiosk_command(&root, &clock_file, label, label)?;
        world.kiosks.push(Kiosk::start(label, run).await?);
    }

    // The replay.
    let mut outage = Outage::default();
    let mut taps_per_kiosk = [0usize; 2];
    let mut notes: HashMap<(String, NaiveDateTime), Option<String>> = HashMap::new();
    let mut not_recorded = Vec::new();
    let mut rotation_asked = None;
    let mut earlier_boots = Vec::new();
    let mut unset: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (at, step) in &plan.steps {
        world.advance(*at).await?;
        match *step {
            Step::Tap { index, kiosk } => {
                let tap = &export.taps[index];
                let answer =
                    world.kiosks[kiosk].tap(&tap.badge.to_string(), tap.direction.as_str()).await?;
                taps_per_kiosk[kiosk] += 1;
                if answer.kind != "recorded" {
                    not_recorded
                        .push(format!("taps.csv row {}: kiosk answered {}", tap.row, answer.kind));
                }
                if kiosk == CUT_KIOSK && outage.from.is_some() && outage.to.is_none() {
                    outage.buffered.push((
                        tap.employee.clone(),
                        *at,
                        answer.number("seq").unwrap_or(0),
                    ));
                }
            }
            Step::Correction { index } => {
                let tap = &export.taps[index];
                debug_assert_eq!(tap.source, Source::AdminEdit);
                let id = employees[&tap.employee];
                let body = json!({"direction": tap.direction, "at": tap.minute.to_rfc3339(), "note": tap.note});
                let _: serde_json::Value =
                    api.post(&format!("/api/employees/{id}/timesheet/corrections"), &body).await?;
                notes.insert((tap.employee.clone(), tap.local), tap.note.clone());
            }
            Step::CutNetwork => {
                relay.close();
                outage.from = Some(*at);
            }
            Step::CheckDuringOutage => {
                let (visible, others) =
                    check_outage(&api, &employees, &outage, kiosk_ids[CUT_KIOSK], *at).await?;
                outage.visible_during = Some(visible);
                outage.other_kiosk_visible = others;
            }
            Step::RotateKey => {
                let id = kiosk_ids[ROTATED_KIOSK];
                let _: serde_json::Value =
                    api.post(&format!("/api/kiosks/{id}/rotate-key"), &json!({})).await?;
                rotation_asked = Some(*at);
            }
            Step::RebootWithoutClock { until } => {
                // The old boot's counts carry over; the new boot counts its own.
                let label = LABELS[UNSET_KIOSK];
                let old = world.kiosks.remove(UNSET_KIOSK);
                earlier_boots.push(old.stop().await?);
                let log = format!("{label}-1970");
                let mut run = kiosk_command(&root, &clock_file, label, &log)?;
                run.env(replay_clock::UNSET_UNTIL_ENV, until.timestamp_micros().to_string());
                world.kiosks.insert(UNSET_KIOSK, Kiosk::start(label, run).await?);
                unset = Some((*at, until));
            }
            Step::RestoreNetwork => {
                world.kiosks.iter_mut().for_each(Kiosk::drain);
                outage.failed_before_restore = world.kiosks[CUT_KIOSK].sync.failed_attempts;
                relay.open();
                outage.to = Some(*at);
            }
        }
    }

    // Let both kiosks catch up, on replay time, for at most two replay days.
    let deadline = world.clock.now() + TimeDelta::days(2);
    while world.kiosks.iter().any(|k| k.sync.pending > 0 && k.sync.halted.is_none()) {
        if world.clock.now() >= deadline {
            bail!("kiosks still hold unsynced events two replay days after the last tap");
        }
        let next = world.clock.now() + TimeDelta::seconds(30);
        world.advance(next).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
        world.kiosks.iter_mut().for_each(Kiosk::drain);
    }
    let mut seen = Vec::new();
    for kiosk in world.kiosks.drain(..) {
        seen.push(kiosk.stop().await?);
    }
    // Kiosk A's key after its rotation is a secret too.
    let rotated_key = root.join(format!("kiosk-{}", LABELS[ROTATED_KIOSK])).join("kiosk.key");
    secrets.add_file("kiosk A's rotated private key", &rotated_key)?;
    for earlier in &earlier_boots {
        let last = &mut seen[UNSET_KIOSK];
        last.batches += earlier.batches;
        last.failed_attempts += earlier.failed_attempts;
        last.key_rotations += earlier.key_rotations;
    }

    // Read every interval back through the public API.
    let first = export.taps.iter().map(|t| t.minute).min().unwrap_or_default() - TimeDelta::days(1);
    let last = export.taps.iter().map(|t| t.minute).max().unwrap_or_default() + TimeDelta::days(1);
    let mut read = Vec::new();
    let mut pages = 0;
    let mut numbers: Vec<&String> = employees.keys().collect();
    numbers.sort();
    for number in numbers {
        let id = employees[number];
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![
                ("from", first.to_rfc3339()),
                ("to", last.to_rfc3339()),
                ("limit", PAGE.to_string()),
            ];
            query.extend(cursor.take().map(|c| ("cursor", c)));
            let page: Page<IntervalView> =
                api.get(&format!("/api/employees/{id}/timesheet/presence"), &query).await?;
            pages += 1;
            read.extend(
                page.items
                    .into_iter()
                    .map(|interval| ReadBack { number: number.clone(), interval }),
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    // The taps kiosk A made with its clock at 1970, as the audit trail shows them.
    let mut dated_1970 = Vec::new();
    for id in employees.values() {
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("from", first.to_rfc3339()), ("to", last.to_rfc3339())];
            query.extend(cursor.take().map(|c| ("cursor", c)));
            let page: Page<EventView> =
                api.get(&format!("/api/employees/{id}/timesheet/events"), &query).await?;
            dated_1970.extend(
                page.items
                    .into_iter()
                    .filter(|e| e.kiosk_wall.is_some_and(|w| w.year() < 2000))
                    .map(|e| e.punch.at.with_timezone(&Utc)),
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let mut held_ever = 0;
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("limit", "1000".to_owned())];
        query.extend(after.take().map(|a| ("after", a)));
        let page: Page<serde_json::Value> = api.get("/api/events", &query).await?;
        held_ever += page.items.iter().filter(|e| e["kind"] == "presence.quarantined").count();
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let still_held: Page<serde_json::Value> = api.get("/api/reports/quarantine", &[]).await?;

    // Regular and overtime per employee and week, through the public API.
    let (first_day, last_day) = (
        export.taps.iter().map(|t| t.local.date()).min().unwrap_or_default(),
        export.taps.iter().map(|t| t.local.date()).max().unwrap_or_default(),
    );
    let mut week_rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![
            ("from", first_day.to_string()),
            ("to", last_day.to_string()),
            ("limit", PAGE.to_string()),
        ];
        query.extend(cursor.take().map(|c| ("cursor", c)));
        let page: Page<WeekRow> = api.get("/api/reports/weekly-overtime", &query).await?;
        week_rows.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let weeks = match_weeks(&week_rows, &export.expected);

    let rotated: serde_json::Value =
        api.get(&format!("/api/kiosks/{}", kiosk_ids[ROTATED_KIOSK]), &[]).await?;
    let rotated_at = rotated["key_rotated_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    server.kill().await?;
    let (log_files, leaked) = secrets.found_in_logs(&root)?;

    let result = match_pairs(&read, &export.expected, &notes, zone);
    let flagged: Vec<&ReadBack> = read.iter().filter(|r| !r.interval.flags.is_empty()).collect();
    let corrected = read.iter().filter(|r| !r.interval.corrections.is_empty()).count();
    let punches = export.taps.len();
    let kiosk_taps: usize = taps_per_kiosk.iter().sum();

    println!(
        "mtime demo on {} employees and {punches} punches, site zone {}",
        export.employees.len(),
        zone.name()
    );
    println!(
        "taps: {kiosk_taps} at 2 kiosks (A {}, B {}), {} admin corrections through the API",
        taps_per_kiosk[0],
        taps_per_kiosk[1],
        punches - kiosk_taps
    );
    println!(
        "batches: {} (A {}, B {}); failed upload attempts: {}",
        seen.iter().map(|s| s.batches).sum::<u64>(),
        seen[0].batches,
        seen[1].batches,
        seen.iter().map(|s| s.failed_attempts).sum::<u64>()
    );
    let buffered = outage.buffered.len();
    let delivered =
        outage.buffered.iter().filter(|(_, _, seq)| *seq <= seen[CUT_KIOSK].synced_through).count();
    println!(
        "outage: kiosk B cut off {} → {} (whole {}), {} failed upload attempts, {buffered} taps buffered; \
         API read during the outage showed {} of them ({} intervals from kiosk A visible); {delivered} of {buffered} delivered after",
        outage
            .from
            .map(|t| t.with_timezone(&zone).format("%a %Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        outage
            .to
            .map(|t| t.with_timezone(&zone).format("%a %Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        plan.outage_day.format("%A %Y-%m-%d"),
        outage.failed_before_restore,
        outage.visible_during.unwrap_or(usize::MAX),
        outage.other_kiosk_visible,
    );
    let mut flag_counts: HashMap<String, usize> = HashMap::new();
    for r in &flagged {
        for f in &r.interval.flags {
            *flag_counts.entry(format!("{f:?}")).or_default() += 1;
        }
    }
    println!(
        "intervals read back: {} in {pages} pages; flagged: {} {:?}; corrected: {corrected} ({} of {} with author and note as entered)",
        read.len(),
        flagged.len(),
        flag_counts,
        result.corrections_ok,
        result.corrections_expected
    );
    for extra in &result.extra {
        println!("  extra interval: {extra}");
    }
    for missing in &result.missing {
        println!("  missing pair: {missing}");
    }
    for problem in result.correction_problems.iter().chain(&not_recorded) {
        println!("  problem: {problem}");
    }
    let local = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.with_timezone(&zone).format("%a %H:%M:%S").to_string()).unwrap_or_default()
    };
    println!(
        "key rotation: kiosk {} asked {}, switched {}, {} rotation(s) reported by the kiosk",
        LABELS[ROTATED_KIOSK],
        local(rotation_asked),
        local(rotated_at),
        seen[ROTATED_KIOSK].key_rotations
    );
    if let Some((rebooted, set)) = unset {
        let inside = dated_1970.iter().filter(|at| **at >= rebooted && **at < set).count();
        println!(
            "clock at 1970: kiosk {} rebooted {} with its clock unset until {}; {} taps read \
             1970 and were dated by its monotonic clock ({inside} within that morning); \
             {held_ever} held until a round trip dated them; {} held now",
            LABELS[UNSET_KIOSK],
            local(Some(rebooted)),
            local(Some(set)),
            dated_1970.len(),
            still_held.items.len()
        );
    }
    for leak in &leaked {
        println!("  secret in a log: {leak}");
    }
    println!(
        "secrets in logs: {} ({} secrets and badge spellings searched in {log_files} log files)",
        if leaked.is_empty() { "none".to_owned() } else { leaked.len().to_string() },
        secrets.len()
    );
    println!("extra intervals: {}", result.extra.len());
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    println!("intervals matched: {}/{}", result.matched, result.expected);
    for excused in &weeks.excused {
        println!("  excused week: {excused}");
    }
    for problem in &weeks.problems {
        println!("  week problem: {problem}");
    }
    println!("weeks matched: {}/{}", weeks.matched, weeks.expected);
    println!("weeks excused: {}", weeks.excused.len());

    if args.keep {
        let kept = dir.keep();
        println!("run directory kept: {}", kept.display());
    }

    let outage_ok = outage.visible_during == Some(0)
        && buffered > 0
        && delivered == buffered
        && outage.failed_before_restore > 0;
    let halted: Vec<&String> = seen.iter().filter_map(|s| s.halted.as_ref()).collect();
    if result.matched != result.expected || !result.extra.is_empty() {
        bail!("the intervals read back do not match the export");
    }
    if !result.correction_problems.is_empty() || !not_recorded.is_empty() {
        bail!("corrections or taps were not recorded as entered");
    }
    if !outage_ok {
        bail!(
            "the outage did not behave: buffered taps must stay invisible until the network returns, then all arrive"
        );
    }
    if weeks.matched + weeks.excused.len() != weeks.expected || !weeks.problems.is_empty() {
        bail!("weekly regular and overtime minutes do not match the clock's");
    }
    if !leaked.is_empty() {
        bail!("a secret or a badge UID reached a log");
    }
    let unset_ok = unset.is_none_or(|(rebooted, set)| {
        !dated_1970.is_empty()
            && dated_1970.iter().all(|at| *at >= rebooted && *at < set)
            && still_held.items.is_empty()
    });
    if !unset_ok {
        bail!("the taps of the kiosk without a clock were not all dated within its morning");
    }
    if rotated_at.is_none() || seen[ROTATED_KIOSK].key_rotations != 1 {
        bail!("kiosk {} did not replace its key when asked", LABELS[ROTATED_KIOSK]);
    }
    if !halted.is_empty() || seen.iter().any(|s| s.pending > 0) {
        bail!("a kiosk stopped with unsynced events: {halted:?}");
    }
    Ok(())
}

/// Reads the API during the outage: how many of the taps buffered at the cut-off kiosk
/// appear (none should), and how many intervals from elsewhere are visible that day.
async fn check_outage(
    api: &Api,
    employees: &HashMap<String, EmployeeId>,
    outage: &Outage,
    cut_kiosk: KioskId,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    let Some(from) = outage.from else { bail!("outage check before the outage") };
    let buffered: HashSet<(String, DateTime<Utc>)> =
        outage.buffered.iter().map(|(e, at, _)| (e.clone(), *at)).collect();
    let mut visible = 0;
    let mut others = 0;
    for number in buffered.iter().map(|(e, _)| e).collect::<HashSet<_>>() {
        let query =
            [("from", from.to_rfc3339()), ("to", now.to_rfc3339()), ("limit", "1000".to_owned())];
        let id = employees[number];
        let page: Page<IntervalView> =
            api.get(&format!("/api/employees/{id}/timesheet/presence"), &query).await?;
        for interval in &page.items {
            for punch in interval.start_punch.iter().chain(&interval.end_punch) {
                let at = punch.at.with_timezone(&Utc);
                if punch.kiosk_id == Some(cut_kiosk) && buffered.contains(&(number.clone(), at)) {
                    visible += 1;
                } else if punch.kiosk_id.is_some() && punch.kiosk_id != Some(cut_kiosk) {
                    others += 1;
                }
            }
        }
    }
    Ok((visible, others))
}
