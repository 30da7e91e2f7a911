//! A simulated reader a developer taps from a terminal: script lines sent to a Unix socket.
//!
//! Every connection may send any number of lines in the tap script format of
//! [`crate::simulator`] (`04E87577DE9811 in`, `wait 500`, comments); each line is answered
//! `ok` once its tap is queued for the kiosk, or `error: …` saying what was wrong.
//!
//! ```sh
//! echo "04E87577DE9811 in" | socat - UNIX-CONNECT:/run/mtime/tap.sock   # prints: ok
//! nc -U /run/mtime/tap.sock                                             # tap interactively
//! ```
//!
//! # Limitations
//!
//! - Anyone who may write to the socket may tap any badge: it is for development and
//!   demonstrations. The socket gets the permissions of the process's umask.
//! - `ok` means queued, not recorded: what the kiosk made of the tap is on its screen.
//! - Lines longer than 256 bytes are refused; a connection is read one line at a time.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use crate::simulator::{ScriptLine, parse_line};
use crate::{BadgeReader, ReaderError, Tap};

/// Taps queued before a connection has to wait for the kiosk to take them.
const QUEUE: usize = 16;

/// The longest line read from a connection; the rest of a longer one is refused.
const MAX_LINE: u64 = 1024;

/// Taps from a Unix socket.
pub struct SocketReader {
    path: PathBuf,
    taps: mpsc::Receiver<Tap>,
}

impl SocketReader {
    /// Listens on `path`, replacing a socket a previous run left behind (but no other
    /// kind of file).
    pub fn bind(path: &Path) -> Result<Self, ReaderError> {
        let fatal =
            |e: std::io::Error| ReaderError::Fatal(format!("tap socket {}: {e}", path.display()));
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(ReaderError::Fatal(format!(
                    "tap socket {} exists and is no socket; remove it or choose another path",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(fatal)?;
        }
        let listener = UnixListener::bind(path).map_err(fatal)?;

        let (tx, taps) = mpsc::sync_channel(QUEUE);
        thread::Builder::new()
            .name("tap-socket".into())
            .spawn(move || accept(listener, tx))
            .map_err(fatal)?;
        Ok(Self { path: path.to_owned(), taps })
    }
}

/// Serves connections, each on its own thread, until the reader is gone.
fn accept(listener: UnixListener, tx: mpsc::SyncSender<Tap>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "tap socket: accepting a connection");
                continue;
            }
        };
        let tx = tx.clone();
        let spawned = thread::Builder::new().name("tap-connection".into()).spawn(move || {
            if let Err(e) = serve(stream, &tx) {
                tracing::debug!(error = %e, "tap socket: connection ended");
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "tap socket: no thread for a connection");
        }
    }
}

/// Answers one connection's lines until it closes or the reader is gone.
fn serve(stream: UnixStream, tx: &mpsc::SyncSender<Tap>) -> std::io::Result<()> {
    let mut replies = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    loop {
        let mut raw = Vec::new();
        if std::io::Read::take(&mut lines, MAX_LINE).read_until(b'\n', &mut raw)? == 0 {
            return Ok(());
        }
        if raw.last() != Some(&b'\n') && raw.len() as u64 == MAX_LINE {
            // Skip the rest of an overlong line so it is refused once, not in pieces.
            let mut rest = Vec::new();
            lines.read_until(b'\n', &mut rest)?;
        }

        let reply = match String::from_utf8(raw).map_err(|_| "not UTF-8 text".to_owned()) {
            Ok(line) => match parse_line(&line) {
                Ok(ScriptLine::Tap(tap)) => match tx.send(tap) {
                    Ok(()) => "ok".to_owned(),
                    Err(_) => return Ok(()), // the reader is gone
                },
                Ok(ScriptLine::Wait(pause)) => {
                    thread::sleep(pause);
                    "ok".to_owned()
                }
                Ok(ScriptLine::Blank) => "ok".to_owned(),
                Err(message) => format!("error: {message}"),
            },
            Err(message) => format!("error: {message}"),
        };
        writeln!(replies, "{reply}")?;
    }
}

