//! The sync loop: upload batches until the outbox is empty, back off on failure, report
//! to the server, and keep the roster fresh.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};

use mtime_core::batch::{RECEIPT, Receipt};
use mtime_core::clock::Clock;
use mtime_core::event::TimeReading;
use mtime_core::ids::BootId;
use mtime_core::keys::SigningKey;
use mtime_core::protocol::{
    HEARTBEAT_REPLY, HEARTBEAT_WITH_OUTBOX, Heartbeat, HeartbeatReply, HeartbeatWithOutbox, ROSTER,
    ROSTER_REQUEST, Roster, RosterRequest,
};
use mtime_core::rotation::{KEY_ROTATION_REPLY, KeyRotation, KeyRotationReply, KeyRotationRequest};
use mtime_core::seal;
use mtime_core::timing::{ClockSample, TimeAnchor};

use crate::SyncError;
use crate::client::{Client, UploadReply};
use crate::keyfile::KeyFile;
use crate::outbox::{Identity, Outbox};

/// The first wait after a failed upload; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between upload attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How soon to heartbeat again while the wall clock is untrusted and the server has no
/// usable round trip of this boot.
const UNTRUSTED_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// What the sync loop tells the kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// A batch was acknowledged.
    Uploaded {
        /// First seq of the batch.
        first_seq: u64,
        /// Last seq of the batch.
        last_seq: u64,
        /// Events still waiting.
        pending: u64,
    },
    /// An upload failed; it will be retried.
    Failed {
        /// Failed attempts since the last success.
        attempts: u64,
        /// Events waiting.
        pending: u64,
        /// Why.
        error: String,
    },
    /// The server refused the kiosk's history; uploading has stopped.
    Halted {
        /// Why.
        reason: String,
    },
    /// A newer roster arrived.
    RosterUpdated(Box<Roster>),
    /// The kiosk signs with a new key from now on.
    KeyRotated,
    /// A heartbeat round trip told where true time stands against this boot's monotonic
    /// clock.
    ClockAnchored(TimeAnchor),
}

/// The sync loop's parts.
pub struct SyncEngine {
    /// The store.
    pub outbox: Arc<Outbox>,
    /// The server.
    pub client: Client,
    /// Who we are.
    pub identity: Identity,
    /// The kiosk's key.
    pub key: Arc<SigningKey>,
    /// Where the key lives, for replacing it when the server asks.
    pub key_file: KeyFile,
    /// The kiosk's clock.
    pub clock: Arc<dyn Clock>,
    /// This boot.
    pub boot: BootId,
    /// Woken when a new event is stored.
    pub wake: Arc<Notify>,
    /// Where reports go.
    pub events: mpsc::UnboundedSender<SyncEvent>,
    /// The roster version held.
    pub roster_version: u64,
    /// Set by the kiosk when it met a badge its roster does not know: the roster may be
    /// stale, so fetch it now rather than at the next heartbeat.
    pub roster_wanted: Arc<AtomicBool>,
}

impl SyncEngine {
    fn reading(&self) -> TimeReading {
        let now = self.clock.now();
        TimeReading {
            wall: now.wall,
            boot: self.boot,
            monotonic: now.monotonic,
            wall_trusted: now.wall_trusted,
        }
    }

    fn report(&self, event: SyncEvent) {
        // The kiosk may have stopped listening while shutting down; nothing to do then.
        let _ = self.events.send(event);
    }

