//! Batches: how a kiosk hands its events to the server.
//!
//! A batch carries a contiguous range of one kiosk's event sequence numbers, names the
//! hash of the kiosk's previous batch (so a kiosk's history is a chain), and is signed by
//! the kiosk over its exact bytes (see [`crate::seal`]). The server answers each stored
//! batch with a [`Receipt`] signed by its own key.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::PresenceEvent;
use crate::ids::{EventId, KioskId};
use crate::keys::{PublicKey, SigningKey};
use crate::seal::{self, Kind, SealError};

/// The batch format written and read by this build.
pub const BATCH: Kind =
    Kind { context: b"mtime.batch", version: 1, max_bytes: 1 << 20, name: "batch" };

/// Receipts for stored batches.
pub const RECEIPT: Kind =
    Kind { context: b"mtime.receipt", version: 1, max_bytes: 1024, name: "receipt" };

/// The most events one batch may carry.
pub const MAX_BATCH_EVENTS: usize = 5_000;

/// The SHA-256 of a batch's exact bytes, signature included.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct BatchHash(pub [u8; 32]);

impl BatchHash {
    /// The hash a kiosk's first batch names as its predecessor.
    pub const GENESIS: Self = Self([0; 32]);

    /// Hashes a batch's bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for BatchHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BatchHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchHash({})", &hex::encode(&self.0[..8]))
    }
}

/// A batch's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The kiosk that made it.
    pub kiosk: KioskId,
    /// The hash of the kiosk's previous batch, or [`BatchHash::GENESIS`].
    pub prev: BatchHash,
    /// The events, in sequence order.
    pub events: Vec<PresenceEvent>,
}

/// A batch that is not acceptable even though it may be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The envelope failed: size, signature, version or encoding.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// No events.
    #[error("batch from kiosk {kiosk} carries no events")]
    Empty {
        /// The kiosk.
        kiosk: KioskId,
    },
    /// More events than any batch may carry.
    #[error("batch from kiosk {kiosk} carries {len} events; the limit is {MAX_BATCH_EVENTS}")]
    TooManyEvents {
        /// The kiosk.
        kiosk: KioskId,
        /// How many it carried.
        len: usize,
    },
    /// Signed by one kiosk but naming another.
    #[error("batch signed by kiosk {signer} names kiosk {named}")]
    WrongKiosk {
        /// Whose key verified it.
        signer: KioskId,
        /// The kiosk the batch or one of its events names.
        named: KioskId,
    },
    /// Sequence numbers that do not run on by one.
    #[error("batch from kiosk {kiosk} is not contiguous: seq {found} follows {previous}")]
    NotContiguous {
        /// The kiosk.
        kiosk: KioskId,
        /// The seq before.
        previous: u64,
        /// The seq found after it.
        found: u64,
    },
    /// Sequence numbers start at 1.
    #[error("batch from kiosk {kiosk} starts at seq 0; sequences start at 1")]
    ZeroSeq {
        /// The kiosk.
        kiosk: KioskId,
    },
    /// An event amends itself or an event after it: an amendment changes an earlier tap.
    #[error(
        "batch from kiosk {kiosk}: the event at seq {seq} amends event {target}, which is \
         itself or comes after it; an amendment may only change an earlier event"
    )]
    AmendsLater {
        /// The kiosk.
        kiosk: KioskId,
        /// The amending event's seq.
        seq: u64,
        /// The event it names.
        target: EventId,
    },
}

/// A batch with its exact signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBatch {
    /// The batch.
    pub batch: Batch,
    /// The bytes as signed and sent.
    pub bytes: Vec<u8>,
    /// Their hash.
    pub hash: BatchHash,
}

impl Batch {
    /// The first sequence number carried.
    pub fn first_seq(&self) -> u64 {
        self.events.first().map_or(0, |e| e.seq)
    }

    /// The last sequence number carried.
    pub fn last_seq(&self) -> u64 {
        self.events.last().map_or(0, |e| e.seq)
    }