impl BadgeReader for SocketReader {
    fn next_tap(&mut self) -> Result<Option<Tap>, ReaderError> {
        self.taps.recv().map(Some).map_err(|_| {
            ReaderError::Fatal(format!("tap socket {} stopped listening", self.path.display()))
        })
    }
}

impl Drop for SocketReader {
    fn drop(&mut self) {
        // Nobody will answer any more: let a developer's next connection fail at once.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::Duration;

    use mtime_core::event::{Direction, RequestedAction};

    use super::*;

    fn send(path: &Path, text: &str) -> String {
        send_bytes(path, text.as_bytes())
    }

    fn send_bytes(path: &Path, bytes: &[u8]) -> String {
        let mut stream = UnixStream::connect(path).unwrap();
        stream.write_all(bytes).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut replies = String::new();
        stream.read_to_string(&mut replies).unwrap();
        replies
    }

    #[test]
    fn each_line_is_answered_and_taps_arrive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tap.sock");
        let mut reader = SocketReader::bind(&path).unwrap();

        let replies = send(&path, "04E87577DE9811 in\n# a comment\nnot-a-uid\n1FF31632\n");
        let replies: Vec<&str> = replies.lines().collect();
        assert_eq!(replies.len(), 4);
        assert_eq!(&replies[..2], ["ok", "ok"]);
        assert!(replies[2].starts_with("error: badge UID \"not-a-uid\""), "{}", replies[2]);
        assert_eq!(replies[3], "ok");

        let first = reader.next_tap().unwrap().unwrap();
        assert_eq!(first.uid.to_string(), "04E87577DE9811");
        assert_eq!(first.action, RequestedAction::Explicit(Direction::In));
        let second = reader.next_tap().unwrap().unwrap();
        assert_eq!(second.uid.to_string(), "1FF31632");
        assert_eq!(second.action, RequestedAction::Toggle);
    }

    #[test]
    fn a_last_line_without_newline_and_binary_garbage_are_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tap.sock");
        let mut reader = SocketReader::bind(&path).unwrap();
        assert_eq!(send_bytes(&path, b"\xff\xfe\0\n"), "error: not UTF-8 text\n");
        assert_eq!(send(&path, "D4CA2E66 out"), "ok\n");
        assert_eq!(reader.next_tap().unwrap().unwrap().uid.to_string(), "D4CA2E66");
        let long = format!("{}\nD4CA2E66\n", "0".repeat(5000));
        let replies = send(&path, &long);
        let replies: Vec<&str> = replies.lines().collect();
        assert_eq!(replies.len(), 2, "{replies:?}");
        assert!(replies[0].starts_with("error: line of 1024 bytes"), "{}", replies[0]);
        assert_eq!(replies[1], "ok");
    }

    #[test]
    fn a_stale_socket_is_replaced_and_other_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tap.sock");
        drop(SocketReader::bind(&path).unwrap());
        let _stale = UnixListener::bind(&path).unwrap();
        let reader = SocketReader::bind(&path).unwrap();
        drop(reader);
        assert!(!path.exists(), "the socket goes with the reader");

        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "keep me").unwrap();
        let err = SocketReader::bind(&file).err().unwrap();
        assert!(matches!(err, ReaderError::Fatal(m) if m.contains("is no socket")));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    }

    #[test]
    fn a_spawned_socket_reader_delivers_typed_taps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tap.sock");
        let reader = SocketReader::bind(&path).unwrap();
        let events = crate::spawn(Box::new(reader)).unwrap();
        assert_eq!(events.recv_timeout(Duration::from_secs(5)).unwrap(), crate::ReaderEvent::Ready);
        assert_eq!(send(&path, "04E87577DE9811\n"), "ok\n");
        let crate::ReaderEvent::Tap(tap) = events.recv_timeout(Duration::from_secs(5)).unwrap()
        else {
            panic!("a tap");
        };
        assert_eq!(tap.uid.to_string(), "04E87577DE9811");
    }
}
