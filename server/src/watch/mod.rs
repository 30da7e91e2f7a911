//! Background watchers that turn what was stored into feed entries nobody posts: an
//! interval closing (it is derived from events, not sent), a kiosk falling silent (it is
//! the absence of requests) and an employee's week ending (it is the passing of time). Each pass is a plain function, so tests drive them on a
//! manual clock; [`spawn`] runs them for a serving process.

pub mod intervals;
pub mod silence;
pub mod weeks;

use std::time::Duration;

use crate::state::AppState;

/// How often the watchers look.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// Between passes over new feed entries.
    pub intervals: Duration,
    /// Between checks of kiosk silence.
    pub silence: Duration,
    /// Between looks for weeks that ended.
    pub weeks: Duration,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            intervals: Duration::from_secs(1),
            silence: Duration::from_secs(15),
            weeks: Duration::from_secs(60),
        }
    }
}

/// Runs the watchers until the process ends. A failed pass is logged and tried again at
/// the next tick: the watchers' cursors are durable, so nothing is skipped.
pub fn spawn(state: AppState, cadence: Cadence) {
    let intervals_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cadence.intervals);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = intervals::catch_up(&intervals_state) {
                tracing::error!(error = %e, "interval watcher failed; retrying");
            }
        }
    });

    let weeks_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cadence.weeks);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = weeks::check(&weeks_state) {
                tracing::error!(error = %e, "closed-week watcher failed; retrying");
            }
        }
    });

    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cadence.silence);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = silence::check(&state) {
                tracing::error!(error = %e, "kiosk silence watcher failed; retrying");
            }
        }
    });
}
