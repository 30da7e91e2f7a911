//! The `mtime-server` command line: `init` and `serve`.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use mtime_core::clock::Clock;

use crate::api;
use crate::state::AppState;
use crate::webhooks::{self, target::HostAllowlist};
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
        #[arg(long, env = "MTIME_DATA_DIR", default_value = "./mtime-data")]
        data_dir: PathBuf,
    },
    /// Issue a new API key for the admin service user (when every admin key is lost or
    /// revoked). Run it with the server stopped; the key is printed once, on the last line.
    IssueAdminKey {
        /// Where the workspace lives.
        #[arg(long, env = "MTIME_DATA_DIR", default_value = "./mtime-data")]
        data_dir: PathBuf,
    },
    /// Serve the API. Each setting comes from its flag, else its environment variable,
    /// else the configuration file, else its default.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// A TOML file with any of: data_dir, listen, tls_cert, tls_key, shutdown_grace_secs,
    /// webhook_hosts.
    #[arg(long, env = "MTIME_CONFIG")]
    config: Option<PathBuf>,
    /// Where the workspace lives [default: ./mtime-data].
    #[arg(long, env = "MTIME_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port and prints it [default: 127.0.0.1:8080].
    #[arg(long, env = "MTIME_LISTEN")]
    listen: Option<SocketAddr>,
    /// PEM certificate chain; with --tls-key, serves HTTPS.
    #[arg(long, env = "MTIME_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "MTIME_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish [default: 30].
    #[arg(long, env = "MTIME_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// The hosts webhooks may point at, comma-separated names or IP addresses (no port);
    /// webhooks to any other host are refused [default: none given, so any host].
    #[arg(long, env = "MTIME_WEBHOOK_HOSTS", value_delimiter = ',')]
    webhook_hosts: Option<Vec<String>>,
}

/// The configuration file's settings; all optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    shutdown_grace_secs: Option<u64>,
    webhook_hosts: Option<Vec<String>>,
}

/// The settings `serve` runs with.
#[derive(Debug)]
struct ServeConfig {
    data_dir: PathBuf,
    listen: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    shutdown_grace: Duration,
    webhook_hosts: HostAllowlist,
}

/// Reads a configuration file's text and resolves it as `serve --config` would with no flag
/// and no environment variable set: the checks a file passes before the server starts.
/// Serving needs nothing more from the file; the fuzz target `server_config` drives this.
pub fn check_config(text: &str) -> anyhow::Result<()> {
    let file = toml::from_str::<FileConfig>(text)?;
    let args = ServeArgs {
        config: None,
        data_dir: None,
        listen: None,
        tls_cert: None,
        tls_key: None,
        shutdown_grace_secs: None,
        webhook_hosts: None,
    };
    args.resolve_with(file).map(drop)
}

impl ServeArgs {
    fn resolve(self) -> anyhow::Result<ServeConfig> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading configuration {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("configuration {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        self.resolve_with(file)
    }

    /// Settles each setting from its flag or environment variable, else `file`.
    fn resolve_with(self, file: FileConfig) -> anyhow::Result<ServeConfig> {
        let cert = self.tls_cert.or(file.tls_cert);
        let key = self.tls_key.or(file.tls_key);
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => bail!("give both a TLS certificate and its key, or neither"),
        };
        let hosts = self.webhook_hosts.or(file.webhook_hosts).unwrap_or_default();
        // An empty environment variable gives one empty entry: it means no list.
        let hosts: Vec<String> = hosts.into_iter().filter(|h| !h.trim().is_empty()).collect();
        let webhook_hosts = HostAllowlist::new(&hosts).map_err(|e| anyhow::anyhow!(e))?;
        Ok(ServeConfig {
            data_dir: self.data_dir.or(file.data_dir).unwrap_or_else(|| "./mtime-data".into()),
            listen: self.listen.or(file.listen).unwrap_or(([127, 0, 0, 1], 8080).into()),
            tls,
            shutdown_grace: Duration::from_secs(
                self.shutdown_grace_secs.or(file.shutdown_grace_secs).unwrap_or(30),
            ),
            webhook_hosts,
        })
    }
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
        Command::IssueAdminKey { data_dir } => {
            let key = workspace::issue_admin_key(&data_dir, clock)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "A new API key for the admin service user; it is shown only this once:")?;
            writeln!(out, "{key}")?;
            Ok(())
        }
        Command::Serve(args) => {
            let config = args.resolve()?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(config, clock))
        }
    }
}

/// Waits for SIGTERM or Ctrl-C.
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

