//! A tool's binary run as `<tool> server …` or `<tool> kiosk …` is the server or a kiosk:
//! the exact command line of `mtime-server` or `mtime-kiosk`, on the replay clock.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::replay_clock;

/// The role asked for by the command line `args` (program name first), if any.
pub fn requested(args: &[OsString]) -> Option<&'static str> {
    match args.get(1).and_then(|a| a.to_str()) {
        Some("server") => Some("server"),
        Some("kiosk") => Some("kiosk"),
        _ => None,
    }
}

fn replay_clock() -> anyhow::Result<Arc<replay_clock::FileClock>> {
    let path = std::env::var_os(replay_clock::ENV)
        .context("role processes run on the tool's replay clock")?;
    let unset_until = match std::env::var(replay_clock::UNSET_UNTIL_ENV) {
        Ok(micros) => Some(
            chrono::DateTime::from_timestamp_micros(micros.parse()?)
                .context("replay instant out of range")?,
        ),
        Err(_) => None,
    };
    Ok(Arc::new(replay_clock::FileClock::open(std::path::Path::new(&path), unset_until)?))
}

/// Runs `role` with the arguments after it.
pub fn run(role: &str, rest: Vec<OsString>) -> anyhow::Result<()> {
    let clock = replay_clock()?;
    let mut args = vec![OsString::from(format!("mtime-{role}"))];
    args.extend(rest);
    match role {
        "server" => {
            mtime_server::cli::init_logging();
            mtime_server::cli::run(args, clock)
        }
        _ => {
            mtime_kiosk::cli::init_logging();
            // Each start of a kiosk process is a new boot of the simulated device.
            mtime_kiosk::cli::run(args, clock, mtime_core::ids::BootId::random())
        }
    }
}

/// The `main` of a tool: the role its command line asks for, else `tool` with the command
/// line; an error is printed as `<name>: …` and makes the exit code 1.
pub fn main(name: &str, tool: impl FnOnce(Vec<OsString>) -> anyhow::Result<()>) -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let result = match requested(&args) {
        Some(role) => run(role, args.split_off(2)),
        None => tool(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a tool's work on a multi-threaded runtime.
pub fn block_on(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(work)
}
