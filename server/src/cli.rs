//! The `mtime-server` command line: `init` and `serve`.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use mtime_core::clock::Clock;

use crate::api;
use crate::state::AppState;
use crate::workspace;

/// The mtime central server.
#[derive(Debug, Parser)]
#[command(name = "mtime-server", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a workspace and print its admin API key (shown this once).
    Init {
        /// Where the workspace lives.
        #[arg(long, default_value = "./mtime-data")]
        data_dir: PathBuf,
    },
    /// Serve the API.
    Serve {
        /// Where the workspace lives.
        #[arg(long, default_value = "./mtime-data")]
        data_dir: PathBuf,
        /// Address to listen on; port 0 picks a free port and prints it.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// PEM certificate chain; with --tls-key, serves HTTPS.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of the certificate.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
}

/// Runs the command line `args` (program name first) on `clock`.
pub fn run(args: Vec<OsString>, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Init { data_dir } => {
            let key = workspace::init(&data_dir, clock)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "Workspace created in {}.", data_dir.display())?;
            writeln!(out, "The admin service user's API key follows. It is shown only this once:")?;
            writeln!(out, "{key}")?;
            Ok(())
        }
        Command::Serve { data_dir, listen, tls_cert, tls_key } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(data_dir, listen, tls_cert.zip(tls_key), clock))
        }
    }
}

async fn serve(
    data_dir: PathBuf,
    listen: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    let (store, key) = workspace::open(&data_dir)?;
    let state = AppState { store: Arc::new(store), clock, key: Arc::new(key) };
    let app = api::router(state).into_make_service();

    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, data_dir = %data_dir.display(), "serving");
    // The line a supervisor or script reads to learn the address when port 0 was asked.
    println!("listening on {scheme}://{addr}");
    std::io::stdout().flush()?;

    match tls {
        Some((cert, key)) => {
            // One crypto provider for the process; a second install is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| format!("loading TLS certificate {} and key", cert.display()))?;
            axum_server::from_tcp_rustls(listener, config)?.serve(app).await?;
        }
        None => {
            if !addr.ip().is_loopback() {
                tracing::warn!(%addr, "serving plain HTTP beyond loopback; pass --tls-cert and --tls-key");
            }
            axum_server::from_tcp(listener)?.serve(app).await?;
        }
    }
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