async fn serve(config: ServeConfig, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let (store, key) = workspace::open(&config.data_dir)?;
    let state = AppState::new(Arc::new(store), clock, key).with_webhook_hosts(config.webhook_hosts);
    crate::watch::spawn(state.clone(), crate::watch::Cadence::default());
    if state.webhook_hosts.allows_any() {
        tracing::info!("webhooks may point at any host; set webhook_hosts to limit them");
    } else {
        tracing::info!(hosts = %state.webhook_hosts.hosts().join(","), "webhook hosts allowed");
    }
    // Runs until serve returns; dropping it stops deliveries.
    let _webhooks =
        webhooks::worker::spawn(state.clone(), webhooks::worker::WorkerConfig::default())?;
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();

    let listen = config.listen;
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, data_dir = %config.data_dir.display(), "serving");
    // The line a supervisor or script reads to learn the address when port 0 was asked.
    println!("listening on {scheme}://{addr}");
    std::io::stdout().flush()?;

    // Requests in flight finish on SIGTERM or Ctrl-C; new connections are refused.
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    let grace = config.shutdown_grace;
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!(grace_secs = grace.as_secs(), "stopping: finishing requests in flight");
        stopping.graceful_shutdown(Some(grace));
    });

    match config.tls {
        Some((cert, key)) => {
            // One crypto provider for the process; a second install is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| format!("loading TLS certificate {} and key", cert.display()))?;
            axum_server::from_tcp_rustls(listener, tls)?.handle(handle).serve(app).await?;
        }
        None => {
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    %addr,
                    "serving plain HTTP beyond loopback; pass --tls-cert and --tls-key",
                );
            }
            axum_server::from_tcp(listener)?.handle(handle).serve(app).await?;
        }
    }
    tracing::info!("stopped");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut full = vec!["mtime-server", "serve"];
        full.extend_from_slice(args);
        match Cli::parse_from(full).command {
            Command::Serve(args) => args,
            _ => unreachable!("parsed serve"),
        }
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mtime.toml");
        std::fs::write(&file, "data_dir = \"/srv/mtime\"\nlisten = \"0.0.0.0:9000\"\n").unwrap();
        let file = file.to_str().unwrap();

        let from_file = serve_args(&["--config", file]).resolve().unwrap();
        assert_eq!(from_file.data_dir, PathBuf::from("/srv/mtime"));
        assert_eq!(from_file.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(from_file.shutdown_grace, Duration::from_secs(30));

        let flagged = serve_args(&["--config", file, "--listen", "127.0.0.1:0"]).resolve().unwrap();
        assert_eq!(flagged.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(flagged.data_dir, PathBuf::from("/srv/mtime"));

        let defaults = serve_args(&[]).resolve().unwrap();
        assert_eq!(defaults.listen, "127.0.0.1:8080".parse().unwrap());
        assert!(defaults.webhook_hosts.allows_any());
        assert!(serve_args(&["--tls-cert", "c.pem"]).resolve().is_err(), "a cert needs its key");
    }

    #[test]
    fn webhook_hosts_come_from_the_flag_or_the_file_and_must_be_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mtime.toml");
        std::fs::write(&file, "webhook_hosts = [\"hooks.example\", \"[::1]\"]\n").unwrap();
        let file = file.to_str().unwrap();

        let from_file = serve_args(&["--config", file]).resolve().unwrap();
        assert_eq!(from_file.webhook_hosts.hosts(), ["hooks.example", "::1"]);
        let flagged =
            serve_args(&["--config", file, "--webhook-hosts", "127.0.0.1,::1"]).resolve().unwrap();
        assert_eq!(flagged.webhook_hosts.hosts(), ["127.0.0.1", "::1"]);
        let err = serve_args(&["--webhook-hosts", "127.0.0.1:9000"]).resolve().unwrap_err();
        assert!(format!("{err:#}").contains("127.0.0.1:9000"), "{err:#}");
    }

    #[test]
    fn check_config_resolves_a_file_as_serve_would() {
        assert!(
            check_config("listen = \"[::1]:8080\"\nwebhook_hosts = [\"hooks.internal\"]\n").is_ok()
        );
        assert!(check_config("").is_ok());
        assert!(check_config("tls_cert = \"c.pem\"\n").is_err(), "a cert needs its key");
        assert!(check_config("webhook_hosts = [\"127.0.0.1:9000\"]\n").is_err());
        assert!(check_config("listne = 1\n").is_err());
    }

    #[test]
    fn an_unknown_setting_in_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mtime.toml");
        std::fs::write(&file, "listne = \"0.0.0.0:9000\"\n").unwrap();
        let err = serve_args(&["--config", file.to_str().unwrap()]).resolve().unwrap_err();
        assert!(format!("{err:#}").contains("listne"), "{err:#}");
    }
}
