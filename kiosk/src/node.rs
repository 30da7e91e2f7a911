//! The kiosk node's moving parts, started once the kiosk is enrolled: the store, the
//! controller and the sync loop beside them. The headless run ([`run`]) and the touch UI
//! ([`crate::ui`]) both start the node here and differ only in how they show feedback.

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
use mtime_sync::outbox::{Identity, Outbox, OutboxOptions};

use crate::controller::{Controller, Feedback};
use crate::paths::DataDir;

/// Prints one line to stdout: the headless kiosk's feedback channel.
fn say(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (the operator went away) must not stop the kiosk.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A started node.
pub struct Node {
    /// Who the kiosk is.
    pub identity: Identity,
    /// Its store.
    pub outbox: Arc<Outbox>,
    /// Its brain.
    pub controller: Arc<Mutex<Controller>>,
    /// Wakes the sync loop after a tap.
    pub wake: Arc<Notify>,
    /// Asks the sync loop for a fresh roster (after an unknown badge).
    pub roster_wanted: Arc<AtomicBool>,
    runtime: tokio::runtime::Runtime,
}

impl Node {
    /// Opens the enrolled kiosk in `data` and starts its sync loop, which reports to
    /// `on_sync` from the node's runtime.
    pub fn start(
        data: &DataDir,
        options: OutboxOptions,
        clock: Arc<dyn Clock>,
        boot: BootId,
        on_sync: impl FnMut(&Node, SyncEvent) + Send + 'static,
    ) -> anyhow::Result<Arc<Self>> {
        if !data.store().exists() {
            anyhow::bail!(
                "{} holds no enrolled kiosk; pair it first \
                 (`mtime-kiosk enroll`, or on its screen)",
                data.root().display()
            );
        }
        let outbox = Arc::new(Outbox::open_with(&data.store(), options)?);
        let identity = outbox.identity()?.with_context(|| {
            format!("{} holds no enrolled kiosk; pair it first", data.root().display())
        })?;
        let key_file = KeyFile::new(data.key());
        let key = Arc::new(key_file.load()?);
        let client = Client::new(&identity.server_url, identity.server_ca_pem.as_deref())?;

        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let now = clock.now();
        let reading = TimeReading {
            wall: now.wall,
            boot,
            monotonic: now.monotonic,
            wall_trusted: now.wall_trusted,
        };
        let stored = engine::stored_roster(&outbox, &identity).unwrap_or_else(|e| {
            // An unreadable roster (from an older version, or damaged) is fetched again.
            tracing::warn!(error = %e, "stored roster unreadable; fetching a new one");
            None
        });
        let roster = match stored {
            Some(roster) => roster,
            None => runtime
                .block_on(engine::fetch_roster(&client, &identity, &key, reading, &outbox))
                .context("this kiosk has no roster yet and could not fetch one")?,
        };
        let roster_version = roster.version;
        let controller = Arc::new(Mutex::new(Controller::new(
            identity.kiosk,
            outbox.clone(),
            roster,
            clock.clone(),
            boot,
        )?));

        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let node = Arc::new(Self {
            identity: identity.clone(),
            outbox: outbox.clone(),
            controller,
            wake: Arc::new(Notify::new()),
            roster_wanted: Arc::new(AtomicBool::new(false)),
            runtime,
        });
        let sync = SyncEngine {
            outbox,
            client,
            identity,
            key,
            key_file,
            clock,
            boot,
            wake: node.wake.clone(),
            events: events_tx,
            roster_version,
            roster_wanted: node.roster_wanted.clone(),
        };
        node.runtime.spawn(sync.run());

        // The node holds the runtime, so this task holds only a weak link back to it.
        let weak = Arc::downgrade(&node);
        let mut on_sync = on_sync;
        node.runtime.spawn(async move {
            while let Some(event) = events_rx.recv().await {
                let Some(node) = weak.upgrade() else { return };
                node.apply(&event);
                on_sync(&node, event);
            }
        });
        Ok(node)
    }

    /// What every front end does with a sync event: the controller follows it.
    fn apply(&self, event: &SyncEvent) {
        let mut controller = self.controller.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            SyncEvent::Halted { reason } => controller.stop_service(reason.clone()),
            SyncEvent::RosterUpdated(roster) => {
                if let Err(e) = controller.set_roster(roster.as_ref().clone()) {
                    tracing::error!(error = %e, "new roster refused");
                }
            }
            SyncEvent::ClockAnchored(anchor) => controller.set_time_anchor(*anchor),
            SyncEvent::Uploaded { .. } | SyncEvent::Failed { .. } | SyncEvent::KeyRotated => {}
        }
    }

    /// Handles a tap: the controller decides and stores, the sync loop is woken.
    pub fn tap(&self, tap: mtime_hardware::Tap) -> Feedback {
        let feedback = self.controller.lock().unwrap_or_else(|e| e.into_inner()).tap(tap);
        self.after(&feedback);
        feedback
    }

    /// What follows any feedback: wake the sync loop, and after an unknown badge ask for
    /// the roster (perhaps the badge was just issued).
    pub fn after(&self, feedback: &Feedback) {
        if matches!(feedback, Feedback::UnknownBadge { .. }) {
            self.roster_wanted.store(true, Ordering::Relaxed);
        }
        self.wake.notify_one();
    }

    /// Waits up to `linger` for the outbox to empty, then stops the sync loop.
    fn stop(self: Arc<Self>, linger: Duration) -> anyhow::Result<u64> {
        let started = Instant::now();
        while self.outbox.pending()? > 0 && !self.outbox.halted()? && started.elapsed() < linger {
            std::thread::sleep(Duration::from_millis(20));
        }
        let pending = self.outbox.pending()?;
        match Arc::try_unwrap(self) {
            Ok(node) => node.runtime.shutdown_timeout(Duration::from_secs(1)),
            Err(_) => {
                tracing::debug!("node still shared at stop; its runtime ends with the process")
            }
        }
        Ok(pending)
    }
}

