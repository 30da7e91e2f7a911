//! What the end-to-end tools (`mtime-demo`, `mtime-chaos`) share to run mtime's real
//! server and kiosk processes on loopback: one replay clock for every process, the tool's
//! own binary re-executed in the role of `mtime-server` or `mtime-kiosk`, the kiosk's
//! feedback lines, and a client of the public API.
//!
//! ```no_run
//! # async fn f(clock: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<()> {
//! let key = mtime_harness::server::init(clock, &dir.join("server"), &dir.join("init.log")).await?;
//! let server =
//!     mtime_harness::server::Server::serve(clock, &dir.join("server"), "127.0.0.1:0", None,
//!         &dir.join("server.log")).await?;
//! let api = mtime_harness::api::Api::new(&server.base, None, &key)?;
//! # Ok(()) }
//! ```
//!
//! # Limitations
//!
//! - The processes are this binary in a role, not the `mtime-server` and `mtime-kiosk`
//!   executables: the same code behind the same command line, but on the replay clock,
//!   which the executables do not read.
//! - Unix only: processes are stopped with signals.

pub mod api;
pub mod processes;
pub mod replay_clock;
pub mod role;
pub mod server;
