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
use std::time::Duration;

use mtime_core::event::{
    Amendment, Direction, PresenceEvent, ReasonCode, RequestedAction, Subject, TimeReading,
};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::pairing::{self, Punch, PunchOrigin, Recorded};
use mtime_core::pin::Pin;
use mtime_core::protocol::{Roster, RosterEmployee};
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
    /// The disk is full: nothing was confirmed. Taps are taken again once there is room.
    StorageFull {
        /// The store's words.
        error: String,
    },
    /// The employee changed the tap just recorded: a new event amends it.
    Amended {
        /// The amending event's seq.
        seq: u64,
        /// The employee's number.
        number: String,
        /// In or out, now.
        direction: Direction,
        /// The reason, now.
        reason: String,
        /// Events waiting to sync.
        pending: u64,
    },
    /// The employee undid the tap just recorded: a new event withdraws it.
    Withdrawn {
        /// The withdrawing event's seq.
        seq: u64,
        /// The employee's number.
        number: String,
        /// Events waiting to sync.
        pending: u64,
    },
    /// Nothing to change: the change window has passed, or the change changes nothing.
    NothingToAmend,
    /// A number and PIN that do not match, or PIN entry not allowed here: nothing stored.
    PinRefused {
        /// Tries left before PIN entry locks for a while; zero while locked.
        tries_left: u32,
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
                    "suspended employee={number} \
                     message=\"not allowed to check in; see your manager\""
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
            Self::StorageFull { error } => write!(
                f,
                "storage-full message=\"kiosk storage is full; not recorded\" error={error:?}"
            ),
            Self::Amended { seq, number, direction, reason, pending } => write!(
                f,
                "amended seq={seq} employee={number} direction={direction} reason={reason} \
                 pending={pending}"
            ),
            Self::Withdrawn { seq, number, pending } => {
                write!(f, "withdrawn seq={seq} employee={number} pending={pending}")
            }
            Self::NothingToAmend => write!(f, "nothing-to-amend"),
            Self::PinRefused { tries_left } => write!(f, "pin-refused tries_left={tries_left}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Employee(EmployeeId),
    Badge(BadgeUid),
}

/// A change the employee asks for in the seconds after a tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// In becomes out, out becomes in.
    SwitchDirection,
    /// Another reason of those the kiosk allows.
    Reason(ReasonCode),
    /// Take the tap back.
    Undo,
}

/// The tap just recorded, while the employee may still change it.
#[derive(Debug, Clone)]
struct Recent {
    /// The event that counts now (the tap, or the last change of it).
    event: EventId,
    who: Who,
    number: String,
    direction: Direction,
    reason: ReasonCode,
    /// When the tap was made: a change keeps it.
    time: TimeReading,
    /// What the employee's last punch was before the tap, for undo.
    before: Option<LastPunch>,
    /// Until when (monotonic) a change is taken.
    until: Duration,
}

/// How long after a tap the employee may change it.
pub const CHANGE_WINDOW: Duration = Duration::from_secs(8);
/// Wrong PINs in a row before PIN entry locks.
pub const PIN_TRIES: u32 = 5;
/// How long PIN entry stays locked after too many wrong PINs.
pub const PIN_LOCKOUT: Duration = Duration::from_secs(300);

