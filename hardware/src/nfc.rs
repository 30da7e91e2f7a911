//! NFC readers through libnfc (crate `nfc1`; Cargo feature `nfc`).
//!
//! [`NfcReader`] opens a libnfc device by its connstring (`pn532_uart:/dev/ttyUSB0`,
//! `pn53x_usb:`, or none for the first device libnfc finds) and looks for an ISO 14443A
//! card every poll interval. A badge's UID is taken exactly as the card sends it: 4, 7 or
//! 10 bytes, without the cascade tags (0x88) of the anticollision levels.
//!
//! - A card held on the reader is one read. It counts as having left once a poll finds no
//!   card, or finds a different one; two badges in quick succession are two reads.
//! - A missing, unplugged or silent device, or a USB reader another program has claimed, is
//!   [`ReaderError::Unavailable`]; the device is closed and [`crate::spawn`] opens it
//!   again once it is back, without a restart. Every libnfc call that polls has a 300 ms
//!   timeout, so an unplugged reader is noticed within one poll interval plus that (50 ms
//!   for an unplugged simulated PN532, 0.7 s for one that stops answering, in the tests).
//!
//! The libnfc inside is the vendored 1.8.0 (built with cmake; see `.ci/nfc.sh` for the
//! packages), built without configuration files, environment variables or logging: what
//! the kiosk's configuration says is all libnfc goes by, and without a connstring it looks
//! only for USB readers, never probing serial ports.
//!
//! # Limitations
//!
//! - Tested against a simulated PN532 on a pseudo-terminal driven by libnfc's real
//!   `pn532_uart` driver (`tests/nfc_pn532.rs`), not against a real reader and real cards.
//!   Whether a real PN532 finds a card that stays on it at every poll (rather than every
//!   other one, which would make it two reads) must be checked on the device.
//! - A serial reader that another program also has open is not refused as busy: libnfc's
//!   marker for a claimed port does not survive on Linux ttys, so both would talk to it.
//!   Give each reader to one program only.
//! - ISO 14443A only (MIFARE, NTAG, DESFire, most staff badges); FeliCa and ISO 14443B
//!   badges are not looked for.
//! - A UID that is random per tap (privacy-mode cards, phones) reads as a new badge each
//!   time; such badges cannot be enrolled.

use std::thread;
use std::time::Duration;

use nfc1::target_info::TargetInfo;
use nfc1::{BaudRate, Context, Device, Modulation, ModulationType, Property};

use crate::{BadgeReader, ReaderError, Tap};
use mtime_core::badge::BadgeUid;
use mtime_core::event::RequestedAction;

/// The byte that opens an anticollision level when more levels follow.
const CASCADE_TAG: u8 = 0x88;

/// An NFC reader polled for ISO 14443A cards.
pub struct NfcReader {
    connstring: Option<String>,
    poll_interval: Duration,
    presence: Presence,
    // Fields drop in order: the device is closed before its libnfc context is freed.
    device: Option<Device>,
    context: Context,
}

impl NfcReader {
    /// A reader of the device `connstring` names (none: the first one found), looking for
    /// a card every `poll_interval`. Nothing is opened yet.
    pub fn new(connstring: Option<&str>, poll_interval: Duration) -> Result<Self, ReaderError> {
        let context = Context::new()
            .map_err(|e| ReaderError::Fatal(format!("libnfc could not start: {e}")))?;
        Ok(Self {
            connstring: connstring.map(str::to_owned),
            poll_interval,
            presence: Presence::default(),
            device: None,
            context,
        })
    }

    /// The device as the errors name it.
    fn name(&self) -> &str {
        self.connstring.as_deref().unwrap_or("the first NFC reader")
    }

    /// Closes the device after it failed, so the next open starts afresh.
    fn lost(&mut self, why: impl std::fmt::Display) -> ReaderError {
        self.device = None;
        self.presence = Presence::default();
        ReaderError::Unavailable(format!("NFC reader {}: {why}", self.name()))
    }

    /// One look for a card: its UID, or none.
    fn poll(&mut self) -> Result<Option<BadgeUid>, ReaderError> {
        let Some(device) = self.device.as_mut() else {
            return Err(self.lost("not open"));
        };
        let iso14443a =
            Modulation { modulation_type: ModulationType::Iso14443a, baud_rate: BaudRate::Baud106 };
        // No card is success with an empty UID; an error is a reader gone or wedged.
        let target = match device.initiator_select_passive_target(&iso14443a) {
            Ok(target) => target,
            Err(e) => return Err(self.lost(e)),
        };
        match target.target_info {
            TargetInfo::Iso14443a(info) => {
                let len = info.uid_len.min(info.uid.len());
                uid_of(&info.uid[..len]).map_err(ReaderError::BadRead)
            }
            _ => Ok(None),
        }
    }
}

impl BadgeReader for NfcReader {
    fn open(&mut self) -> Result<(), ReaderError> {
        if self.device.is_some() {
            return Ok(());
        }
        let opened = match &self.connstring {
            Some(connstring) => self.context.open_with_connstring(connstring),
            None => self.context.open(),
        };
        let mut device = opened.map_err(|e| {
            self.lost(format!("{e}; is it plugged in, and not used by another program?"))
        })?;

        // As initiator, and with each look for a card a single try, so a poll with no card
        // answers at once instead of waiting for one.
        let ready = device
            .initiator_init()
            .and_then(|()| device.set_property_bool(Property::InfiniteSelect, false));
        if let Err(e) = ready {
            return Err(self.lost(format!("opened but not ready: {e}")));
        }
        tracing::info!(reader = self.name(), device = device.name(), "NFC reader open");
        self.device = Some(device);
        Ok(())
    }

