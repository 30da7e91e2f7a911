//! The part of the workspace a caller may see and change: the org units it is limited to
//! and every unit below them. Decided here, once per request, for every handler.
//!
//! A caller limited to org units reads only what lies within them; anything else reads as
//! if it did not exist (404), so that ids outside a caller's units reveal nothing. A write
//! addressed to anything the caller cannot see, or placing something in a unit outside
//! its scope, is refused with 403 `outside_scope`, whether or not the target exists
//! elsewhere.

use std::collections::{HashMap, HashSet};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::NaiveDate;

use mtime_core::ids::{EmployeeId, KioskId, OrgUnitId};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::model::{EmployeeRecord, KioskRecord, OrgUnitRecord};
use crate::state::AppState;

/// The deepest org-unit hierarchy followed before assuming a cycle.
const MAX_DEPTH: usize = 64;

/// What a handler means to do with a record it looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Read it: a record outside the scope is not found.
    Read,
    /// Change it or act on it: a record outside the scope is refused.
    Change,
}

/// The org units a caller may see and change.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Every unit in scope, the granted ones and all below; `None` for the whole workspace.
    units: Option<HashSet<OrgUnitId>>,
}

impl Scope {
    /// The whole workspace.
    pub fn whole() -> Self {
        Self { units: None }
    }

    /// The scope of a grant of `granted` units (empty: the whole workspace), over the
    /// hierarchy `all`. A unit is in scope when it or any unit above it was granted.
    pub fn of(granted: &[OrgUnitId], all: &[OrgUnitRecord]) -> Self {
        if granted.is_empty() {
            return Self::whole();
        }
        let roots: HashSet<OrgUnitId> = granted.iter().copied().collect();
        let parents: HashMap<OrgUnitId, Option<OrgUnitId>> =
            all.iter().map(|u| (u.unit.id, u.unit.parent)).collect();
        let parent = |id: OrgUnitId| parents.get(&id).copied().flatten();
        let mut units = HashSet::new();
        for record in all {
            let mut current = Some(record.unit.id);
            for _ in 0..MAX_DEPTH {
                match current {
                    Some(id) if roots.contains(&id) => {
                        units.insert(record.unit.id);
                        break;
                    }
                    Some(id) => current = parent(id),
                    None => break,
                }
            }
        }
        Self { units: Some(units) }
    }

    /// The scope of `caller`, over the hierarchy as stored now.
    pub fn of_caller(state: &AppState, caller: &Caller) -> ApiResult<Self> {
        if caller.user.org_units.is_empty() {
            return Ok(Self::whole());
        }
        Ok(Self::of(&caller.user.org_units, &state.store.org_units()?))
    }

    /// Whether this is the whole workspace.
    pub fn is_whole(&self) -> bool {
        self.units.is_none()
    }

    /// Whether `unit` lies within the scope.
    pub fn allows(&self, unit: OrgUnitId) -> bool {
        self.units.as_ref().is_none_or(|units| units.contains(&unit))
    }

    /// Whether a grant of `granted` units (empty: the whole workspace) lies within this
    /// scope, so that a caller holding it may hand it out.
    pub fn covers(&self, granted: &[OrgUnitId]) -> bool {
        match &self.units {
            None => true,
            Some(units) => !granted.is_empty() && granted.iter().all(|u| units.contains(u)),
        }
    }

    /// Refuses to place `what` (an employee, a kiosk, a unit) in `unit` outside the scope.
    /// A unit that does not exist is outside it too, so the answer tells nothing about
    /// units the caller cannot see.
    pub fn place(&self, unit: OrgUnitId, what: &str) -> ApiResult<()> {
        if self.allows(unit) {
            return Ok(());
        }
        Err(outside(format!(
            "{what} cannot be placed in org unit {unit}: it lies outside the org units \
             this caller is limited to"
        )))
    }

    /// Refuses a caller limited to org units an operation that covers the whole workspace.
    pub fn require_whole(&self, what: &str) -> ApiResult<()> {
        if self.is_whole() {
            return Ok(());
        }
        Err(outside(format!(
            "{what} covers the whole workspace; this caller is limited to org units"
        )))
    }

    /// Whether `employee` lies within the scope on `date`: the unit of the version in force
    /// then decides (their first version's, before they start).
    pub fn allows_employee(&self, employee: &EmployeeRecord, date: NaiveDate) -> bool {
        if self.is_whole() {
            return true;
        }
        let version = employee.version_at(date).or(employee.versions.first());
        version.is_some_and(|v| self.allows(v.org_unit))
    }

