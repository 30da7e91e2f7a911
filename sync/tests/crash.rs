//! A kiosk killed while it stores taps: power cut or a crash mid-append. A child process
//! appends in a loop and is killed (SIGKILL) at a random moment, several times over; each
//! reopen must be quick, say that it repaired, and find only whole events with gapless
//! seqs, every tap the child confirmed among them.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;

use mtime_core::event::{Direction, DirectionSource, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_sync::outbox::{EventDraft, Outbox};

/// Where the child stores, and as which kiosk; set for the child alone.
const STORE_ENV: &str = "MTIME_CRASH_TEST_STORE";
const KIOSK_ENV: &str = "MTIME_CRASH_TEST_KIOSK";
const ROUNDS: usize = 6;

/// The tap with seq `seq`: in on odd seqs, out on even ones, so a read-back event can be
/// checked against its seq.
fn tap(seq: u64) -> EventDraft {
    EventDraft {
        subject: Subject::Employee { id: EmployeeId::random(), badge: None },
        direction: if seq % 2 == 1 { Direction::In } else { Direction::Out },
        direction_source: DirectionSource::Explicit,
        reason: "WORK".parse().unwrap(),
        time: TimeReading {
            wall: Utc::now(),
            boot: BootId::random(),
            monotonic: Duration::from_secs(seq),
            wall_trusted: true,
        },
        amends: None,
    }
}

/// The child's side: appends until killed, printing each seq once `append` returned, that
/// is, once the tap would have been confirmed to the employee. Without the variables set
/// (a plain `cargo test -- --ignored`) it has nothing to do.
#[test]
#[ignore = "the child process of a_kill_mid_append_never_leaves_half_an_event"]
fn child_appends_until_killed() {
    let (Ok(path), Ok(kiosk)) = (std::env::var(STORE_ENV), std::env::var(KIOSK_ENV)) else {
        return;
    };
    let kiosk: KioskId = kiosk.parse().unwrap();
    let outbox = Outbox::open(Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let next = outbox.pending().unwrap() + 1;
        let stored = outbox.append(kiosk, tap(next)).unwrap();
        writeln!(out, "stored {}", stored.seq).unwrap();
        out.flush().unwrap();
    }
}

/// Log lines written while a closure runs, for a test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn logged<T>(run: impl FnOnce() -> T) -> (T, String) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let value = tracing::subscriber::with_default(subscriber, run);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (value, text)
}

/// Runs the child until it has confirmed a few more taps, kills it at a random moment
/// after that, and returns the last seq it confirmed.
fn append_and_kill(path: &Path, kiosk: KioskId) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_appends_until_killed", "--nocapture"])
        .env(STORE_ENV, path)
        .env(KIOSK_ENV, kiosk.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut last = 0;
        for line in BufReader::new(stdout).lines() {
            if let Some(seq) = line.unwrap().strip_prefix("stored ") {
                last = seq.parse().unwrap();
                let _ = seen_tx.send(last);
            }
        }
        last
    });

    // Past the open, into the loop: then a kill at any moment of an append.
    for _ in 0..10 {
        seen.recv_timeout(Duration::from_secs(30)).expect("the child stores taps");
    }
    let pause = EventId::random().0.as_u128() % 40;
    std::thread::sleep(Duration::from_millis(u64::try_from(pause).unwrap()));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap()
}

#[test]
fn a_kill_mid_append_never_leaves_half_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.redb");
    let kiosk = KioskId::random();
    let mut stored = 0;

    for round in 1..=ROUNDS {
        let confirmed = append_and_kill(&path, kiosk);
        assert!(confirmed > stored, "round {round}: the child stored nothing new");

        let started = Instant::now();
        let (outbox, log) = logged(|| Outbox::open(&path).unwrap());
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "round {round}: reopening took {took:?}");
        assert!(log.contains("kiosk store was not closed cleanly; repairing"), "{log}");
        assert!(log.contains("kiosk store repaired"), "{log}");

        let events = outbox.events().unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "round {round}: seqs are gapless from 1");
        // Every confirmed tap survived; at most the one whose confirmation the kill cut
        // short is there beyond them.
        let kept = seqs.len() as u64;
        assert!((confirmed..=confirmed + 1).contains(&kept), "{kept} kept, {confirmed} confirmed");
        for event in &events {
            assert_eq!(event.kiosk, kiosk);
            let expected = if event.seq % 2 == 1 { Direction::In } else { Direction::Out };
            assert_eq!(event.direction, expected, "event {} is whole", event.seq);
            assert_eq!(event.time.monotonic, Duration::from_secs(event.seq));
        }
        assert_eq!(outbox.pending().unwrap(), kept);
        stored = kept;
    }
}
