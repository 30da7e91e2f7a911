//! Workload 4: a kiosk that buffered events while offline syncs them all: the real
//! `SyncEngine` over its real outbox, against a real server on loopback, through a relay
//! that counts the bytes on the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

use mtime_core::clock::SystemClock;
use mtime_core::ids::BootId;
use mtime_core::protocol::KioskConfig;
use mtime_sync::client::Client;
use mtime_sync::engine::{SyncEngine, SyncEvent};
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::{Identity, Outbox};

use crate::chart::{Chart, Series};
use crate::config::Config;
use crate::events::Workforce;
use crate::report::Section;
use crate::server::{Admin, LocalServer};

/// The goal: a million events in under this many seconds.
const GOAL_SECS_PER_MILLION: f64 = 30.0;
/// Events written to the outbox per transaction while filling it, untimed.
const FILL_CHUNK: u64 = 20_000;
/// Buffers smaller than this are synced [`SMALL_RUNS`] times, each by a new kiosk, and the
/// median taken: such a sync lasts a tenth of a second, and one run of it moved by half from
/// one suite run to the next, which alone decided whether the cost looked linear.
const SMALL_BELOW: u64 = 20_000;
const SMALL_RUNS: usize = 5;

/// Bytes that went through the relay, each way.
#[derive(Debug, Default)]
pub struct WireCount {
    /// Kiosk to server.
    pub sent: AtomicU64,
    /// Server to kiosk.
    pub received: AtomicU64,
}

/// A loopback relay to `target` that counts bytes; returns its address.
pub async fn relay(target: String, count: Arc<WireCount>) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                if let Ok((up, down)) =
                    tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await
                {
                    count.sent.fetch_add(up, Ordering::Relaxed);
                    count.received.fetch_add(down, Ordering::Relaxed);
                }
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// What one catch-up measured.
pub struct CatchUp {
    /// Events synced.
    pub events: u64,
    /// The most events a batch could carry (the kiosk's `max_batch_events`).
    pub batch: u32,
    /// Wall time until the last receipt.
    pub seconds: f64,
    /// Kiosk-to-server bytes on the wire, HTTP included.
    pub sent: u64,
    /// What the outbox file takes on the disk once filled.
    pub outbox: crate::disk::Usage,
}

