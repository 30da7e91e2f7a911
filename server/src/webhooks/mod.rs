//! Outbound webhooks: the feed of domain events, POSTed to URLs that subscribed to it.
//!
//! A subscription (`POST /api/webhooks`) names a URL, optionally the feed kinds it wants
//! (none means all), and gets a signing secret, `mtime_whsec_…`, shown once. From then on
//! the [`worker`] delivers every matching feed entry that is stored after the subscription
//! was made, oldest first, one at a time: the next entry goes only once the receiver has
//! answered 2xx for the one before. Any other answer, a connection error or no answer
//! within 10 seconds is a failure, and the same entry is tried again after a wait that
//! starts at 1 second and doubles up to 10 minutes, with jitter. Nothing is skipped and
//! nothing is reordered; a subscription that is deleted stops.
//!
//! Each subscription's cursor (the last seq it is done with) is stored with it and moves
//! in the transaction that logs a 2xx, so a restart resumes where delivery stood. Delivery
//! is at least once: an entry whose 2xx was not yet logged when the server stopped is sent
//! again, with the same delivery id.
//!
//! # What a delivery looks like
//!
//! `POST <url>` with `Content-Type: application/json` and the body of
//! [`payload::DeliveryPayload`]: the fields of a `GET /api/events` entry (`seq`, `at`,
//! `kind`, `employee_id`, `kiosk_id`, `event_id`) plus `webhook_id` and `delivery_id`.
//! Headers:
//!
//! - `Mtime-Webhook-Id`: the subscription;
//! - `Mtime-Delivery-Id`: the same for every attempt at one entry;
//! - `Mtime-Timestamp`: when the attempt was made, in Unix seconds;
//! - `Mtime-Signature`: `v1=` and the lowercase hex HMAC-SHA256 of
//!   `<Mtime-Timestamp> + "." + <body bytes>`, keyed with the secret's text, prefix
//!   included.
//!
//! A receiver recomputes the signature over the exact bytes received, compares it in
//! constant time, and refuses timestamps far from its own clock (5 minutes, say) so that a
//! recorded delivery cannot be replayed later.
//!
//! # Where webhooks may point
//!
//! The URL must be `http` or `https`, carry no user name or password, and name a host the
//! server's `webhook_hosts` setting allows ([`target::HostAllowlist`]; empty allows any).
//! Redirects are not followed and no proxy from the environment is used.
//!
//! # Limitations
//!
//! - The delivery log keeps the last [`crate::model::DELIVERY_LOG_LEN`] attempts per
//!   subscription; older ones are dropped.
//! - A host name is checked as written, not as resolved: a name on the allowlist that
//!   resolves to another address is trusted. List addresses where that matters.
//! - A receiver that never answers 2xx holds its subscription at that entry for good
//!   (retried every 10 minutes); delete the subscription to let it go.
//! - The secret is stored as is in the data directory, readable by the server's user; it
//!   cannot be rotated, only replaced by a new subscription.

pub mod backoff;
pub mod payload;
pub mod sign;
pub mod target;
pub mod worker;
