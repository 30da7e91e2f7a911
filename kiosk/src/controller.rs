//! What happens when a badge is tapped, in plain Rust: look the badge up in the roster,
//! decide what the tap means, store the event durably, and say what to show. The
//! controller never shows anything before the event is on disk.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;

use mtime_core::badge::BadgeUid;
use mtime_core::clock::Clock;
use mtime_core::decide::{self, LastPunch, TapDecision};
use mtime_core::event::{Direction, RequestedAction, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, KioskId};
use mtime_core::protocol::Roster;
use mtime_core::timing::TimeAnchor;
use mtime_hardware::Tap;
use mtime_sync::SyncError;
use mtime_sync::outbox::{EventDraft, Outbox};

/// What the kiosk shows after a tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// An event was stored.
    Recorded {
        /// Its seq.
        seq: u64,
        /// The employee's number.
        number: String,
        /// Their name.
        name: String,
        /// In or out.
        direction: Direction,
        /// When, in the site's zone.
        at: DateTime<FixedOffset>,
        /// The reason.
        reason: String,
        /// Events waiting to sync, this one included.
        pending: u64,
        /// The previous interval lacks its check-out.
        missing_check_out: bool,
    },
    /// A repeat of the last tap: nothing stored.
    Repeat {
        /// The employee's number.
        number: String,
        /// The direction already stored.
        direction: Direction,
        /// When it was stored.
        since: DateTime<FixedOffset>,
    },
    /// A badge no roster knows: stored for review (`seq`), or a repeat of one just stored.
    UnknownBadge {
        /// The stored event's seq; `None` for a repeat read, which stores nothing.
        seq: Option<u64>,
        /// Events waiting to sync.
        pending: u64,
    },
    /// The employee may not check in: nothing stored.
    Suspended {
        /// The employee's number.
        number: String,
    },
    /// The kiosk no longer syncs (revoked, or its history conflicts with the server's):
    /// nothing is recorded, since nothing recorded here could reach payroll.
    OutOfService {
        /// Why.
        reason: String,
    },
    /// The event could not be stored: nothing was confirmed.
    StorageFailed {
        /// Why.
        error: String,
    },
}

impl fmt::Display for Feedback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Recorded {
                seq,
                number,
                name,
                direction,
                at,
                reason,
                pending,
                missing_check_out,
            } => {
                write!(
                    f,
                    "recorded seq={seq} employee={number} direction={direction} at={} \
                     reason={reason} pending={pending} name={name:?}",
                    at.to_rfc3339()
                )?;
                if *missing_check_out {
                    write!(f, " note=\"your last check-out is missing\"")?;
                }
                Ok(())
            }
            Self::Repeat { number, direction, since } => write!(
                f,
                "repeat employee={number} direction={direction} since={} \
                 message=\"already checked {direction} at {}\"",
                since.to_rfc3339(),
                since.format("%H:%M")
            ),
            Self::UnknownBadge { seq: Some(seq), pending } => write!(
                f,
                "unknown-badge seq={seq} pending={pending} \
                 message=\"badge not known; recorded for review\""
            ),
            Self::UnknownBadge { seq: None, pending } => write!(
                f,
                "unknown-badge repeat=true pending={pending} \
                 message=\"badge not known; already recorded for review\""
            ),
            Self::Suspended { number } => {
                write!(
                    f,
                    "suspended employee={number} message=\"not allowed to check in; see your manager\""
                )
            }
            Self::OutOfService { reason } => write!(
                f,
                "out-of-service message=\"this kiosk is out of service; please use another\" \
                 reason={reason:?}"
            ),
            Self::StorageFailed { error } => {
                write!(
                    f,
                    "storage-failed message=\"not recorded; please try again\" error={error:?}"
                )
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Employee(EmployeeId),
    Badge(BadgeUid),
}

/// The kiosk's brain.
pub struct Controller {
    kiosk: KioskId,
    outbox: Arc<Outbox>,
    roster: Roster,
    zone: Tz,
    clock: Arc<dyn Clock>,
    boot: BootId,
    last: HashMap<Who, LastPunch>,
    out_of_service: Option<String>,
    /// What the kiosk measured of true time in this boot, for a wall clock not trusted.
    anchor: Option<TimeAnchor>,
}

impl Controller {
    /// A controller over `outbox`, remembering each badge's last event from it.
    pub fn new(
        kiosk: KioskId,
        outbox: Arc<Outbox>,
        roster: Roster,
        clock: Arc<dyn Clock>,
        boot: BootId,
    ) -> Result<Self, SyncError> {
        let zone = mtime_core::zone::parse_zone(&roster.site.time_zone)
            .map_err(|e| SyncError::Config(e.to_string()))?;
        let mut last = HashMap::new();
        for event in outbox.events()? {
            let who = match event.subject {
                Subject::Employee { id, .. } => Who::Employee(id),
                Subject::UnknownBadge(badge) => Who::Badge(badge),
            };
            last.insert(who, LastPunch { direction: event.direction, time: event.time });
        }
        let out_of_service =
            outbox.halted()?.then(|| "uploading stopped; see the kiosk's log".to_owned());
        Ok(Self { kiosk, outbox, roster, zone, clock, boot, last, out_of_service, anchor: None })
    }

