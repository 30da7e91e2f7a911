//! The durable feed of domain events: what was stored, in order, for consumers that
//! follow the workspace with a cursor.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, EventId, KioskId};

use super::error::{ApiError, ApiResult};
use super::extract::QueryParams;
use super::page::{DEFAULT_LIMIT, MAX_LIMIT, Page};
use crate::state::AppState;

/// `?after=&limit=`
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FeedQuery {
    /// The `seq` of the last entry already read (or a `next_cursor`); from the start when
    /// absent.
    after: Option<String>,
    /// Entries per page: 1 to 1000, 100 when absent.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
}

/// One thing that happened.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FeedEntryView {
    /// Its place in the feed: gapless, from 1.
    pub seq: u64,
    /// When the server stored it.
    pub at: DateTime<Utc>,
    /// `presence.recorded`, `presence.unknown_badge`, `presence.entered`,
    /// `presence.corrected`, `presence.assigned`, `kiosk.enrolled` or `kiosk.revoked`.
    pub kind: String,
    /// The employee concerned.
    pub employee_id: Option<EmployeeId>,
    /// The kiosk concerned.
    pub kiosk_id: Option<KioskId>,
    /// The presence event concerned.
    pub event_id: Option<EventId>,
}

/// `GET /api/events?after=&limit=`: entries are never removed or reordered, so a consumer
/// that keeps the last `seq` it handled misses nothing and sees nothing twice.
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<FeedQuery>,
) -> ApiResult<Json<Page<FeedEntryView>>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let after = match &query.after {
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("after must be the seq of a feed entry"))?,
        None => 0,
    };

    let mut entries = state.store.feed_after(after, limit + 1)?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_cursor = if more { entries.last().map(|e| e.seq.to_string()) } else { None };
    let items = entries
        .into_iter()
        .map(|e| FeedEntryView {
            seq: e.seq,
            at: e.at,
            kind: e.kind,
            employee_id: e.employee,
            kiosk_id: e.kiosk,
            event_id: e.event,
        })
        .collect();
    Ok(Json(Page { items, next_cursor }))
}
