//! `mtime-server`: see `mtime-server --help`.

use std::sync::Arc;

fn main() -> std::process::ExitCode {
    mtime_server::cli::init_logging();
    let clock = Arc::new(mtime_core::clock::SystemClock::new());
    match mtime_server::cli::run(std::env::args_os().collect(), clock) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mtime-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
