//! Random presence histories filed straight into a store, for the tests of what reads them.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, Utc};

use mtime_core::event::{Amendment, Direction, ReasonCode};
use mtime_core::ids::{EmployeeId, EventId, KioskId};
use mtime_core::pairing::{Punch, PunchOrigin};

use super::punches::Filing;
use super::{EVENT_AMENDMENTS, FeedAppends, RedbStore, encode, insert_event};
use crate::model::{EventDetail, EventRecord};

/// A small deterministic generator, so a failing history can be made again by its seed.
pub(crate) struct Dice(pub(crate) u64);

impl Dice {
    pub(crate) fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

pub(crate) fn reason(code: &str) -> ReasonCode {
    serde_json::from_value(serde_json::Value::String(code.into())).unwrap()
}

/// Stores one event the way a batch or the API does: amendment first, then the event
/// and its index rows, in one transaction.
pub(crate) fn file(store: &RedbStore, event: &EventRecord, amends: Option<Amendment>) {
    let txn = store.db.begin_write().unwrap();
    if let Some(amendment) = amends {
        let mut table = txn.open_table(EVENT_AMENDMENTS).unwrap();
        let id = event.punch.event.0.as_u128();
        table.insert(id, encode(&amendment).unwrap().as_slice()).unwrap();
    }
    let mut feed = FeedAppends::new();
    let mut filing = Filing::new(&txn, &store.kept);
    insert_event(&txn, &mut feed, &mut filing, event, amends).unwrap();
    filing.finish().unwrap();
    feed.write(&txn).unwrap();
    store.commit(txn).unwrap();
}

/// One employee's taps at one kiosk over a few weeks, some of them amending an earlier
/// tap, with API punches among them; each with the amendment it carries.
pub(crate) fn start_of_histories() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_600_000, 0).unwrap()
}

pub(crate) fn history(
    dice: &mut Dice,
    employee: EmployeeId,
) -> Vec<(EventRecord, Option<Amendment>)> {
    let kiosk = KioskId::random();
    let start = start_of_histories();
    let mut at = start;
    let mut taps: Vec<(EventRecord, Option<Amendment>)> = Vec::new();
    for seq in 1..=40u64 {
        // Often two punches share an instant (a shift change); now and then a tap lands
        // before the one made just earlier (a re-dated clock).
        if dice.roll(3) != 0 {
            at += TimeDelta::minutes(1 + dice.roll(600) as i64);
        }
        if dice.roll(8) == 0 {
            at -= TimeDelta::minutes(1 + dice.roll(600) as i64).min(at - start);
        }
        let direction = if dice.roll(3) == 0 { Direction::Out } else { Direction::In };
        let api = dice.roll(10) == 0;
        let origin = if api {
            let correction = dice.roll(2) == 0;
            PunchOrigin::Api { author: "payroll".into(), note: None, correction }
        } else {
            PunchOrigin::Kiosk { kiosk, seq }
        };
        let amends = match (api, taps.len(), dice.roll(4)) {
            (false, n, 0) if n > 0 => {
                let target =
                    taps[taps.len() - 1 - dice.roll(n.min(3) as u64) as usize].0.punch.event;
                Some(if dice.roll(2) == 0 {
                    Amendment::Replaces(target)
                } else {
                    Amendment::Withdraws(target)
                })
            }
            _ => None,
        };
        let punch = Punch {
            event: EventId::random(),
            at,
            direction,
            reason: reason(if dice.roll(5) == 0 { "TRAVEL" } else { "WORK" }),
            origin,
        };
        let record = EventRecord {
            employee: Some(employee),
            punch,
            detail: EventDetail::Api,
            received_at: at,
        };
        taps.push((record, amends));
    }
    // Some targets arrive after the amendments that name them (held, then released).
    for _ in 0..6 {
        let i = dice.roll(taps.len() as u64) as usize;
        let j = dice.roll(taps.len() as u64) as usize;
        taps.swap(i, j);
    }
    taps
}

/// A history for each of `employees`, interleaved at random as their kiosks would send them;
/// each history keeps its own order.
pub(crate) fn interleaved(
    dice: &mut Dice,
    employees: &[EmployeeId],
) -> Vec<(EventRecord, Option<Amendment>)> {
    let mut histories: Vec<_> = employees.iter().map(|e| history(dice, *e).into_iter()).collect();
    let mut taps = Vec::new();
    while !histories.is_empty() {
        let i = dice.roll(histories.len() as u64) as usize;
        match histories[i].next() {
            Some(tap) => taps.push(tap),
            None => drop(histories.swap_remove(i)),
        }
    }
    taps
}
