//! Records the kiosk stored in earlier layouts, read so that an upgraded kiosk starts on the
//! store it has. Postcard carries no field names: a record whose layout changed is read
//! through the struct it was written with, then carried over.

use serde::{Deserialize, Serialize};

use mtime_core::ids::KioskId;
use mtime_core::keys::PublicKey;
use mtime_core::protocol::{KioskConfig, SiteInfo};

use crate::outbox::Identity;

/// Kiosk settings before `pin_fallback`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KioskConfigV1 {
    repeat_window_secs: u32,
    heartbeat_secs: u32,
    max_batch_events: u32,
    max_open_hours: u32,
    language: String,
}

/// An identity whose settings are [`KioskConfigV1`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityV1 {
    kiosk: KioskId,
    pub(crate) name: String,
    server_url: String,
    server_ca_pem: Option<String>,
    server_key: PublicKey,
    site: SiteInfo,
    config: KioskConfigV1,
}

impl From<IdentityV1> for Identity {
    fn from(old: IdentityV1) -> Self {
        let c = old.config;
        Identity {
            kiosk: old.kiosk,
            name: old.name,
            server_url: old.server_url,
            server_ca_pem: old.server_ca_pem,
            server_key: old.server_key,
            site: old.site,
            config: KioskConfig {
                repeat_window_secs: c.repeat_window_secs,
                heartbeat_secs: c.heartbeat_secs,
                max_batch_events: c.max_batch_events,
                max_open_hours: c.max_open_hours,
                language: c.language,
                pin_fallback: false,
            },
        }
    }
}

#[cfg(test)]
impl IdentityV1 {
    /// An identity as an older kiosk stored it.
    pub(crate) fn example() -> Self {
        let key = mtime_core::keys::SigningKey::generate().expect("randomness");
        Self {
            kiosk: KioskId::random(),
            name: "Door".into(),
            server_url: "https://time.example".into(),
            server_ca_pem: None,
            server_key: key.public(),
            site: SiteInfo {
                org_unit: mtime_core::ids::OrgUnitId::random(),
                name: "Plant".into(),
                time_zone: "Europe/Oslo".into(),
            },
            config: KioskConfigV1 {
                repeat_window_secs: 60,
                heartbeat_secs: 300,
                max_batch_events: 500,
                max_open_hours: 12,
                language: "nb".into(),
            },
        }
    }
}