/// Runs the headless node until the reader ends, then waits up to `linger` for the outbox
/// to empty. Feedback is one line per tap on standard output.
pub fn run(
    data: &DataDir,
    reader: Box<dyn BadgeReader>,
    clock: Arc<dyn Clock>,
    boot: BootId,
    linger: Duration,
) -> anyhow::Result<()> {
    let node =
        Node::start(data, OutboxOptions::default(), clock, boot, |node, event| match event {
            SyncEvent::Uploaded { first_seq, last_seq, pending } => {
                say(format!("synced first={first_seq} through={last_seq} pending={pending}"));
            }
            SyncEvent::Failed { attempts, pending, error } => {
                say(format!("sync-failed attempts={attempts} pending={pending} error={error:?}"));
            }
            SyncEvent::Halted { reason } => say(format!("sync-halted reason={reason:?}")),
            SyncEvent::RosterUpdated(roster) => {
                let _ = node;
                say(format!(
                    "roster version={} employees={}",
                    roster.version,
                    roster.employees.len()
                ));
            }
            SyncEvent::KeyRotated => say("key-rotated"),
            SyncEvent::ClockAnchored(_) => {}
        })?;
    {
        let controller = node.controller.lock().unwrap_or_else(|e| e.into_inner());
        let roster = controller.roster();
        say(format!(
            "ready kiosk={} site={:?} zone={} roster={} employees={}",
            node.identity.kiosk,
            roster.site.name,
            roster.site.time_zone,
            roster.version,
            roster.employees.len()
        ));
    }
    if node.outbox.halted()? {
        say("sync-halted \
             reason=\"uploading stopped earlier (fork, gap or revoked); taps are refused\"");
    }

    let taps = mtime_hardware::spawn(reader).context("starting the badge reader")?;
    let mut reader_failed = None;
    for event in taps {
        match event {
            ReaderEvent::Tap(tap) => say(node.tap(tap)),
            ReaderEvent::Ready => say("reader-ready"),
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
    let pending = node.stop(linger)?;
    say(format!("stopped pending={pending}"));
    match reader_failed {
        Some(e) => anyhow::bail!("{e}"),
        None => Ok(()),
    }
}
