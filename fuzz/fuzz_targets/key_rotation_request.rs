//! A kiosk's key rotation request: the outer postcard frame the server reads first, then
//! the two sealed statements inside it.

#![no_main]

use libfuzzer_sys::fuzz_target;

use mtime_core::rotation::{KEY_ROTATION, KeyRotationRequest};
use mtime_core::seal;
use mtime_fuzz::{KEY, NEW_KEY};

fuzz_target!(|data: &[u8]| {
    let (current, new) = (KEY.public(), NEW_KEY.public());

    // As received.
    if let Ok(request) = KeyRotationRequest::from_bytes(data) {
        round_trips(&request);
        let _ = request.verify(&current);
        let _ = request.verify_done(&new);
    }

    // The input as the statement, sealed by the held key and by the new key: the server
    // must take it only when the statement names the key that sealed it second.
    let request = KeyRotationRequest {
        by_current: seal::seal_bytes(KEY_ROTATION, data.to_vec(), &KEY),
        by_new: seal::seal_bytes(KEY_ROTATION, data.to_vec(), &NEW_KEY),
    };
    round_trips(&request);
    if let Ok(statement) = request.verify(&current) {
        assert_eq!(statement.new_key, new, "a statement naming another key was taken");
        assert_eq!(request.verify_done(&new).ok(), Some(statement));
    } else if let Ok(statement) = request.verify_done(&new) {
        assert_eq!(statement.new_key, new);
    }
});

/// A request read back from its bytes is the same request.
fn round_trips(request: &KeyRotationRequest) {
    let Ok(bytes) = request.to_bytes() else { return };
    if bytes.len() > KeyRotationRequest::MAX_BYTES {
        return;
    }
    let again = KeyRotationRequest::from_bytes(&bytes).expect("a request written reads back");
    assert_eq!(&again, request);
}