    /// Whether `kiosk` lies within the scope: the unit it stands in decides.
    pub fn allows_kiosk(&self, kiosk: &KioskRecord) -> bool {
        self.allows(kiosk.org_unit)
    }

    /// The employee `id`, if the scope holds them today (in their site's zone).
    pub fn employee(
        &self,
        state: &AppState,
        id: EmployeeId,
        intent: Intent,
    ) -> ApiResult<EmployeeRecord> {
        let found = state.store.employee(id)?;
        if let Some(record) = found {
            let today = super::employees::today_of(state, &record)?;
            if self.allows_employee(&record, today) {
                return Ok(record);
            }
        }
        Err(self.unseen(intent, format!("employee {id}")))
    }

    /// The kiosk `id`, if it stands within the scope.
    pub fn kiosk(&self, state: &AppState, id: KioskId, intent: Intent) -> ApiResult<KioskRecord> {
        match state.store.kiosk(id)? {
            Some(kiosk) if self.allows_kiosk(&kiosk) => Ok(kiosk),
            _ => Err(self.unseen(intent, format!("kiosk {id}"))),
        }
    }

    /// Checks an org unit named to narrow a report: it must exist and lie within the
    /// scope; one outside reads as unknown.
    pub fn filter_unit(&self, unit: OrgUnitId, all: &[OrgUnitRecord]) -> ApiResult<()> {
        if all.iter().any(|u| u.unit.id == unit) && self.allows(unit) {
            Ok(())
        } else {
            Err(ApiError::invalid(format!("org unit {unit} does not exist")))
        }
    }

    /// The answer for a record that does not exist or lies outside the scope: the same
    /// either way, so that it reveals nothing.
    pub fn unseen(&self, intent: Intent, what: String) -> ApiError {
        match intent {
            Intent::Change if !self.is_whole() => {
                outside(format!("{what} is not within the org units this caller is limited to"))
            }
            _ => ApiError::not_found(format!("{what} does not exist")),
        }
    }
}

/// 403 `outside_scope`.
fn outside(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "outside_scope", message)
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        // Every route that asks for a scope sits behind `authorize`, which inserts the
        // caller; a route without one is a wiring mistake, not the client's.
        let caller = parts
            .extensions
            .get::<Caller>()
            .ok_or_else(|| ApiError::internal("a scope was asked for on a route without a key"))?;
        Self::of_caller(state, caller)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use mtime_core::zone::OrgUnit;

    use super::*;

    fn unit(parent: Option<&OrgUnitRecord>) -> OrgUnitRecord {
        OrgUnitRecord {
            unit: OrgUnit {
                id: OrgUnitId::random(),
                name: "u".into(),
                parent: parent.map(|p| p.unit.id),
                time_zone: None,
            },
            effective_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_grant_covers_its_units_and_everything_below_them() {
        let company = unit(None);
        let site_a = unit(Some(&company));
        let hall = unit(Some(&site_a));
        let bay = unit(Some(&hall));
        let site_b = unit(Some(&company));
        let all = vec![company.clone(), site_a.clone(), hall.clone(), bay.clone(), site_b.clone()];

        let scope = Scope::of(&[site_a.unit.id], &all);
        assert!(!scope.is_whole());
        for inside in [&site_a, &hall, &bay] {
            assert!(scope.allows(inside.unit.id));
        }
        for outside in [&company, &site_b] {
            assert!(!scope.allows(outside.unit.id));
        }
        assert!(!scope.allows(OrgUnitId::random()), "an unknown unit is outside");

        assert!(scope.covers(&[hall.unit.id, bay.unit.id]));
        assert!(!scope.covers(&[hall.unit.id, site_b.unit.id]));
        assert!(!scope.covers(&[]), "a scoped caller cannot grant the whole workspace");
        assert!(Scope::whole().covers(&[]));
        assert!(Scope::of(&[], &all).is_whole(), "no units granted is the whole workspace");
    }

    #[test]
    fn a_cycle_in_the_hierarchy_ends() {
        let mut a = unit(None);
        let b = unit(Some(&a));
        a.unit.parent = Some(b.unit.id);
        let other = unit(None);
        let scope = Scope::of(&[other.unit.id], &[a.clone(), b, other.clone()]);
        assert!(!scope.allows(a.unit.id));
        assert!(scope.allows(other.unit.id));
    }
}
