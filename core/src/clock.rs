//! What a process knows about time, behind a trait so that tests and replays can drive it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// One reading of a clock: the wall clock, the monotonic clock, and whether the wall
/// clock could be trusted when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// The wall clock.
    pub wall: DateTime<Utc>,
    /// Time since an arbitrary origin that never jumps; comparable within one boot only.
    pub monotonic: Duration,
    /// Whether the wall clock was set from a trusted source in this boot.
    pub wall_trusted: bool,
}

/// A source of time.
pub trait Clock: Send + Sync {
    /// The current reading.
    fn now(&self) -> ClockReading;

    /// How long to sleep in real time before looking at the clock again, when the caller
    /// wants to wait until `remaining` has passed on this clock. A clock that follows real
    /// time returns `remaining`; a clock driven from outside returns a short poll interval.
    fn real_wait(&self, remaining: Duration) -> Duration {
        remaining
    }
}

/// The host's clock, trusted. Servers use it; kiosks wrap it with a trust check.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic readings count from now.
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> ClockReading {
        ClockReading { wall: Utc::now(), monotonic: self.origin.elapsed(), wall_trusted: true }
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ClockReading>,
}

impl ManualClock {
    /// A trusted clock standing at `wall`, monotonic zero.
    pub fn at(wall: DateTime<Utc>) -> Self {
        Self {
            state: Mutex::new(ClockReading { wall, monotonic: Duration::ZERO, wall_trusted: true }),
        }
    }

    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.wall += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        state.monotonic += by;
    }

    /// Says whether the wall clock is trusted, as NTP setting it (or not yet) would.
    pub fn set_trusted(&self, trusted: bool) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).wall_trusted = trusted;
    }

    /// Sets the wall clock alone, as a jump would.
    pub fn set_wall(&self, wall: DateTime<Utc>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).wall = wall;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> ClockReading {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn real_wait(&self, remaining: Duration) -> Duration {
        remaining.min(Duration::from_millis(1))
    }
}
