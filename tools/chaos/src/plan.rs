//! The plan of faults: a pure function of the seed and the number of faults, so that a
//! failing run is replayed by running the same command again.

use std::fmt;

use crate::rng::Rng;

/// The kinds of fault, each of which the plan injects at least [`minimum`] times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The kiosk process dies (SIGKILL) and starts again on the same data.
    KioskKill,
    /// The server process dies (SIGKILL) and starts again on the same data.
    ServerKill,
    /// The relay swallows an upload: the server never sees it.
    RequestDrop,
    /// The relay swallows the server's answer to an upload it has processed.
    ResponseDrop,
    /// The relay holds an upload and its answer for a while.
    Delay,
    /// The relay sends an upload to the server twice.
    Duplicate,
    /// The relay holds an upload back and delivers it after a later one.
    Reorder,
    /// The network is down for hours of replay time while taps go on.
    LongCut,
    /// The server is gone for a whole replay day while taps go on.
    ServerAway,
}

/// Every kind, in the order of the report.
pub const KINDS: [Kind; 9] = [
    Kind::KioskKill,
    Kind::ServerKill,
    Kind::RequestDrop,
    Kind::ResponseDrop,
    Kind::Delay,
    Kind::Duplicate,
    Kind::Reorder,
    Kind::LongCut,
    Kind::ServerAway,
];

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::KioskKill => "kiosk kill",
            Self::ServerKill => "server kill",
            Self::RequestDrop => "request drop",
            Self::ResponseDrop => "response drop",
            Self::Delay => "delay",
            Self::Duplicate => "duplicate",
            Self::Reorder => "reorder",
            Self::LongCut => "long cut",
            Self::ServerAway => "server away a day",
        };
        f.write_str(name)
    }
}

/// Where in its work the kiosk is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KioskKillPoint {
    /// This long after the tap line was written to its reader, before its answer.
    InTap {
        /// Microseconds.
        after_us: u64,
    },
    /// While the relay holds its upload; the relay then forwards the upload or not.
    InUpload {
        /// Whether the held upload reaches the server after the kiosk died.
        forward: bool,
    },
    /// With nothing in progress, after this long.
    Idle {
        /// Milliseconds.
        after_ms: u64,
    },
}

/// Where in its work the server is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKillPoint {
    /// This long after the relay forwarded an upload, before the server answered.
    MidBatch {
        /// Microseconds.
        after_us: u64,
    },
    /// With nothing in progress, after this long.
    Idle {
        /// Milliseconds.
        after_ms: u64,
    },
}

/// One fault, with the details the seed chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// See [`Kind::KioskKill`].
    KioskKill(KioskKillPoint),
    /// See [`Kind::ServerKill`].
    ServerKill(ServerKillPoint),
    /// See [`Kind::RequestDrop`].
    RequestDrop,
    /// See [`Kind::ResponseDrop`].
    ResponseDrop,
    /// See [`Kind::Delay`]; real milliseconds, below the kiosk's request timeout.
    Delay {
        /// Before the request goes on.
        request_ms: u64,
        /// Before the answer comes back.
        response_ms: u64,
    },
    /// See [`Kind::Duplicate`].
    Duplicate {
        /// Whether the kiosk gets the answer to the second copy rather than the first.
        answer_second: bool,
    },
    /// See [`Kind::Reorder`].
    Reorder,
    /// See [`Kind::LongCut`].
    LongCut {
        /// Taps made while the network is down (hours apart in replay time).
        taps: u32,
    },
    /// See [`Kind::ServerAway`].
    ServerAway,
}

