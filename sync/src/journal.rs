//! The tap journal: where a tap becomes durable before it reaches the outbox's tree.
//!
//! A redb commit writes its B-tree pages, the outbox's state and its header at places
//! scattered over the file, then syncs it: on an SD card that costs more than the one
//! sequential write a tap needs. So a tap is first appended to this journal, a file of
//! fixed size beside the store, written in place and synced with `fdatasync`; the outbox
//! folds what the journal holds into its tree later, many taps in one commit (before any
//! read of the events, when the journal is full, when the store opens), and only then
//! empties the journal. SQLite's write-ahead log does the same.
//!
//! The file is a header (a magic, the journal's epoch and a checksum) and then records,
//! each its length, a CRC-32 over the epoch, the length and the event, and the event
//! (postcard). The file is written whole with zeros when created, so that appending never
//! allocates: `fdatasync` then writes the record and nothing else. Emptying the journal
//! writes a new random epoch into the header: the records left in the file belong to the
//! old one and are no longer read. Reading stops at the first record whose checksum fails,
//! which after a crash can only be the last, unconfirmed one: records are appended one at a
//! time, each synced before its tap is confirmed. A whole record of the same epoch further
//! on tells damage from a torn write (see the limitations).
//!
//! # Limitations
//!
//! - A journal whose header cannot be read is renamed aside (`.set-aside-` and the time)
//!   and a new one made, with a warning. A header is written only when the journal is
//!   created or emptied, after its records were folded, so a header torn by a crash holds
//!   nothing unfolded; a header damaged by the disk itself could, and those taps are then
//!   only in the file set aside, for an admin to look at.
//! - A record damaged in the middle (a whole record of the same epoch after it) ends what
//!   is read: the taps before it are folded, the file is set aside with an error, and the
//!   confirmed taps after it are only in that file. Their seqs are given again to new
//!   taps, so they cannot simply be put back; carrying them over would need the server to
//!   accept a seq declared lost, as for a halted kiosk's taps.
//! - A missing journal is made anew; taps it held unfolded are not known to be missing.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mtime_core::event::PresenceEvent;
use mtime_core::ids::EventId;

use crate::SyncError;
use crate::disk::DiskFaults;

/// The journal's whole size: room for about 450 taps between two folds.
pub(crate) const SIZE: u64 = 64 * 1024;
/// Records start past the header's sector, so that writing the header touches no record.
const RECORDS_AT: u64 = 512;
const MAGIC: &[u8; 16] = b"mtime-journal-v1";
const HEADER_LEN: usize = 28;
/// A record's length and checksum.
const RECORD_HEAD: usize = 8;
/// No event comes near this; a longer length is damage.
const MAX_PAYLOAD: u32 = 1024;

/// The journal's file, its epoch, and the events it holds that the tree may not.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    faults: DiskFaults,
    epoch: u64,
    /// Where the next record goes.
    end: u64,
    /// The file's length: [`SIZE`] unless something outside the journal changed it.
    length: u64,
    events: Vec<PresenceEvent>,
    /// A write failed: what the file holds past `end` is unknown until it is emptied.
    dirty: bool,
    /// Where a record was found damaged, with whole ones after it, when opened.
    damaged_at: Option<u64>,
}

