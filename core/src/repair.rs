//! Opening a redb file that may have been left by a crash, for the server's store and the
//! kiosk's outbox alike: the one place that says, loudly, that a file is being repaired.
//!
//! Only with the `redb` feature: the rest of this crate does no I/O, and a crate that does
//! not store anything need not build redb.
//!
//! ```no_run
//! let path = std::path::Path::new("kiosk.redb");
//! let db = mtime_core::repair::open_repairing(path, "kiosk store", |b| b.create(path))?;
//! # Ok::<(), redb::DatabaseError>(())
//! ```
//!
//! # Limitations
//!
//! - Repair is redb's: committed transactions survive and a torn one is discarded. It cannot
//!   bring back a transaction whose commit had not returned.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use redb::{Builder, Database, DatabaseError, RepairSession};

/// Opens a database through `open` (given a builder whose repair callback is set), warning
/// once when the file was not closed cleanly (a crash or power loss while writing) and once
/// more when the repair is done, with how long it took. `what` names the file in the log,
/// such as "kiosk store".
pub fn open_repairing(
    file: &Path,
    what: &'static str,
    open: impl FnOnce(&Builder) -> Result<Database, DatabaseError>,
) -> Result<Database, DatabaseError> {
    let shown = file.display().to_string();
    let repairing = Arc::new(AtomicBool::new(false));
    let mut builder = Database::builder();
    {
        let (shown, repairing) = (shown.clone(), repairing.clone());
        builder.set_repair_callback(move |session: &mut RepairSession| {
            if !repairing.swap(true, Ordering::Relaxed) {
                tracing::warn!(file = %shown, "{what} was not closed cleanly; repairing");
            }
            tracing::debug!(progress = session.progress(), "repair progress");
        });
    }

    let started = Instant::now();
    let db = open(&builder)?;

    if repairing.load(Ordering::Relaxed) {
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::warn!(file = %shown, elapsed_ms, "{what} repaired; committed data kept");
    }
    Ok(db)
}
