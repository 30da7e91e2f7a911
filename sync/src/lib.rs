//! The kiosk side of the mtime protocol: the outbox that keeps every event durably, the
//! batches it seals and signs, their upload over HTTPS with retry and backoff, the
//! heartbeat, and the roster pull.
//!
//! An event leaves the outbox only when a receipt signed by the server's key covers it,
//! so a lost response, a retry or a crash can neither lose nor duplicate it.
//!
//! ```no_run
//! # fn f() -> Result<(), mtime_sync::SyncError> {
//! let outbox = mtime_sync::outbox::Outbox::open(std::path::Path::new("kiosk.redb"))?;
//! println!("{} events waiting", outbox.pending()?);
//! # Ok(()) }
//! ```
//!
//! # Limitations
//!
//! - After a fork or a sequence gap, uploading stops for good; there is no admin command
//!   yet to re-align a kiosk with the server.
//! - An event of a store written before compact rows that cannot be read when the store is
//!   rewritten is kept apart (`damaged_events`), and uploading stops at its seq with an
//!   error naming it, while taps are still stored; nothing yet lets an admin send the
//!   events after it, which would need the server to accept a seq declared lost.
//! - Acknowledged events stay in the store forever: the outbox's capacity counts unsynced
//!   events only, and nothing prunes the synced ones yet, so a disk can still fill with
//!   history. The roster carries badges as keyed hashes only, but each stored event keeps the
//!   UID that was tapped (the server needs it for unknown badges), so a stolen kiosk still
//!   holds the UIDs of recent taps until pruning exists.
//! - The kiosk measures each heartbeat's round trip and sends it with the next, so the
//!   server can date taps made with an untrusted clock; the kiosk shows and decides with
//!   true time from the latest round trip, which drifts with its monotonic clock until the
//!   next one.
//! - On a full disk, after the failed write, the store can be neither written nor read
//!   until there is room: redb must reopen the file and reopening writes. Every call says
//!   [`SyncError::StorageFull`] meanwhile and [`outbox::Outbox::status`] gives the last
//!   counts known; the first call after space returns reopens (repairing) and goes on.
//! - The outbox's capacity is the kiosk's own setting ([`outbox::OutboxOptions`]); the
//!   server's kiosk settings do not carry it yet, since adding a field to the roster's
//!   `KioskConfig` needs a new roster version that older kiosks can still read.
//! - Heartbeats are sent as version 2 ([`mtime_core::protocol::HEARTBEAT_WITH_OUTBOX`]): a
//!   server older than that refuses them (uploads still work). Upgrade servers first.
//! - A key rotation whose staged key file is lost after the server switched leaves the
//!   kiosk unable to sign; it must be revoked and a new kiosk enrolled.

#![forbid(unsafe_code)]

pub mod client;
pub mod disk;
pub mod engine;
mod event_rows;
mod journal;
pub mod keyfile;
mod legacy;
pub mod outbox;

/// A sync failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The local store failed for another reason than a full disk.
    #[error("kiosk storage: {0}")]
    Storage(String),
    /// The kiosk's disk is full: nothing was stored. The outbox takes writes again as soon
    /// as there is room, without a restart.
    #[error("kiosk storage full: {0}")]
    StorageFull(String),
    /// The network or the server failed; retrying may help.
    #[error("server unreachable: {0}")]
    Transient(String),
    /// The server refused the request.
    #[error("server refused ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's code and message.
        message: String,
    },
    /// The server's answer did not verify or made no sense.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The kiosk's configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}
