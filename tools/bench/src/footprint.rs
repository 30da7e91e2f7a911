//! Workload 6: what an event costs in the kiosk's store and on the wire, and what the
//! kiosk holds in memory while idle, headless and with its touch UI.

use std::time::Duration;

use mtime_core::protocol::KioskConfig;

use crate::catchup::CatchUp;
use crate::config::Config;
use crate::durable::DiskFootprint;
use crate::nodes;
use crate::report::Section;
use crate::server::{Admin, LocalServer};

/// Bytes per event on disk, goal.
const GOAL_DISK: f64 = 100.0;
/// Idle kiosk memory, goal in MB.
const GOAL_RSS_MB: f64 = 40.0;
/// How long the kiosk idles before its memory is read.
const IDLE: Duration = Duration::from_secs(5);

/// Resident memory of an idle kiosk, in bytes: (now, peak).
struct Idle {
    headless: (u64, u64),
    with_ui: (u64, u64),
}

/// The kiosk's resident memory after idling, headless and then with its UI, in the same
/// enrolled data dir with the same roster.
fn idle_kiosk(dir: &std::path::Path, employees: usize) -> anyhow::Result<Idle> {
    let server = LocalServer::start(&dir.join("server"), 1)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let code = runtime.block_on(async {
        let admin = Admin::new(&server.base, &server.admin_key)?;
        let site = admin.site().await?;
        for i in 0..employees {
            let badge = crate::events::badge(i as u64).to_string();
            let body = serde_json::json!({"number": format!("E{i:05}"),
                "name": format!("Employee {i}"), "org_unit_id": site, "badges": [badge]});
            admin.call("POST", "/api/employees", Some(body)).await?;
        }
        admin.enrollment_code(site, "Front door", &KioskConfig::default()).await
    })?;
    let kiosk_dir = dir.join("kiosk");
    let kiosk = nodes::kiosk(&kiosk_dir, &server.base, &code)?;
    std::thread::sleep(IDLE);
    let headless = kiosk.resident()?;
    drop(kiosk);

    let kiosk = nodes::kiosk_ui(&kiosk_dir)?;
    std::thread::sleep(IDLE);
    Ok(Idle { headless, with_ui: kiosk.resident()? })
}

/// Runs workload 6 from what workloads 1 and 4 left, plus an idle kiosk node in `dir`.
pub fn run(
    config: &Config,
    dir: &std::path::Path,
    disk: Option<&DiskFootprint>,
    catchups: &[CatchUp],
) -> anyhow::Result<Section> {
    let mut section = Section::new("6. Footprint", &["what", "measured", "goal"]);
    section.note(
        "Disk: the space the kiosk's outbox takes, its redb file and its tap journal of fixed \
         size (the blocks the file system allocated, as `du` counts them), over the events it \
         holds, with the files' length beside it: redb extends the file ahead of use, and the part not yet written takes no \
         space. Wire: bytes the kiosk sent during catch-up (HTTP headers, signed batches, \
         heartbeat and roster request) over the events synced. Memory: the kiosk enrolled and \
         idle for 5 s with its roster and sync loop, headless (`mtime-kiosk run`, this binary \
         as `node-kiosk run`) and then \
         with its touch UI (`node-kiosk-ui`: the Slint UI on an 800×480 panel drawn by the \
         software renderer four times a second, as `mtime-kiosk ui` draws on the Pi, into \
         memory instead of the frame buffer).",
    );
    let mut worst_disk = None;
    if let Some(disk) = disk {
        section.row(vec![
            format!("outbox on disk, one event per transaction ({} events)", disk.events),
            format!(
                "{:.0} bytes/event (file {:.0} long)",
                disk.bytes_per_event, disk.length_per_event
            ),
            "≤ 100".into(),
        ]);
        worst_disk = Some(disk.bytes_per_event);
    }
    // The outbox is filled the same way whatever the batches it is synced in.
    let first_batch = catchups.first().map(|c| c.batch);
    for c in catchups {
        let per = c.outbox.allocated as f64 / c.events as f64;
        let long = c.outbox.length as f64 / c.events as f64;
        if Some(c.batch) == first_batch {
            section.row(vec![
                format!("outbox on disk, filled in bulk ({} events)", c.events),
                format!("{per:.0} bytes/event (file {long:.0} long)"),
                "≤ 100".into(),
            ]);
            // The largest store is the steady state: a small one is mostly its fixed pages.
            if disk.is_none_or(|d| c.events > d.events) {
                worst_disk = Some(per);
            }
        }
        section.row(vec![
            format!("on the wire, catch-up of {} events in batches of {}", c.events, c.batch),
            format!("{:.1} bytes/event", c.sent as f64 / c.events as f64),
            "".into(),
        ]);
    }
    if let Some(worst) = worst_disk {
        section.goal(
            "≤ 100 bytes per event on the kiosk's disk",
            format!("{worst:.0} bytes/event (largest store measured)"),
            worst <= GOAL_DISK,
        );
    }
    let employees = if config.quick { 10 } else { 100 };
    let idle = idle_kiosk(dir, employees)?;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    for (what, (now, peak)) in [("no UI", idle.headless), ("with its UI", idle.with_ui)] {
        section.row(vec![
            format!("kiosk idle, roster of {employees}, {what} (RSS now / peak)"),
            format!("{:.1} / {:.1} MB", mb(now), mb(peak)),
            "≤ 40 MB".into(),
        ]);
    }
    let (now, _) = idle.with_ui;
    section.goal(
        "kiosk idle resident memory with the UI ≤ 40 MB",
        format!("{:.1} MB (headless {:.1} MB)", mb(now), mb(idle.headless.0)),
        mb(now) <= GOAL_RSS_MB,
    );
    Ok(section)
}
