//! `mtime-kiosk`: see `mtime-kiosk --help`.

use std::sync::Arc;

fn main() -> std::process::ExitCode {
    mtime_kiosk::cli::init_logging();
    let assume_trusted = std::env::var_os("MTIME_CLOCK_TRUSTED").is_some();
    let clock = Arc::new(mtime_kiosk::clock::HostClock::new(assume_trusted));
    let boot = mtime_kiosk::clock::host_boot_id();
    match mtime_kiosk::cli::run(std::env::args_os().collect(), clock, boot) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mtime-kiosk: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
