//! What every request handler shares.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use mtime_core::clock::Clock;
use mtime_core::ids::OrgUnitId;
use mtime_core::keys::SigningKey;
use mtime_core::zone::{self, OrgUnit};

use crate::api::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::model::OrgUnitRecord;
use crate::store::Store;
use crate::watch::intervals::LastPunches;
use crate::webhooks::target::HostAllowlist;

/// The server's shared state.
#[derive(Clone)]
pub struct AppState {
    /// Where records live.
    pub store: Arc<dyn Store>,
    /// The server's clock.
    pub clock: Arc<dyn Clock>,
    /// The key the server signs rosters, receipts and heartbeat replies with.
    pub key: Arc<SigningKey>,
    /// Operating figures.
    pub metrics: Arc<Metrics>,
    /// Failed enrollment attempts per client address, to slow down code guessing.
    pub enroll_failures: Arc<Mutex<HashMap<IpAddr, Vec<DateTime<Utc>>>>>,
    /// The hosts webhooks may point at (the `webhook_hosts` setting); empty allows any.
    pub webhook_hosts: Arc<HostAllowlist>,
    /// What the interval watcher keeps of each employee between its passes.
    pub last_punches: Arc<LastPunches>,
}

impl AppState {
    /// State over a store, a clock and the server's key.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, key: SigningKey) -> Self {
        Self {
            store,
            clock,
            key: Arc::new(key),
            metrics: Arc::new(Metrics::default()),
            enroll_failures: Arc::default(),
            webhook_hosts: Arc::default(),
            last_punches: Arc::default(),
        }
    }

    /// The same state, allowing webhooks to point only at `hosts` (any, if it is empty).
    pub fn with_webhook_hosts(mut self, hosts: HostAllowlist) -> Self {
        self.webhook_hosts = Arc::new(hosts);
        self
    }

    /// The current instant on the server's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().wall
    }

    /// The zone of an org unit and the site that carries it.
    pub fn site_of(&self, unit: OrgUnitId) -> ApiResult<(Tz, OrgUnit)> {
        site_in(&self.store.org_units()?, unit)
    }

    /// Today's date in the zone of an org unit.
    pub fn today_in(&self, unit: OrgUnitId) -> ApiResult<NaiveDate> {
        let (tz, _) = self.site_of(unit)?;
        Ok(zone::local_date(self.now(), tz))
    }
}

/// The zone of an org unit and the site that carries it, among `units` (all of them, read
/// once by a request that asks for many).
pub fn site_in(units: &[OrgUnitRecord], unit: OrgUnitId) -> ApiResult<(Tz, OrgUnit)> {
    if !units.iter().any(|u| u.unit.id == unit) {
        return Err(ApiError::invalid(format!("org unit {unit} does not exist")));
    }
    let (tz, site) =
        zone::zone_of(unit, |id| units.iter().find(|u| u.unit.id == id).map(|u| &u.unit))
            .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((tz, site.clone()))
}
