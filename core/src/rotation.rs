//! Replacing a kiosk's key without re-enrolling it: the kiosk states "kiosk K now signs
//! with key N" and seals that statement twice, once with the key the server holds (so the
//! server knows the request comes from the kiosk) and once with the new key (so the server
//! knows the kiosk holds it). The server switches keys in one step and answers with a
//! signed [`KeyRotationReply`]; a resend after the switch is recognised by the second seal
//! alone and answered the same way, so a lost reply never strands a kiosk.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::TimeReading;
use crate::ids::KioskId;
use crate::keys::{PublicKey, SigningKey};
use crate::seal::{self, Kind, SealError};

/// The statement, sealed by each key.
pub const KEY_ROTATION: Kind =
    Kind { context: b"mtime.key-rotation", version: 1, max_bytes: 1024, name: "key rotation" };
/// The server's answer, signed by the server.
pub const KEY_ROTATION_REPLY: Kind = Kind {
    context: b"mtime.key-rotation-reply",
    version: 1,
    max_bytes: 1024,
    name: "key rotation reply",
};

/// "This kiosk signs with `new_key` from now on."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    /// The kiosk.
    pub kiosk: KioskId,
    /// Its new public key.
    pub new_key: PublicKey,
    /// When it asked.
    pub sent: TimeReading,
}

/// The request a kiosk sends: the statement sealed by its current and its new key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotationRequest {
    /// Sealed with the key the server holds now.
    pub by_current: Vec<u8>,
    /// Sealed with the new key.
    pub by_new: Vec<u8>,
}

/// The server's answer: the kiosk's key is now `new_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotationReply {
    /// The kiosk.
    pub kiosk: KioskId,
    /// The key the server now holds for it.
    pub new_key: PublicKey,
    /// When the server switched.
    pub rotated_at: DateTime<Utc>,
}

impl KeyRotationRequest {
    /// The largest request accepted: two sealed statements and their framing.
    pub const MAX_BYTES: usize = 2 * KEY_ROTATION.max_bytes + 8;

    /// Seals `statement` with both keys; `new` must be the key the statement names.
    pub fn new(
        statement: &KeyRotation,
        current: &SigningKey,
        new: &SigningKey,
    ) -> Result<Self, SealError> {
        if new.public() != statement.new_key {
            return Err(SealError::Malformed {
                kind: KEY_ROTATION.name,
                detail: "the statement names another key than the one sealing it".into(),
            });
        }
        Ok(Self {
            by_current: seal::seal(KEY_ROTATION, statement, current)?,
            by_new: seal::seal(KEY_ROTATION, statement, new)?,
        })
    }

    /// The request as sent.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SealError> {
        postcard::to_stdvec(self)
            .map_err(|e| SealError::Malformed { kind: KEY_ROTATION.name, detail: e.to_string() })
    }

    /// Reads a request received, refusing oversize input and trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() > Self::MAX_BYTES {
            return Err(SealError::TooLarge {
                kind: KEY_ROTATION.name,
                len: bytes.len(),
                max: Self::MAX_BYTES,
            });
        }
        let malformed = |detail: String| SealError::Malformed { kind: KEY_ROTATION.name, detail };
        let (request, rest) =
            postcard::take_from_bytes::<Self>(bytes).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes after the request", rest.len())));
        }
        Ok(request)
    }

    /// The statement, when it is sealed by `current` and by the new key it names, and both
    /// seals say the same.
    pub fn verify(&self, current: &PublicKey) -> Result<KeyRotation, SealError> {
        let statement: KeyRotation = seal::open(KEY_ROTATION, &self.by_current, current)?;
        let again: KeyRotation = seal::open(KEY_ROTATION, &self.by_new, &statement.new_key)?;
        if again != statement {
            return Err(SealError::Malformed {
                kind: KEY_ROTATION.name,
                detail: "the two seals carry different statements".into(),
            });
        }
        Ok(statement)
    }

    /// The statement, when its new key is `held` and seals it: a resend after the switch.
    pub fn verify_done(&self, held: &PublicKey) -> Result<KeyRotation, SealError> {
        let statement: KeyRotation = seal::open(KEY_ROTATION, &self.by_new, held)?;
        if statement.new_key != *held {
            return Err(SealError::BadSignature { kind: KEY_ROTATION.name });
        }
        Ok(statement)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ids::BootId;

    fn statement(kiosk: KioskId, new: &SigningKey) -> KeyRotation {
        KeyRotation {
            kiosk,
            new_key: new.public(),
            sent: TimeReading {
                wall: DateTime::UNIX_EPOCH,
                boot: BootId::random(),
                monotonic: Duration::ZERO,
                wall_trusted: true,
            },
        }
    }

    #[test]
    fn both_seals_are_needed_and_a_resend_is_recognised_by_the_new_key() {
        let (old, new) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        let kiosk = KioskId::random();
        let request = KeyRotationRequest::new(&statement(kiosk, &new), &old, &new).unwrap();
        let bytes = request.to_bytes().unwrap();
        let received = KeyRotationRequest::from_bytes(&bytes).unwrap();

        assert_eq!(received.verify(&old.public()).unwrap().new_key, new.public());
        assert!(received.verify(&new.public()).is_err(), "not sealed by the held key");
        assert_eq!(received.verify_done(&new.public()).unwrap().kiosk, kiosk);
        assert!(received.verify_done(&old.public()).is_err());

        // The new key's seal swapped for one by a key the statement does not name.
        let stranger = SigningKey::generate().unwrap();
        let forged = KeyRotationRequest {
            by_current: request.by_current.clone(),
            by_new: seal::seal(KEY_ROTATION, &statement(kiosk, &new), &stranger).unwrap(),
        };
        assert_eq!(
            forged.verify(&old.public()),
            Err(SealError::BadSignature { kind: "key rotation" })
        );
        assert!(KeyRotationRequest::new(&statement(kiosk, &new), &old, &stranger).is_err());
    }

    #[test]
    fn oversize_and_trailing_bytes_are_refused() {
        let mut bytes = vec![0u8; KeyRotationRequest::MAX_BYTES + 1];
        assert!(matches!(KeyRotationRequest::from_bytes(&bytes), Err(SealError::TooLarge { .. })));
        let (old, new) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        let request =
            KeyRotationRequest::new(&statement(KioskId::random(), &new), &old, &new).unwrap();
        bytes = request.to_bytes().unwrap();
        bytes.push(0);
        assert!(matches!(KeyRotationRequest::from_bytes(&bytes), Err(SealError::Malformed { .. })));
        assert!(KeyRotationRequest::from_bytes(&[0xff; 5]).is_err());
    }
}
