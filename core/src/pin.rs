//! PINs: the fallback for an employee without their badge, and the key to a kiosk's admin
//! mode. The server keeps a PIN only as a slow salted hash ([`PinHash`]) and the kiosk
//! receives that hash in its roster, never the PIN.
//!
//! ```
//! use mtime_core::pin::{Pin, PinHash};
//!
//! let pin: Pin = "4711".parse().unwrap();
//! let hash = PinHash::new(&pin).unwrap();
//! assert!(hash.verify(&pin));
//! assert!(!hash.verify(&"4712".parse().unwrap()));
//! ```
//!
//! # Limitations
//!
//! A PIN has few digits: whoever holds a kiosk's disk can try all of them against a hash
//! offline, slow hash or not. PINs keep honest people honest at the door; badges and the
//! kiosk's locked-down disk carry the security.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The fewest digits a PIN has.
pub const MIN_DIGITS: usize = 4;
/// The most digits a PIN has.
pub const MAX_DIGITS: usize = 8;
/// PBKDF2-HMAC-SHA256 rounds: a few milliseconds on a desktop core and, by the same count of
/// SHA-256 blocks, some tens of milliseconds on a Raspberry Pi 4 (not measured there): slow
/// enough to make guessing across many hashes costly, fast enough for a person at the door.
pub const ROUNDS: u32 = 20_000;

/// A PIN as typed: 4 to 8 digits. Its digits are wiped from memory when it is dropped and
/// never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Zeroizing<String>);

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// Why a PIN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Not 4 to 8 digits.
    #[error("a PIN is {MIN_DIGITS} to {MAX_DIGITS} digits")]
    Shape,
    /// The system's randomness source failed while salting.
    #[error("no randomness for a salt: {0}")]
    Random(String),
}

impl FromStr for Pin {
    type Err = PinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits =
            (MIN_DIGITS..=MAX_DIGITS).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if digits { Ok(Self(Zeroizing::new(s.to_owned()))) } else { Err(PinError::Shape) }
    }
}

/// A PIN's salted PBKDF2-HMAC-SHA256 hash.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinHash {
    /// Random per hash.
    pub salt: [u8; 16],
    /// PBKDF2 rounds the hash was made with.
    pub rounds: u32,
    /// The derived key.
    pub hash: [u8; 32],
}

impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinHash(..)")
    }
}

fn derive(pin: &Pin, salt: &[u8; 16], rounds: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(pin.0.as_bytes(), salt, rounds, &mut out);
    out
}

impl PinHash {
    /// Hashes `pin` with a fresh salt.
    pub fn new(pin: &Pin) -> Result<Self, PinError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| PinError::Random(e.to_string()))?;
        Ok(Self { salt, rounds: ROUNDS, hash: derive(pin, &salt, ROUNDS) })
    }

    /// Whether `pin` is the PIN hashed, compared in constant time.
    pub fn verify(&self, pin: &Pin) -> bool {
        // A hash claiming an absurd number of rounds would hang the kiosk: refuse it.
        if self.rounds == 0 || self.rounds > 10 * ROUNDS {
            return false;
        }
        let derived = derive(pin, &self.salt, self.rounds);
        derived.iter().zip(self.hash.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_have_four_to_eight_digits() {
        for good in ["0000", "12345678", "4711"] {
            assert!(good.parse::<Pin>().is_ok(), "{good}");
        }
        for bad in ["", "123", "123456789", "12a4", " 1234", "１２３４"] {
            assert_eq!(bad.parse::<Pin>(), Err(PinError::Shape), "{bad:?}");
        }
    }

    #[test]
    fn a_hash_verifies_its_pin_only_and_salts_differ() {
        let pin: Pin = "2468".parse().unwrap();
        let (a, b) = (PinHash::new(&pin).unwrap(), PinHash::new(&pin).unwrap());
        assert!(a.verify(&pin) && b.verify(&pin));
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.hash, b.hash);
        assert!(!a.verify(&"2469".parse().unwrap()));
        assert_eq!(a.rounds, ROUNDS);
    }

    #[test]
    fn a_hash_with_absurd_rounds_never_verifies() {
        let pin: Pin = "2468".parse().unwrap();
        let mut hash = PinHash::new(&pin).unwrap();
        hash.rounds = u32::MAX;
        assert!(!hash.verify(&pin));
        hash.rounds = 0;
        assert!(!hash.verify(&pin));
    }

    #[test]
    fn neither_pin_nor_hash_prints() {
        let pin: Pin = "9753".parse().unwrap();
        let hash = PinHash::new(&pin).unwrap();
        assert_eq!(format!("{pin:?} {hash:?}"), "Pin(..) PinHash(..)");
    }
}
