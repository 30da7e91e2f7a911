//! Announces closed intervals in the feed: `interval.closed` for each, and
//! `interval.flagged` as well when pairing flagged it (a missing check-in or check-out,
//! an over-long stretch).
//!
//! Intervals are derived from presence events, so the watcher follows the feed: for every
//! employee whose presence changed, it pairs their punches again from the last one before
//! the earliest change (what came before cannot have changed) and announces each closed
//! interval the feed has not announced yet. A correction or a kiosk amendment that re-pairs
//! a day announces the intervals it makes; the ones announced before stay in the feed as
//! history. An amendment that reopens an interval announces nothing but itself
//! (`presence.amended`).

use std::collections::BTreeMap;

use mtime_core::ids::{EmployeeId, EventId};

use crate::model::{IntervalAnnouncement, IntervalKey, feed_kind};
use crate::state::AppState;
use crate::store::{OpenLimits, StoreError, employee_intervals, intervals_since_each};

/// Feed entries read per pass; a pass is one transaction. A kiosk back from weeks offline
/// fills the feed faster than passes empty it, and each pass reads back every employee it
/// names whatever its size: at 5,000 a catch-up of 300,000 punches by 1,000 employees took
/// 12% longer than at 20,000 (`bench/profiles.md`).
const PASS: usize = 20_000;

/// Feed kinds after which an employee's intervals may have changed.
const PRESENCE_KINDS: [&str; 5] = [
    feed_kind::PRESENCE_RECORDED,
    feed_kind::PRESENCE_AMENDED,
    feed_kind::PRESENCE_ENTERED,
    feed_kind::PRESENCE_CORRECTED,
    feed_kind::PRESENCE_ASSIGNED,
];

/// Handles every feed entry stored so far; returns how many closed intervals it announced.
pub fn catch_up(state: &AppState) -> Result<usize, StoreError> {
    let mut announced = 0;
    loop {
        let (more, made) = step(state)?;
        announced += made;
        if !more {
            return Ok(announced);
        }
    }
}

/// One pass: (whether more entries may wait, intervals announced). A serving process runs
/// passes one at a time so that it can stop between them.
pub fn step(state: &AppState) -> Result<(bool, usize), StoreError> {
    let (read, made) = pass(state)?;
    Ok((read == PASS, made))
}

/// One pass over at most [`PASS`] entries: (entries read, intervals announced).
fn pass(state: &AppState) -> Result<(usize, usize), StoreError> {
    let from = state.store.interval_watch_cursor()?;
    let entries = state.store.feed_after(from, PASS)?;
    let Some(through) = entries.last().map(|e| e.seq) else {
        // A quiet feed: the punches logged since the last merge go into the index now,
        // rather than being scanned by every read until the log fills.
        let merged = state.store.merge_punches()?;
        if merged > 0 {
            tracing::debug!(punches = merged, "merged logged punches into the index");
        }
        return Ok((0, 0));
    };

    // Each employee's changed events; `None` when an entry does not say which.
    let mut changed: BTreeMap<EmployeeId, Option<Vec<EventId>>> = BTreeMap::new();
    for entry in entries.iter().filter(|e| PRESENCE_KINDS.contains(&e.kind.as_str())) {
        let Some(employee) = entry.employee else { continue };
        let events = changed.entry(employee).or_insert_with(|| Some(Vec::new()));
        match (events, entry.event) {
            (Some(events), Some(event)) => events.push(event),
            (events, _) => *events = None,
        }
    }

    // The intervals each change can have made: since its earliest change, read together,
    // or the whole history when the entries do not say what changed.
    let store = state.store.as_ref();
    let limits = OpenLimits::load(store)?;
    let mut since = Vec::new();
    let mut wholly = Vec::new();
    for (employee, events) in changed {
        match events {
            Some(events) => match store.earliest_change(&events)? {
                Some(at) => since.push((employee, at)),
                None => wholly.push(employee),
            },
            None => wholly.push(employee),
        }
    }
    let mut changed_intervals = Vec::with_capacity(since.len() + wholly.len());
    let read_since = intervals_since_each(store, &limits, &since)?;
    changed_intervals.extend(since.iter().map(|(employee, _)| *employee).zip(read_since));
    for employee in wholly {
        changed_intervals.push((employee, employee_intervals(store, &limits, employee)?));
    }

    // Each closed interval with its key; those the feed has not announced yet are new.
    let mut closed = Vec::new();
    for (employee, intervals) in &changed_intervals {
        for interval in intervals.iter().filter(|i| !i.is_open()) {
            closed.push(((*employee, IntervalKey::of(interval)), !interval.flags.is_empty()));
        }
    }
    let asked: Vec<(EmployeeId, IntervalKey)> = closed.iter().map(|(key, _)| *key).collect();
    let known = store.announced_among(&asked)?;
    let now = state.now();
    let announcements: Vec<IntervalAnnouncement> = closed
        .into_iter()
        .filter(|(key, _)| !known.contains(key))
        .map(|((employee, key), flagged)| IntervalAnnouncement { employee, key, flagged, at: now })
        .collect();

    state.store.announce_intervals(from, through, &announcements)?;
    for a in &announcements {
        tracing::info!(
            employee = %a.employee,
            flagged = a.flagged,
            through,
            "interval closed"
        );
    }
    Ok((entries.len(), announcements.len()))
}