    /// Runs until the task is dropped.
    pub async fn run(mut self) {
        let kiosk = self.identity.kiosk;
        let mut attempts: u64 = 0;
        let mut backoff = FIRST_BACKOFF;
        let mut next_upload = self.clock.now().wall;
        let mut next_heartbeat = self.clock.now().wall;
        let mut last_heartbeat = self.clock.now().wall;
        // A key staged before a crash means a rotation is under way: finish it before
        // anything else is signed.
        let mut rotation_due = self.key_file.staged().map_or(true, |k| k.is_some());
        let mut next_rotation = self.clock.now().wall;
        let mut clock_sample: Option<ClockSample> = None;

        loop {
            // Settings may change with any roster.
            let heartbeat_every =
                Duration::from_secs(u64::from(self.identity.config.heartbeat_secs));
            let max_events = self.identity.config.max_batch_events as usize;
            let now = self.clock.now().wall;
            let halted = self.outbox.halted().unwrap_or(true);
            // A shorter period from a new roster applies from the last heartbeat on.
            next_heartbeat = next_heartbeat.min(
                last_heartbeat + chrono::Duration::from_std(heartbeat_every).unwrap_or_default(),
            );

            // A rotation starts between batches only: the batch in flight was sealed with
            // the current key and is resent byte for byte until its receipt arrives. Once
            // a key is staged, nothing is signed or sent until the server confirms the
            // switch, however often that takes asking again.
            let staged = self.key_file.staged().map_or(true, |k| k.is_some());
            if rotation_due
                && !halted
                && now >= next_rotation
                && (staged || !self.outbox.has_inflight().unwrap_or(true))
            {
                match self.rotate_key().await {
                    Ok(()) => rotation_due = false,
                    Err(SyncError::Refused { status: 409, message }) => {
                        tracing::warn!(
                            kiosk.id = %kiosk,
                            %message,
                            "key rotation not wanted; keeping the key",
                        );
                        if let Err(e) = self.key_file.discard_staged() {
                            tracing::error!(
                                kiosk.id = %kiosk,
                                error = %e,
                                "cannot discard the staged key",
                            );
                        }
                        rotation_due = false;
                    }
                    Err(e) => {
                        tracing::warn!(
                            kiosk.id = %kiosk,
                            error = %e,
                            "key rotation failed; will retry",
                        );
                        next_rotation = now
                            + chrono::Duration::from_std(heartbeat_every)
                                .unwrap_or_default()
                                .min(chrono::Duration::seconds(60));
                    }
                }
            }

            // The heartbeat goes first: it tells the server how this boot's clocks stand,
            // so the events that follow are dated without delay.
            if now >= next_heartbeat {
                let mut every = heartbeat_every;
                match self.heartbeat(clock_sample).await {
                    Ok((rotate, sample)) => {
                        rotation_due |= rotate;
                        // A wall clock not yet trusted: until the server holds a usable
                        // round trip of this boot, sample again soon, so that taps are
                        // dated without waiting a whole heartbeat period.
                        let told = clock_sample.and_then(|s| s.anchor()).is_some();
                        if !self.clock.now().wall_trusted && !told {
                            every = every.min(UNTRUSTED_SAMPLE_EVERY);
                        }
                        if let Some(anchor) = sample.anchor() {
                            self.report(SyncEvent::ClockAnchored(anchor));
                        }
                        clock_sample = Some(sample);
                    }
                    Err(e) => tracing::debug!(kiosk.id = %kiosk, error = %e, "heartbeat failed"),
                }
                last_heartbeat = now;
                next_heartbeat = now + chrono::Duration::from_std(every).unwrap_or_default();
            }

            let staged = self.key_file.staged().map_or(true, |k| k.is_some());
            if !halted && !staged && now >= next_upload {
                match self.upload_once(max_events).await {
                    Ok(true) => {
                        attempts = 0;
                        backoff = FIRST_BACKOFF;
                        continue; // more may be waiting
                    }
                    Ok(false) => {}
                    Err(SyncError::Refused { status: 403, message }) => {
                        // Revoked: nothing this kiosk holds will ever be accepted. Stop,
                        // and say so, so that the kiosk stops confirming taps.
                        if let Err(e) = self.outbox.halt() {
                            tracing::error!(
                                kiosk.id = %kiosk,
                                error = %e,
                                "cannot record the halt",
                            );
                        }
                        tracing::error!(
                            kiosk.id = %kiosk,
                            %message,
                            "server refuses this kiosk; uploading stopped",
                        );
                        self.report(SyncEvent::Halted {
                            reason: format!("kiosk refused: {message}"),
                        });
                    }
                    Err(e) => {
                        attempts += 1;
                        let pending = self.outbox.pending().unwrap_or(0);
                        tracing::warn!(
                            kiosk.id = %kiosk,
                            attempts,
                            pending,
                            error = %e,
                            "upload failed; will retry",
                        );
                        self.report(SyncEvent::Failed { attempts, pending, error: e.to_string() });
                        next_upload = now + chrono::Duration::from_std(backoff).unwrap_or_default();
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }

            if self.roster_wanted.swap(false, Ordering::Relaxed)
                && let Err(e) = self.refresh_roster().await
            {
                tracing::debug!(kiosk.id = %kiosk, error = %e, "roster refresh failed");
            }

            let pending = self.outbox.pending().unwrap_or(0) > 0;
            let wake_at =
                if pending && !halted { next_upload.min(next_heartbeat) } else { next_heartbeat };
            self.wait_until(wake_at).await;
            // A new event deserves an attempt now, unless we are backing off.
            if attempts == 0 {
                next_upload = next_upload.min(self.clock.now().wall);
            }
        }
    }

    /// Waits until the clock reaches `deadline` or a new event is stored.
    async fn wait_until(&self, deadline: DateTime<Utc>) {
        loop {
            let now = self.clock.now().wall;
            let Ok(remaining) = (deadline - now).to_std() else { return };
            if remaining.is_zero() {
                return;
            }
            let nap = self.clock.real_wait(remaining);
            tokio::select! {
                _ = self.wake.notified() => return,
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// Sends one batch. `Ok(true)` when a batch was acknowledged, `Ok(false)` when there
    /// was nothing to send.
    async fn upload_once(&mut self, max_events: usize) -> Result<bool, SyncError> {
        let kiosk = self.identity.kiosk;
        let Some(inflight) = self.outbox.next_batch(kiosk, &self.key, max_events)? else {
            return Ok(false);
        };

        match self.client.upload(kiosk, inflight.bytes.clone()).await? {
            UploadReply::Receipt(bytes) => {
                let receipt: Receipt = seal::open(RECEIPT, &bytes, &self.identity.server_key)
                    .map_err(|e| SyncError::Protocol(format!("receipt: {e}")))?;
                self.outbox.acknowledge(kiosk, &receipt)?;
                let pending = self.outbox.pending()?;
                tracing::info!(
                    kiosk.id = %kiosk,
                    batch.first = inflight.first_seq,
                    batch.last = inflight.last_seq,
                    pending,
                    "batch acknowledged",
                );
                self.report(SyncEvent::Uploaded {
                    first_seq: inflight.first_seq,
                    last_seq: inflight.last_seq,
                    pending,
                });
                Ok(true)
            }
            UploadReply::Fork(message) => {
                self.outbox.halt()?;
                tracing::error!(
                    kiosk.id = %kiosk,
                    batch.first = inflight.first_seq,
                    %message,
                    "server reports a fork; uploading stopped",
                );
                self.report(SyncEvent::Halted { reason: format!("fork: {message}") });
                Ok(false)
            }
            UploadReply::Gap { expected } => {
                self.outbox.halt()?;
                tracing::error!(
                    kiosk.id = %kiosk,
                    batch.first = inflight.first_seq,
                    expected,
                    "server expects another seq; uploading stopped",
                );
                self.report(SyncEvent::Halted {
                    reason: format!(
                        "sequence gap: server expects seq {expected}, batch starts at {}",
                        inflight.first_seq
                    ),
                });
                Ok(false)
            }
        }
    }

    /// Replaces the kiosk's key: stages a new one durably, has the server switch to it, then
    /// makes it the key. A crash at any step is finished by the next attempt.
    async fn rotate_key(&mut self) -> Result<(), SyncError> {
        let kiosk = self.identity.kiosk;
        let next = self.key_file.stage()?;
        let statement = KeyRotation { kiosk, new_key: next.public(), sent: self.reading() };
        let request = KeyRotationRequest::new(&statement, &self.key, &next)
            .and_then(|r| r.to_bytes())
            .map_err(|e| SyncError::Protocol(e.to_string()))?;

        let bytes = self.client.rotate_key(kiosk, request).await?;
        let reply: KeyRotationReply =
            seal::open(KEY_ROTATION_REPLY, &bytes, &self.identity.server_key)
                .map_err(|e| SyncError::Protocol(format!("key rotation reply: {e}")))?;
        if reply.kiosk != kiosk || reply.new_key != next.public() {
            return Err(SyncError::Protocol("key rotation reply names another key".into()));
        }

        self.key_file.promote()?;
        // A batch sealed with the old key while the switch was under way: the server can
        // never have stored it, so it is sealed again with the key the server now holds.
        self.outbox.reseal_inflight(kiosk, &next)?;
        self.key = Arc::new(next);
        tracing::info!(kiosk.id = %kiosk, rotated_at = %reply.rotated_at, "kiosk key rotated");
        self.report(SyncEvent::KeyRotated);
        Ok(())
    }

    /// Reports to the server; returns whether the server asks for a new key.
    /// Reports to the server with the round trip measured last time; returns whether the
    /// server asks for a new key, and this round trip for the next heartbeat.
    async fn heartbeat(
        &mut self,
        previous: Option<ClockSample>,
    ) -> Result<(bool, ClockSample), SyncError> {
        let kiosk = self.identity.kiosk;
        let sent = self.reading();
        // The status never fails: a kiosk whose disk is full still says so.
        let status = self.outbox.status();
        let beat = Heartbeat {
            kiosk,
            sent,
            pending: status.pending,
            acked_through: status.acked_through,
            roster_version: self.roster_version,
            software: env!("CARGO_PKG_VERSION").to_owned(),
            clock_sample: previous.filter(|s| s.boot == self.boot),
        };
        let with = HeartbeatWithOutbox { beat, outbox: status.report() };
        let sealed = seal::seal(HEARTBEAT_WITH_OUTBOX, &with, &self.key)
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        let reply_bytes = self.client.heartbeat(kiosk, sealed).await?;
        let received = self.reading();
        let reply: HeartbeatReply =
            seal::open(HEARTBEAT_REPLY, &reply_bytes, &self.identity.server_key)
                .map_err(|e| SyncError::Protocol(format!("heartbeat reply: {e}")))?;
        let sample = ClockSample {
            boot: self.boot,
            sent: sent.monotonic,
            received: received.monotonic,
            server_time: reply.server_time,
        };
        if reply.roster_version > self.roster_version {
            self.refresh_roster().await?;
        }
        Ok((reply.rotate_key, sample))
    }

    async fn refresh_roster(&mut self) -> Result<(), SyncError> {
        let roster =
            fetch_roster(&self.client, &self.identity, &self.key, self.reading(), &self.outbox)
                .await?;
        if roster.version != self.roster_version {
            self.roster_version = roster.version;
            if roster.config != self.identity.config {
                self.identity.config = roster.config.clone();
                // Kept, so a restart before the next roster behaves the same.
                self.outbox.save_identity(&self.identity)?;
            }
            self.report(SyncEvent::RosterUpdated(Box::new(roster)));
        }
        Ok(())
    }
}

/// Fetches, verifies and stores the kiosk's roster.
pub async fn fetch_roster(
    client: &Client,
    identity: &Identity,
    key: &SigningKey,
    now: TimeReading,
    outbox: &Outbox,
) -> Result<Roster, SyncError> {
    let request = RosterRequest { kiosk: identity.kiosk, have_version: 0, sent: now };
    let sealed = seal::seal(ROSTER_REQUEST, &request, key)
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
    let bytes = client.roster(identity.kiosk, sealed).await?;
    let roster: Roster = seal::open(ROSTER, &bytes, &identity.server_key)
        .map_err(|e| SyncError::Protocol(format!("roster: {e}")))?;
    if roster.kiosk != identity.kiosk {
        return Err(SyncError::Protocol("roster was made for another kiosk".into()));
    }
    outbox.save_roster_bytes(&bytes)?;
    tracing::info!(
        kiosk.id = %identity.kiosk,
        roster.version = roster.version,
        employees = roster.employees.len(),
        "roster updated",
    );
    Ok(roster)
}

/// The roster stored in the outbox, verified again with the server's key.
pub fn stored_roster(outbox: &Outbox, identity: &Identity) -> Result<Option<Roster>, SyncError> {
    let Some(bytes) = outbox.roster_bytes()? else { return Ok(None) };
    seal::open(ROSTER, &bytes, &identity.server_key)
        .map(Some)
        .map_err(|e| SyncError::Storage(format!("stored roster does not verify: {e}")))
}
