//! Workload 5: a fleet of kiosks heartbeating every 30 s, time compressed, while each
//! uploads a small batch per period, against the real `mtime-server serve` in its own
//! process, whose resident memory is read from /proc.

use std::time::{Duration, Instant};

use chrono::Utc;

use mtime_core::event::TimeReading;
use mtime_core::protocol::{HEARTBEAT, Heartbeat, KioskConfig};
use mtime_core::seal;
use mtime_sync::client::{Client, UploadReply};

use crate::chart::{Chart, Series};
use crate::config::Config;
use crate::events::{Chain, Workforce};
use crate::nodes;
use crate::report::Section;
use crate::server::Admin;
use crate::stats::Samples;

/// Events each kiosk uploads per period: a busy door's taps in 30 s.
const EVENTS_PER_PERIOD: usize = 5;
/// Latency goal, ms.
const GOAL_P99_MS: f64 = 50.0;
/// Resident memory goal, MB.
const GOAL_RSS_MB: f64 = 100.0;

struct Measured {
    kiosks: usize,
    heartbeat: Samples,
    upload: Samples,
    peak_rss: u64,
    end_rss: u64,
    requests_per_sec: f64,
}

async fn kiosk_loop(
    mut chain: Chain,
    client: Client,
    people: Workforce,
    offset: Duration,
    period: Duration,
    periods: u32,
) -> anyhow::Result<(Samples, Samples)> {
    let (mut beats, mut uploads) = (Samples::new(), Samples::new());
    let start = tokio::time::Instant::now() + offset;
    for p in 0..periods {
        tokio::time::sleep_until(start + period * p).await;
        // The chain's taps read the same clocks: wall = base + monotonic.
        let wall = Utc::now();
        let beat = Heartbeat {
            kiosk: chain.kiosk,
            sent: TimeReading {
                wall,
                boot: chain.boot,
                monotonic: (wall - chain.base).to_std().unwrap_or_default(),
                wall_trusted: true,
            },
            pending: EVENTS_PER_PERIOD as u64,
            acked_through: chain.next_seq - 1,
            roster_version: 0,
            software: "bench".into(),
            clock_sample: None,
        };
        let sealed = seal::seal(HEARTBEAT, &beat, &chain.key)?;
        let sent = Instant::now();
        client.heartbeat(chain.kiosk, sealed).await?;
        beats.push_ms(sent.elapsed());

        let batch = chain.next(&people, EVENTS_PER_PERIOD)?;
        let sent = Instant::now();
        match client.upload(chain.kiosk, batch.bytes).await? {
            UploadReply::Receipt(_) => uploads.push_ms(sent.elapsed()),
            other => anyhow::bail!("batch refused: {other:?}"),
        }
    }
    Ok((beats, uploads))
}

fn measure(config: &Config, dir: &std::path::Path, kiosks: usize) -> anyhow::Result<Measured> {
    let data = dir.join(format!("fleet-{kiosks}"));
    std::fs::create_dir_all(&data)?;
    let (server, base, admin_key) = nodes::server(&data)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fleet")
        .enable_all()
        .build()?;
    let (period, periods) = (config.fleet_period, config.fleet_periods);
    let (heartbeat, upload, requests_per_sec) = runtime.block_on(async {
        let admin = Admin::new(&base, &admin_key)?;
        let site = admin.site().await?;
        let people = admin.workforce(site, 1_000).await?;
        // Each kiosk's client is made before the clock starts: making one reads the
        // system's trusted certificates, setup that would otherwise crowd the first
        // kiosks' requests off the two cores.
        let mut chains = Vec::with_capacity(kiosks);
        for i in 0..kiosks {
            let k = admin.kiosk(site, &format!("Door {i}"), &KioskConfig::default()).await?;
            chains.push((Chain::new(k.id, k.key), Client::new(&base, None)?));
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, (chain, client)) in chains.into_iter().enumerate() {
            // Kiosks spread over the period, as independent devices would be.
            let offset = period.mul_f64(i as f64 / kiosks as f64);
            tasks.push(tokio::spawn(kiosk_loop(
                chain,
                client,
                people.clone(),
                offset,
                period,
                periods,
            )));
        }
        let (mut heartbeat, mut upload) = (Samples::new(), Samples::new());
        for task in tasks {
            let (b, u) = task.await??;
            heartbeat.extend(&b);
            upload.extend(&u);
        }
        let rate = (heartbeat.len() + upload.len()) as f64 / started.elapsed().as_secs_f64();
        Ok::<_, anyhow::Error>((heartbeat, upload, rate))
    })?;
    let (end_rss, hwm) = server.resident()?;
    Ok(Measured { kiosks, heartbeat, upload, peak_rss: hwm, end_rss, requests_per_sec })
}

