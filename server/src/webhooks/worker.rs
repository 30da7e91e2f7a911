//! The delivery worker: one task per subscription, each following the feed from its own
//! durable cursor and delivering one entry at a time, in order, until the receiver takes it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use mtime_core::ids::WebhookId;

use super::payload::DeliveryPayload;
use super::{backoff, sign, target};
use crate::model::{DeliveryRecord, FeedEntry, WebhookRecord};
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// Feed entries read per look.
const BATCH: usize = 100;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How often to look for new entries and for subscriptions added or deleted.
    pub poll: Duration,
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
    /// The wait after a first failure; it doubles with each failure in a row.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_cap: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(600),
        }
    }
}

/// The running worker; dropping it stops every delivery (an attempt cut short is made
/// again when a worker next runs).
pub struct Worker {
    task: JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What every subscription's task shares.
struct Shared {
    state: AppState,
    config: WorkerConfig,
    http: reqwest::Client,
}

/// Starts the worker on the current tokio runtime.
pub fn spawn(state: AppState, config: WorkerConfig) -> anyhow::Result<Worker> {
    // One crypto provider for the process; a second install is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        // A receiver answers for itself: a redirect is a failure, not a hop to another host.
        .redirect(reqwest::redirect::Policy::none())
        // Deliveries go straight to the host the allowlist checked, never through a proxy
        // named by the environment.
        .no_proxy()
        .user_agent(concat!("mtime-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("webhook HTTP client: {e}"))?;
    let shared = Arc::new(Shared { state, config, http });
    Ok(Worker { task: tokio::spawn(supervise(shared)) })
}

/// Runs a store call off the async threads.
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    call: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(store.as_ref()))
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

/// Keeps one task per subscription: starts tasks for new ones, stops those of deleted ones.
async fn supervise(shared: Arc<Shared>) {
    // Dropping the set (when this task is aborted) aborts every subscription's task.
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut running: HashMap<WebhookId, AbortHandle> = HashMap::new();
    loop {
        match blocking(&shared.state.store, |s| s.webhooks()).await {
            Ok(hooks) => {
                running.retain(|id, task| {
                    let live = hooks.iter().any(|h| h.id == *id);
                    if !live {
                        task.abort();
                    }
                    live && !task.is_finished()
                });
                for hook in hooks {
                    running
                        .entry(hook.id)
                        .or_insert_with(|| tasks.spawn(follow(shared.clone(), hook.id)));
                }
            }
            Err(e) => tracing::error!(error = %e, "webhooks: cannot read subscriptions"),
        }
        while tasks.try_join_next().is_some() {}
        tokio::time::sleep(shared.config.poll).await;
    }
}

/// Follows the feed for one subscription until it is deleted.
async fn follow(shared: Arc<Shared>, id: WebhookId) {
    let store = &shared.state.store;
    loop {
        let hook = match blocking(store, move |s| s.webhook(id)).await {
            Ok(Some(hook)) => hook,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(webhook.id = %id, error = %e, "webhook: cannot read subscription");
                tokio::time::sleep(shared.config.poll).await;
                continue;
            }
        };
        let after = hook.cursor;
        let entries = match blocking(store, move |s| s.feed_after(after, BATCH)).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::error!(webhook.id = %id, error = %e, "webhook: cannot read the feed");
                tokio::time::sleep(shared.config.poll).await;
                continue;
            }
        };
        if entries.is_empty() {
            tokio::time::sleep(shared.config.poll).await;
            continue;
        }

        // Entries the subscription does not want are passed over in order; the cursor
        // moves past them with the next delivery, or at the end of the batch.
        let mut passed_over = None;
        for entry in &entries {
            if !hook.wants(&entry.kind) {
                passed_over = Some(entry.seq);
                continue;
            }
            if !deliver(&shared, &hook, entry).await {
                return;
            }
            passed_over = None;
        }
        if let Some(seq) = passed_over {
            match blocking(store, move |s| s.advance_webhook(id, seq)).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::error!(webhook.id = %id, error = %e, "webhook: cannot advance"),
            }
        }
    }
}

