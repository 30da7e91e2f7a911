//! The NFC reader through libnfc's real `pn532_uart` driver, against a PN532 simulated on
//! a pseudo-terminal (see `pn532/mod.rs`).
//!
//! libnfc is told the device by its connstring alone (`pn532_uart:<tempdir>/ttyPN532`).
//! The vendored libnfc is built without configuration files and environment variables,
//! and is given a connstring, so it never scans for other devices and never touches a
//! real serial port.
#![cfg(feature = "nfc")]

mod pn532;

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use mtime_hardware::nfc::NfcReader;
use mtime_hardware::{BadgeReader, ReaderError, ReaderEvent};
use pn532::Pn532;

const POLL: Duration = Duration::from_millis(50);
const RETRY: Duration = Duration::from_millis(200);
const WAIT: Duration = Duration::from_secs(10);

const FOUR: [u8; 4] = [0xD4, 0xCA, 0x2E, 0x66];
const SEVEN: [u8; 7] = [0x04, 0xE8, 0x75, 0x77, 0xDE, 0x98, 0x11];
const TEN: [u8; 10] = [0x04, 0x11, 0x22, 0x88, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99];

/// Command codes libnfc 1.8's pn532_uart driver sends while opening, polling and closing,
/// as recorded by the simulator: Diagnose, GetFirmwareVersion, SAMConfiguration,
/// SetParameters, ReadRegister, WriteRegister, RFConfiguration, InListPassiveTarget,
/// PowerDown. (InAutoPoll, InRelease and InDeselect, which the simulator also answers, are
/// not used by the way NfcReader polls.)
const COMMANDS_SEEN: [u8; 9] = [0x00, 0x02, 0x14, 0x12, 0x06, 0x08, 0x32, 0x4A, 0x16];

fn spawn_reader(pn532: &Pn532) -> Receiver<ReaderEvent> {
    let reader = NfcReader::new(Some(&pn532.connstring()), POLL).expect("libnfc starts");
    mtime_hardware::spawn_with_retry(Box::new(reader), RETRY).expect("a reader thread")
}

fn next(events: &Receiver<ReaderEvent>) -> ReaderEvent {
    events.recv_timeout(WAIT).expect("an event within 10 s")
}

fn tap_uid(events: &Receiver<ReaderEvent>) -> String {
    match next(events) {
        ReaderEvent::Tap(tap) => tap.uid.to_string(),
        other => panic!("expected a tap, got {other:?}"),
    }
}

fn assert_quiet(events: &Receiver<ReaderEvent>, pn532: &Pn532, polls: usize) {
    pn532.wait_polls(polls);
    match events.try_recv() {
        Err(std::sync::mpsc::TryRecvError::Empty) => {}
        other => panic!("expected nothing, got {other:?}"),
    }
}

fn hex(uid: &[u8]) -> String {
    uid.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn uids_of_4_7_and_10_bytes_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let pn532 = Pn532::plug_in(dir.path());
    let events = spawn_reader(&pn532);
    assert_eq!(next(&events), ReaderEvent::Ready);
    assert_quiet(&events, &pn532, 3); // no card: no tap

    for uid in [&FOUR[..], &SEVEN, &TEN] {
        pn532.put_card(uid);
        assert_eq!(tap_uid(&events), hex(uid));
        pn532.take_card();
        pn532.wait_polls(2);
    }

    assert_eq!(pn532.unknown(), [] as [u8; 0], "every command answered");
    let mut seen = pn532.commands();
    seen.sort_unstable();
    seen.dedup();
    let mut expected = COMMANDS_SEEN.to_vec();
    expected.retain(|c| *c != 0x16); // PowerDown comes only when the reader is closed
    expected.sort_unstable();
    assert_eq!(seen, expected, "the driver's commands are the ones recorded");
}

