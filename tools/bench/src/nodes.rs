//! The product's own server and kiosk as separate processes, so that their resident
//! memory can be read from /proc: this binary runs again as `mtime-bench node-server …`
//! or `node-kiosk …`, which hand the rest of the command line to the CLIs of
//! `mtime-server` and `mtime-kiosk`, as their own binaries do, or `node-kiosk-ui …`, the
//! kiosk with its UI ([`crate::idle_ui`]).

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;

use anyhow::Context;

/// The first argument that makes this binary a server.
pub const SERVER: &str = "node-server";
/// The first argument that makes this binary a kiosk.
pub const KIOSK: &str = "node-kiosk";

/// Runs as a product node when the command line asks for one; `None` otherwise.
pub fn dispatch() -> Option<anyhow::Result<()>> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let kind = args.get(1)?.to_str()?.to_owned();
    match kind.as_str() {
        SERVER => {
            args.splice(0..2, [OsString::from("mtime-server")]);
            mtime_server::cli::init_logging();
            let clock = Arc::new(mtime_core::clock::SystemClock::new());
            Some(mtime_server::cli::run(args, clock))
        }
        KIOSK => {
            args.splice(0..2, [OsString::from("mtime-kiosk")]);
            mtime_kiosk::cli::init_logging();
            let clock = Arc::new(mtime_kiosk::clock::HostClock::new(true));
            let boot = mtime_kiosk::clock::host_boot_id();
            Some(mtime_kiosk::cli::run(args, clock, boot))
        }
        crate::idle_ui::NODE => {
            mtime_kiosk::cli::init_logging();
            let rest: Vec<String> =
                args.iter().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
            Some(crate::idle_ui::run(&rest))
        }
        _ => None,
    }
}

/// A node this run started; stopped when dropped.
pub struct Node {
    child: Child,
    /// Its standard input, kept open (a kiosk reads taps from it).
    pub stdin: Option<ChildStdin>,
}

/// Resident memory of a process, from /proc: (now, peak) in bytes.
pub fn resident(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Ok((field("VmRSS:").unwrap_or(0), field("VmHWM:").unwrap_or(0)))
}

impl Node {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory: (now, peak) in bytes.
    pub fn resident(&self) -> anyhow::Result<(u64, u64)> {
        resident(self.pid())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(kind: &str, args: &[&str]) -> anyhow::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg(kind).args(args);
    Ok(command)
}

/// Reads the child's standard output until a line starts with `prefix`; returns it.
fn wait_for_line(child: &mut Child, prefix: &str) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if line.starts_with(prefix) {
            // Keep draining so the node never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Ok(line);
        }
    }
    anyhow::bail!("the node ended before printing {prefix:?}")
}

/// Initialises a workspace in `dir` and serves it on a free loopback port; returns the
/// node, its base URL and the admin key. Its log goes to `dir/server.log`.
pub fn server(dir: &Path) -> anyhow::Result<(Node, String, String)> {
    let data = dir.to_str().context("a UTF-8 path")?;
    let init = node(SERVER, &["init", "--data-dir", data])?.stderr(Stdio::null()).output()?;
    anyhow::ensure!(init.status.success(), "server init failed");
    let text = String::from_utf8(init.stdout)?;
    let key = text.lines().last().context("no admin key printed")?.trim().to_owned();
    let log = std::fs::File::create(dir.join("server.log"))?;
    let mut child = node(SERVER, &["serve", "--data-dir", data, "--listen", "127.0.0.1:0"])?
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()?;
    let line = wait_for_line(&mut child, "listening on ");
    let node = Node { child, stdin: None };
    let base = line?.trim_start_matches("listening on ").to_owned();
    Ok((node, base, key))
}

/// Enrolls a kiosk in `dir` with `code` and runs it idle, reading taps from a pipe that
/// stays open; returns once it is ready.
pub fn kiosk(dir: &Path, server: &str, code: &str) -> anyhow::Result<Node> {
    let data = dir.to_str().context("a UTF-8 path")?;
    let enroll = node(KIOSK, &["enroll", "--data-dir", data, "--server", server, "--code", code])?
        .stderr(Stdio::null())
        .output()?;
    anyhow::ensure!(enroll.status.success(), "kiosk enrollment failed");
    let log = std::fs::File::create(dir.join("kiosk.log"))?;
    let mut child = node(KIOSK, &["run", "--data-dir", data])?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()?;
    let stdin = child.stdin.take();
    let ready = wait_for_line(&mut child, "ready ");
    let node = Node { child, stdin };
    ready?;
    Ok(node)
}

/// Runs the kiosk enrolled in `dir` with its touch UI on a software-rendered panel
/// ([`crate::idle_ui`]); returns once its idle screen is drawn.
pub fn kiosk_ui(dir: &Path) -> anyhow::Result<Node> {
    let data = dir.to_str().context("a UTF-8 path")?;
    let log = std::fs::File::create(dir.join("kiosk-ui.log"))?;
    let mut child =
        node(crate::idle_ui::NODE, &[data])?.stdout(Stdio::piped()).stderr(log).spawn()?;
    let idle = wait_for_line(&mut child, "idle");
    let node = Node { child, stdin: None };
    idle?;
    Ok(node)
}