impl Fault {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::KioskKill(_) => Kind::KioskKill,
            Self::ServerKill(_) => Kind::ServerKill,
            Self::RequestDrop => Kind::RequestDrop,
            Self::ResponseDrop => Kind::ResponseDrop,
            Self::Delay { .. } => Kind::Delay,
            Self::Duplicate { .. } => Kind::Duplicate,
            Self::Reorder => Kind::Reorder,
            Self::LongCut { .. } => Kind::LongCut,
            Self::ServerAway => Kind::ServerAway,
        }
    }

    fn of(kind: Kind, rng: &mut Rng) -> Self {
        match kind {
            Kind::KioskKill => Self::KioskKill(match rng.range(0, 2) {
                0 => KioskKillPoint::InTap { after_us: rng.range(0, 600) },
                1 => KioskKillPoint::InUpload { forward: rng.coin() },
                _ => KioskKillPoint::Idle { after_ms: rng.range(0, 50) },
            }),
            Kind::ServerKill => Self::ServerKill(if rng.range(0, 3) > 0 {
                ServerKillPoint::MidBatch { after_us: rng.range(0, 1_500) }
            } else {
                ServerKillPoint::Idle { after_ms: rng.range(0, 50) }
            }),
            Kind::RequestDrop => Self::RequestDrop,
            Kind::ResponseDrop => Self::ResponseDrop,
            Kind::Delay => {
                Self::Delay { request_ms: rng.range(20, 600), response_ms: rng.range(0, 400) }
            }
            Kind::Duplicate => Self::Duplicate { answer_second: rng.coin() },
            Kind::Reorder => Self::Reorder,
            Kind::LongCut => Self::LongCut { taps: rng.range(3, 8) as u32 },
            Kind::ServerAway => Self::ServerAway,
        }
    }
}

/// A fault and the ordinary taps made before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Its index in the plan, from 0, as the log names it.
    pub index: usize,
    /// Taps made before the fault.
    pub taps_before: u32,
    /// The fault.
    pub fault: Fault,
}

/// The plan of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The seed it was made from.
    pub seed: u64,
    /// The faults in order.
    pub steps: Vec<Step>,
}

/// How many faults of each kind a plan of `n` faults holds at least: a tenth of them, so
/// that 200 faults hold 20 of each kind.
pub fn minimum(n: usize) -> usize {
    n / 10
}

/// The plan of `n` faults for `seed`: [`minimum`] of each kind, the rest of kinds drawn
/// at random, all in a shuffled order.
pub fn plan(seed: u64, n: usize) -> Plan {
    let mut rng = Rng::new(seed);
    let mut kinds: Vec<Kind> =
        KINDS.iter().flat_map(|k| std::iter::repeat_n(*k, minimum(n))).collect();
    while kinds.len() < n {
        kinds.push(KINDS[rng.range(0, KINDS.len() as u64 - 1) as usize]);
    }
    rng.shuffle(&mut kinds);
    let steps = kinds
        .into_iter()
        .enumerate()
        .map(|(index, kind)| Step {
            index,
            taps_before: rng.range(1, 2) as u32,
            fault: Fault::of(kind, &mut rng),
        })
        .collect();
    Plan { seed, steps }
}

impl Plan {
    /// How many faults of `kind` the plan holds.
    pub fn count(&self, kind: Kind) -> usize {
        self.steps.iter().filter(|s| s.fault.kind() == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_plan_and_another_seed_another() {
        assert_eq!(plan(42, 200), plan(42, 200));
        assert_ne!(plan(42, 200).steps, plan(43, 200).steps);
        assert_eq!(plan(42, 200).steps.len(), 200);
    }

    #[test]
    fn every_kind_reaches_its_minimum() {
        for (seed, n) in [(1, 200), (2, 1000), (3, 95), (4, 9)] {
            let plan = plan(seed, n);
            assert_eq!(plan.steps.len(), n);
            for kind in KINDS {
                assert!(plan.count(kind) >= minimum(n), "{kind} in {n} faults, seed {seed}");
            }
        }
        assert_eq!(minimum(200), 20);
    }

    #[test]
    fn the_details_stay_within_their_bounds() {
        for step in plan(9, 1000).steps {
            assert!((1..=2).contains(&step.taps_before));
            match step.fault {
                Fault::Delay { request_ms, response_ms } => {
                    assert!((20..=600).contains(&request_ms) && response_ms <= 400)
                }
                Fault::LongCut { taps } => assert!((3..=8).contains(&taps)),
                Fault::KioskKill(KioskKillPoint::InTap { after_us }) => assert!(after_us <= 600),
                _ => {}
            }
        }
    }
}
