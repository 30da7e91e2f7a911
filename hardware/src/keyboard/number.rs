//! Key presses to badge numbers: digits, then Enter.

use mtime_core::badge::BadgeUid;

use super::NumberFormat;
use super::event::{EV_KEY, InputEvent, KEY_DOWN};

/// Digits left without Enter for longer than this are a broken read, not the start of the
/// next one: a reader types a whole number within a few tens of milliseconds.
const MAX_GAP_MICROS: i64 = 1_000_000;

/// Keys that type no character and are ignored.
const MODIFIERS: [u16; 10] = [29, 42, 54, 56, 58, 69, 97, 100, 125, 126];

/// Enter on the main block and on the keypad.
const ENTERS: [u16; 2] = [28, 96];

/// Collects digit key presses until Enter.
#[derive(Debug, Clone)]
pub struct NumberDecoder {
    format: NumberFormat,
    digits: String,
    /// Why the number being typed is already garbage; told when Enter ends it.
    spoiled: Option<String>,
    last_key: Option<i64>,
}

impl NumberDecoder {
    /// A decoder for numbers of `format`.
    pub fn new(format: NumberFormat) -> Self {
        Self { format, digits: String::new(), spoiled: None, last_key: None }
    }

    /// Forgets a number half typed.
    pub fn reset(&mut self) {
        self.digits.clear();
        self.spoiled = None;
        self.last_key = None;
    }

    /// Takes one event; returns a badge or why there is none when a number ends.
    pub fn feed(&mut self, event: &InputEvent) -> Option<Result<BadgeUid, String>> {
        if event.kind != EV_KEY || event.value != KEY_DOWN || MODIFIERS.contains(&event.code) {
            return None;
        }

        // Digits from a broken read long ago must not prefix the next badge's.
        let stale = match self.last_key {
            Some(last) if event.micros.saturating_sub(last) > MAX_GAP_MICROS => {
                let typed = std::mem::take(&mut self.digits);
                let was_spoiled = self.spoiled.take().is_some();
                (!typed.is_empty() || was_spoiled).then(|| {
                    format!("{typed:?} was typed without Enter and dropped after a second")
                })
            }
            _ => None,
        };
        self.last_key = Some(event.micros);

        if ENTERS.contains(&event.code) {
            let ended = self.finish();
            self.reset();
            // Enter right after dropped digits is the end of that broken read.
            return Some(match stale {
                Some(stale) => Err(stale),
                None => ended,
            });
        }

        match digit(event.code) {
            Some(_) if self.spoiled.is_some() => {}
            Some(_) if self.digits.len() >= self.format.max_digits() => {
                self.spoiled = Some(format!(
                    "more than {} digits, which is all a {}-byte number has",
                    self.format.max_digits(),
                    self.format.width
                ));
            }
            Some(d) => self.digits.push(d),
            None if self.spoiled.is_none() => {
                self.spoiled = Some(format!("key code {} is not a digit", event.code));
            }
            None => {}
        }
        stale.map(Err)
    }

    /// The badge for the digits typed so far.
    fn finish(&self) -> Result<BadgeUid, String> {
        if let Some(why) = &self.spoiled {
            return Err(why.clone());
        }
        if self.digits.is_empty() {
            return Err("Enter with no digits before it".into());
        }
        // At most 20 digits were kept, so anything that fails to parse is too big anyway.
        let number = self
            .digits
            .parse::<u64>()
            .map_err(|_| format!("{} does not fit in {} bytes", self.digits, self.format.width))?;
        self.format.uid(number)
    }
}

