//! Badge readers for mtime kiosks, each behind the [`BadgeReader`] trait so that the kiosk
//! does not care whether a tap came from an NFC reader or from a script.
//!
//! A reader runs on its own thread ([`spawn`]) and hands reads to the kiosk over a
//! channel, so a slow or hung device never blocks the rest of the node.
//!
//! ```
//! use mtime_hardware::{BadgeReader, simulator::ScriptReader};
//!
//! let mut reader = ScriptReader::new("04E87577DE9811 in\n".as_bytes());
//! let tap = reader.next_tap().unwrap().unwrap();
//! assert_eq!(tap.uid.to_string(), "04E87577DE9811");
//! ```
//!
//! # Limitations
//!
//! - Only the simulated reader exists so far; NFC through libnfc and keyboard-emulating
//!   readers come with the device work, behind Cargo features.

pub mod simulator;

use std::sync::mpsc;
use std::thread;

use mtime_core::badge::BadgeUid;
use mtime_core::event::RequestedAction;

/// One read: a badge, and the key the employee pressed (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tap {
    /// The badge.
    pub uid: BadgeUid,
    /// In, out, or let the kiosk decide.
    pub action: RequestedAction,
}

/// What went wrong with a reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderError {
    /// The device is missing, busy or unplugged; reads may resume later.
    #[error("badge reader unavailable: {0}")]
    Unavailable(String),
    /// The reader cannot go on (a tap script that cannot be read); no more reads follow.
    #[error("badge reader failed for good: {0}")]
    Fatal(String),
    /// A line of a tap script could not be understood; the line is skipped.
    #[error("tap script line {line}: {message}")]
    Script {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
}

/// A source of badge reads.
pub trait BadgeReader: Send {
    /// Blocks until the next tap. `Ok(None)` means the reader has ended for good (a script
    /// ran out); an error is reported and reading goes on.
    fn next_tap(&mut self) -> Result<Option<Tap>, ReaderError>;
}

/// What a reader thread sends to the kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A badge was read.
    Tap(Tap),
    /// The reader reported a problem.
    Error(ReaderError),
    /// The reader has ended.
    Ended,
}

/// How long to wait before asking an unavailable reader again.
const RETRY_UNAVAILABLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `reader` on its own thread and returns the channel its reads arrive on.
pub fn spawn(mut reader: Box<dyn BadgeReader>) -> std::io::Result<mpsc::Receiver<ReaderEvent>> {
    let (tx, rx) = mpsc::sync_channel(64);
    thread::Builder::new().name("badge-reader".into()).spawn(move || {
        loop {
            let event = match reader.next_tap() {
                Ok(Some(tap)) => ReaderEvent::Tap(tap),
                Ok(None) => {
                    let _ = tx.send(ReaderEvent::Ended);
                    return;
                }
                Err(e @ ReaderError::Fatal(_)) => {
                    let _ = tx.send(ReaderEvent::Error(e));
                    let _ = tx.send(ReaderEvent::Ended);
                    return;
                }
                Err(e @ ReaderError::Unavailable(_)) => {
                    // A missing or busy device: report it, then look again a little later
                    // rather than spinning.
                    if tx.send(ReaderEvent::Error(e)).is_err() {
                        return;
                    }
                    thread::sleep(RETRY_UNAVAILABLE);
                    continue;
                }
                Err(e) => ReaderEvent::Error(e),
            };
            if tx.send(event).is_err() {
                return; // the kiosk has stopped listening
            }
        }
    })?;
    Ok(rx)
}
