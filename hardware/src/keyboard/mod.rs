//! USB badge readers that pretend to be keyboards: they type the badge number in decimal,
//! then Enter. Cheap 125 kHz readers work this way.
//!
//! [`KeyboardReader`] reads the reader's Linux input device (best its stable name under
//! `/dev/input/by-id/…-event-kbd`), optionally grabbing it so the digits reach no other
//! program, and turns each number into a [`BadgeUid`]: the number is the UID read as an
//! unsigned integer of `width` bytes in the configured byte order ([`NumberFormat`]).
//!
//! | width | byte order | typed        | badge UID  |
//! |-------|------------|--------------|------------|
//! | 4     | big        | `3569102438` | `D4BC2E66` |
//! | 4     | little     | `3569102438` | `662EBCD4` |
//! | 5     | big        | `0012345678` | `0000BC614E` |
//!
//! Anything else (a key that is no digit, more digits than the width can hold, a number
//! too big for it, Enter with no digits, digits left without Enter for over a second) is a
//! [`ReaderError::BadRead`] and no tap. A device that is missing or unplugged is
//! [`ReaderError::Unavailable`]; [`crate::spawn`] opens it again once it is back.
//!
//! # Limitations
//!
//! - Linux input events in the layout of 64-bit targets (24 bytes each) and of 32-bit
//!   targets with a 32-bit `time_t` (16 bytes); a 32-bit system built with a 64-bit
//!   `time_t` is not handled.
//! - Grabbing needs one `ioctl` and so the crate's one allowance of unsafe code (see
//!   `grab.rs`). If the grab fails, reading goes on with a warning and the digits also
//!   reach whatever else reads the keyboard.
//! - Readers that type hexadecimal, or letters, are not handled: letters are refused.
//! - The recorded input events in the tests are synthesized in the kernel's layout and
//!   order (see `tests/data/README.md`), not captured from a real reader.

mod event;
mod grab;
mod number;

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;

use serde::Deserialize;

pub use event::{InputEvent, RECORD_SIZE};
pub use number::NumberDecoder;

use crate::{BadgeReader, ReaderError, Tap};
use mtime_core::badge::BadgeUid;
use mtime_core::event::RequestedAction;

/// Which end of the typed number is the UID's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    /// The most significant byte is the UID's first byte.
    Big,
    /// The least significant byte is the UID's first byte.
    Little,
}

/// How a typed number becomes a UID: its width in bytes and its byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberFormat {
    width: u8,
    order: ByteOrder,
}

impl NumberFormat {
    /// A format of `width` bytes, 1 to 8.
    pub fn new(width: u8, order: ByteOrder) -> Result<Self, String> {
        if !(1..=8).contains(&width) {
            return Err(format!("keyboard reader width {width} is out of range; use 1 to 8"));
        }
        Ok(Self { width, order })
    }

    /// The largest number this width holds.
    pub fn max(&self) -> u64 {
        u64::MAX >> (64 - 8 * u32::from(self.width))
    }

    /// How many decimal digits the largest number has: more typed digits are garbage.
    pub fn max_digits(&self) -> usize {
        self.max().to_string().len()
    }

    /// The UID a number stands for, or why it stands for none.
    pub fn uid(&self, number: u64) -> Result<BadgeUid, String> {
        if number > self.max() {
            return Err(format!(
                "{number} does not fit in {} bytes (the largest is {})",
                self.width,
                self.max()
            ));
        }
        let width = usize::from(self.width);
        let bytes = match self.order {
            ByteOrder::Big => number.to_be_bytes()[8 - width..].to_vec(),
            ByteOrder::Little => number.to_le_bytes()[..width].to_vec(),
        };
        BadgeUid::from_bytes(&bytes).map_err(|e| e.to_string())
    }
}

/// A keyboard-emulating reader on a Linux input device.
pub struct KeyboardReader {
    path: PathBuf,
    grab: bool,
    device: Option<File>,
    decoder: NumberDecoder,
}

