//! What a file takes on the disk.
//!
//! redb extends its file ahead of use, in steps up to a region of tens of megabytes; the
//! part not yet written is a hole the file system has not allocated. The space a store
//! takes is therefore what the file system allocated (what `du` shows), and its length
//! (what `ls -l` shows) says how far it reserved.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file's length and the bytes the file system allocated to it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// The length.
    pub length: u64,
    /// The bytes allocated: the space it takes.
    pub allocated: u64,
}

impl std::ops::Add for Usage {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self { length: self.length + other.length, allocated: self.allocated + other.allocated }
    }
}

/// What `path` takes; nothing for a file that is not there.
pub fn usage(path: &Path) -> std::io::Result<Usage> {
    match std::fs::metadata(path) {
        // `blocks` counts 512-byte units whatever the file system's block size.
        Ok(m) => Ok(Usage { length: m.len(), allocated: m.blocks() * 512 }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Usage::default()),
        Err(e) => Err(e),
    }
}
