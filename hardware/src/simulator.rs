//! A simulated reader that replays a script of taps (from a file, a pipe or a terminal;
//! [`crate::socket`] takes the same lines from a Unix socket).
//!
//! One tap per line: the badge UID, then optionally the key pressed (`in`, `out` or
//! `auto`, the default). `wait MS` pauses. Blank lines and `#` comments are ignored.
//!
//! ```text
//! # E01 checks in, E05 lets the kiosk decide
//! 04E87577DE9811 in
//! wait 1500
//! 1F:F3:16:32
//! ```

use std::io::BufRead;
use std::thread;
use std::time::Duration;

use crate::{BadgeReader, ReaderError, Tap};
use mtime_core::event::RequestedAction;

/// Reads taps from a script, line by line, as they become available (a file, a pipe or
/// a terminal).
pub struct ScriptReader<R> {
    input: R,
    line_no: usize,
}

impl<R: BufRead + Send> ScriptReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        Self { input, line_no: 0 }
    }
}

/// One parsed script line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptLine {
    /// A tap.
    Tap(Tap),
    /// A pause.
    Wait(Duration),
    /// Nothing to do.
    Blank,
}

/// The longest script line read; longer ones are refused without being echoed.
const MAX_LINE: usize = 256;

/// Parses one script line.
pub fn parse_line(line: &str) -> Result<ScriptLine, String> {
    if line.len() > MAX_LINE {
        return Err(format!("line of {} bytes is longer than {MAX_LINE}", line.len()));
    }
    let line = line.trim_start_matches('\u{feff}').split('#').next().unwrap_or("").trim();
    if line.is_empty() {
        return Ok(ScriptLine::Blank);
    }

    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or("");
    if first.eq_ignore_ascii_case("wait") {
        let ms = words
            .next()
            .and_then(|w| w.parse::<u64>().ok())
            .ok_or_else(|| format!("{line:?}: wait needs milliseconds, such as \"wait 500\""))?;
        return Ok(ScriptLine::Wait(Duration::from_millis(ms)));
    }

    // The UID may contain spaces ("04 E8 75"), so the action is the last word if it is one.
    let words: Vec<&str> = line.split_whitespace().collect();
    let (uid_words, action) = match words.last().map(|w| w.parse::<RequestedAction>()) {
        Some(Ok(action)) if words.len() > 1 => (&words[..words.len() - 1], action),
        // A last word that is no hex byte is a key we do not know, not part of the UID.
        Some(Err(_))
            if words.len() > 1
                && !words[words.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '-') =>
        {
            return Err(format!(
                "unknown key {:?}; expected in, out or auto after the badge UID",
                words[words.len() - 1]
            ));
        }
        _ => (&words[..], RequestedAction::Toggle),
    };
    let uid = uid_words.join(" ").parse().map_err(|e| format!("{e}"))?;
    Ok(ScriptLine::Tap(Tap { uid, action }))
}

/// One line read with a bound on what is kept in memory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BoundedLine {
    /// The input ended before anything was read.
    End,
    /// A line ended by its newline (kept), or by the end of the input (no newline).
    Line(Vec<u8>),
    /// A line longer than the bound: skipped up to its newline, only counted.
    TooLong(usize),
}

/// Reads one line of at most `max` bytes, newline included. The rest of a longer line is
/// read and thrown away without keeping it, so an endless line costs no memory.
pub(crate) fn read_bounded_line(
    input: &mut impl BufRead,
    max: usize,
) -> std::io::Result<BoundedLine> {
    let mut line = Vec::new();
    let mut skipped = 0usize;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(match (line.is_empty(), skipped) {
                (true, 0) => BoundedLine::End,
                (_, 0) => BoundedLine::Line(line),
                (_, n) => BoundedLine::TooLong(n),
            });
        }
        let (chunk, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let used = chunk.len();
        if skipped == 0 && line.len() + used <= max {
            line.extend_from_slice(chunk);
        } else {
            skipped = skipped.saturating_add(line.len() + used);
            line.clear();
        }
        input.consume(used);
        if ends {
            return Ok(if skipped == 0 {
                BoundedLine::Line(line)
            } else {
                BoundedLine::TooLong(skipped)
            });
        }
    }
}

