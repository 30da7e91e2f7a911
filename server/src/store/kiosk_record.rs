//! How a [`KioskRecord`] is stored: a version byte, then postcard.
//!
//! Postcard carries no field names, and a kiosk record holds the [`KioskConfig`] that
//! kiosks receive, which grows when kiosks learn something new (`pin_fallback` did). A
//! field added there would make every kiosk record stored before undecodable, so records
//! are written as [`VERSION_2`] followed by the current layout, and a record without that
//! byte is read in the layout from before it ([`KioskRecordV1`]).
//!
//! Old records can never start with the version byte: their first field is the kiosk's id,
//! a UUID, which postcard writes as its length (16) and then its bytes.
//!
//! # Limitations
//!
//! A record written by the builds that had added `pin_fallback` without the version byte
//! (the few commits before this module) is read too, by trying that layout when the old
//! one does not consume the record exactly; a record matching neither is reported corrupt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::batch::ChainHead;
use mtime_core::ids::{KioskId, OrgUnitId};
use mtime_core::keys::PublicKey;
use mtime_core::protocol::KioskConfig;

use super::StoreError;
use crate::model::{Enrollment, HeartbeatInfo, KioskRecord};

/// The first byte of a record in the current layout.
pub const VERSION_2: u8 = 2;

/// The first byte of every record stored before [`VERSION_2`]: postcard's length of a UUID.
const UUID_LENGTH: u8 = 16;

/// Encodes a kiosk record in the current layout.
pub fn encode(kiosk: &KioskRecord) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![VERSION_2];
    let body = postcard::to_stdvec(kiosk).map_err(|e| StoreError::Backend(e.to_string()))?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Decodes a kiosk record in the current layout or in the one from before it.
pub fn decode(bytes: &[u8]) -> Result<KioskRecord, StoreError> {
    match bytes.first() {
        Some(&VERSION_2) => exactly::<KioskRecord>(&bytes[1..]),
        Some(&UUID_LENGTH) => exactly::<KioskRecordV1>(bytes)
            .map(KioskRecord::from)
            // Written by a build that had grown the config without the version byte.
            .or_else(|_| exactly::<KioskRecord>(bytes)),
        Some(other) => Err(corrupt(format!("unknown layout {other}"))),
        None => Err(corrupt("empty record".into())),
    }
}

/// Decodes `T` from all of `bytes`; trailing bytes mean another layout.
fn exactly<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{} bytes left over", rest.len())));
    }
    Ok(value)
}

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt { what: "kiosk", detail }
}

/// A kiosk's configuration as stored before `pin_fallback`; read, never written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskConfigV1 {
    /// See [`KioskConfig`].
    pub repeat_window_secs: u32,
    /// See [`KioskConfig`].
    pub heartbeat_secs: u32,
    /// See [`KioskConfig`].
    pub max_batch_events: u32,
    /// See [`KioskConfig`].
    pub max_open_hours: u32,
    /// See [`KioskConfig`].
    pub language: String,
}

/// A kiosk record as stored before [`VERSION_2`]; read, never written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskRecordV1 {
    /// See [`KioskRecord`].
    pub id: KioskId,
    /// See [`KioskRecord`].
    pub name: String,
    /// See [`KioskRecord`].
    pub org_unit: OrgUnitId,
    /// See [`KioskRecord`].
    pub created_at: DateTime<Utc>,
    /// See [`KioskRecord`].
    pub public_key: Option<PublicKey>,
    /// See [`KioskRecord`].
    pub enrolled_at: Option<DateTime<Utc>>,
    /// See [`KioskRecord`].
    pub enrollment: Option<Enrollment>,
    /// See [`KioskRecord`].
    pub revoked_at: Option<DateTime<Utc>>,
    /// The configuration without `pin_fallback`.
    pub config: KioskConfigV1,
    /// See [`KioskRecord`].
    pub head: ChainHead,
    /// See [`KioskRecord`].
    pub last_heartbeat: Option<HeartbeatInfo>,
    /// See [`KioskRecord`].
    pub last_batch_at: Option<DateTime<Utc>>,
    /// See [`KioskRecord`].
    pub key_rotation_requested_at: Option<DateTime<Utc>>,
    /// See [`KioskRecord`].
    pub key_rotated_at: Option<DateTime<Utc>>,
}

