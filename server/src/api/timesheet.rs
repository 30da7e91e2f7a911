//! Timesheet presence: reading an employee's intervals, and clocking or correcting
//! through the API. Intervals are derived from events on every read, never stored.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use mtime_core::event::{Amendment, Direction};
use mtime_core::ids::{EmployeeId, EventId, KioskId};
use mtime_core::pairing::{Flag, Interval, Punch, PunchOrigin};
use mtime_core::totals;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, OptionalJson, PathParams, QueryParams};
use super::page::{Page, PageParams, paginate};
use super::scope::{Intent, Scope};
use super::settings::{default_reason, known_reason};
use crate::model::{EmployeeRecord, EventDetail, EventRecord, OrgUnitRecord};
use crate::state::{AppState, site_in};
use crate::store::{OpenLimits, employee_intervals_at};

/// `?from=&to=` plus paging, for intervals and for events.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PresenceQuery {
    /// Start of the period (RFC 3339, with an offset).
    from: DateTime<FixedOffset>,
    /// End of the period, excluded.
    to: DateTime<FixedOffset>,
    /// Items per page: 1 to 1000, 100 when absent.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One end of an interval.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PunchView {
    /// The event.
    pub event_id: EventId,
    /// When, in the site's offset.
    pub at: DateTime<FixedOffset>,
    /// `kiosk`, `api` or `correction`.
    pub source: String,
    /// The kiosk, for a tap.
    pub kiosk_id: Option<KioskId>,
    /// Who entered it, for an API punch.
    pub author: Option<String>,
    /// Their note.
    pub note: Option<String>,
}

/// Who corrected one end of an interval and why.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CorrectionView {
    /// Which end was entered as a correction: `start` or `end`.
    pub punch: String,
    /// Who.
    pub author: String,
    /// Why, if they said.
    pub note: Option<String>,
}

/// A presence interval as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IntervalView {
    /// The employee.
    pub employee_id: EmployeeId,
    /// Check-in instant (RFC 3339, the site's offset); absent for a missing check-in.
    pub start: Option<DateTime<FixedOffset>>,
    /// Check-out instant; absent while open or for a missing check-out.
    pub end: Option<DateTime<FixedOffset>>,
    /// Still open: checked in, not out, and for no longer than the most an interval may stay
    /// open at the kiosk it began at (past it, the check-out counts as forgotten:
    /// `missing_check_out`).
    pub open: bool,
    /// The reason.
    pub reason: String,
    /// What an admin should look at.
    pub flags: Vec<Flag>,
    /// Seconds between start and end, when both exist, each counted at its whole second
    /// (so that the durations of a day's intervals add up to its total).
    pub duration_seconds: Option<i64>,
    /// The check-in.
    pub start_punch: Option<PunchView>,
    /// The check-out.
    pub end_punch: Option<PunchView>,
    /// The ends entered as corrections, with author and note; empty when none was.
    pub corrections: Vec<CorrectionView>,
}

fn punch_view(p: &Punch, tz: Tz) -> PunchView {
    let (source, kiosk_id, author, note) = match &p.origin {
        PunchOrigin::Kiosk { kiosk, .. } => ("kiosk", Some(*kiosk), None, None),
        PunchOrigin::Api { author, note, correction } => (
            if *correction { "correction" } else { "api" },
            None,
            Some(author.clone()),
            note.clone(),
        ),
    };
    PunchView {
        event_id: p.event,
        at: p.at.with_timezone(&tz).fixed_offset(),
        source: source.to_owned(),
        kiosk_id,
        author,
        note,
    }
}