    fn next_tap(&mut self) -> Result<Option<Tap>, ReaderError> {
        self.open()?;
        loop {
            let seen = self.poll()?;
            if let Some(uid) = self.presence.see(seen) {
                return Ok(Some(Tap { uid, action: RequestedAction::Toggle }));
            }
            thread::sleep(self.poll_interval);
        }
    }
}

/// Which card is on the reader, so a card held there is read once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Presence {
    held: Option<BadgeUid>,
}

impl Presence {
    /// Takes what one poll saw; returns the UID if it is a new read.
    fn see(&mut self, seen: Option<BadgeUid>) -> Option<BadgeUid> {
        let new = seen.filter(|uid| self.held != Some(*uid));
        self.held = seen;
        new
    }
}

/// The badge behind the UID bytes libnfc reports: none for no card, an error for bytes
/// that cannot be a whole UID.
pub fn uid_of(raw: &[u8]) -> Result<Option<BadgeUid>, String> {
    // A PN531 reports cascade tags; libnfc strips them, and so do we should another
    // driver pass one through.
    let raw = match raw {
        [CASCADE_TAG, rest @ ..] if rest.len() == 7 => rest,
        raw => raw,
    };
    let last_level = match raw.len() {
        0 => return Ok(None),
        4 => 0,
        7 => 3,
        10 => 6,
        n => return Err(format!("a UID of {n} bytes; ISO 14443A cards have 4, 7 or 10")),
    };
    // A level that opens with the cascade tag announces another level: a UID that ends
    // on such a level was cut short, and would name the wrong badge.
    if raw[last_level] == CASCADE_TAG {
        return Err(format!(
            "UID {} ends on a cascade level (0x88 at byte {}): it was cut short",
            hex(raw),
            last_level + 1
        ));
    }
    BadgeUid::from_bytes(raw).map(Some).map_err(|e| e.to_string())
}

fn hex(raw: &[u8]) -> String {
    raw.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(text: &str) -> BadgeUid {
        text.parse().unwrap()
    }

    #[test]
    fn uids_of_4_7_and_10_bytes_are_taken_whole() {
        let cases = [
            (&[0xD4, 0xCA, 0x2E, 0x66][..], "D4CA2E66"),
            (&[0x04, 0xE8, 0x75, 0x77, 0xDE, 0x98, 0x11][..], "04E87577DE9811"),
            (
                &[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99][..],
                "04112233445566778899",
            ),
            // 0x88 where no level begins is an ordinary byte.
            (&[0x88 ^ 0x01, 0x88, 0x88, 0x88][..], "89888888"),
        ];
        for (raw, text) in cases {
            assert_eq!(uid_of(raw), Ok(Some(uid(text))), "{text}");
        }
    }

    #[test]
    fn an_empty_uid_is_no_card() {
        assert_eq!(uid_of(&[]), Ok(None));
    }

    #[test]
    fn cascade_tags_are_stripped_or_the_read_refused() {
        let with_tag = [0x88, 0x04, 0xE8, 0x75, 0x77, 0xDE, 0x98, 0x11];
        assert_eq!(uid_of(&with_tag), Ok(Some(uid("04E87577DE9811"))));

        let first_level_only = uid_of(&[0x88, 0x04, 0xE8, 0x75]).unwrap_err();
        assert_eq!(
            first_level_only,
            "UID 8804E875 ends on a cascade level (0x88 at byte 1): it was cut short"
        );
        assert!(uid_of(&[0x04, 0xE8, 0x75, 0x88, 0x01, 0x02, 0x03]).is_err());
        assert!(uid_of(&[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x88, 0x77, 0x66, 0x99]).is_err());
    }

    #[test]
    fn lengths_no_card_has_are_refused() {
        for len in [1, 2, 3, 5, 6, 8, 9] {
            let err = uid_of(&vec![0x04; len]).unwrap_err();
            assert_eq!(err, format!("a UID of {len} bytes; ISO 14443A cards have 4, 7 or 10"));
        }
    }

    #[test]
    fn a_held_card_is_one_read_until_it_leaves() {
        let (ann, bob) = (uid("04E87577DE9811"), uid("D4CA2E66"));
        let mut presence = Presence::default();
        let polls =
            [Some(ann), Some(ann), Some(ann), None, Some(ann), Some(bob), Some(ann), Some(ann)];
        let reads: Vec<_> = polls.into_iter().map(|seen| presence.see(seen)).collect();
        assert_eq!(reads, [Some(ann), None, None, None, Some(ann), Some(bob), Some(ann), None]);
    }

    #[test]
    fn a_missing_device_is_unavailable_naming_it() {
        let mut reader =
            NfcReader::new(Some("pn532_uart:/nonexistent/ttyPN532"), Duration::from_millis(50))
                .unwrap();
        let err = reader.open().unwrap_err();
        assert!(
            matches!(&err, ReaderError::Unavailable(m) if m.contains("/nonexistent/ttyPN532")),
            "{err}"
        );
        assert!(matches!(reader.next_tap(), Err(ReaderError::Unavailable(_))));
    }
}
