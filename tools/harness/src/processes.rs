//! A tool's child processes: the server and the kiosks, each the tool's binary itself
//! re-executed in a role, so they run exactly the code of `mtime-server` and `mtime-kiosk`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::replay_clock;

/// A command running this binary in `role` with the replay clock at `clock`, its log
/// going to `log`.
pub fn role(role: &str, clock: &Path, log: &Path) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut command = Command::new(exe);
    command
        .arg(role)
        .env(replay_clock::ENV, clock)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(log)?))
        .kill_on_drop(true);
    Ok(command)
}

/// Runs a command to completion and returns its standard output.
pub async fn output(mut command: Command, what: &str) -> anyhow::Result<String> {
    let out = command.output().await.with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({}); see its log", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A line a kiosk printed: its kind and its `key=value` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The first word: `recorded`, `synced`, `sync-failed`, …
    pub kind: String,
    /// The fields.
    pub fields: HashMap<String, String>,
}

impl Line {
    /// Parses `kind key=value key="quoted value" …`.
    pub fn parse(text: &str) -> Self {
        let mut words = Vec::new();
        let mut current = String::new();
        let mut quoted = false;
        let mut escaped = false;
        for c in text.chars() {
            match c {
                _ if escaped => {
                    current.push(c);
                    escaped = false;
                }
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if !current.is_empty() {
                        words.push(std::mem::take(&mut current));
                    }
                }
                _ => current.push(c),
            }
        }
        if !current.is_empty() {
            words.push(current);
        }

        let kind = if words.is_empty() { String::new() } else { words.remove(0) };
        let fields = words
            .into_iter()
            .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect();
        Self { kind, fields }
    }

    /// A numeric field.
    pub fn number(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(|v| v.parse().ok())
    }
}

/// Enrolls the kiosk whose data lives in `data` with `server` (its base URL), trusting the
/// certificate `ca` if given.
pub async fn enroll(
    clock: &Path,
    data: &Path,
    server: &str,
    code: &str,
    ca: Option<&Path>,
    log: &Path,
) -> anyhow::Result<()> {
    let mut enroll = role("kiosk", clock, log)?;
    enroll.args(["enroll", "--server", server, "--code", code, "--data-dir"]).arg(data);
    if let Some(ca) = ca {
        enroll.arg("--ca-cert").arg(ca);
    }
    output(enroll, &format!("enrolling the kiosk in {}", data.display())).await.map(drop)
}

/// Forwards a child's stdout lines to a channel.
pub fn lines(stdout: tokio::process::ChildStdout) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// What the tool saw a kiosk say about syncing.
#[derive(Debug, Default, Clone)]
pub struct SyncSeen {
    /// Events waiting, as last reported.
    pub pending: u64,
    /// Batches acknowledged.
    pub batches: u64,
    /// Failed upload attempts.
    pub failed_attempts: u64,
    /// The highest seq acknowledged.
    pub synced_through: u64,
    /// Set if the kiosk stopped uploading.
    pub halted: Option<String>,
    /// Times it replaced its key.
    pub key_rotations: u64,
}

/// A running kiosk node fed through its simulated reader.
pub struct Kiosk {
    /// Its label in the report.
    pub label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// What it said about syncing.
    pub sync: SyncSeen,
}

/// Kinds of line that answer a tap.
const TAP_ANSWERS: [&str; 5] =
    ["recorded", "repeat", "unknown-badge", "suspended", "storage-failed"];

impl Kiosk {
    /// Starts a kiosk node and waits until it is ready.
    pub async fn start(label: &str, mut command: Command) -> anyhow::Result<Self> {
        command.stdin(Stdio::piped());
        let mut child = command.spawn().with_context(|| format!("starting kiosk {label}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("kiosk stdout")?;
        let mut kiosk = Self {
            label: label.to_owned(),
            child,
            stdin,
            lines: lines(stdout),
            sync: SyncSeen::default(),
        };
        kiosk.expect("ready", Duration::from_secs(30)).await?;
        Ok(kiosk)
    }

    fn note(&mut self, line: &Line) {
        match line.kind.as_str() {
            "synced" => {
                self.sync.batches += 1;
                self.sync.synced_through =
                    line.number("through").unwrap_or(self.sync.synced_through);
            }
            "sync-failed" => self.sync.failed_attempts += 1,
            "sync-halted" => self.sync.halted = line.fields.get("reason").cloned(),
            "key-rotated" => self.sync.key_rotations += 1,
            _ => {}
        }
        if let Some(pending) = line.number("pending") {
            self.sync.pending = pending;
        }
    }

    async fn expect(&mut self, kinds: &str, timeout: Duration) -> anyhow::Result<Line> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let text = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .with_context(|| format!("kiosk {} did not answer in time", self.label))?
                .with_context(|| format!("kiosk {} exited; see its log", self.label))?;
            let line = Line::parse(&text);
            self.note(&line);
            if kinds.split('|').any(|k| k == line.kind) {
                return Ok(line);
            }
        }
    }

    /// Taps a badge with a key and returns what the kiosk showed.
    pub async fn tap(&mut self, badge: &str, key: &str) -> anyhow::Result<Line> {
        self.send_tap(badge, key).await?;
        self.answer().await
    }

    /// Hands the reader a tap without waiting for the answer.
    pub async fn send_tap(&mut self, badge: &str, key: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("kiosk input closed")?;
        stdin.write_all(format!("{badge} {key}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Waits for what the kiosk shows for the tap handed to it.
    pub async fn answer(&mut self) -> anyhow::Result<Line> {
        self.expect(&TAP_ANSWERS.join("|"), Duration::from_secs(30)).await
    }

    /// Kills the process with SIGKILL, as a power cut would, and returns every line it
    /// printed that was not read yet: an employee may have seen them.
    pub async fn kill(mut self) -> anyhow::Result<Vec<Line>> {
        self.child.start_kill().with_context(|| format!("killing kiosk {}", self.label))?;
        self.child.wait().await?;
        let mut left = Vec::new();
        // The reader of its stdout ends at end of file, which the kill brings.
        while let Some(text) = self.lines.recv().await {
            let line = Line::parse(&text);
            self.note(&line);
            left.push(line);
        }
        Ok(left)
    }

    /// Takes note of everything the kiosk has said since last asked.
    pub fn drain(&mut self) {
        while let Ok(text) = self.lines.try_recv() {
            let line = Line::parse(&text);
            self.note(&line);
        }
    }

    /// Ends the tap script and waits for the kiosk to stop.
    pub async fn stop(mut self) -> anyhow::Result<SyncSeen> {
        drop(self.stdin.take());
        let stopped = self.expect("stopped", Duration::from_secs(30)).await?;
        self.sync.pending = stopped.number("pending").unwrap_or(self.sync.pending);
        tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await??;
        Ok(self.sync)
    }
}
