//! Outbound webhook subscriptions: create one (its secret shown once), list, read, delete,
//! and read its delivery log. Delivery itself is [`crate::webhooks::worker`]'s.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use mtime_core::ids::WebhookId;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathParams, QueryParams};
use super::feed::KINDS;
use super::page::{Page, PageParams, paginate, paginate_by_text, sortable_instant};
use super::scope::Scope;
use crate::access;
use crate::model::{DeliveryRecord, WebhookRecord};
use crate::state::AppState;
use crate::webhooks::{sign, target};

/// The most subscriptions a workspace may have: each one is a task and a stream of
/// requests.
pub const MAX_WEBHOOKS: usize = 100;

/// The longest description.
const MAX_DESCRIPTION: usize = 200;

/// What `createWebhook` describes in the document: the delivery contract.
pub const CREATE_DESCRIPTION: &str = "\
Subscribes a URL to the feed. From now on every feed entry of the kinds asked for (all when \
`kinds` is empty) is POSTed to it as JSON: the fields of a `GET /api/events` entry plus \
`webhook_id` and `delivery_id` (the same for every attempt at one entry). Entries go one at \
a time, in feed order; a 2xx answer moves on to the next, anything else (or no answer within \
10 s) is retried after 1 s, doubling to at most 10 min, with jitter; nothing is skipped.\n\n\
Each request carries `Mtime-Webhook-Id`, `Mtime-Delivery-Id`, `Mtime-Timestamp` (Unix \
seconds) and `Mtime-Signature: v1=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` keyed with \
the secret, which this response shows once. The URL must be http or https, carry no \
credentials, and name a host the server's `webhook_hosts` setting allows. Creating a webhook \
also requires `events:read:*`.";

/// A new subscription.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to POST: an http or https URL without credentials, on a host the server
    /// allows.
    #[schemars(length(min = 1, max = 2000))]
    url: String,
    /// The feed kinds to deliver (see `GET /api/events`); empty or absent for all.
    #[serde(default)]
    kinds: Vec<FeedKind>,
    /// What it is for.
    #[serde(default)]
    #[schemars(length(max = 200))]
    description: String,
}

/// A kind of feed entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "String")]
#[schemars(with = "String", extend("enum" = KINDS))]
pub struct FeedKind(String);

impl TryFrom<String> for FeedKind {
    type Error = String;

    fn try_from(kind: String) -> Result<Self, String> {
        if KINDS.contains(&kind.as_str()) {
            Ok(Self(kind))
        } else {
            Err(format!("unknown feed kind {kind:?}; kinds: {}", KINDS.join(", ")))
        }
    }
}

/// A subscription as the API shows it; its secret is never shown again.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WebhookView {
    /// Id.
    pub id: WebhookId,
    /// Where deliveries go.
    pub url: String,
    /// The feed kinds it receives; empty for all.
    pub kinds: Vec<String>,
    /// What it is for.
    pub description: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The seq of the last feed entry it is done with (delivered, or not of its kinds).
    pub delivered_through: u64,
}

/// A new subscription, with its secret shown this once.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WebhookCreated {
    /// The subscription.
    pub webhook: WebhookView,
    /// The signing secret, `mtime_whsec_…`. Copy it now; it is never shown again.
    pub secret: String,
}

/// One delivery attempt.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveryView {
    /// Its place in the subscription's log, from 1.
    pub number: u64,
    /// The feed entry delivered.
    pub seq: u64,
    /// The delivery id sent, the same for every attempt at one entry.
    pub delivery_id: uuid::Uuid,
    /// 1 for the first attempt at this entry.
    pub attempt: u32,
    /// When the attempt started.
    pub at: DateTime<Utc>,
    /// Whether the receiver took it (answered 2xx).
    pub delivered: bool,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer: connection failed, timed out.
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: u64,
}

fn view(hook: &WebhookRecord) -> WebhookView {
    WebhookView {
        id: hook.id,
        url: hook.url.clone(),
        kinds: hook.kinds.clone(),
        description: hook.description.clone(),
        created_at: hook.created_at,
        delivered_through: hook.cursor,
    }
}

