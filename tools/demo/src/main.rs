//! `mtime-demo`: the whole system on a real punch log.
//!
//! One server and two kiosk nodes run as separate processes on loopback, talking HTTPS
//! with a certificate made for the run. The kiosks replay the log's taps in accelerated
//! time on one shared replay clock; one kiosk loses its network for a whole weekday and
//! catches up; admin edits go through the API as corrections. Then every interval is read
//! back through the public API and matched one to one with what the commercial clock made
//! of the same punches.
//!
//! The same binary, run as `mtime-demo server …` or `mtime-demo kiosk …`, is the server or
//! a kiosk (the exact code of `mtime-server` and `mtime-kiosk`) on the replay clock.

mod export;
mod matching;
mod plan;
mod relay;
mod run;
mod secrets;
mod tls;
mod weeks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Runs mtime end to end on a time-clock export and checks the result.
#[derive(Debug, Parser)]
#[command(name = "mtime-demo", version)]
pub struct Args {
    /// A directory holding employees.csv, taps.csv and expected_pairs.csv; the export in
    /// the repository by default.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The site's IANA time zone, in which the export's local times are read.
    #[arg(long, default_value = "America/Chicago")]
    zone: String,
    /// Keep the run's directory (data, logs) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    mtime_harness::role::main("mtime-demo", |args| {
        mtime_harness::role::block_on(run::run(Args::parse_from(args)))
    })
}
