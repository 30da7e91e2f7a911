//! The host's clocks as a kiosk sees them: the wall clock, time since boot, whether the
//! wall clock was set by NTP in this boot, and the boot's id.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;

use mtime_core::clock::{Clock, ClockReading};
use mtime_core::ids::BootId;

/// systemd-timesyncd creates this file once it has set the clock in this boot.
const TIMESYNC_FLAG: &str = "/run/systemd/timesync/synchronized";

/// The host clock.
#[derive(Debug)]
pub struct HostClock {
    uptime_at_start: Duration,
    started: Instant,
    assume_trusted: bool,
}

impl HostClock {
    /// A clock reading the host. `assume_trusted` is for hosts whose clock is kept some
    /// other way (a valid RTC, chrony): their wall clock is trusted from boot.
    pub fn new(assume_trusted: bool) -> Self {
        // /proc/uptime counts from boot and includes suspend, so readings from different
        // processes of one boot compare.
        let uptime = fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()))
            .map_or(Duration::ZERO, Duration::from_secs_f64);
        Self { uptime_at_start: uptime, started: Instant::now(), assume_trusted }
    }
}

impl Clock for HostClock {
    fn now(&self) -> ClockReading {
        ClockReading {
            wall: Utc::now(),
            monotonic: self.uptime_at_start + self.started.elapsed(),
            wall_trusted: self.assume_trusted || Path::new(TIMESYNC_FLAG).exists(),
        }
    }
}

/// This boot's id, as the kernel gives it; a random one if the kernel does not.
pub fn host_boot_id() -> BootId {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| {
            tracing::warn!("no boot id from the kernel; using a random one for this run");
            BootId::random()
        })
}