impl From<KioskRecordV1> for KioskRecord {
    fn from(old: KioskRecordV1) -> Self {
        let KioskConfigV1 {
            repeat_window_secs,
            heartbeat_secs,
            max_batch_events,
            max_open_hours,
            language,
        } = old.config;
        Self {
            id: old.id,
            name: old.name,
            org_unit: old.org_unit,
            created_at: old.created_at,
            public_key: old.public_key,
            enrolled_at: old.enrolled_at,
            enrollment: old.enrollment,
            revoked_at: old.revoked_at,
            // A kiosk stored before the setting existed had no PIN fallback.
            config: KioskConfig {
                repeat_window_secs,
                heartbeat_secs,
                max_batch_events,
                max_open_hours,
                language,
                pin_fallback: false,
            },
            head: old.head,
            last_heartbeat: old.last_heartbeat,
            last_batch_at: old.last_batch_at,
            key_rotation_requested_at: old.key_rotation_requested_at,
            key_rotated_at: old.key_rotated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn old_record() -> KioskRecordV1 {
        KioskRecordV1 {
            id: KioskId(uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)),
            name: "Door".into(),
            org_unit: OrgUnitId(uuid::Uuid::from_u128(7)),
            created_at: DateTime::from_timestamp(1_746_982_800, 0).unwrap(),
            public_key: None,
            enrolled_at: None,
            enrollment: None,
            revoked_at: None,
            config: KioskConfigV1 {
                repeat_window_secs: 30,
                heartbeat_secs: 120,
                max_batch_events: 200,
                max_open_hours: 12,
                language: "nb".into(),
            },
            head: ChainHead::default(),
            last_heartbeat: None,
            last_batch_at: Some(DateTime::from_timestamp(1_746_986_400, 0).unwrap()),
            key_rotation_requested_at: None,
            key_rotated_at: None,
        }
    }

    /// [`old_record`] in the layout a server stored before `pin_fallback` (the
    /// `KioskRecord` of the commit before f8cf650, which [`KioskRecordV1`] copies field for
    /// field): kept as bytes, so a change to the legacy struct that would misread old files
    /// fails here.
    const OLD_BYTES: &str = concat!(
        "100123456789abcdef0123456789abcdef04446f6f72100000000000000000000000000000000714",
        "323032352d30352d31315431373a30303a30305a000000001e78c8010c026e620000000000000000",
        "00000000000000000000000000000000000000000000000000000114323032352d30352d31315431",
        "383a30303a30305a0000",
    );

    #[test]
    fn a_record_stored_before_pin_fallback_reads_with_it_off() {
        let bytes = hex::decode(OLD_BYTES).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&old_record()).unwrap());
        assert_eq!(bytes[0], UUID_LENGTH, "old records start with a UUID's length");

        let kiosk = decode(&bytes).unwrap();
        assert_eq!(kiosk.name, "Door");
        assert_eq!(kiosk.config.repeat_window_secs, 30);
        assert_eq!(kiosk.config.max_open_hours, 12);
        assert_eq!(kiosk.config.language, "nb");
        assert!(!kiosk.config.pin_fallback);
        assert_eq!(kiosk.last_batch_at, old_record().last_batch_at);
    }

    #[test]
    fn the_current_layout_round_trips_with_its_version_byte() {
        let mut kiosk = KioskRecord::from(old_record());
        kiosk.config.pin_fallback = true;
        let bytes = encode(&kiosk).unwrap();
        assert_eq!(bytes[0], VERSION_2);
        assert_eq!(decode(&bytes).unwrap(), kiosk);

        // As the builds between the new field and this module wrote it: no version byte.
        let unversioned = postcard::to_stdvec(&kiosk).unwrap();
        assert_eq!(decode(&unversioned).unwrap(), kiosk);
    }

    #[test]
    fn damaged_records_are_reported_not_misread() {
        let bytes = encode(&KioskRecord::from(old_record())).unwrap();
        assert!(matches!(decode(&bytes[..bytes.len() - 3]), Err(StoreError::Corrupt { .. })));
        assert!(matches!(decode(&[]), Err(StoreError::Corrupt { .. })));
        assert!(matches!(decode(&[9, 1, 2]), Err(StoreError::Corrupt { .. })));
    }
}