/// Someone the kiosk shows on its evacuation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    /// Their number.
    pub number: String,
    /// Their name.
    pub name: String,
    /// Since when, in the site's zone.
    pub since: DateTime<FixedOffset>,
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
    recent: Option<Recent>,
    pin_failures: u32,
    /// Monotonic time until which PIN entry is locked.
    pin_locked_until: Option<Duration>,
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
        let last = last_punches(&outbox.events()?);
        let out_of_service =
            outbox.halted()?.then(|| "uploading stopped; see the kiosk's log".to_owned());
        Ok(Self {
            kiosk,
            outbox,
            roster,
            zone,
            clock,
            boot,
            last,
            out_of_service,
            anchor: None,
            recent: None,
            pin_failures: 0,
            pin_locked_until: None,
        })
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

    /// Why the kiosk is out of service, if it is.
    pub fn out_of_service(&self) -> Option<&str> {
        self.out_of_service.as_deref()
    }

    /// The roster in use.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The site's zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Events waiting to sync.
    pub fn pending(&self) -> Result<u64, SyncError> {
        self.outbox.pending()
    }

    /// Takes what a heartbeat round trip told about true time in this boot.
    pub fn set_time_anchor(&mut self, anchor: TimeAnchor) {
        if anchor.boot == self.boot {
            self.anchor = Some(anchor);
        }
    }

    /// Now, as the employee should see it: the site's zone, with true time from the anchor
    /// while the wall clock is not trusted.
    pub fn now_local(&self) -> DateTime<FixedOffset> {
        self.local(&self.reading())
    }

    fn reading(&self) -> TimeReading {
        let now = self.clock.now();
        TimeReading {
            wall: now.wall,
            boot: self.boot,
            monotonic: now.monotonic,
            wall_trusted: now.wall_trusted,
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
        let reading = self.reading();
        if let Some(reason) = &self.out_of_service {
            return Feedback::OutOfService { reason: reason.clone() };
        }
        let Some(employee) = self.roster.by_badge(&tap.uid).cloned() else {
            return self.unknown_badge(tap, reading);
        };
        self.punch(employee, Some(tap.uid), tap.action, reading)
    }

    /// Handles a check-in or -out by employee number and PIN, where the kiosk allows it.
    pub fn tap_with_pin(&mut self, number: &str, pin: &Pin) -> Feedback {
        let reading = self.reading();
        if let Some(reason) = &self.out_of_service {
            return Feedback::OutOfService { reason: reason.clone() };
        }
        if !self.roster.config.pin_fallback {
            return Feedback::PinRefused { tries_left: 0 };
        }
        match self.check_pin(number, pin) {
            Ok(employee) => self.punch(employee, None, RequestedAction::Toggle, reading),
            Err(tries_left) => Feedback::PinRefused { tries_left },
        }
    }

    /// Whether `number` and `pin` belong to a kiosk admin. Counts towards the lockout.
    pub fn admin_by_pin(&mut self, number: &str, pin: &Pin) -> Result<String, u32> {
        let employee = self.check_pin(number, pin)?;
        if employee.kiosk_admin { Ok(employee.name) } else { Err(self.refuse_pin()) }
    }

    /// Whether `badge` opens admin mode.
    pub fn is_admin_badge(&self, badge: &BadgeUid) -> bool {
        self.roster.by_badge(badge).is_some_and(|e| e.kiosk_admin && e.active)
    }

    /// The employee of `number` when `pin` is theirs; else the tries left.
    fn check_pin(&mut self, number: &str, pin: &Pin) -> Result<RosterEmployee, u32> {
        let now = self.clock.now().monotonic;
        if self.pin_locked_until.is_some_and(|until| now < until) {
            return Err(0);
        }
        let employee = self
            .by_typed_number(number)
            .filter(|e| e.pin.as_ref().is_some_and(|hash| hash.verify(pin)));
        match employee {
            Some(employee) => {
                self.pin_failures = 0;
                Ok(employee)
            }
            None => Err(self.refuse_pin()),
        }
    }

    /// The employee whose number is `typed`: exactly, or by its digits alone, since the PIN
    /// pad has only digits (`04` finds `E04`). A number two employees' digits share finds
    /// no one.
    fn by_typed_number(&self, typed: &str) -> Option<RosterEmployee> {
        let typed = typed.trim();
        let exact = self.roster.employees.iter().find(|e| e.number.eq_ignore_ascii_case(typed));
        if let Some(employee) = exact {
            return Some(employee.clone());
        }
        let digits = |n: &str| n.chars().filter(char::is_ascii_digit).collect::<String>();
        let mut matching = self
            .roster
            .employees
            .iter()
            .filter(|e| !typed.is_empty() && digits(&e.number) == typed);
        match (matching.next(), matching.next()) {
            (Some(employee), None) => Some(employee.clone()),
            _ => None,
        }
    }

    fn refuse_pin(&mut self) -> u32 {
        self.pin_failures += 1;
        if self.pin_failures >= PIN_TRIES {
            self.pin_failures = 0;
            self.pin_locked_until = Some(self.clock.now().monotonic + PIN_LOCKOUT);
            tracing::warn!(kiosk.id = %self.kiosk, "PIN entry locked after {PIN_TRIES} wrong PINs");
            return 0;
        }
        PIN_TRIES - self.pin_failures
    }

    fn punch(
        &mut self,
        employee: RosterEmployee,
        badge: Option<BadgeUid>,
        action: RequestedAction,
        reading: TimeReading,
    ) -> Feedback {
        // The later of what this kiosk recorded and what the server knew from any kiosk.
        let who = Who::Employee(employee.id);
        let from_server = employee.last_punch.map(|p| LastPunch {
            direction: p.direction,
            time: TimeReading {
                wall: p.at,
                boot: BootId(uuid::Uuid::nil()),
                monotonic: Duration::ZERO,
                wall_trusted: true,
            },
        });
        let last = match (self.last.get(&who).copied(), from_server) {
            (Some(local), Some(server)) if server.time.wall > local.time.wall => Some(server),
            (Some(local), _) => Some(local),
            (None, server) => server,
        };

        let config = &self.roster.config;
        let decision = decide::decide(last.as_ref(), action, &self.effective(&reading), config);
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
                let reason = self.roster.default_reason.clone();
                let draft = EventDraft {
                    subject: Subject::Employee { id: employee.id, badge },
                    direction,
                    direction_source: source,
                    reason: reason.clone(),
                    time: reading,
                    amends: None,
                };
                match self.store(who, draft) {
                    Ok((event, seq, pending)) => {
                        self.recent = Some(Recent {
                            event,
                            who,
                            number: employee.number.clone(),
                            direction,
                            reason: reason.clone(),
                            time: reading,
                            before: last,
                            until: reading.monotonic + CHANGE_WINDOW,
                        });
                        Feedback::Recorded {
                            seq,
                            number: employee.number,
                            name: employee.name,
                            direction,
                            at: self.local(&reading),
                            reason: reason.to_string(),
                            pending,
                            missing_check_out,
                        }
                    }
                    Err(e) => not_stored(&e),
                }
            }
        }
    }

    /// Changes the tap just recorded, by a new event that amends it; the stored event is
    /// never edited. Taken only within [`CHANGE_WINDOW`] of the tap.
    pub fn amend(&mut self, change: Change) -> Feedback {
        let now = self.clock.now().monotonic;
        let Some(recent) = self.recent.clone().filter(|r| now < r.until) else {
            return Feedback::NothingToAmend;
        };

        let (direction, reason, amendment): (_, _, fn(EventId) -> Amendment) = match &change {
            Change::SwitchDirection => {
                (recent.direction.opposite(), recent.reason.clone(), Amendment::Replaces)
            }
            Change::Reason(code) if *code == recent.reason => return Feedback::NothingToAmend,
            Change::Reason(code) if !self.roster.reasons.iter().any(|r| r.code == *code) => {
                return Feedback::NothingToAmend;
            }
            Change::Reason(code) => (recent.direction, code.clone(), Amendment::Replaces),
            Change::Undo => (recent.direction, recent.reason.clone(), Amendment::Withdraws),
        };
        let subject = match recent.who {
            Who::Employee(id) => Subject::Employee { id, badge: None },
            Who::Badge(uid) => Subject::UnknownBadge(uid),
        };
        let draft = EventDraft {
            subject,
            direction,
            direction_source: mtime_core::event::DirectionSource::Explicit,
            reason: reason.clone(),
            time: self.reading(),
            amends: Some(amendment(recent.event)),
        };
        let event = match self.outbox.append(self.kiosk, draft) {
            Ok(event) => event,
            Err(e) => return not_stored(&e),
        };
        let pending = self.outbox.pending().unwrap_or(0);

        if change == Change::Undo {
            match recent.before {
                Some(before) => self.last.insert(recent.who, before),
                None => self.last.remove(&recent.who),
            };
            self.recent = None;
            return Feedback::Withdrawn { seq: event.seq, number: recent.number, pending };
        }
        // A change keeps the tap's time; the window starts again so the employee sees it.
        self.last.insert(recent.who, LastPunch { direction, time: recent.time });
        self.recent = Some(Recent {
            event: event.id,
            direction,
            reason: reason.clone(),
            until: now + CHANGE_WINDOW,
            ..recent.clone()
        });
        Feedback::Amended {
            seq: event.seq,
            number: recent.number,
            direction,
            reason: reason.to_string(),
            pending,
        }
    }

    /// Who is on site as far as this kiosk knows: its own taps, and other kiosks' as of the
    /// roster. An interval open longer than the kiosk's maximum is taken as a forgotten
    /// check-out and left off.
    pub fn present(&self) -> Vec<Present> {
        let now = self.effective(&self.reading()).wall;
        let max_open =
            std::time::Duration::from_secs(u64::from(self.roster.config.max_open_hours) * 3600);
        let mut present: Vec<Present> = self
            .roster
            .employees
            .iter()
            .filter_map(|employee| {
                let local = self.last.get(&Who::Employee(employee.id)).map(|l| {
                    let wall = self.effective(&l.time).wall;
                    (l.direction, wall)
                });
                let server = employee.last_punch.map(|p| (p.direction, p.at));
                let (direction, since) = match (local, server) {
                    (Some(l), Some(s)) => std::cmp::max_by_key(s, l, |p| p.1),
                    (Some(l), None) => l,
                    (None, Some(s)) => s,
                    (None, None) => return None,
                };
                (direction == Direction::In && pairing::still_in(since, now, max_open)).then(|| {
                    Present {
                        number: employee.number.clone(),
                        name: employee.name.clone(),
                        since: since.with_timezone(&self.zone).fixed_offset(),
                    }
                })
            })
            .collect();
        present.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.number.cmp(&b.number)));
        present
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
            Ok((_, seq, pending)) => Feedback::UnknownBadge { seq: Some(seq), pending },
            Err(e) => not_stored(&e),
        }
    }

    fn store(&mut self, who: Who, draft: EventDraft) -> Result<(EventId, u64, u64), SyncError> {
        let (direction, time) = (draft.direction, draft.time);
        let event = self.outbox.append(self.kiosk, draft)?;
        self.last.insert(who, LastPunch { direction, time });
        let pending = self.outbox.pending()?;
        tracing::debug!(kiosk.id = %self.kiosk, event.seq = event.seq, "event stored");
        Ok((event.id, event.seq, pending))
    }
}

