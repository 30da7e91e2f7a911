//! The kiosk's durable store: every event it recorded, the in-flight batch, how far the
//! server has acknowledged, the kiosk's identity and its last roster. One redb file.
//!
//! Exactly-once by construction: an event gets its seq in the same transaction that
//! stores it; a batch is sealed and stored before it is sent and resent byte for byte
//! until a receipt covers it; only then does the acknowledged seq move past it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use mtime_core::batch::{Batch, BatchHash, Receipt};
use mtime_core::event::{
    Amendment,
    Direction, DirectionSource, PresenceEvent, ReasonCode, Subject, TimeReading,
};
use mtime_core::ids::{EventId, KioskId};
use mtime_core::keys::{PublicKey, SigningKey};
use mtime_core::protocol::{KioskConfig, SiteInfo};

use crate::SyncError;

const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const STATE: &str = "outbox_state";
const IDENTITY: &str = "identity";
const ROSTER: &str = "roster";
const INFLIGHT: &str = "inflight";

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

/// The kiosk's store.
pub struct Outbox {
    db: Database,
}

fn storage(e: impl std::fmt::Display) -> SyncError {
    SyncError::Storage(e.to_string())
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, SyncError> {
    postcard::from_bytes(bytes)
        .map_err(|e| SyncError::Storage(format!("stored {what} is damaged: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, SyncError> {
    postcard::to_stdvec(value).map_err(storage)
}

impl Outbox {
    /// Opens or creates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, SyncError> {
        let db = open_repairing(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => SyncError::Storage(format!(
                "{} is in use by another mtime-kiosk; stop it first",
                path.display()
            )),
            other => SyncError::Storage(format!("{}: {other}", path.display())),
        })?;
        // It holds the kiosk's taps and roster: readable by the kiosk's user alone.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| SyncError::Storage(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(EVENTS).map_err(storage)?;
        txn.open_table(META).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(Self { db })
    }

    fn meta<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>, SyncError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        let found = meta.get(key).map_err(storage)?;
        found.map(|v| decode(v.value(), key)).transpose()
    }

    fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<(), SyncError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = txn.open_table(META).map_err(storage)?;
            meta.insert(key, encode(value)?.as_slice()).map_err(storage)?;
        }
        txn.commit().map_err(storage)
    }

    fn state(&self) -> Result<OutboxState, SyncError> {
        Ok(self.meta(STATE)?.unwrap_or_default())
    }

    /// The kiosk's identity, once enrolled.
    pub fn identity(&self) -> Result<Option<Identity>, SyncError> {
        self.meta(IDENTITY)
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
    pub fn append(&self, kiosk: KioskId, draft: EventDraft) -> Result<PresenceEvent, SyncError> {
        let mut stored = self.append_all(kiosk, vec![draft])?;
        stored.pop().ok_or_else(|| SyncError::Storage("no event was stored".into()))
    }

    /// Stores several events durably in one transaction, giving them the next seqs in
    /// order: all of them or, on an error, none. For events that arrive together (an
    /// import, a test or benchmark filling a store); a tap uses [`Self::append`].
    pub fn append_all(
        &self,
        kiosk: KioskId,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<PresenceEvent>, SyncError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let stored = {
            let mut meta = txn.open_table(META).map_err(storage)?;
            let mut state: OutboxState = match meta.get(STATE).map_err(storage)? {
                Some(v) => decode(v.value(), STATE)?,
                None => OutboxState::default(),
            };
            let mut events = txn.open_table(EVENTS).map_err(storage)?;
            let mut stored = Vec::with_capacity(drafts.len());
            for draft in drafts {
                state.last_seq += 1;
                let event = PresenceEvent {
                    id: EventId::random(),
                    kiosk,
                    seq: state.last_seq,
                    subject: draft.subject,
                    direction: draft.direction,
                    direction_source: draft.direction_source,
                    reason: draft.reason,
                    time: draft.time,
                    amends: draft.amends,
                };
                events.insert(event.seq, encode(&event)?.as_slice()).map_err(storage)?;
                stored.push(event);
            }
            meta.insert(STATE, encode(&state)?.as_slice()).map_err(storage)?;
            stored
        };
        txn.commit().map_err(storage)?;
        Ok(stored)
    }

    /// Events stored but not yet acknowledged by a receipt.
    pub fn pending(&self) -> Result<u64, SyncError> {
        let state = self.state()?;
        Ok(state.last_seq - state.acked_through)
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
        let mut state = self.state()?;
        state.halted = true;
        self.put_meta(STATE, &state)
    }

    /// Every stored event, in seq order.
    pub fn events(&self) -> Result<Vec<PresenceEvent>, SyncError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let events = txn.open_table(EVENTS).map_err(storage)?;
        let mut out = Vec::new();
        for row in events.iter().map_err(storage)? {
            let (_, value) = row.map_err(storage)?;
            out.push(decode(value.value(), "event")?);
        }
        Ok(out)
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

        let state = self.state()?;
        if state.last_seq == state.acked_through {
            return Ok(None);
        }
        let first = state.acked_through + 1;
        let last = first.saturating_add(max_events.max(1) as u64 - 1);
        self.seal_inflight(kiosk, key, first, last, state.last_hash).map(Some)
    }

    /// Seals the stored events `first..=last` after `prev` and keeps them as the batch in
    /// flight, in one transaction.
    fn seal_inflight(
        &self,
        kiosk: KioskId,
        key: &SigningKey,
        first: u64,
        last: u64,
        prev: BatchHash,
    ) -> Result<Inflight, SyncError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let inflight = {
            let events_table = txn.open_table(EVENTS).map_err(storage)?;
            let mut events = Vec::new();
            for row in events_table.range(first..=last).map_err(storage)? {
                let (_, value) = row.map_err(storage)?;
                events.push(decode::<PresenceEvent>(value.value(), "event")?);
            }
            let batch = Batch { kiosk, prev, events };
            let sealed = batch.seal(key).map_err(|e| SyncError::Storage(e.to_string()))?;
            let inflight = Inflight {
                first_seq: sealed.batch.first_seq(),
                last_seq: sealed.batch.last_seq(),
                hash: sealed.hash,
                bytes: sealed.bytes,
            };
            let mut meta = txn.open_table(META).map_err(storage)?;
            meta.insert(INFLIGHT, encode(&inflight)?.as_slice()).map_err(storage)?;
            inflight
        };
        txn.commit().map_err(storage)?;
        Ok(inflight)
    }

    /// Seals the in-flight batch again, same events and predecessor, with `key`: for a
    /// batch sealed with a key the server gave up while the kiosk switched keys. Such a
    /// batch cannot be stored on the server (it refuses the old key), so new bytes for the
    /// same events fork nothing. Does nothing when no batch is in flight.
    pub fn reseal_inflight(&self, kiosk: KioskId, key: &SigningKey) -> Result<(), SyncError> {
        let Some(old) = self.meta::<Inflight>(INFLIGHT)? else { return Ok(()) };
        let prev = self.state()?.last_hash;
        self.seal_inflight(kiosk, key, old.first_seq, old.last_seq, prev).map(|_| ())
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

        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = txn.open_table(META).map_err(storage)?;
            let mut state: OutboxState = match meta.get(STATE).map_err(storage)? {
                Some(v) => decode(v.value(), STATE)?,
                None => OutboxState::default(),
            };
            state.acked_through = inflight.last_seq;
            state.last_hash = inflight.hash;
            meta.insert(STATE, encode(&state)?.as_slice()).map_err(storage)?;
            meta.remove(INFLIGHT).map_err(storage)?;
        }
        txn.commit().map_err(storage)
    }
}

/// Opens the database, saying so when it has to be repaired after an unclean shutdown
/// (power lost while writing): committed events survive, a torn transaction is discarded.
fn open_repairing(path: &Path) -> Result<Database, redb::DatabaseError> {
    let file = path.display().to_string();
    let warned = std::sync::atomic::AtomicBool::new(false);
    let db = Database::builder()
        .set_repair_callback(move |session: &mut redb::RepairSession| {
            if !warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(file = %file, "kiosk store was not closed cleanly; repairing");
            }
            tracing::debug!(progress = session.progress(), "repair progress");
        })
        .create(path)?;
    Ok(db)
}

#[cfg(test)]
mod tests {
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
    fn stored_events_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.redb");
        let kiosk = KioskId::random();
        let stored = Outbox::open(&path).unwrap().append(kiosk, draft()).unwrap();
        let reopened = Outbox::open(&path).unwrap();
        assert_eq!(reopened.events().unwrap(), vec![stored]);
        assert_eq!(reopened.pending().unwrap(), 1);
    }
}
