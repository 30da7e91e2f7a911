//! Workload 1: a tap becomes a durable record, one event per committed transaction. The kiosk's
//! outbox (its tap journal, folded into redb as it fills) beside SQLite (WAL, `synchronous=FULL`)
//! storing the same event as its wire bytes, and beside the floor: those bytes appended to a file
//! and fsynced. The stores take turns in small rounds, so a noisy neighbour slows all three alike.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use mtime_core::ids::{BootId, KioskId};
use mtime_sync::outbox::Outbox;

use crate::chart::{Chart, Series};
use crate::config::Config;
use crate::disk::{Usage, usage};
use crate::events::{Workforce, fixed_base};
use crate::report::Section;
use crate::stats::Samples;

/// Taps per store per round before the next store takes its turn.
const ROUND: usize = 50;

/// A store that makes one event durable per call.
trait Durable {
    /// Stores the `n`th event and returns when it is on disk.
    fn store(&mut self, n: u64) -> anyhow::Result<()>;
    /// Stores events up to `n` in bulk, untimed.
    fn fill(&mut self, from: u64, to: u64) -> anyhow::Result<()>;
    /// What the store's files take on the disk.
    fn bytes(&self) -> anyhow::Result<Usage>;
}

struct RedbOutbox {
    outbox: Outbox,
    kiosk: KioskId,
    people: Workforce,
    boot: BootId,
    path: std::path::PathBuf,
}

impl Durable for RedbOutbox {
    fn store(&mut self, n: u64) -> anyhow::Result<()> {
        self.outbox.append(self.kiosk, self.people.draft(n, self.boot, fixed_base()))?;
        Ok(())
    }

    fn fill(&mut self, from: u64, to: u64) -> anyhow::Result<()> {
        let drafts = (from..to).map(|n| self.people.draft(n, self.boot, fixed_base())).collect();
        self.outbox.append_all(self.kiosk, drafts)?;
        Ok(())
    }

    fn bytes(&self) -> anyhow::Result<Usage> {
        Ok(usage(&self.path)? + usage(&Outbox::journal_path(&self.path))?)
    }
}

/// The event as a kiosk sends it (postcard), for the stores compared with the outbox.
fn encoded(people: &Workforce, kiosk: KioskId, n: u64, boot: BootId) -> anyhow::Result<Vec<u8>> {
    Ok(postcard::to_stdvec(&people.event(kiosk, n + 1, boot, fixed_base()))?)
}

struct Sqlite {
    db: rusqlite::Connection,
    kiosk: KioskId,
    people: Workforce,
    boot: BootId,
    path: std::path::PathBuf,
}

impl Sqlite {
    fn open(path: &Path, people: Workforce) -> anyhow::Result<Self> {
        let db = rusqlite::Connection::open(path)?;
        // WAL with FULL: each commit is fsynced before it returns, as the outbox's are.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.execute_batch(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, id BLOB NOT NULL, body BLOB NOT NULL)",
        )?;
        let kiosk = KioskId::random();
        Ok(Self { db, kiosk, people, boot: BootId::random(), path: path.to_owned() })
    }

    fn insert(&self, n: u64) -> anyhow::Result<()> {
        let event = self.people.event(self.kiosk, n + 1, self.boot, fixed_base());
        let body = postcard::to_stdvec(&event)?;
        let id = event.id.0.as_bytes().to_vec();
        self.db.execute("INSERT INTO events (id, body) VALUES (?1, ?2)", (id, body))?;
        Ok(())
    }
}

impl Durable for Sqlite {
    fn store(&mut self, n: u64) -> anyhow::Result<()> {
        // Outside an explicit transaction each statement commits on its own.
        self.insert(n)
    }

    fn fill(&mut self, from: u64, to: u64) -> anyhow::Result<()> {
        self.db.execute_batch("BEGIN")?;
        for n in from..to {
            self.insert(n)?;
        }
        self.db.execute_batch("COMMIT")?;
        Ok(())
    }

    fn bytes(&self) -> anyhow::Result<Usage> {
        Ok(usage(&self.path)? + usage(&self.path.with_extension("sqlite-wal"))?)
    }
}

struct RawFile {
    file: File,
    kiosk: KioskId,
    people: Workforce,
    boot: BootId,
    path: std::path::PathBuf,
}

impl RawFile {
    fn append(&mut self, n: u64) -> anyhow::Result<()> {
        let body = encoded(&self.people, self.kiosk, n, self.boot)?;
        // A length prefix, so the file could be read back.
        self.file.write_all(&(body.len() as u32).to_le_bytes())?;
        self.file.write_all(&body)?;
        Ok(())
    }
}

impl Durable for RawFile {
    fn store(&mut self, n: u64) -> anyhow::Result<()> {
        self.append(n)?;
        self.file.sync_all()?;
        Ok(())
    }

    fn fill(&mut self, from: u64, to: u64) -> anyhow::Result<()> {
        for n in from..to {
            self.append(n)?;
        }
        self.file.sync_all()?;
        Ok(())
    }

    fn bytes(&self) -> anyhow::Result<Usage> {
        Ok(usage(&self.path)?)
    }
}

/// What one level measured, per store: tap latencies in ms and bytes per event on disk.
struct Level {
    events: u64,
    samples: Vec<Samples>,
}

