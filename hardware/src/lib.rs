//! Badge readers and feedback devices for mtime kiosks.
//!
//! Every reader sits behind the [`BadgeReader`] trait so that the kiosk does not care
//! whether a tap came from an NFC reader, a keyboard-emulating reader, a socket or a
//! script. A reader runs on its own thread ([`spawn`]) and hands [`ReaderEvent`]s to the
//! kiosk over a channel, so a slow or hung device never blocks the rest of the node.
//! Buzzers and LEDs sit behind [`feedback::FeedbackDevice`].
//!
//! The kiosk builds both from its configuration file ([`device_file`], whose `[reader]` and
//! `[feedback]` tables are [`config`]'s; [`panel`] is how its screen is mounted):
//!
//! ```
//! use mtime_hardware::config::{self, ReaderConfig};
//! use mtime_hardware::ReaderEvent;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let script = dir.path().join("taps.txt");
//! std::fs::write(&script, "04E87577DE9811 in\n").unwrap();
//! let config = ReaderConfig::Simulator { script: Some(script), socket: None };
//! let reader = config::open_reader(&config).unwrap();
//!
//! let events = mtime_hardware::spawn(reader).unwrap();
//! assert_eq!(events.recv().unwrap(), ReaderEvent::Ready);
//! let ReaderEvent::Tap(tap) = events.recv().unwrap() else { panic!("a tap") };
//! assert_eq!(tap.uid.to_string(), "04E87577DE9811");
//! assert_eq!(events.recv().unwrap(), ReaderEvent::Ended);
//! ```
//!
//! # Reader lost and back
//!
//! [`spawn`] opens the reader, sends [`ReaderEvent::Ready`], and then the taps. When the
//! device goes away it sends one [`ReaderEvent::Error`] holding
//! [`ReaderError::Unavailable`], tries to open it again every second, and sends `Ready`
//! once it is back: the kiosk shows "reader unavailable" from the error to the next `Ready`.
//! An unplugged NFC reader is reported within its poll interval plus libnfc's 300 ms
//! command timeout (the poll interval is at most 5 s, so always within 10 s; the PN532
//! simulation test measures it); an unplugged keyboard reader at once, because reading its
//! input device fails.
//!
//! # Limitations
//!
//! - Linux only: keyboard readers read Linux input events, GPIO uses the Linux character
//!   device, and the NFC tests need pseudo-terminals.
//! - NFC needs the `nfc` feature (system packages at build time, see `.ci/nfc.sh`);
//!   without it an `nfc` reader configuration is refused when opened.
//! - Each module's own limitations are listed in its documentation.

pub mod config;
pub mod device_file;
pub mod feedback;
pub mod keyboard;
#[cfg(feature = "nfc")]
pub mod nfc;
pub mod panel;
pub mod simulator;
pub mod socket;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

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
    /// The reader cannot go on (a tap script that cannot be read, a configuration this
    /// build cannot serve); no more reads follow.
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
    /// The reader sent something that is no badge (keys a badge number cannot hold, a UID
    /// of a length no card has); no tap follows from it and reading goes on.
    #[error("badge reader sent no badge: {0}")]
    BadRead(String),
}

/// A source of badge reads.
pub trait BadgeReader: Send {
    /// Makes sure the device is open. [`spawn`] calls it before the first read and again
    /// after every [`ReaderError::Unavailable`] until it succeeds; readers with no device
    /// keep the default, which always succeeds.
    fn open(&mut self) -> Result<(), ReaderError> {
        Ok(())
    }

    /// Blocks until the next tap. `Ok(None)` means the reader has ended for good (a script
    /// ran out); an error is reported and reading goes on.
    fn next_tap(&mut self) -> Result<Option<Tap>, ReaderError>;
}

/// What a reader thread sends to the kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// The reader is open: at start and again after it was unavailable. A "reader
    /// unavailable" screen can be cleared.
    Ready,
    /// A badge was read.
    Tap(Tap),
    /// The reader reported a problem. [`ReaderError::Unavailable`] is sent once when the
    /// reader is lost, not once per attempt to open it again.
    Error(ReaderError),
    /// The reader has ended.
    Ended,
}

/// How long to wait before asking an unavailable reader again.
pub const RETRY_UNAVAILABLE: Duration = Duration::from_secs(1);

/// Runs `reader` on its own thread and returns the channel its events arrive on.
pub fn spawn(reader: Box<dyn BadgeReader>) -> std::io::Result<mpsc::Receiver<ReaderEvent>> {
    spawn_with_retry(reader, RETRY_UNAVAILABLE)
}

/// [`spawn`] with another pause between attempts to open an unavailable reader (tests).
pub fn spawn_with_retry(
    mut reader: Box<dyn BadgeReader>,
    retry: Duration,
) -> std::io::Result<mpsc::Receiver<ReaderEvent>> {
    let (tx, rx) = mpsc::sync_channel(64);
    thread::Builder::new().name("badge-reader".into()).spawn(move || {
        let mut lifecycle = Lifecycle::Closed { reported: false };
        while let Some(event) = lifecycle.step(reader.as_mut(), retry) {
            let last = event == ReaderEvent::Ended;
            if tx.send(event).is_err() || last {
                return; // the kiosk has stopped listening, or the reader is done
            }
        }
    })?;
    Ok(rx)
}

