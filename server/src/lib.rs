//! The mtime central server: the REST API under `/api` that API consumers (payroll, HR)
//! and site admins use with bearer API keys, and the device routes under `/api/kiosk/`
//! that kiosks use with signed batches.
//!
//! Records live behind the [`store::Store`] trait; [`store::redb_store::RedbStore`] keeps
//! them in one redb file under the data directory. The server's signing key lives in a
//! file beside it, readable by its user alone.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! let data = std::path::Path::new("./mtime-data");
//! let api_key = mtime_server::workspace::init(data, Arc::new(mtime_core::clock::SystemClock::new()))?;
//! # Ok(()) }
//! ```
//!
//! # Limitations
//!
//! - Intervals are paired from all of an employee's events on every read; reads grow with
//!   an employee's history until intervals are materialised on ingest.
//! - Permissions carry the scope `*` only: a site admin's role is not yet limited to their
//!   own org units.
//! - The event feed is read from `/api/events` or `/api/sse` (which polls the store every
//!   quarter second) or delivered by outbound webhooks ([`webhooks`], polling every
//!   second). There are no interactive users (`/api/users`, `/auth`), and a kiosk cannot
//!   rotate its key. The feed has no entries for intervals closed or flagged, or for kiosks
//!   falling silent.
//! - After an I/O error (a full disk) the redb store refuses further writes until the
//!   server restarts.

pub mod access;
pub mod api;
pub mod cli;
pub mod metrics;
pub mod model;
pub mod secret;
pub mod state;
pub mod store;
pub mod webhooks;
pub mod workspace;
