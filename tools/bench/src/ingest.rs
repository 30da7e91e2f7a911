//! Workload 3: the server ingests signed batches over loopback HTTP from many simulated
//! kiosks at once, beside its ceiling: the same events stored straight into the same
//! store with `Store::store_batch`, one transaction per batch of the same size, without
//! HTTP and signatures. The two take turns in one run.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;

use mtime_core::batch::{RECEIPT, Receipt, SealedBatch};
use mtime_core::protocol::KioskConfig;
use mtime_core::seal;
use mtime_server::model::EventRecord;
use mtime_server::store::BatchOutcome;
use mtime_server::watch;
use mtime_sync::client::{Client, UploadReply};

use crate::chart::{Chart, Series};
use crate::config::Config;
use crate::events::{Chain, Workforce, records};
use crate::report::Section;
use crate::server::{Admin, LocalServer};
use crate::stats::Samples;

/// Events per second the issue asks for with batches of 500.
const GOAL_EVENTS_PER_SEC: f64 = 100_000.0;

/// A simulated kiosk: its chain of batches and its own HTTP client, as a device has.
struct SimKiosk {
    chain: Chain,
    client: Client,
}

/// What one measurement gave.
#[derive(Debug, Clone, Default)]
struct Run {
    events_per_sec: Samples,
    latency_ms: Samples,
}

/// One cell of the grid: HTTP beside the ceiling.
struct Cell {
    kiosks: usize,
    batch: usize,
    http: Run,
    direct: Run,
}

/// The batches each kiosk sends in one run: enough for the configured events, at least one
/// each.
fn rounds(config: &Config, kiosks: usize, batch: usize) -> usize {
    let by_events = config.ingest_events / (kiosks * batch).max(1);
    let by_requests = config.ingest_max_requests / kiosks.max(1);
    by_events.min(by_requests).max(1)
}

/// Seals `rounds` batches per kiosk, each of taps by its regulars, untimed.
fn prepare(
    kiosks: &mut [SimKiosk],
    people: &Workforce,
    rounds: usize,
    batch: usize,
) -> anyhow::Result<Vec<Vec<SealedBatch>>> {
    let doors = kiosks.len();
    let mut sealed = Vec::with_capacity(doors);
    for (door, kiosk) in kiosks.iter_mut().enumerate() {
        let regulars = people.regulars(door, doors);
        sealed.push(
            (0..rounds).map(|_| kiosk.chain.next(&regulars, batch)).collect::<Result<_, _>>()?,
        );
    }
    Ok(sealed)
}

