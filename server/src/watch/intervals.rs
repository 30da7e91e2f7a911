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
//!
//! Most punches are the newest of their employee. The watcher keeps each employee's last
//! punch between passes ([`LastPunches`]), and pairs new punches that all come after it from
//! it, reading nothing back; anything else (an amendment, a correction, a tap dated before
//! the last) reads the history back as above.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use mtime_core::ids::{EmployeeId, EventId};
use mtime_core::pairing::{Interval, Punch};

use crate::model::{IntervalAnnouncement, IntervalKey, feed_kind};
use crate::state::AppState;
use crate::store::{OpenLimits, Repaired, StoreError, effective_punches, intervals_since_each};

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

/// Feed kinds that may only add a punch to a history: a tap or an API punch, neither a
/// correction nor an amendment. Whether it did is read from the store ([`LastPunches`]).
const ADDING_KINDS: [&str; 2] = [feed_kind::PRESENCE_RECORDED, feed_kind::PRESENCE_ENTERED];

/// Employees whose last punch is kept, at most: about 150 bytes each.
const MOST_KEPT: usize = 50_000;

/// Punches paired ahead of the feed kept for one employee, at most; past it they are
/// forgotten, and their next pass reads back.
const MOST_PAIRED_AHEAD: usize = 256;

/// Each employee's last punch that counts, as the watcher last paired them, so that a pass
/// whose new punches all come after it pairs them from it instead of reading the history
/// back: in a day of taps nearly every punch is the newest of its employee.
///
/// A pass that reads a history back reads the store as it is, past the feed entries it
/// handles: the last punch it keeps can be one whose entry a later pass reads. So it keeps
/// too the punches it paired (those its change reached), and a later pass takes a punch
/// among them as paired already, and the others only when they come after the last.
///
/// What is kept holds at the feed position it was kept at and only there: each pass starts
/// where the last one ended, and a change to anyone's punches is a feed entry naming them,
/// so a pass that finds the watcher's cursor elsewhere (another pass failed after its
/// reads) forgets everything. A process starts with nothing kept; each employee's first
/// pass reads their history back as before, and keeps its last punch.
pub struct LastPunches {
    kept: Mutex<Kept>,
    most: usize,
    /// Employees paired from what was kept, over all passes.
    paired: AtomicU64,
    /// Employees whose history was read back, over all passes.
    read_back: AtomicU64,
}

#[derive(Default)]
struct Kept {
    /// The feed entry the last pass handled through.
    through: u64,
    last: HashMap<EmployeeId, Tail>,
}

/// What is kept of one employee.
#[derive(Clone)]
struct Tail {
    /// Their last punch that counts.
    last: Option<Punch>,
    /// Punches paired already whose entries may still be ahead of the watcher.
    paired: Vec<EventId>,
}

impl Default for LastPunches {
    fn default() -> Self {
        Self::keeping(MOST_KEPT)
    }
}

impl LastPunches {
    /// Keeps the last punch of at most `most` employees; with none, every pass reads every
    /// employee it names back.
    pub fn keeping(most: usize) -> Self {
        let (paired, read_back) = (AtomicU64::new(0), AtomicU64::new(0));
        Self { kept: Mutex::new(Kept::default()), most, paired, read_back }
    }

    /// How many times an employee's new punches were paired from their kept last punch.
    pub fn paired_from_kept(&self) -> u64 {
        self.paired.load(Ordering::Relaxed)
    }

    /// How many times an employee's history was read back.
    pub fn read_back(&self) -> u64 {
        self.read_back.load(Ordering::Relaxed)
    }

    /// What is kept, for a pass starting after feed entry `from`. Passes hold it one at a
    /// time.
    fn at(&self, from: u64) -> MutexGuard<'_, Kept> {
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.through != from {
            kept.last.clear();
            kept.through = from;
        }
        kept
    }
}

impl Kept {
    /// After a pass through feed entry `through` stored its announcements.
    fn advance(&mut self, through: u64, changed: &[Changed], most: usize) {
        for change in changed {
            let known = self.last.contains_key(&change.employee);
            if change.paired.len() > MOST_PAIRED_AHEAD {
                self.last.remove(&change.employee);
            } else if known || self.last.len() < most {
                let tail =
                    Tail { last: change.repaired.last.clone(), paired: change.paired.clone() };
                self.last.insert(change.employee, tail);
            }
        }
        self.through = through;
    }
}

