//! The `mtime-kiosk` command line: `enroll` and `run`.

use std::ffi::OsString;
use std::fs;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use mtime_core::clock::Clock;
use mtime_core::event::TimeReading;
use mtime_core::ids::BootId;
use mtime_core::protocol::EnrollRequest;
use mtime_hardware::BadgeReader;
use mtime_hardware::simulator::ScriptReader;
use mtime_sync::client::Client;
use mtime_sync::engine;
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::{Identity, Outbox};

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
    /// Take taps and sync them.
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
    fs::create_dir_all(data.root())
        .with_context(|| format!("creating {}", data.root().display()))?;
    let outbox = Outbox::open(&data.store())?;
    if let Some(identity) = outbox.identity()? {
        bail!("this kiosk is already enrolled as {} with {}", identity.kiosk, identity.server_url);
    }
    let ca_pem = match &ca_cert {
        Some(path) => {
            Some(fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let client = Client::new(server, ca_pem.as_deref())?;

    // A key left by an enrollment that failed half-way is reused, never overwritten.
    let key_file = KeyFile::new(data.key());
    let key = if key_file.exists() { key_file.load()? } else { key_file.create()? };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answer = runtime
        .block_on(
            client
                .enroll(&EnrollRequest { code: code.trim().to_owned(), public_key: key.public() }),
        )
        .context("enrollment failed")?;

    let identity = Identity {
        kiosk: answer.kiosk_id,
        name: answer.kiosk_name,
        server_url: server.to_owned(),
        server_ca_pem: ca_pem,
        server_key: answer.server_public_key,
        site: answer.site,
        config: answer.config,
    };
    outbox.save_identity(&identity)?;
    let now = clock.now();
    let reading = TimeReading {
        wall: now.wall,
        boot,
        monotonic: now.monotonic,
        wall_trusted: now.wall_trusted,
    };
    let roster =
        runtime.block_on(engine::fetch_roster(&client, &identity, &key, reading, &outbox))?;
    println!(
        "enrolled kiosk={} name={:?} site={:?} zone={} roster={} employees={}",
        identity.kiosk,
        identity.name,
        identity.site.name,
        identity.site.time_zone,
        roster.version,
        roster.employees.len()
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
