//! Background watchers that turn what was stored into feed entries nobody posts: an interval
//! closing (it is derived from events, not sent), a kiosk falling silent (it is the absence of
//! requests) and an employee's week ending (it is the passing of time). Each pass is a plain
//! function, so tests drive them on a manual clock; [`spawn`] runs them for a serving process.

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
///
/// Each pass runs on the blocking pool, one at a time: a kiosk back after weeks offline
/// can leave minutes of interval passes, which must neither hold one of the threads that
/// answer requests nor keep a stopping process busy past the pass it is in.
pub fn spawn(state: AppState, cadence: Cadence) {
    let intervals_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cadence.intervals);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                let state = intervals_state.clone();
                match blocking("interval", move || intervals::step(&state)).await {
                    Some((true, _)) => continue,
                    Some((false, _)) | None => break,
                }
            }
        }
    });

    let weeks_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cadence.weeks);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let state = weeks_state.clone();
            blocking("closed-week", move || weeks::check(&state)).await;
        }
    });

    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cadence.silence);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let state = state.clone();
            blocking("kiosk silence", move || silence::check(&state)).await;
        }
    });
}

/// Runs one pass of the watcher named `what` on the blocking pool; logs its failure.
async fn blocking<T, E>(
    what: &'static str,
    pass: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Option<T>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    match tokio::task::spawn_blocking(pass).await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "{what} watcher failed; retrying");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "{what} watcher stopped in a pass; retrying");
            None
        }
    }
}