    /// Checks the rules a signature cannot: events present, contiguous, one kiosk.
    pub fn validate(&self, signer: KioskId) -> Result<(), BatchError> {
        if self.kiosk != signer {
            return Err(BatchError::WrongKiosk { signer, named: self.kiosk });
        }
        if self.events.is_empty() {
            return Err(BatchError::Empty { kiosk: self.kiosk });
        }
        if self.events.len() > MAX_BATCH_EVENTS {
            return Err(BatchError::TooManyEvents { kiosk: self.kiosk, len: self.events.len() });
        }
        if self.first_seq() == 0 {
            return Err(BatchError::ZeroSeq { kiosk: self.kiosk });
        }

        for pair in self.events.windows(2) {
            // Checked, not wrapping: the largest seq followed by 0 is no run, and would
            // leave a batch whose last seq comes before its first.
            if pair[0].seq.checked_add(1) != Some(pair[1].seq) {
                return Err(BatchError::NotContiguous {
                    kiosk: self.kiosk,
                    previous: pair[0].seq,
                    found: pair[1].seq,
                });
            }
        }
        if let Some(event) = self.events.iter().find(|e| e.kiosk != signer) {
            return Err(BatchError::WrongKiosk { signer, named: event.kiosk });
        }
        self.check_amendments()
    }

    /// Refuses an event amending itself or an event after it in this batch. One naming an
    /// event of an earlier batch, or none the kiosk sent, passes: only the server knows
    /// those, and it stores such an amendment as evidence that applies nothing.
    fn check_amendments(&self) -> Result<(), BatchError> {
        for (i, event) in self.events.iter().enumerate() {
            let Some(amends) = event.amends else { continue };
            let target = amends.target();
            if self.events[i..].iter().any(|later| later.id == target) {
                return Err(BatchError::AmendsLater { kiosk: self.kiosk, seq: event.seq, target });
            }
        }
        Ok(())
    }

    /// Validates, encodes and signs the batch with the kiosk's key.
    pub fn seal(self, key: &SigningKey) -> Result<SealedBatch, BatchError> {
        self.validate(self.kiosk)?;
        let bytes = seal::seal(BATCH, &self, key)?;
        let hash = BatchHash::of(&bytes);
        Ok(SealedBatch { batch: self, bytes, hash })
    }
}

impl SealedBatch {
    /// Opens bytes received from `kiosk`: verifies them with the kiosk's registered key,
    /// decodes, and checks the batch's own rules.
    pub fn open(bytes: &[u8], kiosk: KioskId, key: &PublicKey) -> Result<Self, BatchError> {
        let batch: Batch = seal::open(BATCH, bytes, key)?;
        batch.validate(kiosk)?;
        Ok(Self { batch, bytes: bytes.to_vec(), hash: BatchHash::of(bytes) })
    }
}

/// The server's signed statement that a batch is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The kiosk.
    pub kiosk: KioskId,
    /// The batch's hash.
    pub batch: BatchHash,
    /// The batch's first seq.
    pub first_seq: u64,
    /// The batch's last seq.
    pub last_seq: u64,
    /// The highest seq of this kiosk that the server holds.
    pub stored_through: u64,
    /// When the server stored it.
    pub stored_at: DateTime<Utc>,
}

impl Receipt {
    /// Whether this receipt proves that the batch `hash` ending at `last_seq` is stored.
    pub fn covers(&self, kiosk: KioskId, hash: BatchHash, last_seq: u64) -> bool {
        self.kiosk == kiosk && self.batch == hash && self.stored_through >= last_seq
    }
}

/// Where a kiosk's chain stands on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChainHead {
    /// The last seq stored (0 before the first batch).
    pub last_seq: u64,
    /// The hash of the last batch stored.
    pub last_hash: BatchHash,
}

/// What the server does with a batch, given its kiosk's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainDecision {
    /// The batch continues the chain: store it.
    Append,
    /// The same batch was stored before: answer with the stored receipt, change nothing.
    Replay,
    /// A known range with different content, or a wrong predecessor: store nothing.
    Fork,
    /// The batch skips sequence numbers: store nothing; `expected` comes next.
    Gap {
        /// The next seq the server expects.
        expected: u64,
    },
}

impl ChainHead {
    /// Decides about `batch`. `stored_at_first` is the hash of the stored batch that
    /// starts at the same seq, if there is one.
    pub fn decide(&self, batch: &SealedBatch, stored_at_first: Option<BatchHash>) -> ChainDecision {
        let first = batch.batch.first_seq();
        let expected = self.last_seq + 1;

        if first == expected {
            return if batch.batch.prev == self.last_hash {
                ChainDecision::Append
            } else {
                ChainDecision::Fork
            };
        }
        if first > expected {
            return ChainDecision::Gap { expected };
        }
        match stored_at_first {
            Some(hash) if hash == batch.hash => ChainDecision::Replay,
            _ => ChainDecision::Fork,
        }
    }

    /// The head after appending `batch`.
    pub fn after(&self, batch: &SealedBatch) -> Self {
        Self { last_seq: batch.batch.last_seq(), last_hash: batch.hash }
    }
}
