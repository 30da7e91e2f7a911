//! The roster: what a kiosk decodes from the server's roster route.

#![no_main]

use libfuzzer_sys::fuzz_target;

use mtime_core::badge::BadgeUid;
use mtime_core::protocol::{ROSTER, Roster};
use mtime_fuzz::{KEY, open_both};

fuzz_target!(|data: &[u8]| {
    let Some(roster) = open_both::<Roster>(ROSTER, data, &KEY) else { return };
    // The kiosk looks every tap up in the roster; whatever it holds, lookups never fail.
    for employee in &roster.employees {
        assert!(roster.employee(employee.id).is_some());
    }
    if let Ok(uid) = BadgeUid::from_bytes(&data[..data.len().min(10)]) {
        let _ = roster.by_badge(&uid);
    }
});
