//! Where a kiosk keeps its files.

use std::path::{Path, PathBuf};

/// A kiosk's data directory.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// The directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self(root.into())
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.0
    }

    /// The redb store of events, identity and roster. Its tap journal lies beside it
    /// (`kiosk.redb-journal`, [`mtime_sync::outbox::Outbox::journal_path`]): the two are one
    /// store, copied and moved together.
    pub fn store(&self) -> PathBuf {
        self.0.join("kiosk.redb")
    }

    /// The private key.
    pub fn key(&self) -> PathBuf {
        self.0.join("kiosk.key")
    }
}
