//! The verdict: what the kiosk confirmed against what the server holds, and the intervals
//! of the faulty run against the fault-free twin's. Pure, so that it can be tested on
//! doctored results.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// A tap as the kiosk told it or as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tap {
    /// The kiosk's seq, when known.
    pub seq: Option<u64>,
    /// The employee number.
    pub employee: String,
    /// `in` or `out`.
    pub direction: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl Tap {
    fn what(&self) -> (&str, &str, DateTime<Utc>) {
        (&self.employee, &self.direction, self.at)
    }
}

impl std::fmt::Display for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seq = self.seq.map_or("?".to_owned(), |s| s.to_string());
        write!(
            f,
            "seq={seq} employee={} direction={} at={}",
            self.employee, self.direction, self.at
        )
    }
}

/// What the harness saw the kiosk tell the employees.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Taps the kiosk answered `recorded seq=…`.
    pub confirmed: Vec<Tap>,
    /// Taps during which the kiosk was killed before it answered: stored or not.
    pub in_doubt: Vec<Tap>,
}

/// An interval reduced to what must be equal between the two runs (kiosk ids differ).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// The employee number.
    pub employee: String,
    /// The check-in.
    pub start: Option<DateTime<Utc>>,
    /// The check-out.
    pub end: Option<DateTime<Utc>>,
    /// Still open.
    pub open: bool,
    /// Its flags.
    pub flags: Vec<String>,
}

/// What differed, if anything.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// Confirmed taps.
    pub confirmed: usize,
    /// Events the server holds.
    pub on_server: usize,
    /// Confirmed taps the server does not hold.
    pub lost: Vec<String>,
    /// Taps the server holds more than once.
    pub duplicated: Vec<String>,
    /// Server events with a confirmed seq but other content.
    pub altered: Vec<String>,
    /// Server events neither confirmed nor a tap in doubt.
    pub unexplained: Vec<String>,
    /// Taps in doubt the server holds, once each: stored before the kill, not confirmed.
    pub stored_unconfirmed: usize,
    /// Intervals only one of the two runs has.
    pub interval_differences: Vec<String>,
}

impl Verdict {
    /// Whether nothing differed.
    pub fn passed(&self) -> bool {
        self.lost.is_empty()
            && self.duplicated.is_empty()
            && self.altered.is_empty()
            && self.unexplained.is_empty()
            && self.interval_differences.is_empty()
    }
}

