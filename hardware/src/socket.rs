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
//! - Lines longer than 256 bytes are refused, and what a longer line holds is thrown away as
//!   it arrives. A line counts only once its newline arrives: a client that goes away in
//!   the middle of a line taps nothing. At most 8 connections are served at once.

use std::io::{BufReader, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use crate::simulator::{BoundedLine, ScriptLine, parse_line, read_bounded_line};
use crate::{BadgeReader, ReaderError, Tap};

/// Taps queued before a connection has to wait for the kiosk to take them.
const QUEUE: usize = 16;

/// The longest line kept from a connection, newline included; a longer one is refused.
const MAX_LINE: usize = 258;

/// Connections served at once; another is told so and closed.
const MAX_CONNECTIONS: usize = 8;

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
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "tap socket: accepting a connection");
                continue;
            }
        };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            let _ = writeln!(stream, "error: {MAX_CONNECTIONS} connections are open already");
            continue;
        }
        let (tx, open) = (tx.clone(), open.clone());
        let spawned = thread::Builder::new().name("tap-connection".into()).spawn(move || {
            if let Err(e) = serve(stream, &tx) {
                tracing::debug!(error = %e, "tap socket: connection ended");
            }
            open.fetch_sub(1, Ordering::SeqCst);
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
        let raw = match read_bounded_line(&mut lines, MAX_LINE)? {
            BoundedLine::End => return Ok(()),
            BoundedLine::TooLong(bytes) => {
                writeln!(replies, "error: line of {bytes} bytes is longer than 256")?;
                continue;
            }
            // A line without its newline: the client went away mid-line.
            BoundedLine::Line(raw) if raw.last() != Some(&b'\n') => {
                tracing::debug!(bytes = raw.len(), "tap socket: unfinished line dropped");
                return Ok(());
            }
            BoundedLine::Line(raw) => raw,
        };

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
        assert_eq!(replies[2], "error: badge UID contains 'n', which is not a hex digit");
        assert_eq!(replies[3], "ok");

        let first = reader.next_tap().unwrap().unwrap();
        assert_eq!(first.uid.to_string(), "04E87577DE9811");
        assert_eq!(first.action, RequestedAction::Explicit(Direction::In));
        let second = reader.next_tap().unwrap().unwrap();
        assert_eq!(second.uid.to_string(), "1FF31632");
        assert_eq!(second.action, RequestedAction::Toggle);
    }

    #[test]
    fn an_unfinished_line_taps_nothing_and_garbage_and_long_lines_are_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tap.sock");
        let mut reader = SocketReader::bind(&path).unwrap();
        assert_eq!(send_bytes(&path, b"\xff\xfe\0\n"), "error: not UTF-8 text\n");
        // A client gone mid-line (killed while typing "04E8…") taps nothing.
        assert_eq!(send(&path, "04E8"), "");
        let long = format!("{}\nD4CA2E66 out\n", "0".repeat(5000));
        let replies = send(&path, &long);
        let replies: Vec<&str> = replies.lines().collect();
        assert_eq!(replies, ["error: line of 5001 bytes is longer than 256", "ok"]);
        assert_eq!(reader.next_tap().unwrap().unwrap().uid.to_string(), "D4CA2E66");
    }

    #[test]
    fn connections_past_the_limit_are_told_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tap.sock");
        let _reader = SocketReader::bind(&path).unwrap();
        let held: Vec<UnixStream> =
            (0..MAX_CONNECTIONS).map(|_| UnixStream::connect(&path).unwrap()).collect();
        let mut extra = UnixStream::connect(&path).unwrap();
        let mut answer = String::new();
        extra.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "error: 8 connections are open already\n");
        drop(held);
        // Served again once the others have gone.
        let started = std::time::Instant::now();
        loop {
            let replies = send(&path, "# hello\n");
            if replies == "ok\n" {
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{replies}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
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