/// Delivers one entry, retrying with backoff until the receiver takes it. False if the
/// subscription was deleted meanwhile (or the entry cannot be encoded): its task ends.
async fn deliver(shared: &Shared, hook: &WebhookRecord, entry: &FeedEntry) -> bool {
    let store = &shared.state.store;
    let id = hook.id;
    let payload = DeliveryPayload::new(id, entry);
    let body = match serde_json::to_vec(&payload) {
        Ok(body) => body,
        Err(e) => {
            // Cannot happen for this plain struct; without a body there is nothing to send.
            tracing::error!(
                webhook.id = %id, feed.seq = entry.seq, error = %e, "webhook: cannot encode"
            );
            return false;
        }
    };

    // A restart carries on counting the attempts at the entry it was retrying.
    let seq = entry.seq;
    let mut attempt = match blocking(store, move |s| s.last_delivery(id)).await {
        Ok(Some(last)) if last.seq == seq && !last.delivered() => last.attempt.saturating_add(1),
        _ => 1,
    };
    // And keeps backing off as if it had not stopped.
    let mut failures = attempt.saturating_sub(1);
    loop {
        let at = shared.state.now();
        let timestamp = at.timestamp();
        let started = Instant::now();
        // The allowed hosts are checked again on every attempt: a subscription made before
        // `webhook_hosts` was narrowed must not reach a host it no longer allows.
        let (status, error) = match target::check_url(&hook.url, &shared.state.webhook_hosts) {
            Err(_) => (None, Some("not sent: its host is not among webhook_hosts".to_owned())),
            Ok(_) => {
                let sent = shared
                    .http
                    .post(&hook.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("mtime-webhook-id", id.to_string())
                    .header("mtime-delivery-id", payload.delivery_id.to_string())
                    .header("mtime-timestamp", timestamp.to_string())
                    .header("mtime-signature", sign::signature(&hook.secret, timestamp, &body))
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) => (Some(response.status().as_u16()), None),
                    Err(e) => (None, Some(describe(&e, shared.config.timeout))),
                }
            }
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let record = DeliveryRecord {
            number: 0,
            seq,
            delivery_id: payload.delivery_id,
            attempt,
            at,
            status,
            error,
            duration_ms: ms,
        };
        let delivered = record.delivered();

        // Stored before the log line, so that a line never claims what was not stored.
        let logged = loop {
            let record = record.clone();
            match blocking(store, move |s| s.record_delivery(id, &record)).await {
                Ok(logged) => break logged,
                Err(e) => {
                    tracing::error!(
                        webhook.id = %id, feed.seq = seq, error = %e,
                        "webhook: cannot log a delivery"
                    );
                    tokio::time::sleep(shared.config.poll).await;
                }
            }
        };
        if logged.is_none() {
            tracing::info!(webhook.id = %id, feed.seq = seq, "webhook deleted; deliveries stop");
            return false;
        }

        let outcome = match (&record.status, &record.error) {
            (Some(status), _) => status.to_string(),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".to_owned(),
        };
        if delivered {
            tracing::info!(
                webhook.id = %id, feed.seq = seq, delivery.attempt = attempt, outcome = %outcome,
                ms, "webhook delivered"
            );
            return true;
        }
        failures = failures.saturating_add(1);
        let wait = backoff::delay(shared.config.backoff_base, shared.config.backoff_cap, failures);
        tracing::warn!(
            webhook.id = %id, feed.seq = seq, delivery.attempt = attempt, outcome = %outcome, ms,
            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "webhook delivery failed"
        );
        tokio::time::sleep(wait).await;
        attempt = attempt.saturating_add(1);
    }
}

/// Why an attempt got no answer, without the URL (which may carry a token of the
/// receiver's) and without anything of the request.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let kind = if error.is_connect() { "connection failed" } else { "request failed" };
    // The innermost cause says most (connection refused, no such host); the URL is only
    // in the outermost message.
    let mut innermost = None;
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        innermost = Some(inner);
        source = inner.source();
    }
    match innermost {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_owned(),
    }
}
