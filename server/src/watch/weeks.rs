//! Announces each employee's week in the feed once it has ended (`week.closed`, naming the
//! employee and the week's first local day), so a payroll consumer knows when to read the
//! weekly overtime report. Weeks without worked time or flags are not announced; a
//! correction entered after a week closed changes the report, not the feed.

use chrono::TimeDelta;

use crate::api::error::ApiError;
use crate::api::timesheet::Zones;
use crate::api::weeks::{WeekContext, employee_weeks};
use crate::state::AppState;

/// Announces every week that ended since the last look; returns how many.
pub fn check(state: &AppState) -> Result<usize, ApiError> {
    let context = WeekContext::load(state)?;
    let now = state.now();
    let announced = state.store.weeks_closed()?;
    let units = state.store.org_units()?;

    let mut closed = Vec::new();
    for record in state.store.employees()?.iter() {
        let zones = Zones::among(&units, record)?;
        let Some(first) = record.versions.first().map(|v| v.effective_from) else { continue };
        // From the day after the start of the last week announced: the weeks that hold a
        // day from then on include every one after it, however long a change made it.
        let from = announced.get(&record.id).map_or(first, |week| *week + TimeDelta::days(1));
        let today = now.with_timezone(&zones.at(now)).date_naive();
        if from > today {
            continue;
        }
        let weeks = employee_weeks(state, &context, record, &zones, from, today)?;
        closed.extend(weeks.into_iter().filter(|w| w.complete).map(|w| (record.id, w.week_start)));
    }

    let count = state.store.announce_weeks(&closed, now)?;
    if count > 0 {
        tracing::info!(weeks = count, "weeks closed");
    }
    Ok(count)
}