/// Compares what the kiosk confirmed with what the server `stored`, and the faulty run's
/// intervals with the twin's.
pub fn compare(seen: &Seen, stored: &[Tap], intervals: &[Span], twin: &[Span]) -> Verdict {
    let mut verdict =
        Verdict { confirmed: seen.confirmed.len(), on_server: stored.len(), ..Verdict::default() };

    // The same tap twice, under one seq or under two, is a duplicate.
    let mut by_seq: HashMap<Option<u64>, Vec<&Tap>> = HashMap::new();
    let mut by_content: HashMap<(&str, &str, DateTime<Utc>), usize> = HashMap::new();
    for tap in stored {
        by_seq.entry(tap.seq).or_default().push(tap);
        *by_content.entry(tap.what()).or_default() += 1;
    }
    for (tap, count) in stored.iter().filter_map(|t| Some((t, by_content.get(&t.what())?))) {
        if *count > 1 {
            verdict.duplicated.push(format!("{tap} (held {count} times)"));
        }
    }
    verdict.duplicated.sort();
    verdict.duplicated.dedup();

    let mut explained: HashMap<Option<u64>, ()> = HashMap::new();
    for tap in &seen.confirmed {
        explained.insert(tap.seq, ());
        match by_seq.get(&tap.seq).map(Vec::as_slice) {
            None | Some([]) => verdict.lost.push(tap.to_string()),
            Some([one]) if one.what() != tap.what() => {
                verdict.altered.push(format!("confirmed {tap}, server holds {one}"));
            }
            Some([_]) => {}
            Some(many) => verdict.duplicated.push(format!("{tap} (seq held {} times)", many.len())),
        }
    }

    // The rest must each be a tap in doubt, each used once.
    let mut doubts: Vec<&Tap> = seen.in_doubt.iter().collect();
    for tap in stored.iter().filter(|t| !explained.contains_key(&t.seq)) {
        match doubts.iter().position(|d| d.what() == tap.what()) {
            Some(i) => {
                doubts.remove(i);
                verdict.stored_unconfirmed += 1;
            }
            None => verdict.unexplained.push(tap.to_string()),
        }
    }

    let (mut ours, mut theirs) = (intervals.to_vec(), twin.to_vec());
    ours.sort();
    theirs.sort();
    for span in &ours {
        if let Some(i) = theirs.iter().position(|t| t == span) {
            theirs.remove(i);
        } else {
            verdict.interval_differences.push(format!("only with faults: {span:?}"));
        }
    }
    for span in theirs {
        verdict.interval_differences.push(format!("only without faults: {span:?}"));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn tap(seq: u64, employee: &str, direction: &str, minutes: i64) -> Tap {
        let at = DateTime::UNIX_EPOCH + TimeDelta::days(20_000) + TimeDelta::minutes(minutes);
        Tap { seq: Some(seq), employee: employee.into(), direction: direction.into(), at }
    }

    fn span(employee: &str, start: i64, end: i64) -> Span {
        let at = |m| Some(DateTime::UNIX_EPOCH + TimeDelta::minutes(m));
        Span {
            employee: employee.into(),
            start: at(start),
            end: at(end),
            open: false,
            flags: vec![],
        }
    }

    fn clean() -> (Seen, Vec<Tap>, Vec<Span>) {
        let taps = vec![tap(1, "E01", "in", 0), tap(2, "E01", "out", 60), tap(3, "E02", "in", 5)];
        let seen = Seen { confirmed: taps.clone(), in_doubt: vec![] };
        (seen, taps, vec![span("E01", 0, 60)])
    }

    #[test]
    fn a_faithful_server_passes() {
        let (seen, stored, spans) = clean();
        let verdict = compare(&seen, &stored, &spans, &spans);
        assert!(verdict.passed(), "{verdict:?}");
        assert_eq!((verdict.confirmed, verdict.on_server, verdict.stored_unconfirmed), (3, 3, 0));
    }

    #[test]
    fn a_lost_tap_fails() {
        let (seen, mut stored, spans) = clean();
        stored.remove(1);
        let verdict = compare(&seen, &stored, &spans, &spans);
        assert!(!verdict.passed());
        assert_eq!(verdict.lost, ["seq=2 employee=E01 direction=out at=2024-10-04 01:00:00 UTC"]);
        assert!(verdict.duplicated.is_empty() && verdict.unexplained.is_empty());
    }

    #[test]
    fn a_tap_held_twice_fails_under_one_seq_or_two() {
        let (seen, stored, spans) = clean();
        let mut same_seq = stored.clone();
        same_seq.push(stored[0].clone());
        let verdict = compare(&seen, &same_seq, &spans, &spans);
        assert!(!verdict.passed());
        assert!(verdict.lost.is_empty());
        assert!(verdict.duplicated.iter().any(|d| d.contains("seq held 2 times")), "{verdict:?}");

        let mut new_seq = stored.clone();
        new_seq.push(Tap { seq: Some(4), ..stored[0].clone() });
        let verdict = compare(&seen, &new_seq, &spans, &spans);
        assert!(verdict.duplicated.iter().any(|d| d.contains("held 2 times")), "{verdict:?}");
        assert_eq!(verdict.unexplained.len(), 1, "seq 4 was never confirmed");
    }

    #[test]
    fn a_tap_in_doubt_may_be_stored_once_and_anything_else_is_unexplained() {
        let (mut seen, mut stored, spans) = clean();
        let doubt = tap(4, "E02", "out", 70);
        seen.in_doubt.push(Tap { seq: None, ..doubt.clone() });
        stored.push(doubt.clone());
        let verdict = compare(&seen, &stored, &spans, &spans);
        assert!(verdict.passed(), "{verdict:?}");
        assert_eq!(verdict.stored_unconfirmed, 1);

        stored.push(tap(5, "E03", "in", 80));
        let verdict = compare(&seen, &stored, &spans, &spans);
        assert_eq!(verdict.unexplained.len(), 1);
        assert!(!verdict.passed());
    }

    #[test]
    fn a_changed_event_or_interval_fails() {
        let (seen, mut stored, spans) = clean();
        stored[2].direction = "out".into();
        let verdict = compare(&seen, &stored, &spans, &spans);
        assert_eq!(verdict.altered.len(), 1, "{verdict:?}");

        let (seen, stored, spans) = clean();
        let twin = vec![span("E01", 0, 61)];
        let verdict = compare(&seen, &stored, &spans, &twin);
        assert_eq!(verdict.interval_differences.len(), 2, "{verdict:?}");
        assert!(!verdict.passed());
    }
}