/// Bytes per event in the kiosk's store, one event per transaction, at the largest level.
pub struct DiskFootprint {
    /// Events in the store.
    pub events: u64,
    /// Bytes allocated on the disk over events.
    pub bytes_per_event: f64,
    /// The file's length over events.
    pub length_per_event: f64,
}

/// Runs workload 1 in `dir`.
pub fn run(config: &Config, dir: &Path) -> anyhow::Result<(Section, DiskFootprint)> {
    let people = Workforce::random(200);
    let names = ["mtime (redb outbox)", "SQLite WAL FULL", "file + fsync"];
    let outbox_path = dir.join("outbox.redb");
    let file_path = dir.join("events.bin");
    let mut stores: Vec<Box<dyn Durable>> = vec![
        Box::new(RedbOutbox {
            outbox: Outbox::open(&outbox_path)?,
            kiosk: KioskId::random(),
            people: people.clone(),
            boot: BootId::random(),
            path: outbox_path,
        }),
        Box::new(Sqlite::open(&dir.join("events.sqlite"), people.clone())?),
        Box::new(RawFile {
            file: OpenOptions::new().create(true).append(true).open(&file_path)?,
            kiosk: KioskId::random(),
            people,
            boot: BootId::random(),
            path: file_path,
        }),
    ];

    let mut section = Section::new(
        "1. Tap → durable record",
        &[
            "events stored",
            "store",
            "median ms (p10–p90)",
            "p99 ms",
            "median vs SQLite",
            "p99 vs file+fsync",
        ],
    );
    section.note(
        "One event per committed transaction, each durable (fsynced) before the call returns. \
         The same event goes to each store: the outbox appends it to its tap journal (a file of \
         fixed size written in place, synced per tap) and folds the journal into its redb \
         tree of rows (the event without the kiosk's id, with binary times) each time it \
         fills, about every 450 taps, inside the timed tap that finds it full; SQLite keeps \
         its wire bytes (postcard) in a table with an integer key, the file gets those bytes \
         with a length prefix. The stores take turns in rounds of 50 taps. The x axis is how \
         many events each store already held.",
    );

    let mut stored = 0u64;
    let mut levels = Vec::new();
    for &level in &config.durable_levels {
        for store in stores.iter_mut() {
            store.fill(stored, level).context("filling a store")?;
        }
        stored = level;
        let mut samples = vec![Samples::new(); stores.len()];
        let mut done = 0;
        while done < config.durable_taps {
            let round = ROUND.min(config.durable_taps - done);
            for (store, samples) in stores.iter_mut().zip(samples.iter_mut()) {
                for i in 0..round as u64 {
                    let started = Instant::now();
                    store.store(stored + i)?;
                    samples.push_ms(started.elapsed());
                }
            }
            stored += round as u64;
            done += round;
        }
        let (sqlite, floor) = (samples[1].summary(), samples[2].summary());
        for (name, s) in names.iter().zip(&samples) {
            let s = s.summary();
            section.row(vec![
                level.to_string(),
                (*name).to_owned(),
                s.spread(3),
                format!("{:.3}", s.p99),
                format!("{:.2}×", s.median / sqlite.median),
                format!("{:.2}×", s.p99 / floor.p99),
            ]);
        }
        levels.push(Level { events: level, samples });
    }

    if let Some(last) = levels.last() {
        let (mtime, sqlite, floor) =
            (last.samples[0].summary(), last.samples[1].summary(), last.samples[2].summary());
        section.goal(
            "tap → durable: mtime median ≤ SQLite's",
            format!(
                "{:.3} ms vs {:.3} ms ({:.2}×) at {} events",
                mtime.median,
                sqlite.median,
                mtime.median / sqlite.median,
                last.events
            ),
            mtime.median <= sqlite.median,
        );
        section.goal(
            "tap → durable: mtime p99 ≤ 2× the file+fsync floor",
            format!("{:.3} ms vs {:.3} ms ({:.2}×)", mtime.p99, floor.p99, mtime.p99 / floor.p99),
            mtime.p99 <= 2.0 * floor.p99,
        );
    }
    let per = |bytes: u64| bytes as f64 / stored.max(1) as f64;
    let outbox = stores[0].bytes()?;
    let disk = DiskFootprint {
        events: stored,
        bytes_per_event: per(outbox.allocated),
        length_per_event: per(outbox.length),
    };
    for (i, store) in stores.iter().enumerate() {
        let usage = store.bytes()?;
        section.note(format!(
            "On disk after {stored} events: {} {:.0} bytes per event allocated (files {:.0} \
             bytes per event long).",
            names[i],
            per(usage.allocated),
            per(usage.length)
        ));
    }

    for (what, pick) in [("median", 0usize), ("p99", 1)] {
        let series = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let points = levels
                    .iter()
                    .map(|l| {
                        let s = l.samples[i].summary();
                        (l.events as f64, if pick == 0 { s.median } else { s.p99 })
                    })
                    .collect();
                Series::measured(name, points)
            })
            .collect();
        section.chart(Chart {
            file: format!("durable-{what}.svg"),
            title: format!("Tap → durable record, {what}"),
            x_label: "events already stored".into(),
            y_label: format!("{what} latency, ms"),
            series,
        });
    }
    Ok((section, disk))
}
