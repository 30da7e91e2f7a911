//! Badge UIDs in every form they arrive in: text (API bodies, the roster's JSON twin, a
//! tap script line), the reader's raw bytes, and postcard inside signed messages.

#![no_main]

use libfuzzer_sys::fuzz_target;

use mtime_core::badge::{BadgeUid, MAX_UID_BYTES};
use mtime_hardware::simulator::{ScriptLine, parse_line};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(uid) = text.parse::<BadgeUid>() {
            canonical(uid);
        }
        if let Ok(ScriptLine::Tap(tap)) = parse_line(text) {
            canonical(tap.uid);
        }
    }

    match BadgeUid::from_bytes(data) {
        Ok(uid) => {
            assert_eq!(uid.as_bytes(), data);
            canonical(uid);
        }
        Err(_) => assert!(data.is_empty() || data.len() > MAX_UID_BYTES),
    }

    if let Ok(uid) = postcard::from_bytes::<BadgeUid>(data) {
        canonical(uid);
    }
    if let Ok(uid) = serde_json::from_slice::<BadgeUid>(data) {
        canonical(uid);
    }
});

/// A UID shown, read back, is the same UID, in every encoding.
fn canonical(uid: BadgeUid) {
    let shown = uid.to_string();
    assert_eq!(shown.len(), 2 * uid.as_bytes().len());
    assert!(shown.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    assert_eq!(shown.parse::<BadgeUid>().ok(), Some(uid), "{shown} reads back differently");

    let bytes = postcard::to_stdvec(&uid).expect("a UID encodes");
    assert_eq!(postcard::from_bytes::<BadgeUid>(&bytes).ok(), Some(uid));
    let json = serde_json::to_string(&uid).expect("a UID encodes");
    assert_eq!(serde_json::from_str::<BadgeUid>(&json).ok(), Some(uid));
}