/// The digit a key types, on the main row or the keypad.
fn digit(code: u16) -> Option<char> {
    let d = match code {
        2..=10 => code - 1,   // KEY_1..KEY_9
        11 => 0,              // KEY_0
        71..=73 => code - 64, // KEY_KP7..KEY_KP9
        75..=77 => code - 71, // KEY_KP4..KEY_KP6
        79..=81 => code - 78, // KEY_KP1..KEY_KP3
        82 => 0,              // KEY_KP0
        _ => return None,
    };
    char::from_digit(u32::from(d), 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyboard::ByteOrder;

    /// Key codes of the main-row digits, 0 to 9.
    const ROW: [u16; 10] = [11, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    /// Key codes of the keypad digits, 0 to 9.
    const PAD: [u16; 10] = [82, 79, 80, 81, 75, 76, 77, 71, 72, 73];

    fn key(code: u16, micros: i64) -> InputEvent {
        InputEvent { micros, kind: EV_KEY, code, value: KEY_DOWN }
    }

    /// Feeds `text` (digits, `\n` for Enter, `x` for KEY_X) a millisecond apart, from `at`.
    fn type_text(
        decoder: &mut NumberDecoder,
        text: &str,
        codes: [u16; 10],
        at: i64,
    ) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        for (i, c) in text.chars().enumerate() {
            let code = match c {
                '\n' => 28,
                'x' => 45,
                d => codes[d.to_digit(10).unwrap() as usize],
            };
            let micros = at + 1000 * i as i64;
            for event in [key(code, micros), InputEvent { value: 0, ..key(code, micros + 10) }] {
                if let Some(r) = decoder.feed(&event) {
                    out.push(r.map(|uid| uid.to_string()));
                }
            }
        }
        out
    }

    fn decoder(width: u8, order: ByteOrder) -> NumberDecoder {
        NumberDecoder::new(NumberFormat::new(width, order).unwrap())
    }

    #[test]
    fn digits_from_the_row_or_the_keypad_then_enter_are_a_badge() {
        let mut d = decoder(4, ByteOrder::Big);
        assert_eq!(type_text(&mut d, "3569102438\n", ROW, 0), [Ok("D4BC2E66".into())]);
        assert_eq!(type_text(&mut d, "3569102438\n", PAD, 0), [Ok("D4BC2E66".into())]);
        let mut d = decoder(4, ByteOrder::Little);
        assert_eq!(type_text(&mut d, "0000000001\n", ROW, 0), [Ok("01000000".into())]);
        let enter_on_keypad = [key(2, 0), key(96, 1)];
        let results: Vec<_> = enter_on_keypad.iter().filter_map(|e| d.feed(e)).collect();
        assert_eq!(results, [Ok("01000000".parse().unwrap())]);
    }

    #[test]
    fn garbage_is_one_clear_error_per_number_and_no_badge() {
        let mut d = decoder(4, ByteOrder::Big);
        assert_eq!(type_text(&mut d, "\n", ROW, 0), [Err("Enter with no digits before it".into())]);
        assert_eq!(
            type_text(&mut d, "12x34\n", ROW, 0),
            [Err("key code 45 is not a digit".into())]
        );
        assert_eq!(
            type_text(&mut d, "12345678901\n", ROW, 0),
            [Err("more than 10 digits, which is all a 4-byte number has".into())]
        );
        assert_eq!(
            type_text(&mut d, "4294967296\n", ROW, 0),
            [Err("4294967296 does not fit in 4 bytes (the largest is 4294967295)".into())]
        );
        // The decoder is clean again afterwards.
        assert_eq!(type_text(&mut d, "1\n", ROW, 0), [Ok("00000001".into())]);
    }

    #[test]
    fn digits_left_without_enter_do_not_prefix_the_next_badge() {
        let mut d = decoder(4, ByteOrder::Big);
        assert_eq!(type_text(&mut d, "123", ROW, 0), []);
        let later = type_text(&mut d, "1\n", ROW, 5_000_000);
        assert_eq!(
            later,
            [
                Err("\"123\" was typed without Enter and dropped after a second".into()),
                Ok("00000001".into())
            ]
        );
    }

    #[test]
    fn modifiers_releases_repeats_and_other_event_types_are_ignored() {
        let mut d = decoder(4, ByteOrder::Big);
        let events = [
            InputEvent { micros: 0, kind: 4, code: 4, value: 0x7001e }, // EV_MSC scan code
            key(42, 0),                                                 // left shift
            key(2, 1),
            InputEvent { value: 2, ..key(2, 2) }, // auto-repeat
            InputEvent { micros: 3, kind: 0, code: 0, value: 0 }, // EV_SYN
            key(28, 4),
        ];
        let results: Vec<_> = events.iter().filter_map(|e| d.feed(e)).collect();
        assert_eq!(results, [Ok("00000001".parse().unwrap())]);
    }

    #[test]
    fn the_digit_table_covers_both_blocks_and_nothing_else() {
        for (value, (row, pad)) in ROW.iter().zip(PAD).enumerate() {
            let expected = char::from_digit(value as u32, 10);
            assert_eq!(digit(*row), expected);
            assert_eq!(digit(pad), expected);
        }
        let digits = (0..=u16::MAX).filter(|c| digit(*c).is_some()).count();
        assert_eq!(digits, 20);
    }
}