/// Renders an interval, each instant in the employee's zone at that instant.
pub fn interval_view(employee: EmployeeId, interval: &Interval, zones: &Zones) -> IntervalView {
    let corrections = [("start", &interval.start), ("end", &interval.end)]
        .into_iter()
        .filter_map(|(end, punch)| match punch.as_ref().map(|p| &p.origin) {
            Some(PunchOrigin::Api { author, note, correction: true }) => Some(CorrectionView {
                punch: end.to_owned(),
                author: author.clone(),
                note: note.clone(),
            }),
            _ => None,
        })
        .collect();
    let start = interval.start.as_ref().map(|p| p.at);
    let end = interval.end.as_ref().map(|p| p.at);
    IntervalView {
        employee_id: employee,
        start: start.map(|t| t.with_timezone(&zones.at(t)).fixed_offset()),
        end: end.map(|t| t.with_timezone(&zones.at(t)).fixed_offset()),
        open: interval.is_open(),
        reason: interval.reason.to_string(),
        flags: interval.flags.clone(),
        duration_seconds: start.zip(end).map(|(s, e)| totals::whole_seconds(s, e)),
        start_punch: interval.start.as_ref().map(|p| punch_view(p, zones.at(p.at))),
        end_punch: interval.end.as_ref().map(|p| punch_view(p, zones.at(p.at))),
        corrections,
    }
}

/// The zones an employee's record passes through: one per version, from its first day.
/// A transfer to a site elsewhere changes the zone from that day on, never before.
#[derive(Debug, Clone)]
pub struct Zones(Vec<(chrono::NaiveDate, Tz)>);

impl Zones {
    /// The zones of `record`'s versions.
    pub fn of(state: &AppState, record: &EmployeeRecord) -> ApiResult<Self> {
        Self::among(&state.store.org_units()?, record)
    }

    /// The zones of `record`'s versions, with the org units read already.
    pub fn among(units: &[OrgUnitRecord], record: &EmployeeRecord) -> ApiResult<Self> {
        let mut zones = Vec::with_capacity(record.versions.len());
        for version in &record.versions {
            zones.push((version.effective_from, site_in(units, version.org_unit)?.0));
        }
        Ok(Self(zones))
    }

    /// The zone on a local `date`.
    pub fn on(&self, date: chrono::NaiveDate) -> Tz {
        let found = self.0.iter().rev().find(|(from, _)| *from <= date).or(self.0.first());
        found.map_or(chrono_tz::UTC, |(_, tz)| *tz)
    }

    /// The zone at an instant: that of the newest version begun by then, each version's
    /// first day read in its own zone ([`totals::zone_at`]).
    pub fn at(&self, instant: DateTime<Utc>) -> Tz {
        totals::zone_at(&self.0, instant)
    }

    /// Time present per local day from `from` to `to`, each instant counted in the zone
    /// of its site then ([`totals::daily_across`]).
    pub fn daily(
        &self,
        intervals: &[Interval],
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        counts: impl Fn(&Interval) -> bool,
    ) -> BTreeMap<chrono::NaiveDate, std::time::Duration> {
        totals::daily_across(intervals, &self.0, from, to, counts)
    }
}

/// Every interval of one employee, in time order, as read now (an interval open past its
/// maximum flagged as missing its check-out).
pub fn intervals_of(state: &AppState, employee: EmployeeId) -> ApiResult<Vec<Interval>> {
    let limits = OpenLimits::load(state.store.as_ref())?;
    Ok(employee_intervals_at(state.store.as_ref(), &limits, employee, state.now())?)
}

// The cursor keeps the instant to the nanosecond: kiosk clocks read nanoseconds, and a
// rounded cursor would hand the boundary interval out again.
fn encode_cursor(key: &(DateTime<Utc>, EventId)) -> String {
    format!("{}.{}.{}", key.0.timestamp(), key.0.timestamp_subsec_nanos(), key.1)
}

fn decode_cursor(text: &str) -> Option<(DateTime<Utc>, EventId)> {
    let mut parts = text.splitn(3, '.');
    let secs = parts.next()?.parse().ok()?;
    let nanos = parts.next()?.parse().ok()?;
    Some((DateTime::from_timestamp(secs, nanos)?, parts.next()?.parse().ok()?))
}