/// What the employee sees when their tap could not be stored.
fn not_stored(error: &SyncError) -> Feedback {
    match error {
        SyncError::StorageFull(_) => Feedback::StorageFull { error: error.to_string() },
        _ => Feedback::StorageFailed { error: error.to_string() },
    }
}

/// Each employee's and unknown badge's last punch from the events stored, with every
/// amendment applied by the one rule ([`pairing::effective`]): a replacement counts at the
/// time of the tap it replaces, a withdrawn tap does not count.
fn last_punches(events: &[PresenceEvent]) -> HashMap<Who, LastPunch> {
    let by_id: HashMap<EventId, &PresenceEvent> = events.iter().map(|e| (e.id, e)).collect();
    let mut recorded: HashMap<Who, Vec<Recorded>> = HashMap::new();
    for event in events {
        let who = match event.subject {
            Subject::Employee { id, .. } => Who::Employee(id),
            Subject::UnknownBadge(badge) => Who::Badge(badge),
        };
        recorded
            .entry(who)
            .or_default()
            .push(Recorded { punch: Punch::of_kiosk_event(event), amends: event.amends });
    }

    // The tap a replacement stands for: follow its chain back to the first tap, whose
    // reading (monotonic clock and boot included) the repeat window is measured from.
    let tap_of = |mut id: EventId| {
        while let Some(target) = by_id.get(&id).and_then(|e| e.amends).map(|a| a.target()) {
            id = target;
        }
        by_id.get(&id).map(|e| e.time)
    };
    recorded
        .into_iter()
        .filter_map(|(who, recorded)| {
            let last = pairing::effective(&recorded).punches.into_iter().max_by_key(|p| {
                let seq = match p.origin {
                    PunchOrigin::Kiosk { seq, .. } => seq,
                    PunchOrigin::Api { .. } => 0,
                };
                (p.at, seq)
            })?;
            let time = tap_of(last.event)?;
            Some((who, LastPunch { direction: last.direction, time }))
        })
        .collect()
}
