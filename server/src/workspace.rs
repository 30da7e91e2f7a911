//! A server's data directory: the redb file and the server's signing key.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use mtime_core::clock::Clock;
use mtime_core::ids::UserId;
use mtime_core::keys::SigningKey;

use crate::model::{ApiKeyRecord, ServiceUser};
use crate::store::Store;
use crate::store::redb_store::RedbStore;

const DB_FILE: &str = "mtime.redb";
const KEY_FILE: &str = "server.key";

fn key_path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

/// Creates the workspace in `dir`: the store, the server's key, and an admin service user.
/// Returns the admin's API key, which exists nowhere else.
pub fn init(dir: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<String> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if key_path(dir).exists() {
        bail!(
            "{} already holds an mtime workspace; serve it, or pick an empty directory",
            dir.display()
        );
    }

    let store = RedbStore::open(&dir.join(DB_FILE))?;
    if store.is_initialized()? {
        bail!("{} already holds an mtime workspace", dir.display());
    }

    let key = SigningKey::generate()?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(key_path(dir))
        .with_context(|| format!("creating {}", key_path(dir).display()))?;
    file.write_all(key.to_seed_hex().as_bytes())?;
    file.sync_all()?;

    let now = clock.now().wall;
    let user = ServiceUser {
        id: UserId::random(),
        name: "admin".into(),
        role: "admin".into(),
        permissions: crate::access::ALL.iter().map(|p| p.to_string()).collect(),
        created_at: now,
        org_units: Vec::new(),
    };
    let (api_key, record) = ApiKeyRecord::issue(user.id, now, None)?;
    store.create_service_user(&user, Some(&record))?;
    tracing::info!(
        user.id = %user.id,
        key.id = %record.id,
        "workspace created with an admin service user",
    );
    Ok(api_key)
}

/// Opens an initialised workspace: its store and its signing key.
pub fn open(dir: &Path) -> anyhow::Result<(RedbStore, SigningKey)> {
    let path = key_path(dir);
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}; run `mtime-server init --data-dir {}` first",
            path.display(),
            dir.display()
        )
    })?;
    let mode = fs::metadata(&path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "server key is readable by others; chmod 600 it");
    }
    let key =
        SigningKey::from_seed_hex(&text).with_context(|| format!("reading {}", path.display()))?;
    let store = RedbStore::open(&dir.join(DB_FILE))?;
    if !store.is_initialized()? {
        bail!("{} is not an initialised workspace; run `mtime-server init` first", dir.display());
    }
    Ok((store, key))
}

/// Issues a new key for the admin service user, for the operator of the server's machine
/// when no working admin key is left. The server must be stopped (the store is locked).
pub fn issue_admin_key(dir: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<String> {
    let (store, _) = open(dir)?;
    let admin = store
        .service_users()?
        .into_iter()
        .find(|u| u.name == "admin")
        .ok_or_else(|| anyhow::anyhow!("no service user named admin in {}", dir.display()))?;
    let (api_key, record) = ApiKeyRecord::issue(admin.id, clock.now().wall, None)?;
    store.put_api_key(&record)?;
    tracing::warn!(
        user.id = %admin.id,
        key.id = %record.id,
        "admin key issued from the command line",
    );
    Ok(api_key)
}