/// A period `[from, to)` in UTC, refused when empty or backwards.
pub fn instant_range(
    from: DateTime<FixedOffset>,
    to: DateTime<FixedOffset>,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = (from.with_timezone(&Utc), to.with_timezone(&Utc));
    if from >= to {
        return Err(ApiError::invalid("from must be before to"));
    }
    Ok((from, to))
}

/// `GET /api/employees/{id}/timesheet/presence?from=&to=`
pub async fn presence(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    QueryParams(query): QueryParams<PresenceQuery>,
) -> ApiResult<Json<Page<IntervalView>>> {
    let record = scope.employee(&state, id, Intent::Read)?;
    let (from, to) = instant_range(query.from, query.to)?;

    let zones = Zones::of(&state, &record)?;
    let overlapping: Vec<Interval> =
        intervals_of(&state, id)?.into_iter().filter(|i| i.overlaps(from, to)).collect();
    let page = paginate(
        overlapping,
        &PageParams { limit: query.limit, cursor: query.cursor.clone() },
        Interval::anchor,
        encode_cursor,
        decode_cursor,
    )?;
    Ok(Json(Page {
        items: page.items.iter().map(|i| interval_view(id, i, &zones)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A clock-in or clock-out now.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    reason: Option<String>,
    note: Option<String>,
}

/// A correction: a punch entered after the fact, at the instant it should have been.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    direction: Direction,
    /// RFC 3339 with an explicit offset, so a repeated local hour is never ambiguous.
    at: DateTime<FixedOffset>,
    reason: Option<String>,
    note: Option<String>,
}

/// A punch entered through the API.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PunchCreated {
    /// The employee.
    pub employee_id: EmployeeId,
    /// In or out.
    pub direction: Direction,
    /// The reason.
    pub reason: String,
    /// The punch.
    pub punch: PunchView,
}

fn clean_note(note: Option<String>) -> ApiResult<Option<String>> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(ApiError::invalid("note must be at most 2000 characters"));
    }
    Ok(note)
}

/// The earliest instant a punch may carry: no time clock predates this.
const EARLIEST: &str = "1970-01-01T00:00:00Z";

/// Refuses an instant outside the employee's existence or outside any sane range.
fn check_instant(state: &AppState, record: &EmployeeRecord, at: DateTime<Utc>) -> ApiResult<()> {
    let earliest: DateTime<Utc> = EARLIEST.parse().map_err(ApiError::internal)?;
    if at < earliest || at.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err(ApiError::invalid(format!("{} is not a usable instant", at.to_rfc3339())));
    }
    let tz = Zones::of(state, record)?.at(at);
    let first_day = record.versions.first().map(|v| v.effective_from);
    if first_day.is_some_and(|day| at.with_timezone(&tz).date_naive() < day) {
        return Err(ApiError::invalid(format!(
            "employee {} does not exist before {}; add a retroactive version first",
            record.number,
            first_day.map(|d| d.to_string()).unwrap_or_default()
        )));
    }
    Ok(())
}

/// How close two punches of the same direction may be before the second is a repeat.
const API_REPEAT_WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Refuses a punch that repeats one already stored: a clock-in or -out in the same
/// direction within the repeat window of the last punch, or a correction identical to a
/// stored one. A client that retries a request cannot double a punch.
fn refuse_duplicate(
    state: &AppState,
    employee: EmployeeId,
    direction: Direction,
    at: DateTime<Utc>,
    correction: bool,
) -> ApiResult<()> {
    let punches: Vec<Punch> = crate::store::effective_punches(state.store.as_ref(), employee)?;
    let repeat = if correction {
        punches.iter().find(|p| p.direction == direction && p.at == at)
    } else {
        punches
            .iter()
            .filter(|p| p.at <= at)
            .max_by_key(|p| (p.at, p.event))
            .filter(|p| p.direction == direction && at - p.at < API_REPEAT_WINDOW)
    };
    match repeat {
        Some(p) => Err(ApiError::conflict(
            "repeat",
            format!(
                "employee already checked {direction} at {} (event {})",
                p.at.to_rfc3339(),
                p.event
            ),
        )),
        None => Ok(()),
    }
}