/// Runs workload 5 in `dir`.
pub fn run(config: &Config, dir: &std::path::Path) -> anyhow::Result<Section> {
    let mut section = Section::new(
        "5. Fleet: heartbeats while syncing",
        &[
            "kiosks",
            "requests/s",
            "heartbeat p50 / p99 ms",
            "upload p50 / p99 ms",
            "all p99 ms",
            "server RSS end / peak MB",
        ],
    );
    section.note(format!(
        "Each kiosk sends a signed heartbeat and then a signed batch of {EVENTS_PER_PERIOD} \
         events once per period; 30 s are compressed into {:.1} s, so the request rate is {:.0}× \
         that of a real fleet. The server is `mtime-server serve` in its own process (logging \
         at info to a file, watchers on); latencies are seen by the kiosks, which run on the \
         same 2 cores, so they include the client's own scheduling. Resident memory is the \
         server process's VmRSS at the end and its VmHWM (peak).",
        config.fleet_period.as_secs_f64(),
        30.0 / config.fleet_period.as_secs_f64()
    ));
    let mut results = Vec::new();
    for &kiosks in &config.fleet_kiosks {
        let m = measure(config, dir, kiosks)?;
        let mut all = m.heartbeat.clone();
        all.extend(&m.upload);
        let (h, u, a) = (m.heartbeat.summary(), m.upload.summary(), all.summary());
        section.row(vec![
            kiosks.to_string(),
            format!("{:.0}", m.requests_per_sec),
            format!("{:.2} / {:.2}", h.median, h.p99),
            format!("{:.2} / {:.2}", u.median, u.p99),
            format!("{:.2}", a.p99),
            format!("{:.1} / {:.1}", m.end_rss as f64 / 1e6, m.peak_rss as f64 / 1e6),
        ]);
        results.push((m, a));
    }
    if let Some((m, a)) = results.last() {
        section.goal(
            "fleet: server p99 < 50 ms",
            format!("{:.2} ms with {} kiosks", a.p99, m.kiosks),
            a.p99 < GOAL_P99_MS,
        );
        section.goal(
            "fleet: server resident memory ≤ 100 MB",
            format!("{:.1} MB peak with {} kiosks", m.peak_rss as f64 / 1e6, m.kiosks),
            m.peak_rss as f64 / 1e6 <= GOAL_RSS_MB,
        );
    }
    let xs: Vec<f64> = results.iter().map(|(m, _)| m.kiosks as f64).collect();
    section.chart(Chart {
        file: "fleet-latency.svg".into(),
        title: "Fleet: request p99 seen by kiosks".into(),
        x_label: "kiosks".into(),
        y_label: "p99 latency, ms".into(),
        series: vec![
            Series::measured(
                "heartbeat",
                results.iter().map(|(m, _)| (m.kiosks as f64, m.heartbeat.summary().p99)).collect(),
            ),
            Series::measured(
                "batch upload",
                results.iter().map(|(m, _)| (m.kiosks as f64, m.upload.summary().p99)).collect(),
            ),
            Series::goal("goal 50 ms", GOAL_P99_MS, &xs),
        ],
    });
    section.chart(Chart {
        file: "fleet-memory.svg".into(),
        title: "Fleet: server resident memory".into(),
        x_label: "kiosks".into(),
        y_label: "MB".into(),
        series: vec![
            Series::measured(
                "peak (VmHWM)",
                results.iter().map(|(m, _)| (m.kiosks as f64, m.peak_rss as f64 / 1e6)).collect(),
            ),
            Series::goal("goal 100 MB", GOAL_RSS_MB, &xs),
        ],
    });
    Ok(section)
}
