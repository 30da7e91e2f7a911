//! Linux input events (`struct input_event`) as the kernel hands them to readers of
//! `/dev/input/event*`.

/// Bytes in one event: a `timeval` (two longs), type and code (u16 each), value (i32).
#[cfg(target_pointer_width = "64")]
pub const RECORD_SIZE: usize = 24;
/// Bytes in one event: a `timeval` (two longs), type and code (u16 each), value (i32).
#[cfg(not(target_pointer_width = "64"))]
pub const RECORD_SIZE: usize = 16;

/// The bytes of a `long` in the record's `timeval`.
const LONG: usize = RECORD_SIZE / 2 - 4;

/// Event type of key presses and releases.
pub const EV_KEY: u16 = 1;
/// `value` of a key going down (0 is up, 2 is auto-repeat).
pub const KEY_DOWN: i32 = 1;

/// One input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    /// When it happened, in microseconds since the epoch (or since boot).
    pub micros: i64,
    /// `EV_KEY`, `EV_SYN`, `EV_MSC`, …
    pub kind: u16,
    /// The key code for `EV_KEY`.
    pub code: u16,
    /// Down, up or repeat for `EV_KEY`.
    pub value: i32,
}

impl InputEvent {
    /// Decodes one record in the machine's byte order; every bit pattern is some event.
    pub fn parse(record: &[u8; RECORD_SIZE]) -> Self {
        let long = |at: usize| {
            let mut raw = [0; 8];
            raw[..LONG].copy_from_slice(&record[at..at + LONG]);
            // Sign-extend a 4-byte long so a negative time stays negative.
            if LONG == 4 && cfg!(target_endian = "little") {
                i64::from(i32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]))
            } else {
                i64::from_ne_bytes(raw)
            }
        };
        let seconds = long(0);
        let micros = long(LONG);
        let rest = &record[2 * LONG..];
        Self {
            micros: seconds.saturating_mul(1_000_000).saturating_add(micros),
            kind: u16::from_ne_bytes([rest[0], rest[1]]),
            code: u16::from_ne_bytes([rest[2], rest[3]]),
            value: i32::from_ne_bytes([rest[4], rest[5], rest[6], rest[7]]),
        }
    }

    /// The record the kernel would write for this event (tests, recordings).
    pub fn to_record(&self) -> [u8; RECORD_SIZE] {
        let mut record = [0; RECORD_SIZE];
        let seconds = self.micros.div_euclid(1_000_000);
        let micros = self.micros.rem_euclid(1_000_000);
        record[..LONG].copy_from_slice(&seconds.to_ne_bytes()[..LONG]);
        record[LONG..2 * LONG].copy_from_slice(&micros.to_ne_bytes()[..LONG]);
        let rest = &mut record[2 * LONG..];
        rest[..2].copy_from_slice(&self.kind.to_ne_bytes());
        rest[2..4].copy_from_slice(&self.code.to_ne_bytes());
        rest[4..].copy_from_slice(&self.value.to_ne_bytes());
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_pointer_width = "64", target_endian = "little"))]
    #[test]
    fn decodes_the_kernels_64_bit_layout() {
        // 1765000000.250000 s, EV_KEY, KEY_ENTER (28), down.
        let mut record = [0; 24];
        record[..8].copy_from_slice(&1_765_000_000i64.to_le_bytes());
        record[8..16].copy_from_slice(&250_000i64.to_le_bytes());
        record[16..18].copy_from_slice(&1u16.to_le_bytes());
        record[18..20].copy_from_slice(&28u16.to_le_bytes());
        record[20..].copy_from_slice(&1i32.to_le_bytes());
        let event = InputEvent::parse(&record);
        assert_eq!(
            event,
            InputEvent { micros: 1_765_000_000_250_000, kind: EV_KEY, code: 28, value: KEY_DOWN }
        );
        assert_eq!(event.to_record(), record);
    }

    #[test]
    fn any_bytes_decode_without_panicking() {
        let event = InputEvent::parse(&[0xFF; RECORD_SIZE]);
        assert_eq!((event.kind, event.code, event.value), (0xFFFF, 0xFFFF, -1));
        let event = InputEvent::parse(&[0x80; RECORD_SIZE]);
        assert_eq!(event.kind, 0x8080);
    }
}