/// The journal's file beside the store at `store`.
pub(crate) fn path_beside(store: &Path) -> PathBuf {
    with_suffix(store, "-journal")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(path: &Path, e: &io::Error) -> SyncError {
    if e.kind() == io::ErrorKind::StorageFull {
        SyncError::StorageFull(format!(
            "{}: {e}; not confirmed as stored; free space on the kiosk's data partition",
            path.display()
        ))
    } else {
        SyncError::Storage(format!("{}: {e}", path.display()))
    }
}

fn header(epoch: u64) -> [u8; HEADER_LEN] {
    let mut bytes = [0; HEADER_LEN];
    bytes[..16].copy_from_slice(MAGIC);
    bytes[16..24].copy_from_slice(&epoch.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..24]);
    bytes[24..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// The epoch a header holds, if it is whole.
fn epoch_of(bytes: &[u8; HEADER_LEN]) -> Option<u64> {
    let crc = u32::from_le_bytes(bytes[24..].try_into().ok()?);
    if &bytes[..16] != MAGIC || crc32fast::hash(&bytes[..24]) != crc {
        return None;
    }
    Some(u64::from_le_bytes(bytes[16..24].try_into().ok()?))
}

fn checksum(epoch: u64, len: u32, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&epoch.to_le_bytes());
    hasher.update(&len.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// A fresh epoch, so that no record of an earlier one is read as this one's.
fn new_epoch() -> u64 {
    let random = EventId::random().0.as_u128();
    (random as u64) ^ ((random >> 64) as u64)
}

impl Journal {
    /// Opens the journal at `path`, creating it if there is none, and reads the events it
    /// holds.
    pub(crate) fn open(path: &Path, faults: DiskFaults) -> Result<Self, SyncError> {
        if !path.exists() {
            create(path)?;
            tracing::info!(journal = %path.display(), "kiosk tap journal made");
        }
        let file =
            OpenOptions::new().read(true).write(true).open(path).map_err(|e| io_error(path, &e))?;

        let mut head = [0; HEADER_LEN];
        let length = file.metadata().map_err(|e| io_error(path, &e))?.len();
        let readable = file.read_exact_at(&mut head, 0).is_ok();
        let Some(epoch) = readable.then(|| epoch_of(&head)).flatten() else {
            drop(file);
            let kept = set_aside(path)?;
            tracing::warn!(
                journal = %path.display(),
                kept = %kept.display(),
                "kiosk tap journal unreadable; set aside and made anew"
            );
            return Self::open(path, faults);
        };
        if length != SIZE {
            // Cut short or grown by hand or by a file system repair: its records are read
            // as far as they go, and it is made whole again when next emptied.
            tracing::warn!(
                journal = %path.display(),
                length,
                expected = SIZE,
                "kiosk tap journal is not of its size; read as far as it goes"
            );
        }

        let mut journal = Self {
            path: path.to_owned(),
            file,
            faults,
            epoch,
            end: RECORDS_AT,
            length,
            events: Vec::new(),
            dirty: false,
            damaged_at: None,
        };
        journal.read_records()?;
        Ok(journal)
    }

    /// Reads the records of the current epoch, up to the first that is not whole. A record
    /// of this epoch found whole past that one means the file was damaged, not torn by a
    /// crash (a torn record is always the last): noted in [`Self::damaged_at`].
    fn read_records(&mut self) -> Result<(), SyncError> {
        let readable = self.length.min(SIZE) as usize;
        let mut contents = vec![0; readable];
        self.file.read_exact_at(&mut contents, 0).map_err(|e| io_error(&self.path, &e))?;

        let mut at = RECORDS_AT as usize;
        while let Some((event, next)) = self.record_at(&contents, at) {
            self.events.push(event);
            at = next;
        }
        self.end = at as u64;

        let whole_after =
            (at + 1..contents.len()).find(|o| self.record_at(&contents, *o).is_some());
        if let Some(offset) = whole_after {
            tracing::error!(
                journal = %self.path.display(),
                offset = at,
                next_whole = offset,
                read = self.events.len(),
                "kiosk tap journal damaged: a record that is not whole has whole ones after it"
            );
            self.damaged_at = Some(at as u64);
        }
        Ok(())
    }

    /// The event of the whole record of this epoch at `at`, and where the next begins.
    fn record_at(&self, contents: &[u8], at: usize) -> Option<(PresenceEvent, usize)> {
        let head = contents.get(at..at + RECORD_HEAD)?;
        let len = u32::from_le_bytes(head[..4].try_into().ok()?);
        let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
        if len == 0 || len > MAX_PAYLOAD {
            return None;
        }
        let start = at + RECORD_HEAD;
        let payload = contents.get(start..start + len as usize)?;
        if checksum(self.epoch, len, payload) != crc {
            return None;
        }
        // Whole by its checksum, so written by this epoch: it must read as an event.
        let event = postcard::from_bytes::<PresenceEvent>(payload).ok()?;
        Some((event, start + len as usize))
    }

    /// Where the journal was found damaged when opened (see [`Self::read_records`]): the
    /// taps read before that point are whole; those after it are not read.
    pub(crate) fn damaged_at(&self) -> Option<u64> {
        self.damaged_at
    }

    /// Keeps only the first `count` events read: for taps that must not be folded.
    pub(crate) fn keep_first(&mut self, count: usize) {
        self.events.truncate(count);
    }

    /// The events appended since the journal was last emptied, in order.
    pub(crate) fn events(&self) -> &[PresenceEvent] {
        &self.events
    }

    /// Appends `event` and syncs it: when this returns `true`, the event is on disk. Returns
    /// `false`, writing nothing, when the journal must be folded and emptied first: `event`
    /// would not fit, or an earlier write failed.
    pub(crate) fn append(&mut self, event: &PresenceEvent) -> Result<bool, SyncError> {
        let record = record(self.epoch, event)?;
        if self.dirty || self.end + record.len() as u64 > SIZE {
            return Ok(false);
        }

        let written = self
            .faults
            .check_io()
            .and_then(|()| self.file.write_all_at(&record, self.end))
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.dirty = true;
            return Err(io_error(&self.path, &e));
        }

        self.end += record.len() as u64;
        self.events.push(event.clone());
        Ok(true)
    }

    /// Empties the journal once its events are safely in the tree: a new epoch in the
    /// header, synced, makes every record in the file an old one.
    pub(crate) fn empty(&mut self) -> Result<(), SyncError> {
        let epoch = new_epoch();
        let written = self
            .faults
            .check_io()
            .and_then(|()| self.make_whole())
            .and_then(|()| self.file.write_all_at(&header(epoch), 0))
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.dirty = true;
            return Err(io_error(&self.path, &e));
        }

        self.epoch = epoch;
        self.end = RECORDS_AT;
        self.events.clear();
        self.dirty = false;
        Ok(())
    }

    /// Gives a file of another length its size again, written with zeros as when made.
    fn make_whole(&mut self) -> io::Result<()> {
        if self.length == SIZE {
            return Ok(());
        }
        if self.length < SIZE {
            let zeros = vec![0; (SIZE - self.length) as usize];
            self.file.write_all_at(&zeros, self.length)?;
        }
        self.file.set_len(SIZE)?;
        self.length = SIZE;
        Ok(())
    }

    /// Renames the journal's file aside, for an admin to look at; returns its new name.
    /// The journal must not be used after.
    pub(crate) fn set_aside(&self) -> Result<PathBuf, SyncError> {
        set_aside(&self.path)
    }

    /// Whether there is anything to fold or a failed write to clear.
    pub(crate) fn needs_folding(&self) -> bool {
        self.dirty || !self.events.is_empty()
    }
}

/// Renames the file at `path` to a name no earlier one took: its time, then a number.
fn set_aside(path: &Path) -> Result<PathBuf, SyncError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let kept = (0..)
        .map(|n| with_suffix(path, &format!(".set-aside-{stamp}-{n}")))
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| with_suffix(path, ".set-aside"));
    std::fs::rename(path, &kept).map_err(|e| io_error(path, &e))?;
    Ok(kept)
}

