//! The `mtime-kiosk` command line: `enroll` and `run`.

use std::ffi::OsString;
use std::fs;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use mtime_core::clock::Clock;
use mtime_core::ids::BootId;
use mtime_hardware::BadgeReader;
use mtime_hardware::simulator::ScriptReader;

use crate::paths::DataDir;

/// An mtime kiosk node.
#[derive(Debug, Parser)]
#[command(name = "mtime-kiosk", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pair this kiosk with a server, using the one-time code shown when it was created.
    Enroll {
        /// Where the kiosk keeps its data.
        #[arg(long, default_value = "./mtime-kiosk")]
        data_dir: PathBuf,
        /// The server's base URL, such as https://time.example.com.
        #[arg(long)]
        server: String,
        /// The enrollment code.
        #[arg(long)]
        code: String,
        /// A PEM certificate to trust for the server (a private CA or self-signed).
        #[arg(long)]
        ca_cert: Option<PathBuf>,
    },
    /// Run the kiosk on its touch screen, as configured in its device file.
    Ui {
        /// The device file (TOML; see kiosk/packaging/kiosk.toml).
        #[arg(long, default_value = "/etc/mtime/kiosk.toml")]
        config: PathBuf,
    },
    /// Take taps and sync them, headless: feedback is one line per tap on standard output.
    Run {
        /// Where the kiosk keeps its data.
        #[arg(long, default_value = "./mtime-kiosk")]
        data_dir: PathBuf,
        /// A tap script for the simulated reader; `-` (the default) reads standard input.
        #[arg(long, default_value = "-")]
        script: String,
        /// After the script ends, how long to wait for unsynced events to upload.
        #[arg(long, default_value_t = 10)]
        linger_secs: u64,
    },
}

/// Runs the command line `args` (program name first) with this clock and boot.
pub fn run(args: Vec<OsString>, clock: Arc<dyn Clock>, boot: BootId) -> anyhow::Result<()> {
    match Cli::parse_from(args).command {
        Command::Enroll { data_dir, server, code, ca_cert } => {
            enroll(&DataDir::new(data_dir), &server, &code, ca_cert, clock, boot)
        }
        Command::Ui { config } => {
            let config = mtime_hardware::device_file::DeviceConfig::load(&config)?;
            crate::ui::device::run(config, clock, boot)
        }
        Command::Run { data_dir, script, linger_secs } => {
            let reader: Box<dyn BadgeReader> = if script == "-" {
                Box::new(ScriptReader::new(BufReader::new(std::io::stdin())))
            } else {
                let file = fs::File::open(&script)
                    .with_context(|| format!("opening tap script {script}"))?;
                Box::new(ScriptReader::new(BufReader::new(file)))
            };
            crate::node::run(
                &DataDir::new(data_dir),
                reader,
                clock,
                boot,
                Duration::from_secs(linger_secs),
            )
        }
    }
}

fn enroll(
    data: &DataDir,
    server: &str,
    code: &str,
    ca_cert: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    boot: BootId,
) -> anyhow::Result<()> {
    let ca_pem = match &ca_cert {
        Some(path) => {
            Some(fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let paired = crate::pairing::pair(data, server, code, ca_pem, clock.as_ref(), boot)?;
    println!(
        "enrolled kiosk={} name={:?} site={:?} zone={} roster={} employees={}",
        paired.identity.kiosk,
        paired.identity.name,
        paired.identity.site.name,
        paired.identity.site.time_zone,
        paired.roster_version,
        paired.employees
    );
    Ok(())
}

/// Sets up logging to stderr: `RUST_LOG` if set, else info.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