/// Syncs `events` buffered events from a new kiosk allowed batches of `batch` events; `run`
/// tells repeated runs' kiosks apart.
async fn one(
    server: &LocalServer,
    admin: &Admin,
    site: mtime_core::ids::OrgUnitId,
    dir: &std::path::Path,
    (events, batch, run): (u64, u32, usize),
    people: &Workforce,
) -> anyhow::Result<CatchUp> {
    let kiosk_dir = dir.join(format!("kiosk-{events}-{batch}-{run}"));
    std::fs::create_dir_all(&kiosk_dir)?;
    let key_file = KeyFile::new(kiosk_dir.join("kiosk.key"));
    let key = key_file.create()?;
    let config = KioskConfig { max_batch_events: batch, ..KioskConfig::default() };
    let name = format!("Offline {events} by {batch}, run {run}");
    let answer = admin.enroll(site, &name, &config, key.public()).await?;
    let count = Arc::new(WireCount::default());
    let url = relay(server.base.trim_start_matches("http://").to_owned(), count.clone()).await?;
    let identity = Identity {
        kiosk: answer.kiosk_id,
        name: answer.kiosk_name,
        server_url: url.clone(),
        server_ca_pem: None,
        server_key: answer.server_public_key,
        site: answer.site,
        config: answer.config,
    };
    let outbox_path = kiosk_dir.join("kiosk.redb");
    let outbox = Arc::new(Outbox::open(&outbox_path)?);
    outbox.save_identity(&identity)?;

    // The buffer fills as taps would, in seq order; only the sync is timed.
    // Taps of an earlier boot, dated from the kiosk's creation on.
    let (boot, base) = (BootId::random(), chrono::Utc::now());
    let mut n = 0;
    while n < events {
        let to = (n + FILL_CHUNK).min(events);
        let drafts = (n..to).map(|i| people.draft(i, boot, base)).collect();
        tokio::task::block_in_place(|| outbox.append_all(identity.kiosk, drafts))?;
        n = to;
    }
    let outbox_usage = crate::disk::usage(&outbox_path)?
        + crate::disk::usage(&mtime_sync::outbox::Outbox::journal_path(&outbox_path))?;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = SyncEngine {
        outbox: outbox.clone(),
        client: Client::new(&url, None)?,
        identity: identity.clone(),
        key: Arc::new(key),
        key_file,
        clock: Arc::new(SystemClock::new()),
        boot: BootId::random(),
        wake: Arc::new(Notify::new()),
        events: tx,
        roster_version: 0,
        roster_wanted: Arc::new(AtomicBool::new(false)),
    };
    let started = Instant::now();
    let task = tokio::spawn(engine.run());
    let deadline = Duration::from_secs(600);
    loop {
        let event = tokio::time::timeout(deadline.saturating_sub(started.elapsed()), rx.recv())
            .await
            .context("catch-up took more than 10 minutes")?
            .context("the sync engine stopped")?;
        match event {
            SyncEvent::Uploaded { pending: 0, .. } => break,
            SyncEvent::Failed { error, .. } => anyhow::bail!("upload failed: {error}"),
            SyncEvent::Halted { reason } => anyhow::bail!("sync halted: {reason}"),
            _ => {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let sent = count.sent.load(Ordering::Relaxed);
    task.abort();
    // Connections close when the engine is gone; their counts land then.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = count.sent.load(Ordering::Relaxed).max(sent);
    Ok(CatchUp { events, batch, seconds, sent, outbox: outbox_usage })
}

/// Runs workload 4 in `dir`; returns the section and the largest catch-up for the
/// footprint.
pub fn run(config: &Config, dir: &std::path::Path) -> anyhow::Result<(Section, Vec<CatchUp>)> {
    let server = LocalServer::start(&dir.join("server"), 2)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kiosk")
        .enable_all()
        .build()?;
    let mut section = Section::new(
        "4. Offline catch-up",
        &[
            "events buffered",
            "events per batch",
            "seconds",
            "µs per event",
            "events/s",
            "bytes sent per event",
        ],
    );
    section.note(
        "A new kiosk's outbox holds the events (filled untimed); the real `SyncEngine` then \
         uploads them to a server in this process, in batches of at most 500 (the kiosk \
         default) and again of at most 5,000 (the largest an admin may configure for a \
         kiosk, `max_batch_events`), and the clock stops at the receipt that leaves nothing \
         pending. Bytes sent are counted by a relay on the kiosk's connection: HTTP headers \
         and signed batches. The server's watchers run as in `mtime-server serve`. Buffers \
         of fewer than 20,000 events are synced 5 times, each by a new kiosk, and the row is \
         the median run with the range of the 5: one sync of a tenth of a second moves by \
         half between runs. Every kiosk syncs to the same server, whose store grows through \
         the workload.",
    );
    let done = runtime.block_on(async {
        let admin = Admin::new(&server.base, &server.admin_key)?;
        let site = admin.site().await?;
        let people = admin.workforce(site, 1_000).await?;
        let mut done = Vec::new();
        for &batch in &config.catchup_batches {
            for &events in &config.catchup_events {
                let repeats = if events < SMALL_BELOW { SMALL_RUNS } else { 1 };
                let mut runs = Vec::with_capacity(repeats);
                for run in 0..repeats {
                    let sizes = (events, batch, run);
                    runs.push(one(&server, &admin, site, dir, sizes, &people).await?);
                    server.ensure_nothing_held()?;
                }
                runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
                let range = (runs[0].seconds, runs[runs.len() - 1].seconds);
                let result = runs.swap_remove(runs.len() / 2);
                let seconds = if repeats > 1 {
                    format!("{:.2} ({:.2}–{:.2}, {repeats} runs)", result.seconds, range.0, range.1)
                } else {
                    format!("{:.2}", result.seconds)
                };
                section.row(vec![
                    events.to_string(),
                    batch.to_string(),
                    seconds,
                    format!("{:.1}", result.seconds * 1e6 / events as f64),
                    format!("{:.0}", events as f64 / result.seconds),
                    format!("{:.1}", result.sent as f64 / events as f64),
                ]);
                done.push(result);
            }
        }
        Ok::<_, anyhow::Error>(done)
    })?;

    let mut series = Vec::new();
    for &batch in &config.catchup_batches {
        let runs: Vec<&CatchUp> = done.iter().filter(|c| c.batch == batch).collect();
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else { continue };
        let per = |c: &CatchUp| c.seconds / c.events as f64;
        let projected = per(last) * 1e6;
        section.goal(
            &format!("catch-up of 1,000,000 events < 30 s, batches of {batch}"),
            if last.events >= 1_000_000 {
                format!("{:.1} s", last.seconds)
            } else {
                format!("{projected:.1} s projected from {} events", last.events)
            },
            projected < GOAL_SECS_PER_MILLION,
        );
        let growth = per(last) / per(first);
        section.goal(
            &format!("catch-up cost linear in events, batches of {batch}"),
            format!(
                "{:.1} µs/event at {} vs {:.1} at {} ({growth:.2}×)",
                per(last) * 1e6,
                last.events,
                per(first) * 1e6,
                first.events
            ),
            growth < 1.5,
        );
        series.push(Series::measured(
            &format!("mtime, batches of {batch}"),
            runs.iter().map(|c| (c.events as f64, c.seconds)).collect(),
        ));
    }
    let xs: Vec<f64> = config.catchup_events.iter().map(|&e| e as f64).collect();
    series.push(Series {
        name: "goal: 1M in 30 s".into(),
        points: xs.iter().map(|x| (*x, GOAL_SECS_PER_MILLION * x / 1e6)).collect(),
        dashed: true,
    });
    section.chart(Chart {
        file: "catchup.svg".into(),
        title: "Offline catch-up".into(),
        x_label: "events buffered".into(),
        y_label: "seconds".into(),
        series,
    });
    drop(server);
    Ok((section, done))
}
