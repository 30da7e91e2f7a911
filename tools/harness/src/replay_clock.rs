//! One replay clock shared by every process of a tool's run.
//!
//! The tool writes the replay instant to a file; the server and kiosk processes read it
//! on every look at the clock. Time moves only when the tool moves it, so a tap happens at
//! exactly the instant the tool chose, however busy the machine is.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use mtime_core::clock::{Clock, ClockReading};

/// The environment variable that tells a child process where the replay clock is.
pub const ENV: &str = "MTIME_REPLAY_CLOCK";
/// Set for a kiosk that boots without a clock: until this replay instant (microseconds),
/// its wall clock counts from 1970 since its boot and is not trusted, as a Raspberry Pi's
/// does until the network sets it.
pub const UNSET_UNTIL_ENV: &str = "MTIME_REPLAY_UNSET_UNTIL";

/// How often a waiting process looks at the file again.
const POLL: Duration = Duration::from_millis(2);

/// Reads the replay clock.
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    /// The replay instant when this process started: its "boot".
    origin: DateTime<Utc>,
    /// Until when the wall clock is unset (see [`UNSET_UNTIL_ENV`]).
    unset_until: Option<DateTime<Utc>>,
}

impl FileClock {
    /// A reader of the clock at `path`, unset until `unset_until` if given.
    pub fn open(path: &Path, unset_until: Option<DateTime<Utc>>) -> anyhow::Result<Self> {
        let origin = read(path)?;
        Ok(Self { path: path.to_owned(), origin, unset_until })
    }
}

fn read(path: &Path) -> anyhow::Result<DateTime<Utc>> {
    let text = fs::read_to_string(path)?;
    let micros: i64 = text.trim().parse()?;
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| anyhow::anyhow!("replay clock out of range"))
}

impl Clock for FileClock {
    fn now(&self) -> ClockReading {
        // The file is replaced atomically, so a read sees one whole value. If it cannot
        // be read at all the tool is shutting down; the origin is a safe stand-in.
        let wall = read(&self.path).unwrap_or(self.origin);
        let monotonic = (wall - self.origin).to_std().unwrap_or_default();
        if self.unset_until.is_some_and(|until| wall < until) {
            let since_boot = chrono::TimeDelta::from_std(monotonic).unwrap_or_default();
            return ClockReading {
                wall: DateTime::UNIX_EPOCH + since_boot,
                monotonic,
                wall_trusted: false,
            };
        }
        ClockReading { wall, monotonic, wall_trusted: true }
    }

    fn real_wait(&self, remaining: Duration) -> Duration {
        remaining.min(POLL)
    }
}

/// Moves the replay clock.
#[derive(Debug)]
pub struct ClockDriver {
    path: PathBuf,
    now: DateTime<Utc>,
}

impl ClockDriver {
    /// Creates the clock file standing at `start`.
    pub fn create(path: &Path, start: DateTime<Utc>) -> anyhow::Result<Self> {
        let driver = Self { path: path.to_owned(), now: start };
        driver.write()?;
        Ok(driver)
    }

    /// The replay instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Sets the clock; it never goes back.
    pub fn set(&mut self, to: DateTime<Utc>) -> anyhow::Result<()> {
        if to > self.now {
            self.now = to;
            self.write()?;
        }
        Ok(())
    }

    fn write(&self) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut file = fs::File::create(&tmp)?;
        write!(file, "{}", self.now.timestamp_micros())?;
        drop(file);
        fs::rename(&tmp, &self.path)?;
        Ok(())
    }
}
