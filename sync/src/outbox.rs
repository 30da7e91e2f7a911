//! The kiosk's durable store: every event it recorded, the in-flight batch, how far the
//! server has acknowledged, the kiosk's identity and its last roster. A redb file, each
//! event in it a compact row (about 70 bytes; the kiosk and boot by number, binary times)
//! that reads back as the very event stored; and beside it the tap journal
//! (`crate::journal`), where a tap is made durable with one sequential write and folded into
//! the redb file later, many taps per commit.
//!
//! Exactly-once by construction: an event gets its seq under the lock that appends it to
//! the journal, and a fold stores each seq once, skipping those already in the tree; a
//! batch is sealed from the tree and stored before it is sent and resent byte for byte
//! until a receipt covers it; only then does the acknowledged seq move past it.
//!
//! A full disk fails a write with [`SyncError::StorageFull`] and stores nothing of it; the
//! outbox reopens its file by itself and takes taps again once there is room. (The journal
//! is written in place and needs no new space: on a disk that fills, taps are refused only
//! once the journal is full and folding it fails.) The
//! capacity ([`OutboxOptions::capacity`]) only warns: no unsynced event is ever dropped to
//! make room, and taps are stored past it for as long as the disk allows.
//!
//! ```no_run
//! use mtime_sync::SyncError;
//! use mtime_sync::outbox::Outbox;
//! # fn f(draft: mtime_sync::outbox::EventDraft, kiosk: mtime_core::ids::KioskId) {
//! let outbox = Outbox::open(std::path::Path::new("kiosk.redb")).unwrap();
//! match outbox.append(kiosk, draft) {
//!     Ok(event) => println!("stored as {}", event.seq),
//!     Err(SyncError::StorageFull(_)) => println!("storage full: not recorded"),
//!     Err(other) => println!("not recorded: {other}"),
//! }
//! let status = outbox.status();
//! println!("{} waiting: {:?}", status.pending, status.capacity_state);
//! # }
//! ```
//!
//! # Limitations
//!
//! - Writes are refused only when the disk refuses them; the outbox does not measure free
//!   space ahead.
//! - A write whose bytes reached the file but whose sync then failed (a disk that fills
//!   between the two) is reported as failed, yet its events can be there once the file is
//!   reopened: whole and in order, but unconfirmed. For a tap this holds only if the kiosk
//!   stops before its next tap, which empties the journal first. A tap the employee then
//!   repeats is stored twice unless the kiosk's repeat window absorbs it. Telling such a
//!   write apart would take checking, after the reopen, whether its event ids landed.
//! - A journal that follows the store's last seq is folded as the store's own: one copied
//!   by hand from another kiosk's store cannot be told apart, unless its seqs overlap the
//!   store's. A store id in the journal's header would close that.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use mtime_core::batch::{Batch, BatchHash, Receipt};
use mtime_core::capacity::{CapacityState, DEFAULT_CAPACITY};
use mtime_core::event::{
    Amendment, Direction, DirectionSource, PresenceEvent, ReasonCode, Subject, TimeReading,
};
use mtime_core::ids::{EventId, KioskId};
use mtime_core::keys::{PublicKey, SigningKey};
use mtime_core::protocol::{KioskConfig, OutboxReport, SiteInfo};
use mtime_core::repair::open_repairing;

use crate::SyncError;
use crate::disk::{DiskBackend, DiskFaults};
use crate::event_rows;
use crate::journal::{self, Journal};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
type MetaTable<'txn> = redb::Table<'txn, &'static str, &'static [u8]>;

const STATE: &str = "outbox_state";
const IDENTITY: &str = "identity";
const ROSTER: &str = "roster";
const INFLIGHT: &str = "inflight";
/// Written while the disk is full, to learn when it has room again.
const PROBE: &str = "disk_probe";

/// What sealing a batch makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seal {
    /// A new batch of up to `max_events` pending events, unless one is in flight.
    New { max_events: u64 },
    /// The batch in flight, sealed again.
    Again,
}

/// Who this kiosk is, as enrollment made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The kiosk's id.
    pub kiosk: KioskId,
    /// Its name.
    pub name: String,
    /// The server's base URL.
    pub server_url: String,
    /// A PEM certificate to trust for the server, besides the system's roots.
    pub server_ca_pem: Option<String>,
    /// The key the server signs with.
    pub server_key: PublicKey,
    /// The kiosk's site.
    pub site: SiteInfo,
    /// How it behaves.
    pub config: KioskConfig,
}

/// Where the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct OutboxState {
    /// The last seq given to an event.
    last_seq: u64,
    /// The highest seq covered by a verified receipt.
    acked_through: u64,
    /// The hash of the last acknowledged batch.
    last_hash: BatchHash,
    /// Set when the server reported a fork or a gap: uploading stops until an admin acts.
    halted: bool,
}

/// A sealed batch waiting for its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inflight {
    /// The exact bytes to send.
    pub bytes: Vec<u8>,
    /// Their hash.
    pub hash: BatchHash,
    /// First seq carried.
    pub first_seq: u64,
    /// Last seq carried.
    pub last_seq: u64,
}

/// An event before the outbox gives it a seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// Who tapped.
    pub subject: Subject,
    /// In or out.
    pub direction: Direction,
    /// How it was chosen.
    pub direction_source: DirectionSource,
    /// Why.
    pub reason: ReasonCode,
    /// When.
    pub time: TimeReading,
    /// The event it amends, and how.
    pub amends: Option<Amendment>,
}

