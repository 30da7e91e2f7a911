//! What the fuzz targets share: fixed keys and ids, the two ways of feeding bytes to a
//! signed format, and the properties every decoded message must have.
//!
//! A signed format is fuzzed twice per input. First the input is opened as received, so
//! the framing (size limits, the signature check over the exact bytes) meets hostile
//! bytes; random bytes almost always stop at the signature there. Then the input is
//! signed as it stands with the fixed key and opened, so the decoding behind a valid
//! signature (postcard, then each type's own rules) meets hostile bytes too.

pub mod seeds;

use std::fmt::Debug;
use std::sync::LazyLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use mtime_core::ids::KioskId;
use mtime_core::keys::{PublicKey, SigningKey};
use mtime_core::seal::{self, Kind, SealError};

/// The seed of the key that signs fuzzed payloads (the first RFC 8032 test key).
pub const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// The seed of a second key, for the new key of a key rotation.
pub const NEW_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

/// The key that signs fuzzed payloads, made once rather than on every input.
pub static KEY: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::from_seed_hex(SEED).expect("a fixed 64-digit seed"));

/// The second key.
pub static NEW_KEY: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::from_seed_hex(NEW_SEED).expect("a fixed 64-digit seed"));

/// The kiosk that signs fuzzed batches; the same id as the batch fixture's.
pub fn kiosk() -> KioskId {
    KioskId(uuid::Uuid::from_u128(0x4b10_5c00_0000_4000_8000_0000_0000_0001))
}

/// Opens `data` as received, then signed as it stands, as a `T` of `kind`.
pub fn open_both<T>(kind: Kind, data: &[u8], key: &SigningKey) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let public = key.public();
    if let Ok(value) = seal::open::<T>(kind, data, &public) {
        // Only a message signed by the fixed key opens, and fuzzing cannot forge one.
        round_trips(kind, &value, key, &public);
    }
    let signed = seal::seal_bytes(kind, data.to_vec(), key);
    let value = seal::open::<T>(kind, &signed, &public);
    if let Err(SealError::BadSignature { .. }) = value {
        panic!("{} signed just now does not verify", kind.name);
    }
    let value = value.ok()?;
    round_trips(kind, &value, key, &public);
    Some(value)
}

/// A message that opened, sealed again, opens to an equal message: whatever the decoder
/// accepts, the encoder writes back (postcard may read an overlong integer, so only the
/// values, not the bytes, must match).
pub fn round_trips<T>(kind: Kind, value: &T, key: &SigningKey, public: &PublicKey)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    match seal::seal(kind, value, key) {
        Ok(bytes) => {
            let again: T = seal::open(kind, &bytes, public)
                .unwrap_or_else(|e| panic!("{} re-encoded does not open: {e}", kind.name));
            assert_eq!(&again, value, "{} changed on a round trip", kind.name);
        }
        // A re-encoding may be longer than what was read (a date written in a longer
        // form); that it is refused rather than sent is the limit working.
        Err(SealError::TooLarge { .. }) => {}
        Err(e) => panic!("{} that opened cannot be sealed again: {e}", kind.name),
    }
}
