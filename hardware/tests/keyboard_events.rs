//! The keyboard reader on recorded input events (`tests/data/keyboard-reader.events`, see
//! `tests/data/README.md`), read through a file the way it reads a device, with each
//! width and byte order a kiosk may configure.
#![cfg(all(target_pointer_width = "64", target_endian = "little"))]

use std::path::PathBuf;

use mtime_hardware::keyboard::{ByteOrder, KeyboardReader, NumberFormat};
use mtime_hardware::{BadgeReader, ReaderError};

/// Every read from the recording until the file ends, as the UID or the error text.
fn reads(width: u8, order: ByteOrder) -> Vec<Result<String, String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keyboard-reader.events");
    let format = NumberFormat::new(width, order).expect("a valid width");
    let mut reader = KeyboardReader::new(path, format, false);
    let mut out = Vec::new();
    loop {
        match reader.next_tap() {
            Ok(Some(tap)) => out.push(Ok(tap.uid.to_string())),
            Err(ReaderError::BadRead(message)) => out.push(Err(message)),
            // The end of the recording is what an unplugged device looks like.
            Err(ReaderError::Unavailable(message)) => {
                assert!(message.contains("has ended"), "{message}");
                return out;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

const NO_DIGITS: &str = "Enter with no digits before it";
const LETTER: &str = "key code 30 is not a digit";

#[test]
fn four_bytes_big_endian() {
    assert_eq!(
        reads(4, ByteOrder::Big),
        [
            Ok("D4BC2E66".into()),
            Ok("00BC614E".into()),
            Err(NO_DIGITS.into()),
            Err(LETTER.into()),
            Err("more than 10 digits, which is all a 4-byte number has".into()),
            Err("4294967296 does not fit in 4 bytes (the largest is 4294967295)".into()),
            Ok("00000001".into()),
        ]
    );
}

#[test]
fn four_bytes_little_endian() {
    assert_eq!(
        reads(4, ByteOrder::Little),
        [
            Ok("662EBCD4".into()),
            Ok("4E61BC00".into()),
            Err(NO_DIGITS.into()),
            Err(LETTER.into()),
            Err("more than 10 digits, which is all a 4-byte number has".into()),
            Err("4294967296 does not fit in 4 bytes (the largest is 4294967295)".into()),
            Ok("01000000".into()),
        ]
    );
}

#[test]
fn five_bytes_hold_what_four_cannot() {
    assert_eq!(
        reads(5, ByteOrder::Big),
        [
            Ok("00D4BC2E66".into()),
            Ok("0000BC614E".into()),
            Err(NO_DIGITS.into()),
            Err(LETTER.into()),
            Ok("174876E7FF".into()),
            Ok("0100000000".into()),
            Ok("0000000001".into()),
        ]
    );
    assert_eq!(reads(5, ByteOrder::Little)[5], Ok("0000000001".into()));
}

#[test]
fn a_short_last_record_is_the_device_ending_not_a_panic() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("cut.events");
    let recording = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keyboard-reader.events"),
    )
    .expect("the recording");
    std::fs::write(&path, &recording[..24 * 66 + 7]).expect("a cut recording");
    let format = NumberFormat::new(4, ByteOrder::Big).expect("a valid width");
    let mut reader = KeyboardReader::new(path, format, false);
    assert_eq!(
        reader.next_tap().expect("the first badge").map(|t| t.uid.to_string()),
        Some("D4BC2E66".into())
    );
    assert!(matches!(reader.next_tap(), Err(ReaderError::Unavailable(_))));
}

#[test]
fn a_device_that_appears_later_is_opened_and_read_without_a_restart() {
    use mtime_hardware::ReaderEvent;
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let device = dir.path().join("event-kbd");
    let format = NumberFormat::new(4, ByteOrder::Big).expect("a valid width");
    let reader = KeyboardReader::new(device.clone(), format, false);
    let events = mtime_hardware::spawn_with_retry(Box::new(reader), Duration::from_millis(20))
        .expect("a reader thread");
    let next = || events.recv_timeout(Duration::from_secs(10)).expect("an event");

    assert!(
        matches!(next(), ReaderEvent::Error(ReaderError::Unavailable(m)) if m.contains("event-kbd"))
    );
    let recording = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keyboard-reader.events"),
    )
    .expect("the recording");
    // A device node appears whole; a file written in place could be opened while still
    // empty, which reads as a device that has ended.
    let staged = dir.path().join("staged");
    std::fs::write(&staged, &recording[..24 * 66]).expect("the recording copied");
    std::fs::rename(&staged, &device).expect("the device appears");

    assert_eq!(next(), ReaderEvent::Ready);
    let ReaderEvent::Tap(tap) = next() else { panic!("a tap") };
    assert_eq!(tap.uid.to_string(), "D4BC2E66");
    // The recording ends: the device is gone again, and reported once.
    assert!(matches!(next(), ReaderEvent::Error(ReaderError::Unavailable(_))));
}
