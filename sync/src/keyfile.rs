//! The kiosk's private key, in a file readable by its user alone; it never leaves the
//! kiosk. A replacement key is written beside it first (`<file>.next`) and moved over it
//! only once the server has switched, so a crash at any point leaves a key the server
//! accepts: the old one before the switch, the staged one after it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mtime_core::keys::SigningKey;

use crate::SyncError;

/// The key file at one path.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

fn storage(path: &Path, e: impl std::fmt::Display) -> SyncError {
    SyncError::Storage(format!("{}: {e}", path.display()))
}

impl KeyFile {
    /// The key file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Whether a key is there.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Creates a new key; refuses to overwrite one.
    pub fn create(&self) -> Result<SigningKey, SyncError> {
        write_new(&self.path)
    }

    /// The key, refusing a file that others may read.
    pub fn load(&self) -> Result<SigningKey, SyncError> {
        read(&self.path)
    }

    fn staged_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".next");
        PathBuf::from(name)
    }

    /// The replacement key written by a rotation not yet finished, if any.
    pub fn staged(&self) -> Result<Option<SigningKey>, SyncError> {
        let staged = self.staged_path();
        if staged.exists() { read(&staged).map(Some) } else { Ok(None) }
    }

    /// The replacement key: the one staged before, or a new one, stored durably before it
    /// is returned.
    pub fn stage(&self) -> Result<SigningKey, SyncError> {
        match self.staged()? {
            Some(key) => Ok(key),
            None => write_new(&self.staged_path()),
        }
    }

    /// Makes the staged key the key, in one rename.
    pub fn promote(&self) -> Result<(), SyncError> {
        fs::rename(self.staged_path(), &self.path).map_err(|e| storage(&self.path, e))?;
        sync_dir(&self.path)
    }

    /// Forgets the staged key (the server did not want a rotation).
    pub fn discard_staged(&self) -> Result<(), SyncError> {
        let staged = self.staged_path();
        match fs::remove_file(&staged) {
            Ok(()) => sync_dir(&staged),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(storage(&staged, e)),
        }
    }
}

fn write_new(path: &Path) -> Result<SigningKey, SyncError> {
    let key = SigningKey::generate().map_err(|e| storage(path, e))?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| storage(path, format!("creating: {e}")))?;
    file.write_all(key.to_seed_hex().as_bytes()).map_err(|e| storage(path, e))?;
    file.sync_all().map_err(|e| storage(path, e))?;
    sync_dir(path)?;
    Ok(key)
}

fn read(path: &Path) -> Result<SigningKey, SyncError> {
    let mode = fs::metadata(path).map_err(|e| storage(path, e))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(SyncError::Config(format!(
            "{} is readable by other users; chmod 600 it (the kiosk's key must stay private)",
            path.display()
        )));
    }
    let text = fs::read_to_string(path).map_err(|e| storage(path, e))?;
    SigningKey::from_seed_hex(&text).map_err(|e| storage(path, e))
}

// A new or renamed file survives power loss only once its directory entry is on disk.
fn sync_dir(path: &Path) -> Result<(), SyncError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| storage(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_key_survives_until_promoted_and_others_may_not_read_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("kiosk.key"));
        let first = file.create().unwrap();
        assert!(file.create().is_err(), "never overwritten");
        assert!(file.staged().unwrap().is_none());

        let next = file.stage().unwrap();
        assert_eq!(file.stage().unwrap().public(), next.public(), "staged once, then reused");
        assert_eq!(file.load().unwrap().public(), first.public(), "not yet the key");

        file.promote().unwrap();
        assert_eq!(file.load().unwrap().public(), next.public());
        assert!(file.staged().unwrap().is_none());

        file.stage().unwrap();
        file.discard_staged().unwrap();
        assert!(file.staged().unwrap().is_none());
        assert_eq!(file.load().unwrap().public(), next.public());

        fs::set_permissions(dir.path().join("kiosk.key"), fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(matches!(file.load(), Err(SyncError::Config(_))));
    }
}
