//! Badge UIDs as cards send them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest UID ISO 14443A defines (triple size).
pub const MAX_UID_BYTES: usize = 10;

/// A badge's UID: the bytes in the order the card sends them, 1 to 10 of them.
///
/// Its one canonical text form is uppercase hex of every byte, no separators
/// (`04E87577DE9811`). Parsing also accepts colons, dashes, spaces and lower case.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BadgeUid {
    len: u8,
    bytes: [u8; MAX_UID_BYTES],
}

/// Text or bytes that are not a badge UID. The messages never repeat the text: a mistyped
/// badge is most of a real one, and these messages reach logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadgeUidError {
    /// Nothing but separators.
    #[error("badge UID is empty; expected hex bytes such as 04A1B2C3")]
    Empty(String),
    /// A character that is neither a hex digit nor a separator.
    #[error("badge UID contains {found:?}, which is not a hex digit")]
    NotHex {
        /// The text as given.
        input: String,
        /// The offending character.
        found: char,
    },
    /// Half a byte left over.
    #[error("badge UID has an odd number of hex digits; every byte needs two")]
    OddDigits(String),
    /// More bytes than any card sends.
    #[error("badge UID has {len} bytes; a card UID has at most 10")]
    TooLong {
        /// The text as given.
        input: String,
        /// How many bytes it held.
        len: usize,
    },
}

impl BadgeUid {
    /// A UID from the bytes a reader returned.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, BadgeUidError> {
        if raw.is_empty() {
            return Err(BadgeUidError::Empty(String::new()));
        }
        if raw.len() > MAX_UID_BYTES {
            return Err(BadgeUidError::TooLong { input: hex::encode_upper(raw), len: raw.len() });
        }

        let mut bytes = [0; MAX_UID_BYTES];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(Self { len: raw.len() as u8, bytes })
    }

    /// The UID's bytes, in the order the card sent them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl FromStr for BadgeUid {
    type Err = BadgeUidError;

    fn from_str(input: &str) -> Result<Self, BadgeUidError> {
        let mut digits = Vec::with_capacity(input.len());
        for c in input.chars() {
            match c {
                ':' | '-' | ' ' | '\t' => {}
                c if c.is_ascii_hexdigit() => digits.push(c as u8),
                found => return Err(BadgeUidError::NotHex { input: input.to_owned(), found }),
            }
        }

        if digits.is_empty() {
            return Err(BadgeUidError::Empty(input.to_owned()));
        }
        if digits.len() % 2 == 1 {
            return Err(BadgeUidError::OddDigits(input.to_owned()));
        }
        let len = digits.len() / 2;
        if len > MAX_UID_BYTES {
            return Err(BadgeUidError::TooLong { input: input.to_owned(), len });
        }

        let mut raw = vec![0; len];
        // Only hex digits were kept above, so decoding cannot fail.
        hex::decode_to_slice(&digits, &mut raw)
            .map_err(|_| BadgeUidError::OddDigits(input.to_owned()))?;
        Self::from_bytes(&raw)
    }
}

impl fmt::Display for BadgeUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.as_bytes()))
    }
}

impl fmt::Debug for BadgeUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BadgeUid({self})")
    }
}

impl Serialize for BadgeUid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_bytes(self.as_bytes())
        }
    }
}

impl<'de> Deserialize<'de> for BadgeUid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(D::Error::custom)
        } else {
            let raw: serde_bytes_like::Bytes = Deserialize::deserialize(deserializer)?;
            Self::from_bytes(&raw.0).map_err(D::Error::custom)
        }
    }
}

/// A minimal owned byte buffer that deserializes from serde's byte form.
mod serde_bytes_like {
    use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

    pub struct Bytes(pub Vec<u8>);

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct BytesVisitor;

            impl<'de> Visitor<'de> for BytesVisitor {
                type Value = Bytes;

                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("badge UID bytes")
                }

                fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }

                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                    let mut out = Vec::new();
                    while let Some(b) = seq.next_element::<u8>()? {
                        if out.len() > super::MAX_UID_BYTES {
                            return Err(A::Error::custom("badge UID longer than 10 bytes"));
                        }
                        out.push(b);
                    }
                    Ok(Bytes(out))
                }
            }

            deserializer.deserialize_bytes(BytesVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_uppercase_hex_of_every_byte_in_card_order() {
        let uid: BadgeUid = "04:e8:75:77:de:98:11".parse().unwrap();
        assert_eq!(uid.to_string(), "04E87577DE9811");
        assert_eq!(uid.as_bytes(), &[0x04, 0xE8, 0x75, 0x77, 0xDE, 0x98, 0x11]);
    }

    #[test]
    fn accepts_spaces_dashes_and_lower_case() {
        for text in ["1ff31632", "1F F3 16 32", "1f-f3-16-32", " 1F:F3:16:32 "] {
            assert_eq!(text.parse::<BadgeUid>().unwrap().to_string(), "1FF31632", "{text}");
        }
    }

    #[test]
    fn keeps_leading_zero_bytes() {
        let uid: BadgeUid = "00 00 0A".parse().unwrap();
        assert_eq!(uid.as_bytes(), &[0, 0, 0x0A]);
        assert_eq!(uid.to_string(), "00000A");
    }

    #[test]
    fn ten_bytes_is_the_limit() {
        let ten = "00112233445566778899";
        assert_eq!(ten.parse::<BadgeUid>().unwrap().as_bytes().len(), 10);
        let err = "0011223344556677889900".parse::<BadgeUid>().unwrap_err();
        assert_eq!(err.to_string(), "badge UID has 11 bytes; a card UID has at most 10");
    }

    #[test]
    fn odd_digits_empty_and_non_hex_are_refused_without_repeating_the_input() {
        let odd = "04:A1:B".parse::<BadgeUid>().unwrap_err();
        assert_eq!(odd, BadgeUidError::OddDigits("04:A1:B".into()));
        assert_eq!(
            odd.to_string(),
            "badge UID has an odd number of hex digits; every byte needs two"
        );

        assert_eq!("".parse::<BadgeUid>().unwrap_err(), BadgeUidError::Empty("".into()));
        assert_eq!(" : ".parse::<BadgeUid>().unwrap_err(), BadgeUidError::Empty(" : ".into()));

        let bad = "04G1".parse::<BadgeUid>().unwrap_err();
        assert_eq!(bad, BadgeUidError::NotHex { input: "04G1".into(), found: 'G' });
        assert!(!bad.to_string().contains("04G1"), "{bad}");
    }

    #[test]
    fn from_bytes_refuses_empty_and_oversize_reads() {
        assert!(BadgeUid::from_bytes(&[]).is_err());
        assert!(BadgeUid::from_bytes(&[1; 11]).is_err());
        assert_eq!(
            BadgeUid::from_bytes(&[0xD4, 0xCA, 0x2E, 0x66]).unwrap().to_string(),
            "D4CA2E66"
        );
    }

    #[test]
    fn serializes_as_text_in_json_and_as_bytes_in_postcard() {
        let uid: BadgeUid = "04E87577DE9811".parse().unwrap();
        let bytes = postcard::to_stdvec(&uid).unwrap();
        assert_eq!(bytes, [7, 0x04, 0xE8, 0x75, 0x77, 0xDE, 0x98, 0x11]);
        assert_eq!(postcard::from_bytes::<BadgeUid>(&bytes).unwrap(), uid);
    }
}

/// The key a roster hashes its badges with; a fresh one for every roster made.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterKey([u8; 32]);

/// A badge as a kiosk's roster carries it: HMAC-SHA256 of the UID under the roster's key.
/// A roster read off a stolen kiosk names no UID that could be written to a blank card
/// (a 4-byte UID can still be searched for with the key; longer ones cannot).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BadgeKey([u8; 32]);

impl RosterKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self(key))
    }

    /// The key from its bytes (tests, fixed rosters).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// How the roster carries `badge`.
    pub fn key_of(&self, badge: &BadgeUid) -> BadgeKey {
        use hmac::{Hmac, KeyInit, Mac};
        // A 32-byte key is always accepted; the fallback keeps this infallible anyway.
        let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return BadgeKey([0; 32]);
        };
        mac.update(badge.as_bytes());
        BadgeKey(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for RosterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RosterKey(..)")
    }
}

impl fmt::Debug for BadgeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BadgeKey({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn a_roster_key_tells_badges_apart_and_names_no_uid() {
        let key = RosterKey::from_bytes([7; 32]);
        let ann: BadgeUid = "04E87577DE9811".parse().unwrap();
        let bob: BadgeUid = "04724972925B14".parse().unwrap();
        assert_eq!(key.key_of(&ann), key.key_of(&ann));
        assert_ne!(key.key_of(&ann), key.key_of(&bob));
        assert_ne!(key.key_of(&ann), RosterKey::from_bytes([8; 32]).key_of(&ann));
        let carried = postcard::to_stdvec(&key.key_of(&ann)).unwrap();
        let needle = ann.as_bytes();
        assert!(!carried.windows(needle.len()).any(|w| w == needle));
    }
}
