//! What a delivery carries: the feed entry as `/api/events` shows it, with the webhook's
//! id and a delivery id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use mtime_core::ids::WebhookId;

use crate::api::feed::FeedEntryView;
use crate::model::FeedEntry;

/// The JSON body POSTed to a webhook.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveryPayload {
    /// The subscription delivering it.
    pub webhook_id: WebhookId,
    /// The same for every attempt at this entry (and across server restarts), so a
    /// receiver can drop what it has already handled.
    pub delivery_id: uuid::Uuid,
    /// The feed entry, with the fields of `GET /api/events`.
    #[serde(flatten)]
    pub entry: FeedEntryView,
}

impl DeliveryPayload {
    /// The payload delivering `entry` to `webhook`.
    pub fn new(webhook: WebhookId, entry: &FeedEntry) -> Self {
        Self {
            webhook_id: webhook,
            delivery_id: delivery_id(webhook, entry.seq),
            entry: FeedEntryView::from(entry),
        }
    }
}

/// The delivery id of entry `seq` for `webhook`: derived, not stored, so that it stays the
/// same across retries and restarts.
pub fn delivery_id(webhook: WebhookId, seq: u64) -> uuid::Uuid {
    let mut hash = Sha256::new();
    hash.update(b"mtime webhook delivery\0");
    hash.update(webhook.to_bytes());
    hash.update(seq.to_be_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_id_is_stable_per_webhook_and_entry() {
        let (a, b) = (WebhookId::random(), WebhookId::random());
        assert_eq!(delivery_id(a, 7), delivery_id(a, 7));
        assert_ne!(delivery_id(a, 7), delivery_id(a, 8));
        assert_ne!(delivery_id(a, 7), delivery_id(b, 7));
        assert_eq!(delivery_id(a, 7).get_version_num(), 8);
    }
}