/// Enters a punch for `employee`; with `resolves`, it is the admin's acceptance of that
/// quarantined kiosk event, stored in the same transaction that resolves it.
#[allow(clippy::too_many_arguments)]
pub(super) fn record_punch(
    state: &AppState,
    caller: &Caller,
    scope: &Scope,
    employee: EmployeeId,
    direction: Direction,
    at: DateTime<Utc>,
    reason: Option<String>,
    note: Option<String>,
    correction: bool,
    resolves: Option<EventId>,
) -> ApiResult<(StatusCode, Json<PunchCreated>)> {
    let record = scope.employee(state, employee, Intent::Change)?;
    check_instant(state, &record, at)?;
    // What the request says is checked before what it would repeat: a request that could
    // never be stored is refused as such, not as a repeat.
    let reason = match reason {
        Some(code) => known_reason(state, &code)?,
        None => default_reason(state)?,
    };
    let note = clean_note(note)?;
    refuse_duplicate(state, employee, direction, at, correction)?;
    let punch = Punch {
        event: EventId::time_ordered(),
        at,
        direction,
        reason: reason.clone(),
        origin: PunchOrigin::Api { author: caller.user.name.clone(), note, correction },
    };
    let event = EventRecord {
        employee: Some(employee),
        punch: punch.clone(),
        detail: EventDetail::Api,
        received_at: state.now(),
    };
    match resolves {
        None => state.store.insert_event(&event)?,
        Some(held) => {
            let now = state.now();
            if state.store.accept_quarantined(held, &event, &caller.user.name, now)?.is_none() {
                return Err(ApiError::conflict(
                    "not_quarantined",
                    format!("event {held} is not held in quarantine (or was accepted already)"),
                ));
            }
            tracing::info!(
                event.id = %held,
                replacement = %punch.event,
                "quarantined event accepted",
            );
        }
    }
    tracing::info!(
        employee.id = %employee,
        event.id = %punch.event,
        direction = %direction,
        correction,
        "punch entered through the API",
    );

    let tz = Zones::of(state, &record)?.at(punch.at);
    Ok((
        StatusCode::CREATED,
        Json(PunchCreated {
            employee_id: employee,
            direction,
            reason: reason.to_string(),
            punch: punch_view(&punch, tz),
        }),
    ))
}

/// `POST /api/employees/{id}/timesheet/clock-in`
pub async fn clock_in(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    OptionalJson(body): OptionalJson<ClockRequest>,
) -> ApiResult<(StatusCode, Json<PunchCreated>)> {
    record_punch(
        &state,
        &caller,
        &scope,
        id,
        Direction::In,
        state.now(),
        body.reason,
        body.note,
        false,
        None,
    )
}

/// `POST /api/employees/{id}/timesheet/clock-out`
pub async fn clock_out(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    OptionalJson(body): OptionalJson<ClockRequest>,
) -> ApiResult<(StatusCode, Json<PunchCreated>)> {
    record_punch(
        &state,
        &caller,
        &scope,
        id,
        Direction::Out,
        state.now(),
        body.reason,
        body.note,
        false,
        None,
    )
}

/// `POST /api/employees/{id}/timesheet/corrections`
pub async fn correct(
    State(state): State<AppState>,
    caller: axum::Extension<Caller>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    JsonBody(body): JsonBody<CorrectionRequest>,
) -> ApiResult<(StatusCode, Json<PunchCreated>)> {
    let at = body.at.with_timezone(&Utc);
    if at > state.now() + chrono::TimeDelta::minutes(5) {
        return Err(ApiError::invalid("a correction cannot lie in the future"));
    }
    record_punch(
        &state,
        &caller,
        &scope,
        id,
        body.direction,
        at,
        body.reason,
        body.note,
        true,
        None,
    )
}

