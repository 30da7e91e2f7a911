//! Pairing a kiosk with a server: a key pair made on the device, the one-time enrollment
//! code an admin got when creating the kiosk, and the first roster. The command line
//! (`mtime-kiosk enroll`) and the admin screen both pair through [`pair`].

use std::fs;

use anyhow::{Context, bail};

use mtime_core::clock::Clock;
use mtime_core::event::TimeReading;
use mtime_core::ids::BootId;
use mtime_core::protocol::EnrollRequest;
use mtime_sync::client::Client;
use mtime_sync::engine;
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::{Identity, Outbox};

use crate::paths::DataDir;

/// A kiosk just paired.
#[derive(Debug)]
pub struct Paired {
    /// Who it is now.
    pub identity: Identity,
    /// The version of its first roster.
    pub roster_version: u64,
    /// How many employees that roster holds.
    pub employees: usize,
}

/// Pairs the kiosk in `data` with `server` using `code`; `ca_pem` is a certificate to
/// trust for the server (a private CA). The kiosk's key is made here the first time and
/// never leaves the device; a key left by a pairing that failed half-way is reused.
pub fn pair(
    data: &DataDir,
    server: &str,
    code: &str,
    ca_pem: Option<String>,
    clock: &dyn Clock,
    boot: BootId,
) -> anyhow::Result<Paired> {
    fs::create_dir_all(data.root())
        .with_context(|| format!("creating {}", data.root().display()))?;
    let outbox = Outbox::open(&data.store())?;
    if let Some(identity) = outbox.identity()? {
        bail!("this kiosk is already enrolled as {} with {}", identity.kiosk, identity.server_url);
    }
    let client = Client::new(server, ca_pem.as_deref())?;
    let key_file = KeyFile::new(data.key());
    let key = if key_file.exists() { key_file.load()? } else { key_file.create()? };

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let request = EnrollRequest { code: code.trim().to_owned(), public_key: key.public() };
    let answer = runtime.block_on(client.enroll(&request)).context("enrollment failed")?;
    let identity = Identity {
        kiosk: answer.kiosk_id,
        name: answer.kiosk_name,
        server_url: server.to_owned(),
        server_ca_pem: ca_pem,
        server_key: answer.server_public_key,
        site: answer.site,
        config: answer.config,
    };
    outbox.save_identity(&identity)?;

    let now = clock.now();
    let reading = TimeReading {
        wall: now.wall,
        boot,
        monotonic: now.monotonic,
        wall_trusted: now.wall_trusted,
    };
    let roster =
        runtime.block_on(engine::fetch_roster(&client, &identity, &key, reading, &outbox))?;
    tracing::info!(kiosk.id = %identity.kiosk, server = %server, "paired");
    Ok(Paired { roster_version: roster.version, employees: roster.employees.len(), identity })
}
