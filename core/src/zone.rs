//! Sites, time zones and local times.
//!
//! A site is an org unit that carries an IANA time zone; its sub-units inherit it.
//! Instants are stored in UTC; the zone decides days and what people see.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ids::OrgUnitId;

/// The deepest org-unit hierarchy followed before assuming a cycle.
const MAX_DEPTH: usize = 64;

/// An org unit as far as zones are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUnit {
    /// Its id.
    pub id: OrgUnitId,
    /// Its name.
    pub name: String,
    /// Its parent, if any.
    pub parent: Option<OrgUnitId>,
    /// The IANA zone, set on sites.
    pub time_zone: Option<String>,
}

/// A zone or local-time problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// Not an IANA zone name.
    #[error("{0:?} is not an IANA time zone name (such as America/Chicago)")]
    UnknownZone(String),
    /// No unit up the hierarchy carries a zone.
    #[error("org unit {0} is not in a site: no unit above it carries a time zone")]
    NoSite(OrgUnitId),
    /// A parent that does not exist or a cycle.
    #[error("org unit {0} has a broken parent chain")]
    BrokenHierarchy(OrgUnitId),
    /// The local time falls in a gap (clocks skipped it).
    #[error("local time {local} does not exist in {zone}: the clocks skipped it")]
    Nonexistent {
        /// The local time.
        local: NaiveDateTime,
        /// The zone.
        zone: String,
    },
    /// The local time happened twice (clocks went back).
    #[error("local time {local} is ambiguous in {zone}: it happened twice; give an offset")]
    Ambiguous {
        /// The local time.
        local: NaiveDateTime,
        /// The zone.
        zone: String,
    },
}

/// Parses an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, ZoneError> {
    name.parse::<Tz>().map_err(|_| ZoneError::UnknownZone(name.to_owned()))
}

/// The zone of `unit`: its own, or its nearest ancestor's. `lookup` finds units by id.
pub fn zone_of<'a>(
    unit: OrgUnitId,
    lookup: impl Fn(OrgUnitId) -> Option<&'a OrgUnit>,
) -> Result<(Tz, &'a OrgUnit), ZoneError> {
    let mut current = unit;
    for _ in 0..MAX_DEPTH {
        let found = lookup(current).ok_or(ZoneError::BrokenHierarchy(unit))?;
        if let Some(zone) = &found.time_zone {
            return Ok((parse_zone(zone)?, found));
        }
        match found.parent {
            Some(parent) => current = parent,
            None => return Err(ZoneError::NoSite(unit)),
        }
    }
    Err(ZoneError::BrokenHierarchy(unit))
}

/// The instant a local time names in `zone`, refusing skipped and repeated times.
pub fn resolve_local(local: NaiveDateTime, zone: Tz) -> Result<DateTime<Utc>, ZoneError> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(ZoneError::Nonexistent { local, zone: zone.name().to_owned() }),
        LocalResult::Ambiguous(..) => {
            Err(ZoneError::Ambiguous { local, zone: zone.name().to_owned() })
        }
    }
}

/// The local calendar day of `at` in `zone`.
pub fn local_date(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, parent: Option<OrgUnitId>, zone: Option<&str>) -> OrgUnit {
        OrgUnit {
            id: OrgUnitId::random(),
            name: name.into(),
            parent,
            time_zone: zone.map(Into::into),
        }
    }

    #[test]
    fn sub_units_inherit_the_sites_zone() {
        let site = unit("Plant", None, Some("America/Chicago"));
        let hall = unit("Hall", Some(site.id), None);
        let bay = unit("Bay", Some(hall.id), None);
        let units = [site.clone(), hall, bay.clone()];
        let lookup = |id| units.iter().find(|u| u.id == id);
        let (zone, found) = zone_of(bay.id, lookup).unwrap();
        assert_eq!(zone, chrono_tz::America::Chicago);
        assert_eq!(found.id, site.id);
    }

    #[test]
    fn a_unit_outside_any_site_and_a_cycle_are_errors() {
        let mut a = unit("A", None, None);
        let b = unit("B", Some(a.id), None);
        assert_eq!(
            zone_of(a.id, |id| [&a, &b].into_iter().find(|u| u.id == id)).unwrap_err(),
            ZoneError::NoSite(a.id)
        );
        a.parent = Some(b.id);
        let units = [a.clone(), b];
        assert_eq!(
            zone_of(a.id, |id| units.iter().find(|u| u.id == id)).unwrap_err(),
            ZoneError::BrokenHierarchy(a.id)
        );
    }

    #[test]
    fn skipped_and_repeated_local_times_are_refused() {
        let chicago = parse_zone("America/Chicago").unwrap();
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        let gap = resolve_local(t("2025-03-09T02:30"), chicago).unwrap_err();
        assert!(matches!(gap, ZoneError::Nonexistent { .. }), "{gap}");
        let twice = resolve_local(t("2025-11-02T01:30"), chicago).unwrap_err();
        assert!(matches!(twice, ZoneError::Ambiguous { .. }), "{twice}");
        assert_eq!(
            resolve_local(t("2025-05-12T07:54"), chicago).unwrap().to_rfc3339(),
            "2025-05-12T12:54:00+00:00"
        );
        assert!(parse_zone("Mars/Base").is_err());
    }
}