fn delivery_view(d: &DeliveryRecord) -> DeliveryView {
    DeliveryView {
        number: d.number,
        seq: d.seq,
        delivery_id: d.delivery_id,
        attempt: d.attempt,
        at: d.at,
        delivered: d.delivered(),
        status: d.status,
        error: d.error.clone(),
        duration_ms: d.duration_ms,
    }
}

fn load(state: &AppState, id: WebhookId) -> ApiResult<WebhookRecord> {
    state
        .store
        .webhook(id)?
        .ok_or_else(|| ApiError::not_found(format!("webhook {id} does not exist")))
}

/// `POST /api/webhooks`
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    caller: axum::Extension<Caller>,
    JsonBody(body): JsonBody<NewWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookCreated>)> {
    scope.require_whole("webhooks, which carry the whole feed")?;
    // A subscription hands the feed to its URL, so only a caller who may read the feed
    // may make one.
    if !caller.user.may(access::EVENTS_READ) {
        return Err(ApiError::forbidden(access::EVENTS_READ));
    }
    let url = target::check_url(&body.url, &state.webhook_hosts).map_err(ApiError::invalid)?;
    if body.description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    let mut kinds: Vec<String> = Vec::new();
    for FeedKind(kind) in body.kinds {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if state.store.webhooks()?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::conflict(
            "too_many_webhooks",
            format!("a workspace has at most {MAX_WEBHOOKS} webhooks; delete one first"),
        ));
    }

    let secret = sign::new_secret().map_err(ApiError::internal)?;
    let hook = WebhookRecord {
        id: WebhookId::random(),
        url: url.to_string(),
        kinds,
        description: body.description.trim().to_owned(),
        secret,
        created_at: state.now(),
        cursor: 0,
    };
    let stored = state.store.insert_webhook(&hook)?;
    tracing::info!(
        webhook.id = %stored.id, webhook.host = url.host_str().unwrap_or(""),
        feed.seq = stored.cursor, "webhook created"
    );
    let secret = stored.secret.expose().to_owned();
    Ok((StatusCode::CREATED, Json(WebhookCreated { webhook: view(&stored), secret })))
}

/// `GET /api/webhooks`
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<WebhookView>>> {
    scope.require_whole("webhooks, which carry the whole feed")?;
    let views: Vec<WebhookView> = state.store.webhooks()?.iter().map(view).collect();
    let key = |v: &WebhookView| format!("{}\n{}", sortable_instant(v.created_at), v.id);
    Ok(Json(paginate_by_text(views, &query, key)?))
}

/// `GET /api/webhooks/{id}`
pub async fn show(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<WebhookId>,
) -> ApiResult<Json<WebhookView>> {
    scope.require_whole("webhooks, which carry the whole feed")?;
    Ok(Json(view(&load(&state, id)?)))
}

/// `DELETE /api/webhooks/{id}`: deliveries stop, and the log goes with it.
pub async fn delete(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<WebhookId>,
) -> ApiResult<StatusCode> {
    scope.require_whole("webhooks, which carry the whole feed")?;
    if !state.store.delete_webhook(id)? {
        return Err(ApiError::not_found(format!("webhook {id} does not exist")));
    }
    tracing::warn!(webhook.id = %id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/webhooks/{id}/deliveries`: the attempts, oldest first; the last
/// [`crate::model::DELIVERY_LOG_LEN`] are kept.
pub async fn deliveries(
    State(state): State<AppState>,
    scope: Scope,
    PathParams(id): PathParams<WebhookId>,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<DeliveryView>>> {
    scope.require_whole("webhooks, which carry the whole feed")?;
    load(&state, id)?;
    let views: Vec<DeliveryView> = state.store.deliveries(id)?.iter().map(delivery_view).collect();
    Ok(Json(paginate(
        views,
        &query,
        |d| d.number,
        |n| n.to_string(),
        |text| text.parse::<u64>().ok(),
    )?))
}
