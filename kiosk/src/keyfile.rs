//! The kiosk's private key, in a file readable by its user alone. It never leaves the
//! kiosk.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};

use mtime_core::keys::SigningKey;

/// Creates a new key at `path`; refuses to overwrite one.
pub fn create(path: &Path) -> anyhow::Result<SigningKey> {
    let key = SigningKey::generate()?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(key.to_seed_hex().as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

/// Loads the key at `path`, refusing one that others may read.
pub fn load(path: &Path) -> anyhow::Result<SigningKey> {
    let mode = fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by other users; chmod 600 it (the kiosk's key must stay private)",
            path.display()
        );
    }
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SigningKey::from_seed_hex(&text).with_context(|| format!("reading {}", path.display()))
}
