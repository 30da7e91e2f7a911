//! Signed messages between kiosks and the server.
//!
//! Every signed message has one layout: a version byte, the postcard encoding of the
//! message, then a 64-byte ed25519 signature. The signature covers a context string
//! naming the kind of message (so a receipt can never pass for a roster), the version byte
//! and the postcard bytes, exactly as received. Opening a message verifies the signature
//! before decoding a single field.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::keys::{PublicKey, SigningKey};

/// The length of the trailing signature.
pub const SIGNATURE_LEN: usize = 64;

/// Which kind of message is signed, with its current version and its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Names the message in the signed bytes.
    pub context: &'static [u8],
    /// The version byte this code writes and reads.
    pub version: u8,
    /// The largest message accepted, signature included.
    pub max_bytes: usize,
    /// A name for errors and logs.
    pub name: &'static str,
}

/// A signed message that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Larger than the kind allows.
    #[error("{kind} of {len} bytes is larger than the limit of {max} bytes")]
    TooLarge {
        /// The kind of message.
        kind: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Too short to hold a version byte and a signature.
    #[error("{kind} of {len} bytes is too short to hold a version byte and a signature")]
    TooShort {
        /// The kind of message.
        kind: &'static str,
        /// Its size.
        len: usize,
    },
    /// The signature does not verify with the expected key.
    #[error("{kind} signature does not verify with the sender's registered key")]
    BadSignature {
        /// The kind of message.
        kind: &'static str,
    },
    /// A version this code does not know.
    #[error("{kind} has version {found}; this build reads version {expected}")]
    UnknownVersion {
        /// The kind of message.
        kind: &'static str,
        /// The version byte received.
        found: u8,
        /// The version this build reads.
        expected: u8,
    },
    /// Signed correctly but not a valid message.
    #[error("{kind} is signed but malformed: {detail}")]
    Malformed {
        /// The kind of message.
        kind: &'static str,
        /// What was wrong.
        detail: String,
    },
}

fn signed_message(kind: Kind, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(kind.context.len() + 1 + body.len());
    message.extend_from_slice(kind.context);
    message.push(0);
    message.extend_from_slice(body);
    message
}

/// Encodes and signs `value`.
pub fn seal<T: Serialize>(kind: Kind, value: &T, key: &SigningKey) -> Result<Vec<u8>, SealError> {
    let mut body = vec![kind.version];
    let payload = postcard::to_stdvec(value)
        .map_err(|e| SealError::Malformed { kind: kind.name, detail: e.to_string() })?;
    body.extend_from_slice(&payload);

    let bytes = seal_bytes(kind, body, key);
    if bytes.len() > kind.max_bytes {
        return Err(SealError::TooLarge { kind: kind.name, len: bytes.len(), max: kind.max_bytes });
    }
    Ok(bytes)
}

/// Signs `body` (a version byte and an encoded message) as it stands and appends the
/// signature. Tests use it to build signed messages that are malformed inside.
pub fn seal_bytes(kind: Kind, mut body: Vec<u8>, key: &SigningKey) -> Vec<u8> {
    let signature = key.sign(&signed_message(kind, &body));
    body.extend_from_slice(&signature);
    body
}

/// Verifies the signature over the exact bytes, then decodes. Refuses oversize input, an
/// unknown version and trailing bytes after the message.
pub fn open<T: DeserializeOwned>(
    kind: Kind,
    bytes: &[u8],
    key: &PublicKey,
) -> Result<T, SealError> {
    if bytes.len() > kind.max_bytes {
        return Err(SealError::TooLarge { kind: kind.name, len: bytes.len(), max: kind.max_bytes });
    }
    if bytes.len() < 1 + SIGNATURE_LEN {
        return Err(SealError::TooShort { kind: kind.name, len: bytes.len() });
    }

    let (body, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
    let signature: [u8; SIGNATURE_LEN] = signature
        .try_into()
        .map_err(|_| SealError::TooShort { kind: kind.name, len: bytes.len() })?;
    if !key.verify(&signed_message(kind, body), &signature) {
        return Err(SealError::BadSignature { kind: kind.name });
    }

    if body[0] != kind.version {
        return Err(SealError::UnknownVersion {
            kind: kind.name,
            found: body[0],
            expected: kind.version,
        });
    }
    let (value, rest) = postcard::take_from_bytes::<T>(&body[1..])
        .map_err(|e| SealError::Malformed { kind: kind.name, detail: e.to_string() })?;
    if !rest.is_empty() {
        return Err(SealError::Malformed {
            kind: kind.name,
            detail: format!("{} trailing bytes after the message", rest.len()),
        });
    }
    Ok(value)
}