/// What an outbox is opened with.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Unsynced events from which the outbox counts as full. A warning mark, not a limit:
    /// taps are stored past it for as long as the disk allows (see [`mtime_core::capacity`]).
    pub capacity: u64,
    /// The switch tests use to make the disk look full; nothing switches it in production.
    pub faults: DiskFaults,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self { capacity: DEFAULT_CAPACITY, faults: DiskFaults::default() }
    }
}

/// How the outbox stands, for the kiosk's screen and its heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Events stored and not yet acknowledged.
    pub pending: u64,
    /// The highest seq a receipt covered.
    pub acked_through: u64,
    /// The capacity the outbox was opened with.
    pub capacity: u64,
    /// Filling, full or fine, by the rule the server follows too.
    pub capacity_state: CapacityState,
    /// A write was refused for lack of disk space and none has succeeded since: the kiosk
    /// should show "storage full". Taps are still attempted; the first write that succeeds
    /// (a tap, or the probe [`Outbox::status`] makes) clears it.
    pub storage_full: bool,
    /// Uploading has stopped for good (fork, gap or revoked kiosk).
    pub halted: bool,
    /// Whether the counts were read from the store just now. False when it could not be
    /// read (on a full disk after a failed write): they are then the last ones known.
    pub current: bool,
}

impl OutboxStatus {
    /// The part of the status a heartbeat carries.
    pub fn report(&self) -> OutboxReport {
        OutboxReport {
            pending: self.pending,
            capacity: self.capacity,
            storage_full: self.storage_full,
            halted: self.halted,
        }
    }
}

/// The kiosk's store.
///
/// redb stops using a file after any I/O error: every later operation fails with "previous
/// I/O error" until the database is opened again. The outbox does that itself, behind a
/// lock, at the failure and then at each call until it succeeds, so a disk that was full
/// and has room again takes taps at once, without a restart.
pub struct Outbox {
    path: PathBuf,
    options: OutboxOptions,
    /// `None` after an I/O failure, until the file is opened again.
    db: RwLock<Option<Database>>,
    /// Counts reopenings, so that of several callers who met one failure, one reopens.
    generation: AtomicU64,
    /// Set when a write is refused for lack of space; cleared by the next that succeeds.
    full: AtomicBool,
    /// The state last read or written, for a status while the store cannot be read.
    known: Mutex<OutboxState>,
    /// Taps durable in the journal, not yet folded into the tree. Whoever gives a seq holds
    /// this lock, so seqs follow one another across the journal and the tree.
    journal: Mutex<Journal>,
}

/// A failure inside an outbox operation: redb's kept whole, so that an I/O failure (after
/// which the file must be opened again) is told apart from the rest.
#[derive(Debug)]
pub(crate) enum Failure {
    Redb(redb::Error),
    Sync(SyncError),
}

macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for Failure {
            fn from(e: $error) -> Self {
                Self::Redb(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Self {
        Self::Sync(e)
    }
}

impl Failure {
    /// Whether redb has stopped using the file: it does after any I/O error.
    fn broke_the_file(&self) -> bool {
        matches!(
            self,
            Self::Redb(redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::Backend(_))
        )
    }

    /// Whether the file was refused because of an earlier failure, not this operation's.
    fn earlier(&self) -> bool {
        matches!(self, Self::Redb(redb::Error::PreviousIo))
    }

    pub(crate) fn into_sync(self, path: &Path) -> SyncError {
        match self {
            Self::Redb(redb::Error::Io(io)) if io.kind() == io::ErrorKind::StorageFull => {
                SyncError::StorageFull(format!(
                    "{}: {io}; not confirmed as stored; free space on the kiosk's data partition",
                    path.display()
                ))
            }
            Self::Redb(other) => SyncError::Storage(format!("{}: {other}", path.display())),
            Self::Sync(e) => e,
        }
    }
}

pub(crate) type Step<T> = Result<T, Failure>;

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, SyncError> {
    postcard::from_bytes(bytes)
        .map_err(|e| SyncError::Storage(format!("stored {what} is damaged: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, SyncError> {
    postcard::to_stdvec(value).map_err(|e| SyncError::Storage(e.to_string()))
}

/// Opens the file through the backend tests can make fail, repairing after a crash.
fn open_db(path: &Path, faults: &DiskFaults) -> Result<Database, redb::DatabaseError> {
    open_repairing(path, "kiosk store", |builder| {
        builder.create_with_backend(DiskBackend::open(path, faults.clone())?)
    })
}

fn meta_in<T: for<'de> Deserialize<'de>>(db: &Database, key: &str) -> Step<Option<T>> {
    let txn = db.begin_read()?;
    let meta = txn.open_table(META)?;
    let found = meta.get(key)?;
    Ok(found.map(|v| decode(v.value(), key)).transpose()?)
}

fn raw_meta_in(db: &Database, key: &str) -> Step<Option<Vec<u8>>> {
    let txn = db.begin_read()?;
    let meta = txn.open_table(META)?;
    let found = meta.get(key)?;
    Ok(found.map(|v| v.value().to_vec()))
}

fn put_meta_in<T: Serialize>(db: &Database, key: &str, value: &T) -> Step<()> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        meta.insert(key, encode(value)?.as_slice())?;
    }
    Ok(txn.commit()?)
}

fn state_in(db: &Database) -> Step<OutboxState> {
    Ok(meta_in(db, STATE)?.unwrap_or_default())
}

/// The outbox state in the meta table of a transaction under way.
fn state_of(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Step<OutboxState> {
    match meta.get(STATE)? {
        Some(v) => Ok(decode(v.value(), STATE)?),
        None => Ok(OutboxState::default()),
    }
}

impl Outbox {
    /// The tap journal's file beside the store at `store`: part of the store, to be
    /// copied, moved and removed with it.
    pub fn journal_path(store: &Path) -> PathBuf {
        journal::path_beside(store)
    }

    /// Opens or creates the store at `path`, with the default capacity.
    pub fn open(path: &Path) -> Result<Self, SyncError> {
        Self::open_with(path, OutboxOptions::default())
    }

    /// Opens or creates the store at `path`.
    pub fn open_with(path: &Path, options: OutboxOptions) -> Result<Self, SyncError> {
        let db = open_db(path, &options.faults).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => SyncError::Storage(format!(
                "{} is in use by another mtime-kiosk; stop it first",
                path.display()
            )),
            other => Failure::from(other).into_sync(path),
        })?;
        // It holds the kiosk's taps and roster: readable by the kiosk's user alone.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| SyncError::Storage(format!("{}: {e}", path.display())))?;

        let journal = Journal::open(&journal::path_beside(path), options.faults.clone())?;
        let outbox = Self {
            path: path.to_owned(),
            options,
            db: RwLock::new(Some(db)),
            generation: AtomicU64::new(0),
            full: AtomicBool::new(false),
            known: Mutex::new(OutboxState::default()),
            journal: Mutex::new(journal),
        };
        let moved = outbox.run(true, |db| {
            let txn = db.begin_write()?;
            txn.open_table(META)?;
            let moved = event_rows::migrate(&txn)?;
            txn.commit()?;
            Ok(moved)
        })?;
        if moved > 0 {
            tracing::info!(file = %path.display(), events = moved, "kiosk store rewritten as rows");
        }

        outbox.replay_journal()?;
        outbox.state()?;
        Ok(outbox)
    }

    /// Folds the taps a journal held when the store opened: those of a kiosk stopped, or
    /// killed, before its last fold. A journal whose taps do not follow the store's last
    /// seq belongs to another store (a file restored or copied by hand): it is set aside,
    /// never folded, and a new one made. A journal found damaged, or whose taps skip a seq,
    /// has the taps before the damage folded and is then set aside with what follows.
    fn replay_journal(&self) -> Result<(), SyncError> {
        let mut journal = self.lock_journal();
        let path = journal::path_beside(&self.path);
        let read = journal.events().len();
        let consecutive = journal
            .events()
            .windows(2)
            .position(|pair| pair[1].seq != pair[0].seq + 1)
            .map_or(read, |i| i + 1);
        let cut_short = journal.damaged_at().is_some() || consecutive < read;
        journal.keep_first(consecutive);

        if let Some(first) = journal.events().first().map(|e| e.seq) {
            let last_seq = self.state()?.last_seq;
            let last = first + consecutive as u64 - 1;
            // Taps the tree holds already (a fold that was not followed by emptying) must
            // be the very taps the journal holds under those seqs.
            let overlap = journal.events().iter().filter(|e| e.seq <= last_seq);
            let ids: Vec<(u64, EventId)> = overlap.map(|e| (e.seq, e.id)).collect();
            let matches = ids.is_empty() || self.stored_ids(ids[0].0, last_seq)? == ids;
            if first > last_seq + 1 || last < last_seq || !matches {
                let kept = journal.set_aside()?;
                tracing::error!(
                    journal = %path.display(),
                    kept = %kept.display(),
                    first,
                    last,
                    store_last = last_seq,
                    "kiosk tap journal does not follow the store; set aside, its taps not stored"
                );
                *journal = Journal::open(&path, self.options.faults.clone())?;
                return Ok(());
            }

            self.commit_journal(&journal)?;
            if last > last_seq {
                tracing::info!(
                    file = %self.path.display(),
                    events = last - last_seq,
                    "kiosk tap journal folded"
                );
            }
        }

        if cut_short {
            let kept = journal.set_aside()?;
            tracing::error!(
                journal = %path.display(),
                kept = %kept.display(),
                folded = consecutive,
                "kiosk tap journal damaged: the taps after those folded are only in the file \
                 set aside, not stored"
            );
            *journal = Journal::open(&path, self.options.faults.clone())?;
            return Ok(());
        }
        self.fold_locked(&mut journal)
    }

    /// The seq and id of each event the tree holds from `first` to `last`.
    fn stored_ids(&self, first: u64, last: u64) -> Result<Vec<(u64, EventId)>, SyncError> {
        self.run(false, |db| {
            let txn = db.begin_read()?;
            let rows = txn.open_table(event_rows::ROWS)?;
            let mut reader = event_rows::reader(&txn)?;
            let mut ids = Vec::new();
            for row in rows.range(first..=last)? {
                let (seq, value) = row?;
                ids.push((seq.value(), reader.event(seq.value(), value.value())?.id));
            }
            Ok(ids)
        })
    }

    fn lock_journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the journal's taps into the tree in one transaction, then empties it.
    fn fold_locked(&self, journal: &mut Journal) -> Result<(), SyncError> {
        if !journal.needs_folding() {
            return Ok(());
        }

        self.commit_journal(journal)?;
        journal.empty().map_err(|e| self.noted(e))
    }

    /// Stores the journal's taps in the tree in one transaction. Taps already there (a fold
    /// that committed but did not empty the journal) are skipped.
    fn commit_journal(&self, journal: &Journal) -> Result<(), SyncError> {
        let events = journal.events();
        self.update_state(|txn, _, state| {
            let mut rows = event_rows::Writer::open(txn)?;
            let stored = state.last_seq;
            for event in events.iter().filter(|e| e.seq > stored) {
                if event.seq != state.last_seq + 1 {
                    return Err(SyncError::Storage(format!(
                        "the tap journal holds seq {} after the store's {}",
                        event.seq, state.last_seq
                    ))
                    .into());
                }
                rows.put(event)?;
                state.last_seq = event.seq;
            }
            Ok(())
        })
    }

    /// Reads the outbox state in one write transaction, lets `change` alter it (and write
    /// beside it, in the meta table or others), stores it and commits: nothing another
    /// caller stored meanwhile is undone. The state stored is kept for the status.
    fn update_state<T>(
        &self,
        change: impl Fn(&WriteTransaction, &mut MetaTable<'_>, &mut OutboxState) -> Step<T>,
    ) -> Result<T, SyncError> {
        let (state, value) = self.run(true, |db| {
            let txn = db.begin_write()?;
            let (state, value) = {
                let mut meta = txn.open_table(META)?;
                let mut state = state_of(&meta)?;
                let value = change(&txn, &mut meta, &mut state)?;
                meta.insert(STATE, encode(&state)?.as_slice())?;
                (state, value)
            };
            txn.commit()?;
            Ok((state, value))
        })?;
        self.remember(state);
        Ok(value)
    }

    /// Folds the journal into the tree, for a reader of events.
    fn fold(&self) -> Result<(), SyncError> {
        let mut journal = self.lock_journal();
        self.fold_locked(&mut journal)
    }

    /// Notes a full disk met outside redb, for [`Self::status`].
    fn noted(&self, error: SyncError) -> SyncError {
        if matches!(error, SyncError::StorageFull(_)) {
            self.full.store(true, Ordering::SeqCst);
        }
        error
    }

    /// The seq last given: the journal's last tap, or else the tree's.
    fn last_seq(&self, journal: &Journal, state: &OutboxState) -> u64 {
        journal.events().last().map_or(state.last_seq, |e| e.seq.max(state.last_seq))
    }

    /// Runs `op` on the database. After an I/O failure the file is opened again: at once,
    /// and at each later call until that succeeds. An operation that met an earlier
    /// failure is tried again, once, on the reopened file; one that failed itself is
    /// reported as it failed (its transaction was not committed).
    fn run<T>(&self, writes: bool, op: impl Fn(&Database) -> Step<T>) -> Result<T, SyncError> {
        for _ in 0..2 {
            let (seen, outcome) = {
                let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
                (self.generation.load(Ordering::SeqCst), db.as_ref().map(&op))
            };
            let failure = match outcome {
                Some(Ok(value)) => {
                    if writes {
                        self.full.store(false, Ordering::SeqCst);
                    }
                    return Ok(value);
                }
                Some(Err(failure)) if !failure.broke_the_file() => {
                    return Err(self.error(failure));
                }
                Some(Err(failure)) => Some(failure),
                None => None,
            };

            let reopened = self.reopen(seen);
            match failure {
                // A write is never run twice: its own pages may have reached the file
                // before the failure (see the module's limitations).
                Some(failure) if writes || !failure.earlier() => return Err(self.error(failure)),
                _ => reopened?,
            }
        }
        Err(SyncError::Storage(format!(
            "{}: the store failed again as soon as it was reopened",
            self.path.display()
        )))
    }

    /// Turns a failure into the caller's error, noting a full disk for [`Self::status`].
    /// A file refused after another caller's write met a full disk is a full disk too.
    fn error(&self, failure: Failure) -> SyncError {
        let error = if failure.earlier() && self.full.load(Ordering::SeqCst) {
            SyncError::StorageFull(format!(
                "{}: an earlier write was refused for lack of space; not stored; free space \
                 on the kiosk's data partition",
                self.path.display()
            ))
        } else {
            failure.into_sync(&self.path)
        };
        if matches!(error, SyncError::StorageFull(_)) {
            self.full.store(true, Ordering::SeqCst);
        }
        error
    }

    /// Drops the database redb refuses and opens the file again, unless another caller
    /// did so since generation `seen`.
    fn reopen(&self, seen: u64) -> Result<(), SyncError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if db.is_some() && self.generation.load(Ordering::SeqCst) != seen {
            return Ok(());
        }

        // The old handle holds the file's locks: it must be gone before the file is opened.
        drop(db.take());
        let fresh =
            open_db(&self.path, &self.options.faults).map_err(|e| self.error(Failure::from(e)))?;
        *db = Some(fresh);
        self.generation.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(file = %self.path.display(), "kiosk store reopened after a storage failure");
        Ok(())
    }

    fn meta<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>, SyncError> {
        self.run(false, |db| meta_in(db, key))
    }

    fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<(), SyncError> {
        self.run(true, |db| put_meta_in(db, key, value))
    }

    fn state(&self) -> Result<OutboxState, SyncError> {
        let state = self.run(false, state_in)?;
        self.remember(state);
        Ok(state)
    }

    fn remember(&self, state: OutboxState) {
        *self.known.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// The capacity the outbox was opened with.
    pub fn capacity(&self) -> u64 {
        self.options.capacity
    }

    /// Filling, full or fine: unsynced events against the capacity.
    pub fn capacity_state(&self) -> Result<CapacityState, SyncError> {
        Ok(CapacityState::of(self.pending()?, self.options.capacity))
    }

    /// How the outbox stands, for the screen to poll and the heartbeat to carry. Never
    /// fails: when the store cannot be read it gives the last counts known, marked so.
    /// While a write is refused for lack of space, each call tries a small write, so that
    /// the status leaves "storage full" as soon as the disk has room.
    pub fn status(&self) -> OutboxStatus {
        if self.full.load(Ordering::SeqCst) {
            let probe = self.put_meta(PROBE, &());
            tracing::debug!(ok = probe.is_ok(), "kiosk store probed for space");
        }

        let journal = self.lock_journal();
        let (state, current) = match self.state() {
            Ok(state) => (state, true),
            Err(_) => (*self.known.lock().unwrap_or_else(PoisonError::into_inner), false),
        };
        let pending = self.last_seq(&journal, &state) - state.acked_through;
        drop(journal);
        OutboxStatus {
            pending,
            acked_through: state.acked_through,
            capacity: self.options.capacity,
            capacity_state: CapacityState::of(pending, self.options.capacity),
            storage_full: self.full.load(Ordering::SeqCst),
            halted: state.halted,
            current,
        }
    }

    /// The kiosk's identity, once enrolled.
    pub fn identity(&self) -> Result<Option<Identity>, SyncError> {
        let Some(bytes) = self.run(false, |db| raw_meta_in(db, IDENTITY))? else {
            return Ok(None);
        };
        // An identity stored before the kiosk settings carried `pin_fallback` ends where
        // that field would begin, so it cannot be misread as the current layout.
        match decode::<Identity>(&bytes, IDENTITY) {
            Ok(identity) => Ok(Some(identity)),
            Err(e) => match postcard::from_bytes::<crate::legacy::IdentityV1>(&bytes) {
                Ok(old) => Ok(Some(old.into())),
                Err(_) => Err(e),
            },
        }
    }

    /// Records the kiosk's identity.
    pub fn save_identity(&self, identity: &Identity) -> Result<(), SyncError> {
        self.put_meta(IDENTITY, identity)
    }

    /// The last roster received, as the server signed it.
    pub fn roster_bytes(&self) -> Result<Option<Vec<u8>>, SyncError> {
        self.meta(ROSTER)
    }

    /// Keeps a roster the server signed.
    pub fn save_roster_bytes(&self, bytes: &[u8]) -> Result<(), SyncError> {
        self.put_meta(ROSTER, &bytes.to_vec())
    }

    /// Stores a new event durably, giving it the next seq, and returns it. When this
    /// returns, the event is on disk.
    ///
    /// On a full disk this fails with [`SyncError::StorageFull`] and, when the disk refused
    /// the write itself, stores nothing: the seq is not used, and the next append that
    /// finds room gets it. (When only the final sync failed, see the module's limitations.)
    /// Reaching the capacity refuses nothing (see [`OutboxOptions::capacity`]).
    pub fn append(&self, kiosk: KioskId, draft: EventDraft) -> Result<PresenceEvent, SyncError> {
        let mut journal = self.lock_journal();
        let state = match journal.events().last() {
            Some(_) => OutboxState::default(),
            None => self.state()?,
        };
        let event = PresenceEvent {
            id: EventId::time_ordered(),
            kiosk,
            seq: self.last_seq(&journal, &state) + 1,
            subject: draft.subject,
            direction: draft.direction,
            direction_source: draft.direction_source,
            reason: draft.reason,
            time: draft.time,
            amends: draft.amends,
        };

        // A full journal, or one a write failed in, is folded and emptied first.
        let mut stored = journal.append(&event).map_err(|e| self.noted(e))?;
        if !stored {
            self.fold_locked(&mut journal)?;
            stored = journal.append(&event).map_err(|e| self.noted(e))?;
        }
        if !stored {
            return Err(SyncError::Storage("an event too large for the tap journal".into()));
        }
        self.full.store(false, Ordering::SeqCst);
        Ok(event)
    }

    /// Stores several events durably in one transaction, giving them the next seqs in
    /// order: all of them or, on an error, none. For events that arrive together (an
    /// import, a test or benchmark filling a store); a tap uses [`Self::append`].
    pub fn append_all(
        &self,
        kiosk: KioskId,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<PresenceEvent>, SyncError> {
        let mut journal = self.lock_journal();
        self.fold_locked(&mut journal)?;

        self.update_state(|txn, _, state| {
            let mut rows = event_rows::Writer::open(txn)?;
            let mut stored = Vec::with_capacity(drafts.len());
            for draft in &drafts {
                state.last_seq += 1;
                let event = PresenceEvent {
                    id: EventId::time_ordered(),
                    kiosk,
                    seq: state.last_seq,
                    subject: draft.subject.clone(),
                    direction: draft.direction,
                    direction_source: draft.direction_source,
                    reason: draft.reason.clone(),
                    time: draft.time,
                    amends: draft.amends,
                };
                rows.put(&event)?;
                stored.push(event);
            }
            Ok(stored)
        })
    }

    /// Events stored but not yet acknowledged by a receipt.
    pub fn pending(&self) -> Result<u64, SyncError> {
        let journal = self.lock_journal();
        let state = self.state()?;
        Ok(self.last_seq(&journal, &state) - state.acked_through)
    }

    /// The highest seq a receipt covered.
    pub fn acked_through(&self) -> Result<u64, SyncError> {
        Ok(self.state()?.acked_through)
    }

    /// Whether a sealed batch waits for its receipt.
    pub fn has_inflight(&self) -> Result<bool, SyncError> {
        Ok(self.meta::<Inflight>(INFLIGHT)?.is_some())
    }

    /// Whether uploading stopped after a fork or gap.
    pub fn halted(&self) -> Result<bool, SyncError> {
        Ok(self.state()?.halted)
    }

    /// Stops uploading until an admin acts.
    pub fn halt(&self) -> Result<(), SyncError> {
        self.update_state(|_, _, state| {
            state.halted = true;
            Ok(())
        })
    }

    /// Every stored event, in seq order.
    pub fn events(&self) -> Result<Vec<PresenceEvent>, SyncError> {
        self.fold()?;
        self.run(false, |db| {
            let txn = db.begin_read()?;
            let rows = txn.open_table(event_rows::ROWS)?;
            let mut reader = event_rows::reader(&txn)?;
            let mut out = Vec::new();
            for row in rows.iter()? {
                let (seq, value) = row?;
                out.push(reader.event(seq.value(), value.value())?);
            }
            Ok(out)
        })
    }

    /// The batch to send next: the in-flight one if a receipt is still owed, else a new
    /// one of up to `max_events` pending events, sealed and stored before it is returned.
    pub fn next_batch(
        &self,
        kiosk: KioskId,
        key: &SigningKey,
        max_events: usize,
    ) -> Result<Option<Inflight>, SyncError> {
        if let Some(inflight) = self.meta::<Inflight>(INFLIGHT)? {
            return Ok(Some(inflight));
        }

        self.fold()?;
        self.seal_inflight(kiosk, key, Seal::New { max_events: max_events.max(1) as u64 })
    }

    /// Seals a batch and keeps it as the batch in flight, reading what it seals from and
    /// after in the same transaction, so that callers at once seal one batch between them
    /// and none seals from a state a receipt has since moved: two batches from one seq
    /// would fork. Returns `None` when there is nothing to seal.
    fn seal_inflight(
        &self,
        kiosk: KioskId,
        key: &SigningKey,
        seal: Seal,
    ) -> Result<Option<Inflight>, SyncError> {
        self.run(true, |db| {
            let txn = db.begin_write()?;
            let (first, last, prev) = {
                let meta = txn.open_table(META)?;
                let state = state_of(&meta)?;
                let sealed: Option<Inflight> =
                    meta.get(INFLIGHT)?.map(|v| decode(v.value(), INFLIGHT)).transpose()?;
                match (seal, sealed) {
                    (Seal::New { .. }, Some(sealed)) => return Ok(Some(sealed)),
                    (Seal::New { .. }, None) if state.last_seq == state.acked_through => {
                        return Ok(None);
                    }
                    (Seal::New { max_events }, None) => {
                        let first = state.acked_through + 1;
                        let last = first.saturating_add(max_events - 1).min(state.last_seq);
                        (first, last, state.last_hash)
                    }
                    (Seal::Again, Some(sealed)) => {
                        (sealed.first_seq, sealed.last_seq, state.last_hash)
                    }
                    (Seal::Again, None) => return Ok(None),
                }
            };

            let inflight = {
                let rows = txn.open_table(event_rows::ROWS)?;
                let mut reader = event_rows::reader_in(&txn)?;
                let mut events = Vec::new();
                for row in rows.range(first..=last)? {
                    let (seq, value) = row?;
                    events.push(reader.event(seq.value(), value.value())?);
                }
                event_rows::check_gapless(first, last, &events)?;
                let batch = Batch { kiosk, prev, events };
                let sealed = batch.seal(key).map_err(|e| SyncError::Storage(e.to_string()))?;
                let inflight = Inflight {
                    first_seq: sealed.batch.first_seq(),
                    last_seq: sealed.batch.last_seq(),
                    hash: sealed.hash,
                    bytes: sealed.bytes,
                };
                let mut meta = txn.open_table(META)?;
                meta.insert(INFLIGHT, encode(&inflight)?.as_slice())?;
                inflight
            };
            txn.commit()?;
            Ok(Some(inflight))
        })
    }

    /// Seals the in-flight batch again, same events and predecessor, with `key`: for a
    /// batch sealed with a key the server gave up while the kiosk switched keys. Such a
    /// batch cannot be stored on the server (it refuses the old key), so new bytes for the
    /// same events fork nothing. Does nothing when no batch is in flight.
    pub fn reseal_inflight(&self, kiosk: KioskId, key: &SigningKey) -> Result<(), SyncError> {
        self.seal_inflight(kiosk, key, Seal::Again).map(|_| ())
    }

    /// Accepts a verified receipt for the in-flight batch: its events leave the outbox.
    pub fn acknowledge(&self, kiosk: KioskId, receipt: &Receipt) -> Result<(), SyncError> {
        let inflight: Inflight = self.meta(INFLIGHT)?.ok_or_else(|| {
            SyncError::Protocol("a receipt arrived but no batch is in flight".into())
        })?;
        if !receipt.covers(kiosk, inflight.hash, inflight.last_seq) {
            return Err(SyncError::Protocol(format!(
                "receipt does not cover batch {}..{}",
                inflight.first_seq, inflight.last_seq
            )));
        }

        self.update_state(|_, meta, state| {
            // The batch checked above must still be the one in flight: a receipt taken
            // twice at once must not drop the batch sealed after the first.
            let still: Option<Inflight> =
                meta.get(INFLIGHT)?.map(|v| decode(v.value(), INFLIGHT)).transpose()?;
            if still.is_none_or(|s| s.hash != inflight.hash) {
                return Err(SyncError::Protocol(format!(
                    "batch {}..{} was acknowledged already",
                    inflight.first_seq, inflight.last_seq
                ))
                .into());
            }
            state.acked_through = inflight.last_seq;
            state.last_hash = inflight.hash;
            meta.remove(INFLIGHT)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_halted_outbox_says_so_in_its_status_and_report() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("k.redb")).unwrap();
        assert!(!outbox.status().halted);
        outbox.halt().unwrap();
        let status = outbox.status();
        assert!(status.halted && status.report().halted);
    }

    #[test]
    fn a_journal_whose_taps_skip_a_seq_is_folded_up_to_the_gap_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.redb");
        drop(Outbox::open(&path).unwrap());
        let kiosk = KioskId::random();
        let journal_path = journal::path_beside(&path);
        let mut journal = Journal::open(&journal_path, DiskFaults::default()).unwrap();
        let events: Vec<PresenceEvent> = [1, 2, 4, 5]
            .into_iter()
            .map(|seq| PresenceEvent {
                id: EventId::time_ordered(),
                kiosk,
                seq,
                subject: draft().subject,
                direction: Direction::In,
                direction_source: DirectionSource::Explicit,
                reason: "WORK".parse().unwrap(),
                time: draft().time,
                amends: None,
            })
            .collect();
        for event in &events {
            assert!(journal.append(event).unwrap());
        }
        drop(journal);

        let outbox = Outbox::open(&path).unwrap();
        assert_eq!(outbox.events().unwrap(), events[..2]);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("set-aside"))
            .count();
        assert_eq!(aside, 1);
        assert_eq!(outbox.append(kiosk, draft()).unwrap().seq, 3);
    }

    #[test]
    fn an_identity_stored_before_pin_fallback_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("k.redb")).unwrap();
        let old = crate::legacy::IdentityV1::example();
        outbox.put_meta(IDENTITY, &old).unwrap();
        let identity = outbox.identity().unwrap().unwrap();
        assert_eq!(identity.name, old.name);
        assert_eq!(identity.config.language, "nb");
        assert_eq!(identity.config.max_open_hours, 12);
        assert!(!identity.config.pin_fallback);
    }

    use chrono::Utc;
    use mtime_core::batch::SealedBatch;
    use mtime_core::ids::{BootId, EmployeeId};

    use super::*;

    fn draft() -> EventDraft {
        EventDraft {
            subject: Subject::Employee { id: EmployeeId::random(), badge: None },
            direction: Direction::In,
            direction_source: DirectionSource::Explicit,
            reason: "WORK".parse().unwrap(),
            time: TimeReading {
                wall: Utc::now(),
                boot: BootId::random(),
                monotonic: std::time::Duration::from_secs(5),
                wall_trusted: true,
            },
            amends: None,
        }
    }

    #[test]
    fn the_store_is_readable_by_its_user_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.redb");
        drop(Outbox::open(&path).unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(Outbox::open(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_batch_in_flight_is_sealed_again_with_a_new_key_over_the_same_events() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("k.redb")).unwrap();
        let kiosk = KioskId::random();
        let (old, new) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        for _ in 0..3 {
            outbox.append(kiosk, draft()).unwrap();
        }
        let first = outbox.next_batch(kiosk, &old, 2).unwrap().unwrap();
        outbox.reseal_inflight(kiosk, &new).unwrap();
        let again = outbox.next_batch(kiosk, &new, 2).unwrap().unwrap();
        assert_eq!((again.first_seq, again.last_seq), (first.first_seq, first.last_seq));
        assert!(SealedBatch::open(&again.bytes, kiosk, &old.public()).is_err());
        let opened = SealedBatch::open(&again.bytes, kiosk, &new.public()).unwrap();
        let before = SealedBatch::open(&first.bytes, kiosk, &old.public()).unwrap();
        assert_eq!(opened.batch, before.batch, "the same events and predecessor");
    }

    #[test]
    fn events_get_gapless_seqs_and_leave_only_on_a_covering_receipt() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("k.redb")).unwrap();
        let kiosk = KioskId::random();
        let key = SigningKey::generate().unwrap();
        for expected in 1..=3 {
            assert_eq!(outbox.append(kiosk, draft()).unwrap().seq, expected);
        }
        assert_eq!(outbox.pending().unwrap(), 3);

        let batch = outbox.next_batch(kiosk, &key, 2).unwrap().unwrap();
        assert_eq!((batch.first_seq, batch.last_seq), (1, 2));
        // Until a receipt arrives, the same bytes are offered again.
        assert_eq!(outbox.next_batch(kiosk, &key, 2).unwrap().unwrap(), batch);
        let opened = SealedBatch::open(&batch.bytes, kiosk, &key.public()).unwrap();
        assert_eq!(opened.batch.prev, BatchHash::GENESIS);

        let mut receipt = Receipt {
            kiosk,
            batch: BatchHash::GENESIS,
            first_seq: 1,
            last_seq: 2,
            stored_through: 2,
            stored_at: Utc::now(),
        };
        assert!(outbox.acknowledge(kiosk, &receipt).is_err(), "wrong hash must not ack");
        assert_eq!(outbox.pending().unwrap(), 3);
        receipt.batch = batch.hash;
        outbox.acknowledge(kiosk, &receipt).unwrap();
        assert_eq!(outbox.pending().unwrap(), 1);
        assert_eq!(outbox.acked_through().unwrap(), 2);

        let next = outbox.next_batch(kiosk, &key, 10).unwrap().unwrap();
        assert_eq!((next.first_seq, next.last_seq), (3, 3));
        let opened = SealedBatch::open(&next.bytes, kiosk, &key.public()).unwrap();
        assert_eq!(opened.batch.prev, batch.hash, "batches form a chain");
    }

    #[test]
    fn events_stored_together_continue_the_seqs_of_single_ones() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("k.redb")).unwrap();
        let kiosk = KioskId::random();
        assert_eq!(outbox.append(kiosk, draft()).unwrap().seq, 1);
        let together = outbox.append_all(kiosk, vec![draft(), draft(), draft()]).unwrap();
        let seqs: Vec<u64> = together.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3, 4]);
        assert_eq!(outbox.append(kiosk, draft()).unwrap().seq, 5);
        assert_eq!(outbox.pending().unwrap(), 5);
        assert_eq!(outbox.events().unwrap()[1..4], together[..]);
    }

    #[test]
    fn a_second_node_on_the_same_store_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.redb");
        let _first = Outbox::open(&path).unwrap();
        let second = Outbox::open(&path).err().unwrap();
        assert!(second.to_string().contains("in use by another mtime-kiosk"), "{second}");
    }

    #[test]
    fn the_capacity_warns_from_eighty_percent_and_never_refuses_a_tap() {
        let dir = tempfile::tempdir().unwrap();
        let options = OutboxOptions { capacity: 10, ..OutboxOptions::default() };
        let outbox = Outbox::open_with(&dir.path().join("k.redb"), options).unwrap();
        let kiosk = KioskId::random();
        let key = SigningKey::generate().unwrap();
        assert_eq!(outbox.capacity(), 10);

        outbox.append_all(kiosk, (0..7).map(|_| draft()).collect()).unwrap();
        assert_eq!(outbox.capacity_state().unwrap(), CapacityState::Ok);
        outbox.append(kiosk, draft()).unwrap();
        let filling = CapacityState::Filling { pending: 8, capacity: 10 };
        assert_eq!(outbox.capacity_state().unwrap(), filling);
        assert_eq!(outbox.status().capacity_state, filling);

        // Past the capacity: still stored, nothing dropped to make room.
        for expected in 9..=12 {
            assert_eq!(outbox.append(kiosk, draft()).unwrap().seq, expected);
        }
        let full = CapacityState::Full { pending: 12, capacity: 10 };
        assert_eq!(outbox.capacity_state().unwrap(), full);
        assert_eq!(outbox.events().unwrap().len(), 12);

        // Synced: back to fine.
        let batch = outbox.next_batch(kiosk, &key, 10).unwrap().unwrap();
        let receipt = Receipt {
            kiosk,
            batch: batch.hash,
            first_seq: 1,
            last_seq: 10,
            stored_through: 10,
            stored_at: Utc::now(),
        };
        outbox.acknowledge(kiosk, &receipt).unwrap();
        assert_eq!(outbox.capacity_state().unwrap(), CapacityState::Ok);
        let status = outbox.status();
        assert_eq!((status.pending, status.acked_through, status.current), (2, 10, true));
        assert_eq!(
            status.report(),
            OutboxReport { pending: 2, capacity: 10, storage_full: false, halted: false }
        );
    }

    #[test]
    fn stored_events_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.redb");
        let kiosk = KioskId::random();
        let stored = Outbox::open(&path).unwrap().append(kiosk, draft()).unwrap();
        let reopened = Outbox::open(&path).unwrap();
        assert_eq!(reopened.events().unwrap(), vec![stored]);
        assert_eq!(reopened.pending().unwrap(), 1);
    }

    /// Events as a kiosk stored them before rows: seqs 1 to `count`.
    fn older_events(kiosk: KioskId, count: u64) -> Vec<PresenceEvent> {
        (1..=count)
            .map(|seq| {
                let d = draft();
                PresenceEvent {
                    id: EventId::time_ordered(),
                    kiosk,
                    seq,
                    subject: d.subject,
                    direction: d.direction,
                    direction_source: d.direction_source,
                    reason: d.reason,
                    time: d.time,
                    amends: None,
                }
            })
            .collect()
    }

    /// A store in the layout before rows: each event whole under its seq, `stored` as the
    /// bytes kept, and the outbox state counting them.
    fn store_whole_events(path: &Path, stored: &[(u64, Vec<u8>)]) {
        const WHOLE: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
        let db = Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut whole = txn.open_table(WHOLE).unwrap();
            for (seq, bytes) in stored {
                whole.insert(*seq, bytes.as_slice()).unwrap();
            }
            let last_seq = stored.iter().map(|(seq, _)| *seq).max().unwrap_or(0);
            let state = OutboxState { last_seq, ..OutboxState::default() };
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(STATE, encode(&state).unwrap().as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_store_that_kept_whole_events_opens_with_them_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.redb");
        let kiosk = KioskId::random();
        let older = older_events(kiosk, 3);
        let stored: Vec<(u64, Vec<u8>)> =
            older.iter().map(|e| (e.seq, encode(e).unwrap())).collect();
        store_whole_events(&path, &stored);

        let outbox = Outbox::open(&path).unwrap();
        assert_eq!(outbox.events().unwrap(), older);
        let next = outbox.append(kiosk, draft()).unwrap();
        assert_eq!(next.seq, 4);
        let key = SigningKey::generate().unwrap();
        let batch = outbox.next_batch(kiosk, &key, 10).unwrap().unwrap();
        let sealed = SealedBatch::open(&batch.bytes, kiosk, &key.public()).unwrap();
        let mut all = older.clone();
        all.push(next);
        assert_eq!(sealed.batch.events, all);
    }

    #[test]
    fn an_old_event_that_cannot_be_read_leaves_the_kiosk_taking_taps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.redb");
        let kiosk = KioskId::random();
        // Seq 2 of three is damaged.
        let mut stored: Vec<(u64, Vec<u8>)> =
            older_events(kiosk, 3).iter().map(|e| (e.seq, encode(e).unwrap())).collect();
        stored[1].1 = vec![0xFF, 0x00];
        store_whole_events(&path, &stored);

        let outbox = Outbox::open(&path).unwrap();
        let seqs: Vec<u64> = outbox.events().unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 3]);
        assert_eq!(outbox.append(kiosk, draft()).unwrap().seq, 4);
        assert_eq!(outbox.pending().unwrap(), 4);

        let key = SigningKey::generate().unwrap();
        let error = outbox.next_batch(kiosk, &key, 10).unwrap_err().to_string();
        assert!(error.contains("seq 2 could not be read"), "{error}");
        assert!(!outbox.has_inflight().unwrap(), "nothing sealed past the damaged event");
        // The events before it still go: a batch that ends before it.
        let batch = outbox.next_batch(kiosk, &key, 1).unwrap().unwrap();
        assert_eq!((batch.first_seq, batch.last_seq), (1, 1));
    }
}
