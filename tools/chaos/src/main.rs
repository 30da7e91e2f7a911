//! `mtime-chaos`: the fault-injection harness. It runs a real server and a real kiosk as
//! processes on loopback, with a relay between them, and injects a plan of faults made
//! from a seed: the kiosk and the server killed with SIGKILL (inside a tap, inside an
//! upload, in the middle of storing a batch, or idle) and started again on their data;
//! uploads dropped, answers dropped after the server processed them, delays, duplicates,
//! reordering, the network cut for hours and the server gone for a day while taps go on.
//! A fault-free twin pair takes the same taps on the same replay clock. Afterwards every
//! tap the kiosk confirmed must be on the server exactly once, nothing else may be there
//! but taps whose kiosk was killed before it answered, and the intervals must equal the
//! twin's.
//!
//! ```sh
//! cargo run --release --bin mtime-chaos -- --faults 200 --seed 7
//! ```
//!
//! Every fault is printed with its index, its details and the replay instant; the same
//! command replays the same plan.
//!
//! # Limitations
//!
//! - The plan is reproducible, the interleaving is not: when exactly a SIGKILL lands
//!   inside a tap or a batch depends on the machine, so a failure may need a few runs of
//!   the same seed to show again.
//! - The kiosk talks plain HTTP to the relay (see [`relay`] for why); TLS is the demo's.
//! - One kiosk per server: faults that only two kiosks racing each other could show are
//!   not tried.
//! - Kills are SIGKILL of a process, not a power cut: what the operating system has not
//!   yet written to disk survives them. Losing unsynced writes is redb's to test.

mod compare;
mod http;
mod pair;
mod plan;
mod relay;
mod rng;
mod run;
mod schedule;

use std::process::ExitCode;

use clap::Parser;

/// Injects faults into a real server and kiosk and checks that no punch was lost or
/// duplicated.
#[derive(Debug, Parser)]
#[command(name = "mtime-chaos", version)]
struct Args {
    /// How many faults to inject (at least a tenth of each kind).
    #[arg(long, default_value_t = 200)]
    faults: usize,
    /// The seed of the plan of faults, the roster and the taps.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep the run's directory (data, every process's log) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

async fn chaos(args: Args) -> anyhow::Result<()> {
    let plan = plan::plan(args.seed, args.faults);
    println!("mtime-chaos: seed {}, {} faults", args.seed, args.faults);
    let dir = tempfile::Builder::new().prefix("mtime-chaos-").tempdir()?;
    let result = run::run(&plan, dir.path()).await;
    if args.keep || result.is_err() {
        // A failed run's logs are what a replay starts from.
        println!("run directory kept: {}", dir.keep().display());
    }
    result
}

fn main() -> ExitCode {
    mtime_harness::role::main("mtime-chaos", |args| {
        mtime_harness::role::block_on(chaos(Args::parse_from(args)))
    })
}
