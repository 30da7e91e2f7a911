//! The server as a child process: initialised once, then served, killed and served again
//! on the same data.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Child;

use crate::processes;

/// Initialises a server's data directory; returns the admin API key it printed.
pub async fn init(clock: &Path, data: &Path, log: &Path) -> anyhow::Result<String> {
    let mut init = processes::role("server", clock, log)?;
    init.args(["init", "--data-dir"]).arg(data);
    let printed = processes::output(init, "mtime-server init").await?;
    let api_key = printed.lines().last().unwrap_or_default().trim().to_owned();
    if !api_key.starts_with("mtime_ak_") {
        bail!("mtime-server init did not print an API key on its last line");
    }
    Ok(api_key)
}

/// A serving server process.
pub struct Server {
    child: Child,
    /// Its base URL, `http://…` or `https://…`, without `/api`.
    pub base: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Serves `data` on `listen` (port 0 picks one), with TLS from `(cert, key)` if given,
    /// and waits until it listens.
    pub async fn serve(
        clock: &Path,
        data: &Path,
        listen: &str,
        tls: Option<(&PathBuf, &PathBuf)>,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut serve = processes::role("server", clock, log)?;
        serve.args(["serve", "--listen", listen, "--data-dir"]).arg(data);
        if let Some((cert, key)) = tls {
            serve.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        let mut child = serve.spawn().context("starting the server")?;
        let mut lines = processes::lines(child.stdout.take().context("server stdout")?);
        let listening = tokio::time::timeout(Duration::from_secs(30), lines.recv())
            .await
            .context("the server did not start in time")?
            .with_context(|| format!("the server exited; see {}", log.display()))?;
        let base =
            listening.strip_prefix("listening on ").context("unexpected server output")?.to_owned();
        let addr = base.trim_start_matches("https://").trim_start_matches("http://").parse()?;
        Ok(Self { child, base, addr })
    }

    /// Kills the process with SIGKILL, as a power cut would, and reaps it.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill().context("killing the server")?;
        self.child.wait().await.context("reaping the server")?;
        Ok(())
    }
}