/// One presence event as stored: the audit trail behind the intervals. Events are never
/// changed; a correction is a new event with its author and note.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventView {
    /// The punch.
    #[serde(flatten)]
    pub punch: PunchView,
    /// In or out.
    pub direction: Direction,
    /// The reason.
    pub reason: String,
    /// The kiosk's own sequence number, for a tap.
    pub kiosk_seq: Option<u64>,
    /// Whether the kiosk's wall clock was trusted when it recorded the tap.
    pub wall_trusted: Option<bool>,
    /// The kiosk's wall clock as read, for a tap. When it differs from `at`, the instant
    /// was corrected from the kiosk's monotonic clock; the reading stays as evidence.
    pub kiosk_wall: Option<DateTime<Utc>>,
    /// How the direction was chosen at the kiosk: `explicit` or `toggle`.
    pub direction_source: Option<mtime_core::event::DirectionSource>,
    /// The earlier tap of the same kiosk this one changes: `replaces` (this event counts in
    /// its place, at its time) or `withdraws` (both count for nothing). Intervals show only
    /// what counts; both events stay here as the record.
    pub amends: Option<AmendsView>,
    /// When the server stored it.
    pub received_at: DateTime<Utc>,
}

/// How an event changes an earlier tap of its kiosk.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AmendsView {
    /// `replaces` or `withdraws`.
    pub kind: AmendmentKind,
    /// The event changed.
    pub event_id: EventId,
}

/// What an amendment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AmendmentKind {
    /// This event counts in the other's place, at its time.
    Replaces,
    /// The other event is withdrawn; this one counts for nothing.
    Withdraws,
}

impl From<Amendment> for AmendsView {
    fn from(amendment: Amendment) -> Self {
        let kind = match amendment {
            Amendment::Replaces(_) => AmendmentKind::Replaces,
            Amendment::Withdraws(_) => AmendmentKind::Withdraws,
        };
        Self { kind, event_id: amendment.target() }
    }
}

/// `GET /api/employees/{id}/timesheet/events?from=&to=`
pub async fn events(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<EmployeeId>,
    QueryParams(query): QueryParams<PresenceQuery>,
) -> ApiResult<Json<Page<EventView>>> {
    let record = scope.employee(&state, id, Intent::Read)?;
    let (from, to) = instant_range(query.from, query.to)?;
    let zones = Zones::of(&state, &record)?;
    let events: Vec<EventRecord> = state
        .store
        .employee_events(id)?
        .into_iter()
        .filter(|e| e.punch.at >= from && e.punch.at < to)
        .collect();
    let ids: Vec<EventId> = events.iter().map(|e| e.punch.event).collect();
    let amendments = state.store.amendments(&ids)?;
    let params = PageParams { limit: query.limit, cursor: query.cursor.clone() };
    let page =
        paginate(events, &params, |e| (e.punch.at, e.punch.event), encode_cursor, decode_cursor)?;
    let items = page
        .items
        .iter()
        .map(|e| {
            let (seq, time, source) = match (&e.detail, &e.punch.origin) {
                (
                    EventDetail::Kiosk { time, direction_source, .. },
                    PunchOrigin::Kiosk { seq, .. },
                ) => (Some(*seq), Some(time), Some(*direction_source)),
                _ => (None, None, None),
            };
            EventView {
                punch: punch_view(&e.punch, zones.at(e.punch.at)),
                direction: e.punch.direction,
                reason: e.punch.reason.to_string(),
                kiosk_seq: seq,
                wall_trusted: time.map(|t| t.wall_trusted),
                kiosk_wall: time.map(|t| t.wall),
                direction_source: source,
                amends: amendments.get(&e.punch.event).map(|a| AmendsView::from(*a)),
                received_at: e.received_at,
            }
        })
        .collect();
    Ok(Json(Page { items, next_cursor: page.next_cursor }))
}
