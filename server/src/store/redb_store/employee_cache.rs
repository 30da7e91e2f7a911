//! All employees, decoded once per roster version and shared until an employee changes.
//!
//! Reports, roster snapshots for kiosks and the week watcher each read every employee;
//! decoding ten thousand records takes milliseconds a time. Every write of an employee
//! bumps the roster version in the same transaction, so a list decoded in a snapshot with
//! version `v` is the list for as long as the version stays `v`.

use std::sync::{Arc, Mutex, PoisonError};

use crate::model::EmployeeRecord;

/// The list last decoded, with the roster version it was read at.
#[derive(Default)]
pub(super) struct EmployeeCache(Mutex<Option<(u64, Arc<[EmployeeRecord]>)>>);

impl EmployeeCache {
    /// The list read at roster version `version`, if it is the one kept.
    pub(super) fn at(&self, version: u64) -> Option<Arc<[EmployeeRecord]>> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.as_ref().filter(|(at, _)| *at == version).map(|(_, list)| list.clone())
    }

    /// Keeps `list`, read at roster version `version`, unless a newer one is kept: two
    /// readers may race, and the one who read the older snapshot must not win.
    pub(super) fn keep(&self, version: u64, list: Arc<[EmployeeRecord]>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.as_ref().is_none_or(|(at, _)| *at <= version) {
            *kept = Some((version, list));
        }
    }
}
