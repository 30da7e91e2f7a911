//! The other signed messages of the kiosk protocol, both ways: receipts, roster requests,
//! heartbeats (both versions) and their replies, key rotation statements and their replies. The
//! first byte picks the message; the rest is the message.

#![no_main]

use libfuzzer_sys::fuzz_target;

use mtime_core::batch::{RECEIPT, Receipt};
use mtime_core::protocol::{
    HEARTBEAT, HEARTBEAT_REPLY, HEARTBEAT_WITH_OUTBOX, Heartbeat, HeartbeatReply,
    HeartbeatWithOutbox, ROSTER_REQUEST, RosterRequest, open_heartbeat,
};
use mtime_core::rotation::{KEY_ROTATION, KEY_ROTATION_REPLY, KeyRotation, KeyRotationReply};
use mtime_fuzz::{KEY, open_both};

fuzz_target!(|data: &[u8]| {
    let Some((&which, message)) = data.split_first() else { return };
    match which % 8 {
        0 => {
            if let Some(receipt) = open_both::<Receipt>(RECEIPT, message, &KEY) {
                // The kiosk asks whether a receipt covers its batch; that cannot panic.
                let _ = receipt.covers(receipt.kiosk, receipt.batch, receipt.last_seq);
            }
        }
        1 => drop(open_both::<RosterRequest>(ROSTER_REQUEST, message, &KEY)),
        2 => drop(open_both::<Heartbeat>(HEARTBEAT, message, &KEY)),
        3 => drop(open_both::<HeartbeatReply>(HEARTBEAT_REPLY, message, &KEY)),
        4 => drop(open_both::<KeyRotation>(KEY_ROTATION, message, &KEY)),
        5 => drop(open_both::<HeartbeatWithOutbox>(HEARTBEAT_WITH_OUTBOX, message, &KEY)),
        // The server's reader of both heartbeat versions, as received.
        6 => drop(open_heartbeat(message, &KEY.public())),
        _ => drop(open_both::<KeyRotationReply>(KEY_ROTATION_REPLY, message, &KEY)),
    }
});
