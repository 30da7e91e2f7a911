//! The roster: what a kiosk decodes from the server's roster route.

#![no_main]

use libfuzzer_sys::fuzz_target;

use mtime_core::protocol::{ROSTER, Roster};
use mtime_fuzz::{KEY, open_both};

fuzz_target!(|data: &[u8]| {
    let Some(roster) = open_both::<Roster>(ROSTER, data, &KEY) else { return };
    // The kiosk looks every tap up in the roster; whatever it holds, lookups find it.
    for employee in &roster.employees {
        assert!(roster.employee(employee.id).is_some());
        for badge in &employee.badges {
            assert!(roster.by_badge(badge).is_some());
        }
    }
});