impl<R: BufRead + Send> BadgeReader for ScriptReader<R> {
    fn next_tap(&mut self) -> Result<Option<Tap>, ReaderError> {
        loop {
            self.line_no += 1;
            let read = read_bounded_line(&mut self.input, MAX_LINE + 2)
                .map_err(|e| ReaderError::Fatal(format!("tap script: {e}")))?;
            let raw = match read {
                BoundedLine::End => return Ok(None),
                BoundedLine::Line(raw) => raw,
                BoundedLine::TooLong(bytes) => {
                    return Err(ReaderError::Script {
                        line: self.line_no,
                        message: format!("line of {bytes} bytes is longer than {MAX_LINE}"),
                    });
                }
            };
            let Ok(line) = String::from_utf8(raw) else {
                return Err(ReaderError::Script {
                    line: self.line_no,
                    message: "not UTF-8 text".into(),
                });
            };

            match parse_line(&line) {
                Ok(ScriptLine::Tap(tap)) => return Ok(Some(tap)),
                Ok(ScriptLine::Wait(pause)) => thread::sleep(pause),
                Ok(ScriptLine::Blank) => {}
                Err(message) => return Err(ReaderError::Script { line: self.line_no, message }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use mtime_core::event::Direction;

    use super::*;

    #[test]
    fn an_endless_line_is_skipped_without_keeping_it() {
        let mut input = std::io::BufReader::with_capacity(
            64,
            std::io::Read::chain(std::io::repeat(b'0').take_bytes(1 << 20), &b"\nD4CA2E66\n"[..]),
        );
        assert_eq!(read_bounded_line(&mut input, 16).unwrap(), BoundedLine::TooLong((1 << 20) + 1));
        assert_eq!(
            read_bounded_line(&mut input, 16).unwrap(),
            BoundedLine::Line(b"D4CA2E66\n".to_vec())
        );
        assert_eq!(read_bounded_line(&mut input, 16).unwrap(), BoundedLine::End);
        let mut unfinished = &b"04E8"[..];
        assert_eq!(
            read_bounded_line(&mut unfinished, 16).unwrap(),
            BoundedLine::Line(b"04E8".to_vec())
        );
    }

    trait TakeBytes: Sized {
        fn take_bytes(self, n: u64) -> std::io::Take<Self>;
    }

    impl<R: std::io::Read> TakeBytes for R {
        fn take_bytes(self, n: u64) -> std::io::Take<Self> {
            std::io::Read::take(self, n)
        }
    }

    #[test]
    fn replays_taps_with_their_keys_and_reports_bad_lines_by_number() {
        let script = "# start\n04E87577DE9811 in\n\n1F F3 16 32\nD4CA2E66 OUT\nwait 1\nnot-a-uid\n";
        let mut reader = ScriptReader::new(script.as_bytes());

        let first = reader.next_tap().unwrap().unwrap();
        assert_eq!(first.uid.to_string(), "04E87577DE9811");
        assert_eq!(first.action, RequestedAction::Explicit(Direction::In));

        let second = reader.next_tap().unwrap().unwrap();
        assert_eq!(second.uid.to_string(), "1FF31632");
        assert_eq!(second.action, RequestedAction::Toggle);

        let third = reader.next_tap().unwrap().unwrap();
        assert_eq!(third.action, RequestedAction::Explicit(Direction::Out));

        let bad = reader.next_tap().unwrap_err();
        assert!(matches!(bad, ReaderError::Script { line: 7, .. }), "{bad}");
        assert_eq!(reader.next_tap(), Ok(None));
    }

    #[test]
    fn a_spawned_reader_delivers_taps_then_ends() {
        let reader = ScriptReader::new(std::io::Cursor::new("04E87577DE9811 auto\n".to_owned()));
        let rx = crate::spawn(Box::new(reader)).unwrap();
        assert_eq!(rx.recv().unwrap(), crate::ReaderEvent::Ready);
        assert!(matches!(rx.recv().unwrap(), crate::ReaderEvent::Tap(_)));
        assert_eq!(rx.recv().unwrap(), crate::ReaderEvent::Ended);
    }

    #[test]
    fn unknown_keys_long_lines_and_a_byte_order_mark() {
        let err = parse_line("04E87577DE9811 sideways").unwrap_err();
        assert!(err.contains("unknown key \"sideways\""), "{err}");
        let err = parse_line(&"0".repeat(10_000)).unwrap_err();
        assert!(err.len() < 100, "a long line is not echoed: {err}");
        assert!(matches!(parse_line("\u{feff}04E87577DE9811 in"), Ok(ScriptLine::Tap(_))));
        assert!(matches!(parse_line("04 E8 75 77 DE 98 11"), Ok(ScriptLine::Tap(_))));
    }

    #[test]
    fn an_unreadable_script_ends_the_reader_instead_of_spinning() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("Is a directory"))
            }
        }
        let reader = ScriptReader::new(std::io::BufReader::new(Broken));
        let rx = crate::spawn(Box::new(reader)).unwrap();
        assert_eq!(rx.recv().unwrap(), crate::ReaderEvent::Ready);
        assert!(matches!(rx.recv().unwrap(), crate::ReaderEvent::Error(ReaderError::Fatal(_))));
        assert_eq!(rx.recv().unwrap(), crate::ReaderEvent::Ended);
        assert!(rx.recv().is_err(), "the reader thread is gone");
    }

    #[test]
    fn invalid_utf8_is_a_skipped_line_with_its_number() {
        let mut reader = ScriptReader::new(&b"\xff\xfe\n04E87577DE9811 in\n"[..]);
        assert!(matches!(reader.next_tap(), Err(ReaderError::Script { line: 1, .. })));
        assert!(reader.next_tap().unwrap().is_some());
    }

    #[test]
    fn wait_needs_a_number() {
        assert!(parse_line("wait soon").is_err());
        assert_eq!(parse_line("wait 5"), Ok(ScriptLine::Wait(Duration::from_millis(5))));
    }
}
