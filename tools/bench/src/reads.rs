//! Workload 7: reads through the API over loopback HTTP. A month of intervals for every
//! employee, listed page by page, and the presence-now report, as the workforce grows.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};

use mtime_core::batch::{Batch, BatchHash, RECEIPT, Receipt};
use mtime_core::event::{Direction, DirectionSource, PresenceEvent, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, OrgUnitId};
use mtime_core::protocol::KioskConfig;
use mtime_core::seal;
use mtime_server::model::{EmployeeRecord, EmployeeVersion};
use mtime_server::store::BatchOutcome;

use crate::chart::{Chart, Series};
use crate::config::Config;
use crate::events::{badge, records};
use crate::report::Section;
use crate::server::{Admin, EnrolledKiosk, LocalServer};
use crate::stats::{Samples, Summary};

/// Listing goal, seconds.
const GOAL_LIST_SECS: f64 = 1.0;
/// Presence goal, ms.
const GOAL_PRESENCE_MS: f64 = 50.0;
/// Events per setup batch.
const SETUP_BATCH: usize = 1_000;
/// How often the month is listed per size.
const LIST_REPEATS: usize = 3;

/// The month every employee works in.
fn month() -> (DateTime<Utc>, DateTime<Utc>) {
    let from = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().unwrap_or_default();
    let to = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).single().unwrap_or_default();
    (from, to)
}

/// The instants the presence report is asked for, everyone in at each: now, the last
/// afternoon stored (only that day's check-outs lie after it), and a Monday in the middle
/// of the month (half the month's punches lie after it), with what the row calls them.
fn presence_instants() -> [(&'static str, DateTime<Utc>); 2] {
    let at = |day| Utc.with_ymd_and_hms(2026, 3, day, 18, 0, 0).single().unwrap_or_default();
    [("presence now (ms)", at(31)), ("presence mid-month (ms)", at(16))]
}

/// The workspace as it grows.
struct Workspace {
    server: LocalServer,
    site: OrgUnitId,
    kiosk: EnrolledKiosk,
    next_seq: u64,
    prev: BatchHash,
    employees: usize,
    boot: BootId,
}

impl Workspace {
    /// Adds employees up to `count`, each with a month of weekday intervals, stored
    /// straight into the store (setup, untimed).
    fn grow(&mut self, count: usize) -> anyhow::Result<()> {
        let store = self.server.state.store.clone();
        let now = Utc::now();
        let mut events = Vec::new();
        for i in self.employees..count {
            let id = EmployeeId::random();
            let uid = badge(i as u64);
            store.put_employee(&EmployeeRecord {
                id,
                number: format!("E{i:05}"),
                versions: vec![EmployeeVersion {
                    effective_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
                    name: format!("Employee {i}"),
                    org_unit: self.site,
                    badges: vec![uid],
                    active: true,
                    employment_terms: None,
                    author: "bench".into(),
                    recorded_at: now,
                }],
            })?;
            let jitter = chrono::Duration::seconds((i % 900) as i64);
            let (from, to) = month();
            let mut day = from;
            while day < to {
                if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                    for (hour, direction) in [(14, Direction::In), (22, Direction::Out)] {
                        let at = day + chrono::Duration::hours(hour) + jitter;
                        events.push((id, uid, direction, at));
                    }
                }
                day += chrono::Duration::days(1);
            }
        }
        self.employees = count;
        for chunk in events.chunks(SETUP_BATCH) {
            let events: Vec<PresenceEvent> = chunk
                .iter()
                .enumerate()
                .map(|(n, &(id, uid, direction, wall))| PresenceEvent {
                    id: EventId::time_ordered(),
                    kiosk: self.kiosk.id,
                    seq: self.next_seq + n as u64,
                    subject: Subject::Employee { id, badge: Some(uid) },
                    direction,
                    direction_source: DirectionSource::Explicit,
                    reason: "WORK".parse().unwrap_or_else(|_| unreachable!("a valid code")),
                    time: TimeReading {
                        wall,
                        boot: self.boot,
                        monotonic: Duration::ZERO,
                        wall_trusted: true,
                    },
                    amends: None,
                })
                .collect();
            let sealed =
                Batch { kiosk: self.kiosk.id, prev: self.prev, events }.seal(&self.kiosk.key)?;
            let receipt = Receipt {
                kiosk: self.kiosk.id,
                batch: sealed.hash,
                first_seq: sealed.batch.first_seq(),
                last_seq: sealed.batch.last_seq(),
                stored_through: sealed.batch.last_seq(),
                stored_at: now,
            };
            let receipt = seal::seal(RECEIPT, &receipt, &self.server.state.key)?;
            match store.store_batch(&sealed, &records(&sealed, now), &receipt)? {
                BatchOutcome::Stored { .. } => {}
                other => anyhow::bail!("setup batch not stored: {other:?}"),
            }
            self.next_seq += chunk.len() as u64;
            self.prev = sealed.hash;
        }
        // The interval watcher works through what was stored; reads are timed once it is
        // done and the punch log is merged, as they would be on a server not catching up.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            let cursor = store.interval_watch_cursor()?;
            if store.feed_after(cursor, 1)?.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The watcher merges the punches logged meanwhile at its next quiet look; done here,
        // so that the merge is not timed as part of a read.
        store.merge_punches()?;
        Ok(())
    }
}

