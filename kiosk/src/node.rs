//! The headless kiosk node: reader thread → controller → durable store → feedback line,
//! with the sync loop running beside it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{Notify, mpsc};

use mtime_core::clock::Clock;
use mtime_core::event::TimeReading;
use mtime_core::ids::BootId;
use mtime_hardware::{BadgeReader, ReaderEvent};
use mtime_sync::client::Client;
use mtime_sync::engine::{self, SyncEngine, SyncEvent};
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::Outbox;

use crate::controller::{Controller, Feedback};
use crate::paths::DataDir;

/// Prints one line to stdout: the kiosk's feedback channel.
fn say(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (the operator went away) must not stop the kiosk.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs the node until the reader ends, then waits up to `linger` for the outbox to empty.
pub fn run(
    data: &DataDir,
    reader: Box<dyn BadgeReader>,
    clock: Arc<dyn Clock>,
    boot: BootId,
    linger: Duration,
) -> anyhow::Result<()> {
    let outbox = Arc::new(Outbox::open(&data.store())?);
    let identity = outbox.identity()?.with_context(|| {
        format!("{} holds no enrolled kiosk; run `mtime-kiosk enroll` first", data.root().display())
    })?;
    let key_file = KeyFile::new(data.key());
    let key = Arc::new(key_file.load()?);
    let client = Client::new(&identity.server_url, identity.server_ca_pem.as_deref())?;

    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let reading = || {
        let now = clock.now();
        TimeReading {
            wall: now.wall,
            boot,
            monotonic: now.monotonic,
            wall_trusted: now.wall_trusted,
        }
    };

    let roster = match engine::stored_roster(&outbox, &identity)? {
        Some(roster) => roster,
        None => runtime
            .block_on(engine::fetch_roster(&client, &identity, &key, reading(), &outbox))
            .context("this kiosk has no roster yet and could not fetch one")?,
    };
    let roster_version = roster.version;
    say(format!(
        "ready kiosk={} site={:?} zone={} roster={} employees={}",
        identity.kiosk,
        roster.site.name,
        roster.site.time_zone,
        roster.version,
        roster.employees.len()
    ));

    if outbox.halted()? {
        say(
            "sync-halted reason=\"uploading stopped earlier (fork, gap or revoked); taps are refused\"",
        );
    }
    let controller = Arc::new(Mutex::new(Controller::new(
        identity.kiosk,
        outbox.clone(),
        roster,
        clock.clone(),
        boot,
    )?));
    let wake = Arc::new(Notify::new());
    let roster_wanted = Arc::new(AtomicBool::new(false));
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let sync = SyncEngine {
        outbox: outbox.clone(),
        client,
        identity: identity.clone(),
        key,
        key_file,
        clock: clock.clone(),
        boot,
        wake: wake.clone(),
        events: events_tx,
        roster_version,
        roster_wanted: roster_wanted.clone(),
    };
    runtime.spawn(sync.run());

    let reporter = controller.clone();
    runtime.spawn(async move {
        while let Some(event) = events_rx.recv().await {
            match event {
                SyncEvent::Uploaded { first_seq, last_seq, pending } => {
                    say(format!("synced first={first_seq} through={last_seq} pending={pending}"));
                }
                SyncEvent::Failed { attempts, pending, error } => {
                    say(format!(
                        "sync-failed attempts={attempts} pending={pending} error={error:?}"
                    ));
                }
                SyncEvent::Halted { reason } => {
                    say(format!("sync-halted reason={reason:?}"));
                    reporter.lock().unwrap_or_else(|e| e.into_inner()).stop_service(reason);
                }
                SyncEvent::RosterUpdated(roster) => {
                    let (version, employees) = (roster.version, roster.employees.len());
                    let mut controller = reporter.lock().unwrap_or_else(|e| e.into_inner());
                    match controller.set_roster(*roster) {
                        Ok(()) => say(format!("roster version={version} employees={employees}")),
                        Err(e) => tracing::error!(error = %e, "new roster refused"),
                    }
                }
                SyncEvent::KeyRotated => say("key-rotated"),
                SyncEvent::ClockAnchored(anchor) => {
                    let mut controller = reporter.lock().unwrap_or_else(|e| e.into_inner());
                    controller.set_time_anchor(anchor);
                }
            }
        }
    });

    let taps = mtime_hardware::spawn(reader).context("starting the badge reader")?;
    let mut reader_failed = None;
    for event in taps {
        match event {
            ReaderEvent::Tap(tap) => {
                let feedback = controller.lock().unwrap_or_else(|e| e.into_inner()).tap(tap);
                say(&feedback);
                if matches!(feedback, Feedback::UnknownBadge { .. }) {
                    // Perhaps the badge was just issued: ask for the roster now.
                    roster_wanted.store(true, Ordering::Relaxed);
                }
                wake.notify_one();
            }
            ReaderEvent::Error(e) => {
                tracing::warn!(error = %e, "badge reader");
                say(format!("reader-error message={:?}", e.to_string()));
                if matches!(e, mtime_hardware::ReaderError::Fatal(_)) {
                    reader_failed = Some(e.to_string());
                }
            }
            ReaderEvent::Ended => break,
        }
    }

    // The reader is done; give the outbox a chance to empty before leaving.
    let started = Instant::now();
    while outbox.pending()? > 0 && !outbox.halted()? && started.elapsed() < linger {
        std::thread::sleep(Duration::from_millis(20));
    }
    say(format!("stopped pending={}", outbox.pending()?));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match reader_failed {
        Some(e) => anyhow::bail!("{e}"),
        None => Ok(()),
    }
}