/// One employee's intervals a pass may announce.
struct Changed {
    employee: EmployeeId,
    repaired: Repaired,
    /// When paired from the kept last punch (and which it was): only an interval of that
    /// punch alone can have been announced before, every other holds a punch of this pass.
    /// `None` when the history was read back, and any of them may have been.
    from_kept: Option<Option<EventId>>,
    /// The punches paired whose entries the watcher may not have read yet.
    paired: Vec<EventId>,
}

impl Changed {
    fn may_be_announced(&self, interval: &Interval) -> bool {
        let Some(kept) = self.from_kept else { return true };
        [&interval.start, &interval.end].into_iter().flatten().all(|p| Some(p.event) == kept)
    }
}

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
    let (read, made) = pass(state, PASS)?;
    Ok((read == PASS, made))
}

/// What the entries of a pass say of one employee.
struct Entries {
    /// The events they name; `None` when one does not say which.
    events: Option<Vec<EventId>>,
    /// Whether every one may only have added a punch.
    adding: bool,
}

/// One pass over at most `most` entries: (entries read, intervals announced).
fn pass(state: &AppState, most: usize) -> Result<(usize, usize), StoreError> {
    let from = state.store.interval_watch_cursor()?;
    let entries = state.store.feed_after(from, most)?;
    let Some(through) = entries.last().map(|e| e.seq) else {
        // A quiet feed: the punches logged since the last merge go into the index now,
        // rather than being scanned by every read until the log fills.
        let merged = state.store.merge_punches()?;
        if merged > 0 {
            tracing::debug!(punches = merged, "merged logged punches into the index");
        }
        return Ok((0, 0));
    };
    let mut kept = state.last_punches.at(from);

    let mut named: BTreeMap<EmployeeId, Entries> = BTreeMap::new();
    for entry in entries.iter().filter(|e| PRESENCE_KINDS.contains(&e.kind.as_str())) {
        let Some(employee) = entry.employee else { continue };
        let said =
            named.entry(employee).or_insert(Entries { events: Some(Vec::new()), adding: true });
        said.adding &= ADDING_KINDS.contains(&entry.kind.as_str());
        match (&mut said.events, entry.event) {
            (Some(events), Some(event)) => events.push(event),
            (events, _) => *events = None,
        }
    }

    let store = state.store.as_ref();
    let limits = OpenLimits::load(store)?;
    let (mut changed, read_back) = pair_from_kept(state, &kept, named, &limits)?;
    let from_kept = changed.len();
    changed.extend(read_back_each(state, read_back, &limits)?);
    tracing::debug!(from_kept, read_back = changed.len() - from_kept, "interval watcher pass");

    // Each closed interval with its key; those the feed has not announced yet are new.
    let mut closed = Vec::new();
    let mut asked = Vec::new();
    for change in &changed {
        for interval in change.repaired.intervals.iter().filter(|i| !i.is_open()) {
            let key = (change.employee, IntervalKey::of(interval));
            if change.may_be_announced(interval) {
                asked.push(key);
            }
            closed.push((key, !interval.flags.is_empty()));
        }
    }
    let known = if asked.is_empty() { HashSet::new() } else { store.announced_among(&asked)? };
    let now = state.now();
    let announcements: Vec<IntervalAnnouncement> = closed
        .into_iter()
        .filter(|(key, _)| !known.contains(key))
        .map(|((employee, key), flagged)| IntervalAnnouncement { employee, key, flagged, at: now })
        .collect();

    state.store.announce_intervals(from, through, &announcements)?;
    kept.advance(through, &changed, state.last_punches.most);
    state.last_punches.paired.fetch_add(from_kept as u64, Ordering::Relaxed);
    let read_back = (changed.len() - from_kept) as u64;
    state.last_punches.read_back.fetch_add(read_back, Ordering::Relaxed);
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

/// Employees whose history is read back, each with the events their entries name (`None`
/// when an entry does not say).
type ReadBack = Vec<(EmployeeId, Option<Vec<EventId>>)>;

/// Pairs the employees whose entries only add punches that all come after their kept last
/// punch; returns them, and the others with what their entries say, to be read back.
fn pair_from_kept(
    state: &AppState,
    kept: &Kept,
    named: BTreeMap<EmployeeId, Entries>,
    limits: &OpenLimits,
) -> Result<(Vec<Changed>, ReadBack), StoreError> {
    let mut read_back = Vec::new();
    let mut adding = Vec::new();
    for (employee, said) in named {
        match (said.events, kept.last.get(&employee)) {
            (Some(mut events), Some(tail)) if said.adding => {
                events.sort_unstable();
                events.dedup();
                adding.push((employee, tail, events));
            }
            (events, _) => read_back.push((employee, events)),
        }
    }

    let events: Vec<EventId> = adding.iter().flat_map(|(_, _, events)| events).copied().collect();
    let mut plain = state.store.plain_punches(&events)?.into_iter();
    let mut changed = Vec::with_capacity(adding.len());
    for (employee, tail, events) in adding {
        let found: Vec<Option<(EmployeeId, Punch)>> = plain.by_ref().take(events.len()).collect();
        let new: Option<Vec<Punch>> = found
            .into_iter()
            .map(|p| p.and_then(|(whose, punch)| (whose == employee).then_some(punch)))
            .collect();
        let last = tail.last.as_ref();
        let repaired = new.and_then(|new| {
            let fresh: Vec<Punch> =
                new.into_iter().filter(|p| !tail.paired.contains(&p.event)).collect();
            if fresh.is_empty() {
                return Some(Repaired { intervals: Vec::new(), last: last.cloned() });
            }
            Repaired::after(last, &fresh, limits)
        });
        match repaired {
            Some(repaired) => {
                let from_kept = Some(last.map(|p| p.event));
                let paired = tail.paired.iter().filter(|e| !events.contains(e)).copied().collect();
                changed.push(Changed { employee, repaired, from_kept, paired });
            }
            None => read_back.push((employee, Some(events))),
        }
    }
    Ok((changed, read_back))
}

/// Reads back the history of each employee from their earliest change, or whole when the
/// entries do not say what changed, and pairs it.
fn read_back_each(
    state: &AppState,
    named: ReadBack,
    limits: &OpenLimits,
) -> Result<Vec<Changed>, StoreError> {
    let store = state.store.as_ref();
    let mut since = Vec::new();
    let mut wholly = Vec::new();
    for (employee, events) in named {
        match events {
            Some(events) => match store.earliest_change(&events)? {
                Some(at) => since.push((employee, at, events)),
                None => wholly.push((employee, events)),
            },
            None => wholly.push((employee, Vec::new())),
        }
    }

    let mut changed = Vec::with_capacity(since.len() + wholly.len());
    let asked: Vec<(EmployeeId, DateTime<Utc>)> =
        since.iter().map(|(e, at, _)| (*e, *at)).collect();
    let read_since = intervals_since_each(store, limits, &asked)?;
    for ((employee, _, named), repaired) in since.into_iter().zip(read_since) {
        changed.push(read_back(employee, repaired, &named));
    }
    for (employee, named) in wholly {
        let punches = effective_punches(store, employee)?;
        let repaired = Repaired::pair(&punches, DateTime::<Utc>::MIN_UTC, limits);
        changed.push(read_back(employee, repaired, &named));
    }
    Ok(changed)
}

/// An employee's history read back and paired: every punch it paired but those the pass's
/// entries named may have its entry ahead.
fn read_back(employee: EmployeeId, repaired: Repaired, named: &[EventId]) -> Changed {
    let named: HashSet<&EventId> = named.iter().collect();
    let paired = repaired
        .intervals
        .iter()
        .flat_map(|i| [&i.start, &i.end])
        .flatten()
        .map(|p| p.event)
        .filter(|e| !named.contains(e))
        .collect();
    Changed { employee, repaired, from_kept: None, paired }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use mtime_core::clock::ManualClock;
    use mtime_core::keys::SigningKey;

    use super::*;
    use crate::store::redb_store::RedbStore;
    use mtime_core::event::{Amendment, Direction};
    use mtime_core::ids::KioskId;
    use mtime_core::pairing::PunchOrigin;

    use crate::model::{EventDetail, EventRecord};
    use crate::store::redb_store::histories::{
        Dice, file, interleaved, reason, start_of_histories,
    };
    use crate::store::{Store, employee_intervals};

    fn state_over(store: &Arc<RedbStore>, kept: LastPunches) -> AppState {
        let clock = Arc::new(ManualClock::at(start_of_histories()));
        let mut state = AppState::new(store.clone(), clock, SigningKey::generate().unwrap());
        state.last_punches = Arc::new(kept);
        state
    }

    /// The interval announcements after feed entry `after`, in an order that does not depend
    /// on the order a pass made them in; and the last entry's seq.
    fn announced_after(store: &RedbStore, after: u64) -> (Vec<(String, EmployeeId, EventId)>, u64) {
        let entries = store.feed_after(after, usize::MAX).unwrap();
        let last = entries.last().map_or(after, |e| e.seq);
        let mut announced: Vec<_> = entries
            .into_iter()
            .filter(|e| e.kind.starts_with("interval."))
            .map(|e| (e.kind, e.employee.unwrap(), e.event.unwrap()))
            .collect();
        announced.sort();
        (announced, last)
    }

    #[test]
    fn pairing_from_the_kept_last_punch_announces_what_reading_back_does() {
        let mut dice = Dice(0x6a09_e667_f3bc_c908);
        let everyone: Vec<EmployeeId> = (0..6).map(|_| EmployeeId::random()).collect();
        // Each history in its own order (late targets, re-dated clocks, shift changes at one
        // instant, corrections), the histories interleaved as kiosks would send them.
        let mut taps = interleaved(&mut dice, &everyone);
        // Then days of plain taps, each after the one before: what most passes see.
        let days = start_of_histories() + chrono::TimeDelta::days(90);
        let mut plain = Vec::new();
        for (n, employee) in everyone.iter().enumerate() {
            let kiosk = KioskId::random();
            for seq in 0..24u64 {
                let at = days + chrono::TimeDelta::minutes(240 * seq as i64 + n as i64);
                let direction = if seq % 2 == 0 { Direction::In } else { Direction::Out };
                let punch = Punch {
                    event: EventId::random(),
                    at,
                    direction,
                    reason: reason("WORK"),
                    origin: PunchOrigin::Kiosk { kiosk, seq },
                };
                let detail = EventDetail::Api;
                plain.push((
                    EventRecord { employee: Some(*employee), punch, detail, received_at: at },
                    None,
                ));
            }
        }
        plain.sort_by_key(|(event, _): &(EventRecord, _)| event.punch.at);
        let plain_taps = plain.len() as u64;
        taps.extend(plain);

        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let open =
            |i: usize| Arc::new(RedbStore::open(&dirs[i].path().join("mtime.redb")).unwrap());
        let (store, reference) = (open(0), open(1));
        // Two watchers take turns over one store, as a pass that failed after its reads would
        // leave the other's kept punches behind the cursor; one keeps two employees at most.
        let watchers = [
            state_over(&store, LastPunches::default()),
            state_over(&store, LastPunches::keeping(2)),
        ];
        let reading_back = state_over(&reference, LastPunches::keeping(0));

        let (mut seen, mut seen_reference) = (0, 0);
        let mut remaining = taps.as_slice();
        let mut passes = 0;
        while !remaining.is_empty() {
            let (now, later) = remaining.split_at((1 + dice.roll(5) as usize).min(remaining.len()));
            remaining = later;
            for (event, amends) in now {
                file(&store, event, *amends);
                file(&reference, event, *amends);
            }
            let watcher = &watchers[usize::from(dice.roll(4) == 0)];
            assert_eq!(catch_up(watcher).unwrap(), catch_up(&reading_back).unwrap());
            let (announced, last) = announced_after(&store, seen);
            let (expected, last_reference) = announced_after(&reference, seen_reference);
            assert_eq!(announced, expected, "after {:?}", now.last().map(|t| &t.0.punch));
            (seen, seen_reference) = (last, last_reference);
            passes += 1;
        }

        // Plain taps were mostly paired from what was kept, and every closed interval was
        // announced.
        let from_kept: u64 = watchers.iter().map(|w| w.last_punches.paired_from_kept()).sum();
        assert!(
            from_kept * 2 > plain_taps,
            "{from_kept} pairings from kept punches in {passes} passes, {plain_taps} plain taps"
        );
        assert_eq!(reading_back.last_punches.paired_from_kept(), 0);
        let limits = OpenLimits::load(store.as_ref()).unwrap();
        for employee in &everyone {
            let closed: Vec<_> = employee_intervals(store.as_ref(), &limits, *employee)
                .unwrap()
                .iter()
                .filter(|i| !i.is_open())
                .map(|i| (*employee, IntervalKey::of(i)))
                .collect();
            assert!(closed.len() > 5, "{employee}: {} closed", closed.len());
            assert_eq!(store.announced_among(&closed).unwrap().len(), closed.len());
        }
    }

    #[test]
    fn passes_trailing_what_is_stored_announce_each_interval_once_it_closes() {
        let mut dice = Dice(0xbb67_ae85_84ca_a73b);
        let everyone: Vec<EmployeeId> = (0..5).map(|_| EmployeeId::random()).collect();
        let taps = interleaved(&mut dice, &everyone);

        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let open =
            |i: usize| Arc::new(RedbStore::open(&dirs[i].path().join("mtime.redb")).unwrap());
        let (store, each) = (open(0), open(1));
        let watcher = state_over(&store, LastPunches::default());
        // A watcher that handles every event alone, before the next is stored: what it
        // announces is every interval that was ever closed.
        let after_each = state_over(&each, LastPunches::keeping(0));

        let mut remaining = taps.as_slice();
        while !remaining.is_empty() {
            let (now, later) = remaining.split_at((1 + dice.roll(6) as usize).min(remaining.len()));
            remaining = later;
            for (event, amends) in now {
                file(&store, event, *amends);
                file(&each, event, *amends);
                catch_up(&after_each).unwrap();
            }
            // Passes of a few entries, trailing what is stored as a busy server's do: their
            // reads back see punches whose entries later passes read.
            for _ in 0..=dice.roll(2) {
                pass(&watcher, 1 + dice.roll(6) as usize).unwrap();
            }
        }
        catch_up(&watcher).unwrap();

        // Nothing announced that was never closed; everything closed now announced.
        let ever: HashSet<_> = announced_after(&each, 0).0.into_iter().collect();
        let announced = announced_after(&store, 0).0;
        assert!(announced.len() > 40, "{} announced", announced.len());
        for announcement in &announced {
            assert!(ever.contains(announcement), "never closed: {announcement:?}");
        }
        let limits = OpenLimits::load(store.as_ref()).unwrap();
        for employee in &everyone {
            let closed: Vec<_> = employee_intervals(store.as_ref(), &limits, *employee)
                .unwrap()
                .iter()
                .filter(|i| !i.is_open())
                .map(|i| (*employee, IntervalKey::of(i)))
                .collect();
            assert_eq!(store.announced_among(&closed).unwrap().len(), closed.len());
        }
        assert!(
            watcher.last_punches.paired_from_kept() > 20,
            "{}",
            watcher.last_punches.paired_from_kept()
        );
    }

    #[test]
    fn an_interval_announced_before_an_undo_is_not_announced_again_from_the_kept_punch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbStore::open(&dir.path().join("mtime.redb")).unwrap());
        let watcher = state_over(&store, LastPunches::default());
        let employee = EmployeeId::random();
        let kiosk = KioskId::random();
        let day = start_of_histories();
        let tap = |seq: u64, hour: i64, direction: Direction| {
            let at = day + chrono::TimeDelta::hours(hour);
            let punch = Punch {
                event: EventId::random(),
                at,
                direction,
                reason: reason("WORK"),
                origin: PunchOrigin::Kiosk { kiosk, seq },
            };
            EventRecord {
                employee: Some(employee),
                punch,
                detail: EventDetail::Api,
                received_at: at,
            }
        };

        // A check-in, and a second one that leaves the first without its check-out.
        let first = tap(1, 8, Direction::In);
        file(&store, &first, None);
        let second = tap(2, 12, Direction::In);
        file(&store, &second, None);
        assert_eq!(catch_up(&watcher).unwrap(), 1, "the first, flagged missing its check-out");

        // The second is undone: the first is open again, its last punch kept.
        let undo = Some(Amendment::Withdraws(second.punch.event));
        file(&store, &tap(3, 12, Direction::In), undo);
        assert_eq!(catch_up(&watcher).unwrap(), 0);

        // A later check-in closes the first again, as before: announced already.
        let kept_before = watcher.last_punches.paired_from_kept();
        file(&store, &tap(4, 13, Direction::In), None);
        assert_eq!(catch_up(&watcher).unwrap(), 0, "announced once");
        assert_eq!(watcher.last_punches.paired_from_kept(), kept_before + 1);
        let (announced, _) = announced_after(&store, 0);
        let closed = (feed_kind::INTERVAL_CLOSED.to_owned(), employee, first.punch.event);
        assert_eq!(announced.iter().filter(|a| **a == closed).count(), 1, "{announced:?}");
    }
}
