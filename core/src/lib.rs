//! The shared domain of mtime, used by the server and the kiosk alike so that every rule
//! exists once: ids, badge UIDs, presence events, what a tap means, the pairing of events
//! into intervals, sites and their time zones, and the signed batch wire format.
//!
//! This crate does no I/O: clocks are a trait, keys come from the caller's randomness
//! source (the operating system's), and storage and transport live elsewhere. The one
//! exception is opt-in: with the `redb` feature, [`repair`] opens a redb file the way the
//! server and the kiosk both need, so that that rule too exists once.
//!
//! ```
//! use mtime_core::badge::BadgeUid;
//!
//! let uid: BadgeUid = "04:e8:75:77:de:98:11".parse().unwrap();
//! assert_eq!(uid.to_string(), "04E87577DE9811");
//! ```
//!
//! # Limitations
//!
//! - [`timing`] dates an event from an anchor of its boot; a kiosk whose round trips are all
//!   slower than [`timing::MAX_ROUND_TRIP`] while its clock is untrusted gets no anchor, and
//!   its taps wait in quarantine for an admin.
//! - The maximum open interval is a kiosk's setting: an interval begun through the API is
//!   held to the default 16 hours.

#![forbid(unsafe_code)]

pub mod badge;
pub mod batch;
pub mod capacity;
pub mod clock;
pub mod decide;
pub mod event;
pub mod ids;
pub mod keys;
pub mod pairing;
pub mod pin;
pub mod protocol;
#[cfg(feature = "redb")]
pub mod repair;
pub mod rotation;
pub mod seal;
pub mod timing;
pub mod totals;
pub mod weeks;
pub mod zone;
