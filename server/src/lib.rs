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
//! - Interval reads pair all of an employee's punches: compact rows filed by employee and
//!   instant (`store::redb_store::punches`), one range read per employee. Presence reads
//!   them backwards from the newest and stops at the first punch at or before the instant
//!   asked, so presence now costs a few rows per employee (kept in memory between reports
//!   until the employee punches again, at most 100,000 rows), while presence at a past
//!   instant reads every punch after it. The interval watcher pairs an employee's new punches
//!   from the last punch it kept of them (`watch::intervals::LastPunches`) when they all come
//!   after it; any other change (an amendment, a correction, a tap dated before the last, the
//!   first change after a restart) re-pairs from the last punch before the earliest change,
//!   read back. What would close the read back: the intervals themselves kept per employee.
//! - Batches that arrive together share one commit, but one kiosk's catch-up is a batch at a
//!   time, each paying its fsync: a kiosk that buffered a million events syncs them in
//!   19 s in batches of 500 (the default; an earlier build on a slow day took 39 s), its
//!   cost per event 1.06 to 1.24 times that of 10,000, and 13 s in batches of 5,000
//!   (`max_batch_events`; bench/results.md §4, bench/profiles.md). Ingest from 100 kiosks
//!   in batches of 500 measured 114,000 to 171,000 events/s on two cores.
//!   Each event is still two B-tree inserts of some thousands of instructions (its row, and
//!   its punch's row in the employee index when the log is merged) beside its share of its
//!   batch's one feed row and one log row. What would take the next step: the punch index
//!   held as rows of several punches per employee. New plain punches are
//!   logged in arrival order and merged into the employee index 10,000 at a time, so every
//!   read of punches scans the log once (up to 10,000 small rows, about a millisecond) until
//!   the interval watcher merges it when the feed is quiet. What would close the scan: the
//!   log's rows kept in memory by employee beside the table.
//! - A service user may be limited to org units (and every unit below them); the
//!   [`api::scope::Scope`] of each request decides what it sees and changes. An employee
//!   belongs to the unit of the version in force on the date read (today for writes and
//!   timesheets), so after a transfer their past lies with the new unit's admins. The
//!   event feed and the metrics cover the whole workspace and refuse a scoped caller;
//!   settings (reasons, dimensions, activities) are workspace-wide and not scoped; giving
//!   an unknown badge's taps to an employee within scope moves that badge's taps from
//!   every kiosk.
//! - Interactive users (`/api/users`) are records only: interactive sign-in (`/auth`) is a
//!   later issue, so no request is made as one yet and `/api/me` answers every key with
//!   403. A deactivated user keeps its email address; there is no reactivation.
//! - The event feed is read from `/api/events` or `/api/sse` (which polls the store every
//!   quarter second) or delivered by outbound webhooks ([`webhooks`], polling every
//!   second).
//! - Closed intervals, silent kiosks and closed weeks reach the feed from watchers that
//!   look every second, 15 seconds and minute, so those entries trail the change that
//!   caused them; the week watcher pairs every employee's events again on each look.
//! - A time anchor releases the held taps of its boot by scanning the whole quarantine,
//!   which is meant to stay small; the anchors of old boots are kept forever.
//! - After an I/O error (a full disk) the redb store refuses further writes until the
//!   server restarts.
//! - A store goes forward only: this server reads the event rows and feed of an older one
//!   (moving the feed when it opens it) and refuses one of a newer format, but servers
//!   before the format number was kept (`store_format` in the meta table) do not check it
//!   and cannot read what this one wrote.
//! - Amendments (a tap changed or undone on the kiosk's screen) are applied when presence is
//!   read, by [`mtime_core::pairing::effective`]; both events stay in the audit trail. One
//!   that names an unknown event, another kiosk's or employee's, or a later one applies
//!   nothing, counts for nothing, and is logged once at ingest as a warning; one whose
//!   target is held in quarantine applies once the target is released. Accepting a held
//!   amending tap through the quarantine API enters a plain punch, not an amendment. The
//!   interval watcher announces what it sees: an amendment arriving after an interval was
//!   announced makes a new `interval.closed` for the interval it changes (the old one stays
//!   as history, as after a correction), and one that reopens an interval announces
//!   nothing beyond its `presence.amended`. Closing this needs an `interval.withdrawn` kind,
//!   or holding announcements for the kiosk's amendment window.
//! - A PIN is kept as a salted hash only, in its own table beside the employee records; it
//!   is not effective-dated and its changes are not in the feed.

#![forbid(unsafe_code)]

pub mod access;
pub mod api;
pub mod cli;
pub mod metrics;
pub mod model;
pub mod secret;
pub mod state;
pub mod store;
pub mod watch;
pub mod webhooks;
pub mod workspace;