    /// Takes a newer roster.
    pub fn set_roster(&mut self, roster: Roster) -> Result<(), SyncError> {
        self.zone = mtime_core::zone::parse_zone(&roster.site.time_zone)
            .map_err(|e| SyncError::Config(e.to_string()))?;
        self.roster = roster;
        Ok(())
    }

    /// Stops taking taps: nothing recorded here could reach the server any more.
    pub fn stop_service(&mut self, reason: String) {
        self.out_of_service = Some(reason);
    }

    /// The roster in use.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Takes what a heartbeat round trip told about true time in this boot.
    pub fn set_time_anchor(&mut self, anchor: TimeAnchor) {
        if anchor.boot == self.boot {
            self.anchor = Some(anchor);
        }
    }

    /// The reading as the employee should see it and decisions should take it: with the
    /// wall clock replaced by true time from the anchor while the wall clock is not
    /// trusted. What is stored is always the reading as made.
    fn effective(&self, reading: &TimeReading) -> TimeReading {
        let corrected = (!reading.wall_trusted)
            .then(|| self.anchor.and_then(|a| a.true_time_of(reading)))
            .flatten();
        match corrected {
            Some(wall) => TimeReading { wall, ..*reading },
            None => *reading,
        }
    }

    fn local(&self, reading: &TimeReading) -> DateTime<FixedOffset> {
        self.effective(reading).wall.with_timezone(&self.zone).fixed_offset()
    }

    /// Handles one tap.
    pub fn tap(&mut self, tap: Tap) -> Feedback {
        let now = self.clock.now();
        let reading = TimeReading {
            wall: now.wall,
            boot: self.boot,
            monotonic: now.monotonic,
            wall_trusted: now.wall_trusted,
        };

        if let Some(reason) = &self.out_of_service {
            return Feedback::OutOfService { reason: reason.clone() };
        }
        let Some(employee) = self.roster.by_badge(&tap.uid).cloned() else {
            return self.unknown_badge(tap, reading);
        };

        // The later of what this kiosk recorded and what the server knew from any kiosk.
        let who = Who::Employee(employee.id);
        let from_server = employee.last_punch.map(|p| LastPunch {
            direction: p.direction,
            time: TimeReading {
                wall: p.at,
                boot: BootId(uuid::Uuid::nil()),
                monotonic: std::time::Duration::ZERO,
                wall_trusted: true,
            },
        });
        let last = match (self.last.get(&who).copied(), from_server) {
            (Some(local), Some(server)) if server.time.wall > local.time.wall => Some(server),
            (Some(local), _) => Some(local),
            (None, server) => server,
        };

        let config = &self.roster.config;
        let decision = decide::decide(last.as_ref(), tap.action, &self.effective(&reading), config);
        // A suspended employee may still check out, but not in.
        let checks_in = matches!(decision, TapDecision::Record { direction: Direction::In, .. });
        if !employee.active && checks_in {
            return Feedback::Suspended { number: employee.number };
        }
        match decision {
            TapDecision::Repeat { direction, since } => Feedback::Repeat {
                number: employee.number,
                direction,
                since: since.with_timezone(&self.zone).fixed_offset(),
            },
            TapDecision::Record { direction, source, missing_check_out } => {
                let draft = EventDraft {
                    subject: Subject::Employee { id: employee.id, badge: Some(tap.uid) },
                    direction,
                    direction_source: source,
                    reason: self.roster.default_reason.clone(),
                    time: reading,
                    amends: None,
                };
                match self.store(who, draft) {
                    Ok((seq, pending)) => Feedback::Recorded {
                        seq,
                        number: employee.number,
                        name: employee.name,
                        direction,
                        at: self.local(&reading),
                        reason: self.roster.default_reason.to_string(),
                        pending,
                        missing_check_out,
                    },
                    Err(e) => Feedback::StorageFailed { error: e.to_string() },
                }
            }
        }
    }

    fn unknown_badge(&mut self, tap: Tap, reading: TimeReading) -> Feedback {
        let who = Who::Badge(tap.uid);
        let direction =
            match decide::decide(self.last.get(&who), tap.action, &reading, &self.roster.config) {
                // A repeat of an unknown badge is not stored twice either.
                TapDecision::Repeat { .. } => {
                    let pending = self.outbox.pending().unwrap_or(0);
                    return Feedback::UnknownBadge { seq: None, pending };
                }
                TapDecision::Record { direction, .. } => direction,
            };
        let draft = EventDraft {
            subject: Subject::UnknownBadge(tap.uid),
            direction,
            direction_source: match tap.action {
                RequestedAction::Explicit(_) => mtime_core::event::DirectionSource::Explicit,
                RequestedAction::Toggle => mtime_core::event::DirectionSource::Toggle,
            },
            reason: self.roster.default_reason.clone(),
            time: reading,
            amends: None,
        };
        match self.store(who, draft) {
            Ok((seq, pending)) => Feedback::UnknownBadge { seq: Some(seq), pending },
            Err(e) => Feedback::StorageFailed { error: e.to_string() },
        }
    }

    fn store(&mut self, who: Who, draft: EventDraft) -> Result<(u64, u64), SyncError> {
        let (direction, time) = (draft.direction, draft.time);
        let event = self.outbox.append(self.kiosk, draft)?;
        self.last.insert(who, LastPunch { direction, time });
        let pending = self.outbox.pending()?;
        tracing::debug!(kiosk.id = %self.kiosk, event.seq = event.seq, "event stored");
        Ok((event.seq, pending))
    }
}
