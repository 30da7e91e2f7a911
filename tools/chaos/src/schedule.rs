//! Who taps, and when: a generated roster and an endless working week on it, both fixed
//! by the seed. Generated rather than the demo's punch log because a long run needs more
//! days than the log holds, and the oracle here is a fault-free twin fed the same taps,
//! not what a commercial clock made of them.

use std::collections::VecDeque;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::rng::Rng;

/// The site's zone; it has a DST change in the first week, to keep that path busy.
pub const ZONE: Tz = chrono_tz::America::Chicago;
/// How many employees work at the site.
const EMPLOYEES: usize = 6;

/// An employee of the generated roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The employee number.
    pub number: String,
    /// The badge UID, 7 bytes in hex as a reader reports it.
    pub badge: String,
}

/// The roster for `seed`.
pub fn roster(seed: u64) -> Vec<Person> {
    let mut rng = Rng::new(seed ^ 0x0BAD_6E5E);
    (1..=EMPLOYEES)
        .map(|i| {
            // 0x04 first, as NXP tags begin; the rest random.
            let rest: Vec<String> = (0..6).map(|_| format!("{:02X}", rng.range(0, 255))).collect();
            Person { number: format!("E{i:02}"), badge: format!("04{}", rest.concat()) }
        })
        .collect()
}

/// A tap the schedule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedTap {
    /// When, at the earliest (the replay clock may already be later).
    pub at: DateTime<Utc>,
    /// Who, as an index into the roster.
    pub person: usize,
    /// The key pressed: `in` or `out`.
    pub key: &'static str,
}

/// Every employee checks in each morning and out each afternoon, day after day.
#[derive(Debug, Clone)]
pub struct Schedule {
    rng: Rng,
    day: NaiveDate,
    queue: VecDeque<PlannedTap>,
}

impl Schedule {
    /// The schedule for `seed`, from the first day.
    pub fn new(seed: u64) -> Self {
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default();
        Self { rng: Rng::new(seed ^ 0x5C4E_D01E), day, queue: VecDeque::new() }
    }

    /// The replay instant the run starts at: the first day's midnight.
    pub fn start(&self) -> DateTime<Utc> {
        local(self.day, 0)
    }

    fn fill_day(&mut self) {
        let mut taps = Vec::new();
        for person in 0..EMPLOYEES {
            let offset = person as i64 * 10;
            let came = 6 * 60 + offset + self.rng.range(0, 20) as i64;
            let left = 14 * 60 + 30 + offset + self.rng.range(0, 40) as i64;
            taps.push(PlannedTap { at: local(self.day, came), person, key: "in" });
            taps.push(PlannedTap { at: local(self.day, left), person, key: "out" });
        }
        taps.sort_by_key(|t| t.at);
        self.queue.extend(taps);
        self.day = self.day.succ_opt().unwrap_or(self.day);
    }

    /// The next tap, without taking it.
    pub fn peek(&mut self) -> PlannedTap {
        if self.queue.is_empty() {
            self.fill_day();
        }
        self.queue[0]
    }
}

impl Iterator for Schedule {
    type Item = PlannedTap;

    fn next(&mut self) -> Option<PlannedTap> {
        self.peek();
        self.queue.pop_front()
    }
}

/// `minutes` after local midnight of `day` at the site; an instant that falls into the
/// spring-forward gap moves on by an hour.
fn local(day: NaiveDate, minutes: i64) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default() + TimeDelta::minutes(minutes);
    naive
        .and_local_timezone(ZONE)
        .earliest()
        .or_else(|| (naive + TimeDelta::hours(1)).and_local_timezone(ZONE).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_employee_alternates_in_and_out_in_time_order() {
        let taps: Vec<PlannedTap> = Schedule::new(5).take(12 * 10).collect();
        assert!(taps.windows(2).all(|w| w[0].at <= w[1].at));
        for person in 0..EMPLOYEES {
            let keys: Vec<&str> =
                taps.iter().filter(|t| t.person == person).map(|t| t.key).collect();
            assert_eq!(keys.len(), 20);
            assert!(keys.chunks(2).all(|pair| pair == ["in", "out"]), "{keys:?}");
        }
        assert_eq!(Schedule::new(5).take(30).collect::<Vec<_>>(), taps[..30]);
    }

    #[test]
    fn the_roster_is_fixed_by_the_seed_and_badges_differ() {
        let people = roster(11);
        assert_eq!(people, roster(11));
        assert_eq!(people[0].number, "E01");
        assert!(people.iter().all(|p| p.badge.len() == 14 && p.badge.starts_with("04")));
        let mut badges: Vec<&str> = people.iter().map(|p| p.badge.as_str()).collect();
        badges.sort();
        badges.dedup();
        assert_eq!(badges.len(), EMPLOYEES);
    }
}