/// Sends every kiosk's batches concurrently over HTTP; returns events per second and the
/// latency of each request.
async fn over_http(kiosks: &[SimKiosk], batches: Vec<Vec<SealedBatch>>) -> anyhow::Result<Run> {
    let events: usize = batches.iter().flatten().map(|b| b.batch.events.len()).sum();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (kiosk, batches) in kiosks.iter().zip(batches) {
        let client = kiosk.client.clone();
        let id = kiosk.chain.kiosk;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(batches.len());
            for batch in batches {
                let sent = Instant::now();
                match client.upload(id, batch.bytes).await? {
                    UploadReply::Receipt(_) => latencies.push(sent.elapsed()),
                    other => anyhow::bail!("kiosk {id}: batch refused: {other:?}"),
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        for latency in task.await.context("a kiosk task failed")?? {
            run.latency_ms.push_ms(latency);
        }
    }
    run.events_per_sec.push(events as f64 / started.elapsed().as_secs_f64());
    Ok(run)
}

/// Stores the same kind of batches straight into the store, one transaction each.
fn direct(server: &LocalServer, batches: Vec<Vec<SealedBatch>>) -> anyhow::Result<Run> {
    let now = Utc::now();
    // Records and receipts are made before the clock starts: only storing is timed.
    let mut prepared: Vec<(SealedBatch, Vec<EventRecord>, Vec<u8>)> = Vec::new();
    let rounds = batches.iter().map(Vec::len).max().unwrap_or(0);
    let mut per_kiosk: Vec<_> = batches.into_iter().map(Vec::into_iter).collect();
    for _ in 0..rounds {
        for kiosk in per_kiosk.iter_mut() {
            if let Some(batch) = kiosk.next() {
                let receipt = Receipt {
                    kiosk: batch.batch.kiosk,
                    batch: batch.hash,
                    first_seq: batch.batch.first_seq(),
                    last_seq: batch.batch.last_seq(),
                    stored_through: batch.batch.last_seq(),
                    stored_at: now,
                };
                let receipt = seal::seal(RECEIPT, &receipt, &server.state.key)?;
                let events = records(&batch, now);
                prepared.push((batch, events, receipt));
            }
        }
    }
    let events: usize = prepared.iter().map(|p| p.1.len()).sum();
    let store = server.state.store.as_ref();
    let mut run = Run::default();
    let started = Instant::now();
    for (batch, events, receipt) in &prepared {
        let sent = Instant::now();
        match store.store_batch(batch, events, receipt)? {
            BatchOutcome::Stored { .. } => run.latency_ms.push_ms(sent.elapsed()),
            other => anyhow::bail!("batch not stored: {other:?}"),
        }
    }
    run.events_per_sec.push(events as f64 / started.elapsed().as_secs_f64());
    Ok(run)
}

/// A workforce of 1,000 and `count` kiosks enrolled with the server.
async fn enrol(server: &LocalServer, count: usize) -> anyhow::Result<(Workforce, Vec<SimKiosk>)> {
    let admin = Admin::new(&server.base, &server.admin_key)?;
    let site = admin.site().await?;
    let people = admin.workforce(site, 1_000).await?;
    let mut kiosks = Vec::with_capacity(count);
    for i in 0..count {
        let enrolled = admin.kiosk(site, &format!("Door {i}"), &KioskConfig::default()).await?;
        kiosks.push(SimKiosk {
            chain: Chain::new(enrolled.id, enrolled.key),
            client: Client::new(&server.base, None)?,
        });
    }
    Ok((people, kiosks))
}

/// The interval watcher alone, on the calling thread: rounds of batches of 500 from 100
/// kiosks stored while no watcher runs, and after each its passes timed as it catches up on
/// the round. Its events/s over the time of its passes, and the time of each pass.
fn watcher_alone(
    config: &Config,
    dir: &std::path::Path,
    clients: &tokio::runtime::Runtime,
) -> anyhow::Result<Run> {
    let server = LocalServer::start_unwatched(dir, 2)?;
    let (people, mut kiosks) = clients.block_on(enrol(&server, 100))?;
    let rounds = config.watcher_events.div_ceil(100 * 500);
    let mut run = Run::default();
    let mut watching = Duration::ZERO;
    for _ in 0..rounds {
        direct(&server, prepare(&mut kiosks, &people, 1, 500)?)?;
        // The watcher catches up on each round, as a serving one trails ingest by a second.
        loop {
            let pass = Instant::now();
            let (more, _) = watch::intervals::step(&server.state)?;
            run.latency_ms.push_ms(pass.elapsed());
            watching += pass.elapsed();
            if !more {
                break;
            }
        }
    }
    run.events_per_sec.push((rounds * 100 * 500) as f64 / watching.as_secs_f64());
    Ok(run)
}

fn merge(into: &mut Run, from: &Run) {
    into.events_per_sec.extend(&from.events_per_sec);
    into.latency_ms.extend(&from.latency_ms);
}

/// Runs workload 3 in `dir`.
pub fn run(config: &Config, dir: &std::path::Path) -> anyhow::Result<Section> {
    let server = LocalServer::start(dir, 2)?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kiosks")
        .enable_all()
        .build()?;
    let most =
        config.ingest_kiosks.iter().copied().max().unwrap_or(1).max(config.ingest_kiosks_fixed);
    let (people, mut kiosks) = clients.block_on(enrol(&server, most))?;

    let mut section = Section::new(
        "3. Server ingest of signed batches",
        &[
            "kiosks",
            "events/batch",
            "path",
            "events/s median (min–max)",
            "request p50 ms",
            "request p99 ms",
            "HTTP vs ceiling",
        ],
    );
    section.note(
        "Each simulated kiosk has its own HTTP client and sends its sealed batches one after \
         another; all kiosks send at once. The workforce of 1,000 is split among the kiosks, \
         each employee tapping at one, so that each employee's punches arrive in time order \
         as at a site. The server runs in this process on 2 worker threads \
         with its watchers, as `mtime-server serve` does (plain HTTP on loopback, no request \
         log subscriber); the kiosks run on 2 other threads, so both share the machine's 2 \
         cores. The ceiling stores the same kind of batches straight into the same store \
         (`Store::store_batch`, one transaction per batch) from one thread: no HTTP, no \
         signature checks. The two alternate, and every run continues the kiosks' chains, \
         so the store keeps growing through the workload.",
    );

    let mut cells = Vec::new();
    let mut grid: Vec<(usize, usize)> =
        config.ingest_batches.iter().map(|&b| (config.ingest_kiosks_fixed, b)).collect();
    for &k in &config.ingest_kiosks {
        if !grid.contains(&(k, config.ingest_batch_fixed)) {
            grid.push((k, config.ingest_batch_fixed));
        }
    }
    for (count, batch) in grid {
        let rounds = rounds(config, count, batch);
        let mut cell = Cell { kiosks: count, batch, http: Run::default(), direct: Run::default() };
        for repeat in 0..config.ingest_repeats {
            let http_first = repeat % 2 == 0;
            for http in [http_first, !http_first] {
                let batches = prepare(&mut kiosks[..count], &people, rounds, batch)?;
                if http {
                    let run = clients.block_on(over_http(&kiosks[..count], batches))?;
                    merge(&mut cell.http, &run);
                } else {
                    let run = direct(&server, batches)?;
                    merge(&mut cell.direct, &run);
                }
            }
            // Let the interval watcher catch up between repeats, as an idle minute would.
            std::thread::sleep(Duration::from_millis(200));
        }
        let (h, d) = (cell.http.events_per_sec.summary(), cell.direct.events_per_sec.summary());
        for (path, run) in [("HTTP", &cell.http), ("ceiling", &cell.direct)] {
            let rate = run.events_per_sec.summary();
            let latency = run.latency_ms.summary();
            section.row(vec![
                count.to_string(),
                batch.to_string(),
                path.to_owned(),
                format!("{:.0} ({:.0}–{:.0})", rate.median, rate.min, rate.max),
                format!("{:.2}", latency.median),
                format!("{:.2}", latency.p99),
                if path == "HTTP" {
                    format!("{:.0}%", 100.0 * h.median / d.median)
                } else {
                    "".into()
                },
            ]);
        }
        cells.push(cell);
    }

    let goal_cell = cells
        .iter()
        .find(|c| c.batch == 500 && c.kiosks == config.ingest_kiosks_fixed)
        .or_else(|| cells.iter().max_by_key(|c| c.batch));
    if let Some(cell) = goal_cell {
        let (h, d) = (cell.http.events_per_sec.summary(), cell.direct.events_per_sec.summary());
        section.goal(
            "ingest ≥ 100,000 events/s with batches of 500 (2 cores)",
            format!("{:.0} events/s ({} kiosks, batches of {})", h.median, cell.kiosks, cell.batch),
            h.median >= GOAL_EVENTS_PER_SEC,
        );
        section.goal(
            "ingest over HTTP ≥ 50% of the direct-store ceiling",
            format!(
                "{:.0}% ({:.0} vs {:.0} events/s)",
                100.0 * h.median / d.median,
                h.median,
                d.median
            ),
            h.median >= 0.5 * d.median,
        );
    }

    let curve = |pick: &dyn Fn(&Cell) -> bool, x: &dyn Fn(&Cell) -> f64, http: bool, p99: bool| {
        cells
            .iter()
            .filter(|c| pick(c))
            .map(|c| {
                let run = if http { &c.http } else { &c.direct };
                let y = if p99 {
                    run.latency_ms.summary().p99
                } else {
                    run.events_per_sec.summary().median
                };
                (x(c), y)
            })
            .collect::<Vec<_>>()
    };
    let fixed_k = config.ingest_kiosks_fixed;
    let fixed_b = config.ingest_batch_fixed;
    let by_batch = |c: &Cell| c.kiosks == fixed_k;
    let by_kiosks = |c: &Cell| c.batch == fixed_b;
    let batch_x = |c: &Cell| c.batch as f64;
    let kiosk_x = |c: &Cell| c.kiosks as f64;
    let batch_xs: Vec<f64> = config.ingest_batches.iter().map(|b| *b as f64).collect();
    section.chart(Chart {
        file: "ingest-batch.svg".into(),
        title: format!("Ingest throughput, {fixed_k} kiosks"),
        x_label: "events per batch".into(),
        y_label: "events/s".into(),
        series: vec![
            Series::measured("mtime over HTTP", curve(&by_batch, &batch_x, true, false)),
            Series::measured("ceiling: store only", curve(&by_batch, &batch_x, false, false)),
            Series::goal("goal 100k/s at 500", GOAL_EVENTS_PER_SEC, &batch_xs),
        ],
    });
    section.chart(Chart {
        file: "ingest-kiosks.svg".into(),
        title: format!("Ingest throughput, batches of {fixed_b}"),
        x_label: "concurrent kiosks".into(),
        y_label: "events/s".into(),
        series: vec![
            Series::measured("mtime over HTTP", curve(&by_kiosks, &kiosk_x, true, false)),
            Series::measured("ceiling: store only", curve(&by_kiosks, &kiosk_x, false, false)),
        ],
    });
    section.chart(Chart {
        file: "ingest-latency.svg".into(),
        title: format!("Batch request p99, {fixed_k} kiosks"),
        x_label: "events per batch".into(),
        y_label: "p99 latency, ms".into(),
        series: vec![
            Series::measured("mtime over HTTP", curve(&by_batch, &batch_x, true, true)),
            Series::measured("ceiling: store_batch call", curve(&by_batch, &batch_x, false, true)),
        ],
    });
    server.ensure_nothing_held()?;
    let kept = &server.state.last_punches;
    let (from_kept, read_back) = (kept.paired_from_kept(), kept.read_back());
    drop(server);

    let alone = watcher_alone(config, &dir.join("watcher"), &clients)?;
    let (rate, pass) = (alone.events_per_sec.summary(), alone.latency_ms.summary());
    section.row(vec![
        "100".into(),
        "500".into(),
        "interval watcher alone".into(),
        format!("{:.0}", rate.median),
        format!("{:.2}", pass.median),
        format!("{:.2}", pass.p99),
        "".into(),
    ]);
    section.note(format!(
        "The last row is the interval watcher alone on one thread: {} events stored in \
         rounds of one batch of 500 from each of 100 kiosks while no watcher ran, and after \
         each round its passes (each up to 20,000 feed entries, one transaction) timed as it \
         catches up on the round; its latency columns are per pass. It runs beside ingest in \
         the rows above and takes its share of the same two cores. Through the rows above, \
         the watcher paired an employee's new punches from the last punch it kept {} times \
         and read an employee's history back {} times.",
        config.watcher_events, from_kept, read_back
    ));
    Ok(section)
}