fn record(epoch: u64, event: &PresenceEvent) -> Result<Vec<u8>, SyncError> {
    let payload = postcard::to_stdvec(event).map_err(|e| SyncError::Storage(e.to_string()))?;
    let len = u32::try_from(payload.len())
        .map_err(|_| SyncError::Storage("an event too large for the journal".into()))?;
    let mut record = Vec::with_capacity(RECORD_HEAD + payload.len());
    record.extend_from_slice(&len.to_le_bytes());
    record.extend_from_slice(&checksum(epoch, len, &payload).to_le_bytes());
    record.extend_from_slice(&payload);
    Ok(record)
}

/// Writes a new journal whole, zeros past its header, and syncs it and its directory, under
/// a temporary name first so that a crash never leaves a journal half made.
fn create(path: &Path) -> Result<(), SyncError> {
    let fail = |e: io::Error| io_error(path, &e);
    let temporary = with_suffix(path, ".new");
    let mut contents = vec![0; SIZE as usize];
    contents[..HEADER_LEN].copy_from_slice(&header(new_epoch()));

    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .map_err(fail)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    file.write_all_at(&contents, 0).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use mtime_core::event::{Direction, DirectionSource, Subject, TimeReading};
    use mtime_core::ids::{BootId, KioskId};

    use super::*;

    fn event(seq: u64, reason: &str) -> PresenceEvent {
        PresenceEvent {
            id: EventId::time_ordered(),
            kiosk: KioskId::random(),
            seq,
            subject: Subject::UnknownBadge("04a1b2c3".parse().unwrap()),
            direction: Direction::In,
            direction_source: DirectionSource::Explicit,
            reason: reason.parse().unwrap(),
            time: TimeReading {
                wall: Utc::now(),
                boot: BootId::random(),
                monotonic: Duration::from_secs(seq),
                wall_trusted: true,
            },
            amends: None,
        }
    }

    #[test]
    fn records_of_an_emptied_journal_are_not_read_past_a_shorter_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k-journal");
        let mut journal = Journal::open(&path, DiskFaults::default()).unwrap();
        for seq in 1..=3 {
            assert!(journal.append(&event(seq, "A_LONG_REASON_CODE_OF_32_BYTES__")).unwrap());
        }
        journal.empty().unwrap();
        let short = event(4, "W");
        assert!(journal.append(&short).unwrap());
        drop(journal);

        let journal = Journal::open(&path, DiskFaults::default()).unwrap();
        assert_eq!(journal.events(), [short]);
    }

    #[test]
    fn after_a_failed_write_nothing_is_appended_until_the_journal_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k-journal");
        let faults = DiskFaults::default();
        let mut journal = Journal::open(&path, faults.clone()).unwrap();
        let first = event(1, "WORK");
        assert!(journal.append(&first).unwrap());

        faults.fill();
        let refused = journal.append(&event(2, "WORK")).unwrap_err();
        assert!(matches!(refused, SyncError::StorageFull(_)), "{refused:?}");
        faults.free();
        assert!(!journal.append(&event(2, "WORK")).unwrap(), "must be emptied first");
        assert!(journal.needs_folding());
        assert_eq!(journal.events(), [first]);

        journal.empty().unwrap();
        assert!(journal.append(&event(2, "WORK")).unwrap());
        assert_eq!(journal.events().len(), 1);
    }

    #[test]
    fn a_full_journal_refuses_the_next_record_without_writing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k-journal");
        let mut journal = Journal::open(&path, DiskFaults::default()).unwrap();
        let mut seq = 0;
        while journal.append(&event(seq + 1, "WORK")).unwrap() {
            seq += 1;
        }
        assert!(seq > 300, "{seq} taps fit");
        assert_eq!(journal.events().len() as u64, seq);
        assert!(journal.end <= SIZE);

        drop(journal);
        let journal = Journal::open(&path, DiskFaults::default()).unwrap();
        assert_eq!(journal.events().len() as u64, seq);
    }
}
