//! `mtime-bench`: mtime's figures beside their baselines, each comparison measured side by
//! side in one run, written as a Markdown table with SVG charts.
//!
//! ```text
//! cargo run --release --bin mtime-bench            # the full run, under 15 minutes
//! cargo run --release --bin mtime-bench -- --quick # a short run that proves it works
//! ```
//!
//! # Limitations
//!
//! - The kiosk's screen is drawn into memory by Slint's software renderer; no figure
//!   includes a real panel's frame buffer or touch input.
//! - Everything runs on one machine: kiosks, server and baselines share its cores, so
//!   throughput figures are those of a server that gives some of its CPU to its clients.
//! - The server is served as plain HTTP on loopback, without TLS.

mod catchup;
mod chart;
mod config;
mod disk;
mod durable;
mod events;
mod fleet;
mod footprint;
mod idle_ui;
mod ingest;
mod nodes;
mod reads;
mod report;
mod server;
mod stats;
mod tap;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use crate::config::Config;
use crate::report::Report;

/// The mtime benchmark suite.
#[derive(Parser, Debug)]
#[command(name = "mtime-bench")]
struct Args {
    /// A short run at small sizes, to check that the suite works; timings mean little.
    #[arg(long)]
    quick: bool,
    /// Where results.md and the charts go.
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// Only these workloads (1 to 7), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
}

fn main() -> anyhow::Result<()> {
    // This binary also runs as the product's own server or kiosk, for workloads 5 and 6.
    if let Some(result) = nodes::dispatch() {
        return result;
    }
    let args = Args::parse();
    // One crypto provider for the process, before any HTTP client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = if args.quick { Config::quick() } else { Config::full() };
    let wanted = |n: u8| args.only.is_empty() || args.only.contains(&n);
    let scratch = tempfile::tempdir()?;
    let started = Instant::now();

    let mut report = Report::default();
    report.preamble.push(format!(
        "Written by `cargo run --release --bin mtime-bench{}` on {} cores; figures are \
         medians with their 10th–90th percentile spread unless named otherwise.",
        if config.quick { " -- --quick" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    if config.quick {
        report.preamble.push(
            "**Quick run**: small sizes, to prove the suite works; the timings mean little.".into(),
        );
    }

    let dir = |name: &str| -> anyhow::Result<PathBuf> {
        let dir = scratch.path().join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    };
    let mut disk = None;
    if wanted(1) {
        let (section, footprint) = durable::run(&config, &dir("durable")?)?;
        report.sections.push(section);
        disk = Some(footprint);
    }
    if wanted(2) {
        report.sections.push(tap::run(&config, &dir("tap")?)?);
    }
    if wanted(3) {
        report.sections.push(ingest::run(&config, &dir("ingest")?)?);
    }
    let mut catchups = Vec::new();
    if wanted(4) {
        let (section, done) = catchup::run(&config, &dir("catchup")?)?;
        report.sections.push(section);
        catchups = done;
    }
    if wanted(5) {
        report.sections.push(fleet::run(&config, &dir("fleet")?)?);
    }
    if wanted(6) {
        report.sections.push(footprint::run(
            &config,
            &dir("footprint")?,
            disk.as_ref(),
            &catchups,
        )?);
    }
    if wanted(7) {
        report.sections.push(reads::run(&config, &dir("reads")?)?);
    }

    report.preamble.push(format!("The run took {:.0} s.", started.elapsed().as_secs_f64()));
    report.write(&args.out)?;
    Ok(())
}
