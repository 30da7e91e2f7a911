//! The file under the outbox: a redb storage backend that passes everything to redb's own
//! file backend, and that tests (and the fault harness) can make fail as a full disk does;
//! the tap journal's writes go through the same switch.
//!
//! A full disk is told apart from other failures by the error's kind,
//! [`std::io::ErrorKind::StorageFull`], which is what `ENOSPC` from the kernel becomes; the
//! injected failure is that same error, so the outbox handles both alike.
//!
//! ```
//! use mtime_sync::disk::DiskFaults;
//!
//! let faults = DiskFaults::default();
//! faults.fill();
//! assert!(faults.is_full());
//! faults.free();
//! assert!(!faults.is_full());
//! ```
//!
//! # Limitations
//!
//! - Only a full disk is injected: writes, syncs and growth fail, reads succeed. Torn
//!   writes are tested by killing a process (see `tests/crash.rs`), not simulated here.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redb::StorageBackend;
use redb::backends::FileBackend;

/// A switch that makes every outbox opened with it fail to write, as on a full disk, until
/// it is switched back. Clones share the switch.
#[derive(Debug, Clone, Default)]
pub struct DiskFaults {
    full: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
}

impl DiskFaults {
    /// From now on, writes, syncs and growth fail with "no space left on device".
    pub fn fill(&self) {
        self.full.store(true, Ordering::SeqCst);
    }

    /// From now on, the disk has room again.
    pub fn free(&self) {
        self.full.store(false, Ordering::SeqCst);
    }

    /// Whether writes fail now.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::SeqCst)
    }

    /// How many writes, syncs and resizes were refused so far: a test's proof that the
    /// failure it meant to cause was met.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// Fails as a full disk does while the switch is on; for the tap journal's writes.
    pub(crate) fn check_io(&self) -> io::Result<()> {
        if !self.is_full() {
            return Ok(());
        }

        self.refused.fetch_add(1, Ordering::SeqCst);
        // What the kernel's ENOSPC becomes, so that the outbox cannot tell the two apart.
        Err(io::Error::new(io::ErrorKind::StorageFull, "no space left on device (injected)"))
    }

    fn check(&self) -> Result<(), redb::BackendError> {
        self.check_io().map_err(redb::BackendError::Io)
    }
}

/// redb's file backend with a [`DiskFaults`] switch in front of its writes.
#[derive(Debug)]
pub struct DiskBackend {
    file: FileBackend,
    faults: DiskFaults,
}

impl DiskBackend {
    /// Opens (creating if need be) the file at `path`.
    pub fn open(path: &Path, faults: DiskFaults) -> io::Result<Self> {
        let file: File =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        Ok(Self { file: FileBackend::new(file), faults })
    }
}

impl StorageBackend for DiskBackend {
    fn len(&self) -> Result<u64, redb::BackendError> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), redb::BackendError> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), redb::BackendError> {
        self.faults.check()?;
        self.file.set_len(len)
    }

    fn sync_data(&self) -> Result<(), redb::BackendError> {
        self.faults.check()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), redb::BackendError> {
        self.faults.check()?;
        self.file.write(offset, data)
    }

    fn close(&self) -> Result<(), redb::BackendError> {
        self.file.close()
    }

    // The locks keep a second kiosk process off the same file; they touch no data, so a
    // full disk does not fail them.
    fn try_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.query_lock_range(start, end)
    }
}