impl KeyboardReader {
    /// A reader of the input device at `path`; nothing is opened yet.
    pub fn new(path: PathBuf, format: NumberFormat, grab: bool) -> Self {
        Self { path, grab, device: None, decoder: NumberDecoder::new(format) }
    }

    /// Forgets the device after it failed, so the next open starts afresh.
    fn lost(&mut self, why: String) -> ReaderError {
        self.device = None;
        self.decoder.reset();
        ReaderError::Unavailable(format!("keyboard reader {}: {why}", self.path.display()))
    }
}

impl BadgeReader for KeyboardReader {
    fn open(&mut self) -> Result<(), ReaderError> {
        if self.device.is_some() {
            return Ok(());
        }
        let device = File::open(&self.path).map_err(|e| self.lost(e.to_string()))?;
        if self.grab
            && let Err(e) = grab::grab(&device)
        {
            tracing::warn!(
                device = %self.path.display(),
                error = %e,
                "could not grab the keyboard reader; its digits also reach other programs"
            );
        }
        self.device = Some(device);
        Ok(())
    }

    fn next_tap(&mut self) -> Result<Option<Tap>, ReaderError> {
        self.open()?;
        let mut record = [0; RECORD_SIZE];
        loop {
            let Some(device) = self.device.as_mut() else {
                return Err(self.lost("not open".into()));
            };
            match device.read_exact(&mut record) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    return Err(self.lost("the device has ended".into()));
                }
                Err(e) => return Err(self.lost(e.to_string())),
            }

            match self.decoder.feed(&InputEvent::parse(&record)) {
                Some(Ok(uid)) => return Ok(Some(Tap { uid, action: RequestedAction::Toggle })),
                Some(Err(message)) => return Err(ReaderError::BadRead(message)),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_uids_in_either_byte_order() {
        let big = NumberFormat::new(4, ByteOrder::Big).unwrap();
        let little = NumberFormat::new(4, ByteOrder::Little).unwrap();
        assert_eq!(big.uid(3_569_102_438).unwrap().to_string(), "D4BC2E66");
        assert_eq!(little.uid(3_569_102_438).unwrap().to_string(), "662EBCD4");
        assert_eq!(big.uid(0).unwrap().to_string(), "00000000", "leading zero bytes stay");

        let five = NumberFormat::new(5, ByteOrder::Big).unwrap();
        assert_eq!(five.uid(12_345_678).unwrap().to_string(), "0000BC614E");
        assert_eq!(five.max(), 0xFF_FFFF_FFFF);
        assert_eq!(five.max_digits(), 13);

        let eight = NumberFormat::new(8, ByteOrder::Little).unwrap();
        assert_eq!(eight.uid(u64::MAX).unwrap().to_string(), "FFFFFFFFFFFFFFFF");
    }

    #[test]
    fn numbers_too_big_for_the_width_and_widths_out_of_range_are_refused() {
        let four = NumberFormat::new(4, ByteOrder::Big).unwrap();
        assert_eq!(four.max_digits(), 10);
        assert_eq!(
            four.uid(4_294_967_296).unwrap_err(),
            "4294967296 does not fit in 4 bytes (the largest is 4294967295)"
        );
        assert!(NumberFormat::new(0, ByteOrder::Big).is_err());
        assert!(NumberFormat::new(9, ByteOrder::Big).unwrap_err().contains("1 to 8"));
    }

    #[test]
    fn a_missing_device_is_unavailable_naming_it() {
        let format = NumberFormat::new(4, ByteOrder::Big).unwrap();
        let mut reader = KeyboardReader::new("/nonexistent/kbd".into(), format, true);
        let err = reader.next_tap().unwrap_err();
        assert!(matches!(&err, ReaderError::Unavailable(m) if m.contains("/nonexistent/kbd")));
    }
}