#[test]
fn a_held_card_is_one_read_and_two_badges_in_a_row_are_two() {
    let dir = tempfile::tempdir().unwrap();
    let pn532 = Pn532::plug_in(dir.path());
    let events = spawn_reader(&pn532);
    assert_eq!(next(&events), ReaderEvent::Ready);

    pn532.put_card(&SEVEN);
    assert_eq!(tap_uid(&events), hex(&SEVEN));
    assert_quiet(&events, &pn532, 10); // held for ten polls: still one read

    pn532.put_card(&FOUR); // swapped with no gap between
    assert_eq!(tap_uid(&events), hex(&FOUR));
    pn532.put_card(&SEVEN);
    assert_eq!(tap_uid(&events), hex(&SEVEN));

    pn532.take_card();
    pn532.wait_polls(2);
    pn532.put_card(&SEVEN); // back after leaving: a new read
    assert_eq!(tap_uid(&events), hex(&SEVEN));
}

#[test]
fn an_unplugged_reader_is_reported_within_10_s_and_read_again_once_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut pn532 = Pn532::plug_in(dir.path());
    let events = spawn_reader(&pn532);
    assert_eq!(next(&events), ReaderEvent::Ready);
    pn532.wait_polls(2);

    let unplugged = Instant::now();
    pn532.unplug();
    let lost = next(&events);
    let noticed = unplugged.elapsed();
    assert!(
        matches!(&lost, ReaderEvent::Error(ReaderError::Unavailable(m)) if m.contains("ttyPN532")),
        "{lost:?}"
    );
    assert!(noticed < Duration::from_secs(10), "noticed after {noticed:?}");
    eprintln!("unplugged reader noticed after {noticed:?}");

    // Attempts to open it again are not reported one by one.
    match events.recv_timeout(RETRY * 5) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("expected silence while unplugged, got {other:?}"),
    }

    pn532.replug();
    let plugged = Instant::now();
    assert_eq!(next(&events), ReaderEvent::Ready);
    eprintln!("replugged reader ready after {:?}", plugged.elapsed());
    pn532.put_card(&TEN);
    assert_eq!(tap_uid(&events), hex(&TEN));
}

#[test]
fn opening_speaks_to_the_pn532_as_libnfc_does_and_closing_powers_it_down() {
    let dir = tempfile::tempdir().unwrap();
    let pn532 = Pn532::plug_in(dir.path());
    let mut reader = NfcReader::new(Some(&pn532.connstring()), POLL).unwrap();
    reader.open().unwrap();
    let opening = pn532.commands();
    eprintln!("opening: {opening:02X?}");
    // SAMConfiguration (the wake-up), Diagnose (communication check), GetFirmwareVersion,
    // SetParameters, then registers and RF settings: initiator mode, one try per look.
    let expected = [0x14, 0x00, 0x02, 0x12, 0x06, 0x08, 0x32, 0x32, 0x32, 0x06, 0x08, 0x32];
    assert_eq!(opening, expected);

    drop(reader);
    assert_eq!(pn532.commands().last(), Some(&0x16), "PowerDown on close");
    let mut again = NfcReader::new(Some(&pn532.connstring()), POLL).unwrap();
    again.open().unwrap();
}

#[test]
fn a_reader_that_stops_answering_is_reported_within_10_s() {
    let dir = tempfile::tempdir().unwrap();
    let pn532 = Pn532::plug_in(dir.path());
    let events = spawn_reader(&pn532);
    assert_eq!(next(&events), ReaderEvent::Ready);
    pn532.wait_polls(2);

    let muted = Instant::now();
    pn532.set_mute(true);
    let lost = next(&events);
    let noticed = muted.elapsed();
    assert!(matches!(lost, ReaderEvent::Error(ReaderError::Unavailable(_))), "{lost:?}");
    assert!(noticed < Duration::from_secs(10), "noticed after {noticed:?}");
    eprintln!("silent reader noticed after {noticed:?}");

    pn532.set_mute(false);
    assert_eq!(next(&events), ReaderEvent::Ready);
    pn532.put_card(&FOUR);
    assert_eq!(tap_uid(&events), hex(&FOUR));
}

#[test]
fn a_missing_reader_at_start_is_reported_once_then_ready_when_plugged_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut pn532 = Pn532::plug_in(dir.path());
    pn532.unplug();
    let events = spawn_reader(&pn532);
    assert!(matches!(next(&events), ReaderEvent::Error(ReaderError::Unavailable(_))));
    pn532.replug();
    assert_eq!(next(&events), ReaderEvent::Ready);
    pn532.put_card(&FOUR);
    assert_eq!(tap_uid(&events), hex(&FOUR));
}