/// Where a spawned reader stands between two events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    /// Not open; `reported` once the kiosk has been told.
    Closed { reported: bool },
    /// Open and reading.
    Open,
    /// Failed for good; [`ReaderEvent::Ended`] is still to be sent.
    Ending,
    /// Ended; nothing more is sent.
    Done,
}

impl Lifecycle {
    /// Works until there is something to tell the kiosk, and returns it (`None` when done).
    fn step(&mut self, reader: &mut dyn BadgeReader, retry: Duration) -> Option<ReaderEvent> {
        loop {
            match *self {
                Lifecycle::Done => return None,
                Lifecycle::Ending => {
                    *self = Lifecycle::Done;
                    return Some(ReaderEvent::Ended);
                }
                Lifecycle::Closed { reported } => match reader.open() {
                    Ok(()) => {
                        *self = Lifecycle::Open;
                        return Some(ReaderEvent::Ready);
                    }
                    Err(e @ ReaderError::Fatal(_)) => {
                        *self = Lifecycle::Ending;
                        return Some(ReaderEvent::Error(e));
                    }
                    Err(e) => {
                        // Still missing: say so once, then look again a little later rather
                        // than spinning.
                        *self = Lifecycle::Closed { reported: true };
                        if !reported {
                            return Some(ReaderEvent::Error(e));
                        }
                        tracing::debug!(error = %e, "badge reader still unavailable");
                        thread::sleep(retry);
                    }
                },
                Lifecycle::Open => {
                    return Some(match reader.next_tap() {
                        Ok(Some(tap)) => ReaderEvent::Tap(tap),
                        Ok(None) => {
                            *self = Lifecycle::Done;
                            ReaderEvent::Ended
                        }
                        Err(e @ ReaderError::Fatal(_)) => {
                            *self = Lifecycle::Ending;
                            ReaderEvent::Error(e)
                        }
                        Err(e @ ReaderError::Unavailable(_)) => {
                            *self = Lifecycle::Closed { reported: true };
                            ReaderEvent::Error(e)
                        }
                        Err(e) => ReaderEvent::Error(e),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A reader whose every answer is scripted.
    struct Scripted {
        opens: VecDeque<Result<(), ReaderError>>,
        reads: VecDeque<Result<Option<Tap>, ReaderError>>,
    }

    impl BadgeReader for Scripted {
        fn open(&mut self) -> Result<(), ReaderError> {
            self.opens.pop_front().unwrap_or(Ok(()))
        }

        fn next_tap(&mut self) -> Result<Option<Tap>, ReaderError> {
            self.reads.pop_front().unwrap_or(Ok(None))
        }
    }

    fn tap(uid: &str) -> Tap {
        Tap { uid: uid.parse().unwrap(), action: RequestedAction::Toggle }
    }

    fn lost() -> ReaderError {
        ReaderError::Unavailable("unplugged".into())
    }

    fn events_of(reader: Scripted) -> Vec<ReaderEvent> {
        let rx = spawn_with_retry(Box::new(reader), Duration::from_millis(1)).unwrap();
        rx.iter().collect()
    }

    #[test]
    fn ready_comes_before_the_first_tap_and_again_after_recovery() {
        let reader = Scripted {
            opens: [Ok(()), Err(lost()), Err(lost()), Err(lost()), Ok(())].into(),
            reads: [Ok(Some(tap("D4CA2E66"))), Err(lost()), Ok(Some(tap("1FF31632")))].into(),
        };
        assert_eq!(
            events_of(reader),
            [
                ReaderEvent::Ready,
                ReaderEvent::Tap(tap("D4CA2E66")),
                ReaderEvent::Error(lost()),
                // Three failed attempts to open it again are not three more errors.
                ReaderEvent::Ready,
                ReaderEvent::Tap(tap("1FF31632")),
                ReaderEvent::Ended,
            ]
        );
    }

    #[test]
    fn a_reader_missing_at_start_is_reported_once_then_ready() {
        let reader = Scripted {
            opens: [Err(lost()), Err(lost()), Ok(())].into(),
            reads: [Ok(Some(tap("D4CA2E66")))].into(),
        };
        assert_eq!(
            events_of(reader),
            [
                ReaderEvent::Error(lost()),
                ReaderEvent::Ready,
                ReaderEvent::Tap(tap("D4CA2E66")),
                ReaderEvent::Ended
            ]
        );
    }

    #[test]
    fn fatal_errors_end_the_reader_whether_opening_or_reading() {
        let fatal = ReaderError::Fatal("no nfc feature".into());
        let reader = Scripted { opens: [Err(fatal.clone())].into(), reads: [].into() };
        assert_eq!(events_of(reader), [ReaderEvent::Error(fatal.clone()), ReaderEvent::Ended]);

        let reader = Scripted { opens: [].into(), reads: [Err(fatal.clone())].into() };
        assert_eq!(
            events_of(reader),
            [ReaderEvent::Ready, ReaderEvent::Error(fatal), ReaderEvent::Ended]
        );
    }

    #[test]
    fn bad_reads_are_reported_and_reading_goes_on() {
        let bad = ReaderError::BadRead("Enter with no digits".into());
        let reader = Scripted {
            opens: [].into(),
            reads: [Err(bad.clone()), Ok(Some(tap("D4CA2E66")))].into(),
        };
        assert_eq!(
            events_of(reader),
            [
                ReaderEvent::Ready,
                ReaderEvent::Error(bad),
                ReaderEvent::Tap(tap("D4CA2E66")),
                ReaderEvent::Ended
            ]
        );
    }
}