/// Lists every page of the month's intervals; returns (seconds, intervals, pages).
async fn list_month(admin: &Admin) -> anyhow::Result<(f64, usize, usize)> {
    let (from, to) = month();
    let base = format!(
        "/api/reports/intervals?from={}&to={}&limit=1000",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let started = Instant::now();
    let (mut intervals, mut pages) = (0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.clone(),
        };
        let page = admin.call("GET", &path, None).await?;
        pages += 1;
        intervals += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    Ok((started.elapsed().as_secs_f64(), intervals, pages))
}

/// Runs workload 7 in `dir`.
pub fn run(config: &Config, dir: &std::path::Path) -> anyhow::Result<Section> {
    let server = LocalServer::start(dir, 2)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("reader")
        .enable_all()
        .build()?;
    let admin = Admin::new(&server.base, &server.admin_key)?;
    // The kiosk exists from the day before the month it records.
    server.set_back_to(Some(month().0 - chrono::TimeDelta::days(1)));
    let (site, kiosk) = runtime.block_on(async {
        let site = admin.site().await?;
        let kiosk = admin.kiosk(site, "Setup", &KioskConfig::default()).await?;
        Ok::<_, anyhow::Error>((site, kiosk))
    })?;
    server.set_back_to(None);
    let mut ws = Workspace {
        server,
        site,
        kiosk,
        next_seq: 1,
        prev: BatchHash::GENESIS,
        employees: 0,
        boot: BootId::random(),
    };

    let mut section = Section::new(
        "7. Reads through the API",
        &["read", "employees", "median (p10–p90)", "p99 / max", "detail"],
    );
    section.note(
        "Every employee works every weekday of March 2026 (one interval a day). The month is \
         listed with `GET /api/reports/intervals` at 1,000 a page, following `next_cursor` to \
         the end; `GET /api/reports/presence?at=` asks who is in on the month's last afternoon \
         (now: only that evening's check-outs lie after it) and on a Monday afternoon in the \
         middle of the month, when everyone is in. Over loopback HTTP with the admin key, one \
         request at a time, timed until the answer is parsed. The first presence request at \
         each size and instant is timed apart (`first` in the detail) and left out of the \
         figures: it decodes the roster and reads the pages a running server holds already.",
    );
    let mut list_points = Vec::new();
    let mut presence_points = [Vec::new(), Vec::new()];
    let mut sizes: Vec<usize> =
        config.read_employees.iter().chain(&config.presence_employees).copied().collect();
    sizes.sort_unstable();
    sizes.dedup();
    for size in sizes {
        ws.grow(size)?;
        if config.read_employees.contains(&size) {
            let mut secs = Samples::new();
            let mut detail = String::new();
            for _ in 0..if config.quick { 1 } else { LIST_REPEATS } {
                let (s, intervals, pages) = runtime.block_on(list_month(&admin))?;
                secs.push(s);
                detail = format!("{intervals} intervals in {pages} pages");
            }
            let s = secs.summary();
            section.row(vec![
                "list a month of intervals, all pages (s)".into(),
                size.to_string(),
                s.spread(3),
                format!("{:.3}", s.max),
                detail,
            ]);
            list_points.push((size as f64, s));
        }
        if config.presence_employees.contains(&size) {
            for (n, (read, at)) in presence_instants().into_iter().enumerate() {
                let at = at.format("%Y-%m-%dT%H:%M:%SZ");
                let path = format!("/api/reports/presence?at={at}");
                let started = Instant::now();
                runtime.block_on(admin.call("GET", &path, None))?;
                let first = started.elapsed().as_secs_f64() * 1e3;
                let mut ms = Samples::new();
                let mut present = 0;
                for _ in 0..config.presence_requests {
                    let started = Instant::now();
                    let report = runtime.block_on(admin.call("GET", &path, None))?;
                    ms.push_ms(started.elapsed());
                    present = report["present"].as_array().context("no present list")?.len();
                }
                anyhow::ensure!(present == size, "{present} of {size} present at {at}");
                let s = ms.summary();
                section.row(vec![
                    read.into(),
                    size.to_string(),
                    s.spread(1),
                    format!("{:.1} / {:.1}", s.p99, s.max),
                    format!(
                        "{present} present at {at}, {} requests; first {first:.1} ms",
                        config.presence_requests
                    ),
                ]);
                presence_points[n].push((size as f64, s));
            }
        }
    }
    if let Some((size, s)) = list_points.last() {
        section.goal(
            "list a month of intervals for 1,000 employees, all pages, < 1 s",
            format!("{:.2} s for {size} employees", s.median),
            s.median < GOAL_LIST_SECS,
        );
    }
    let [now_points, past_points] = presence_points;
    if let Some((size, s)) = now_points.last() {
        section.goal(
            "presence-now over 10,000 employees, p99 < 50 ms",
            format!("{:.1} ms for {size} employees", s.p99),
            s.p99 < GOAL_PRESENCE_MS,
        );
    }
    let xs: Vec<f64> = list_points.iter().map(|p| p.0).collect();
    section.chart(Chart {
        file: "reads-list.svg".into(),
        title: "List a month of intervals, all pages".into(),
        x_label: "employees".into(),
        y_label: "seconds".into(),
        series: vec![
            Series::measured("mtime", list_points.iter().map(|(x, s)| (*x, s.median)).collect()),
            Series::goal("goal 1 s", GOAL_LIST_SECS, &xs),
        ],
    });
    let xs: Vec<f64> = now_points.iter().map(|p| p.0).collect();
    let p99 = |points: &[(f64, Summary)]| points.iter().map(|(x, s)| (*x, s.p99)).collect();
    section.chart(Chart {
        file: "reads-presence.svg".into(),
        title: "Presence report".into(),
        x_label: "employees".into(),
        y_label: "latency, ms".into(),
        series: vec![
            Series::measured("mtime p99, now", p99(&now_points)),
            Series::measured("mtime p99, mid-month", p99(&past_points)),
            Series::goal("goal p99 50 ms", GOAL_PRESENCE_MS, &xs),
        ],
    });
    ws.server.ensure_nothing_held()?;
    Ok(section)
}
