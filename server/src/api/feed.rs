//! The durable feed of domain events: what was stored, in order, for consumers that
//! follow the workspace with a cursor.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};

use mtime_core::ids::{EmployeeId, EventId, KioskId};

use super::error::{ApiError, ApiResult};
use super::extract::QueryParams;
use super::page::{DEFAULT_LIMIT, MAX_LIMIT, Page};
use super::scope::Scope;
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
    /// What happened: one of the kinds listed for webhook filters (`presence.recorded`,
    /// `interval.closed`, `kiosk.silent`, `week.closed`, …).
    pub kind: String,
    /// The employee concerned.
    pub employee_id: Option<EmployeeId>,
    /// The kiosk concerned.
    pub kiosk_id: Option<KioskId>,
    /// The presence event concerned; for `interval.*`, the interval's check-in, or its
    /// check-out when it has no check-in.
    pub event_id: Option<EventId>,
    /// The week concerned (its first local day), for `week.closed`: the weekly overtime
    /// report holds its figures.
    pub week_start: Option<chrono::NaiveDate>,
}

impl From<&crate::model::FeedEntry> for FeedEntryView {
    fn from(entry: &crate::model::FeedEntry) -> Self {
        Self {
            seq: entry.seq,
            at: entry.at,
            kind: entry.kind.clone(),
            employee_id: entry.employee,
            kiosk_id: entry.kiosk,
            event_id: entry.event,
            week_start: entry.week_start,
        }
    }
}

/// The kinds of feed entries there are.
pub const KINDS: &[&str] = crate::model::feed_kind::ALL;

/// `GET /api/events?after=&limit=`: entries are never removed or reordered, so a consumer
/// that keeps the last `seq` it handled misses nothing and sees nothing twice.
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<FeedQuery>,
) -> ApiResult<Json<Page<FeedEntryView>>> {
    scope.require_whole("the event feed")?;
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
    let items = entries.iter().map(FeedEntryView::from).collect();
    Ok(Json(Page { items, next_cursor }))
}

/// `?after=&wait=` for the live stream.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StreamQuery {
    /// Resume after this seq; a `Last-Event-ID` header, as browsers send on reconnecting,
    /// wins over it.
    after: Option<String>,
    /// Seconds to wait for new entries before the stream ends: 0 to 10, 10 when absent.
    /// Clients reconnect with `Last-Event-ID` and miss nothing.
    #[schemars(range(min = 0, max = 10))]
    wait: Option<u64>,
}

/// The longest a stream waits for news before it ends.
const MAX_WAIT_SECS: u64 = 10;

fn entry_event(entry: &crate::model::FeedEntry) -> Event {
    let view = FeedEntryView::from(entry);
    let data = serde_json::to_string(&view).unwrap_or_default();
    Event::default().id(entry.seq.to_string()).event(entry.kind.clone()).data(data)
}

/// `GET /api/sse`: the feed as server-sent events, from a cursor, then live until `wait`
/// seconds pass without news.
pub async fn stream(
    State(state): State<AppState>,
    scope: Scope,
    headers: HeaderMap,
    QueryParams(query): QueryParams<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    scope.require_whole("the event feed")?;
    let parse = |text: &str| {
        text.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("a cursor must be the seq of a feed entry"))
    };
    let from_header = match headers.get("last-event-id").map(|v| v.to_str()) {
        Some(Ok(text)) => Some(parse(text)?),
        Some(Err(_)) => return Err(ApiError::invalid("Last-Event-ID must be a seq")),
        None => None,
    };
    let after = match (from_header, &query.after) {
        (Some(seq), _) => seq,
        (None, Some(text)) => parse(text)?,
        (None, None) => 0,
    };
    let wait = query.wait.unwrap_or(MAX_WAIT_SECS);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::invalid(format!("wait is at most {MAX_WAIT_SECS} seconds")));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);

    let batches = stream::unfold((state, after), move |(state, last)| async move {
        loop {
            let store = state.store.clone();
            let read = tokio::task::spawn_blocking(move || store.feed_after(last, 100)).await;
            match read {
                Ok(Ok(entries)) if !entries.is_empty() => {
                    let next = entries.last().map_or(last, |e| e.seq);
                    let events: Vec<Result<Event, Infallible>> =
                        entries.iter().map(|e| Ok(entry_event(e))).collect();
                    return Some((stream::iter(events), (state, next)));
                }
                Ok(Ok(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Ok(Ok(_)) => return None,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "event stream ended: storage failed");
                    return None;
                }
                Err(e) => {
                    tracing::error!(error = %e, "event stream ended");
                    return None;
                }
            }
        }
    });
    Ok(Sse::new(batches.flatten()).keep_alive(KeepAlive::default()))
}
