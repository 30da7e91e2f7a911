//! Group commit: batches that arrive while another is being stored wait, and are then stored
//! together, in one transaction with one fsync.
//!
//! Each commit pays an fsync and writes out every page it changed (the events', the feed's,
//! the batches' and the kiosks' tables, the log of punches and, when it is merged, the
//! employee index): a hundred kiosks syncing at once would pay a hundred commits, rewriting
//! many of the same pages. So one caller at a time leads: it takes the batches waiting, its
//! own first, stores them in order in one transaction and commits, hands each caller its
//! outcome, and passes the lead to the oldest batch still waiting. A caller returns only
//! after the commit that holds its batch, so a receipt still means stored. If any batch of a
//! group fails, the transaction is dropped and each batch of the group is stored again
//! alone, so that one batch's failure stays its own.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use redb::Database;

use mtime_core::batch::SealedBatch;

use super::punch_cache::PunchCache;
use super::{apply_batch, backend};
use crate::model::EventRecord;
use crate::store::{BatchOutcome, StoreError};

/// The most events one group carries, so that a leader's own wait stays bounded.
const MOST_EVENTS: usize = 20_000;

/// Where a waiting caller stands.
enum Turn {
    Waiting,
    Lead,
    Done(Result<BatchOutcome, StoreError>),
}

struct Slot {
    turn: Mutex<Turn>,
    changed: Condvar,
}

impl Slot {
    fn set(&self, turn: Turn) {
        if let Ok(mut current) = self.turn.lock() {
            *current = turn;
        }
        self.changed.notify_one();
    }
}

/// A batch waiting to be stored, owned so that whoever leads can store it.
struct Request {
    batch: SealedBatch,
    events: Vec<EventRecord>,
    receipt: Vec<u8>,
    slot: Arc<Slot>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Request>,
    leading: bool,
}

/// The batches waiting for a commit.
#[derive(Default)]
pub(super) struct Commits {
    queue: Mutex<Queue>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("a storing thread failed; restart the server".into())
}

impl Commits {
    /// Stores one batch, with whatever others wait beside it; returns once it is committed.
    pub(super) fn store(
        &self,
        db: &Database,
        kept: &PunchCache,
        batch: &SealedBatch,
        events: &[EventRecord],
        receipt: &[u8],
    ) -> Result<BatchOutcome, StoreError> {
        let slot = Arc::new(Slot { turn: Mutex::new(Turn::Waiting), changed: Condvar::new() });
        let request = Request {
            batch: batch.clone(),
            events: events.to_vec(),
            receipt: receipt.to_vec(),
            slot: slot.clone(),
        };
        let lead_now = {
            let mut queue = self.lock()?;
            queue.waiting.push_back(request);
            !std::mem::replace(&mut queue.leading, true)
        };
        if lead_now {
            self.lead(db, kept)?;
        }

        let mut turn = slot.turn.lock().map_err(poisoned)?;
        loop {
            match std::mem::replace(&mut *turn, Turn::Waiting) {
                Turn::Done(result) => return result,
                Turn::Lead => {
                    drop(turn);
                    self.lead(db, kept)?;
                    turn = slot.turn.lock().map_err(poisoned)?;
                }
                Turn::Waiting => turn = slot.changed.wait(turn).map_err(poisoned)?,
            }
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Queue>, StoreError> {
        self.queue.lock().map_err(poisoned)
    }

    /// Stores one group, the leader's own batch first in it, and passes the lead on.
    fn lead(&self, db: &Database, kept: &PunchCache) -> Result<(), StoreError> {
        let mut group = Vec::new();
        {
            let mut queue = self.lock()?;
            let mut events = 0;
            while let Some(next) = queue.waiting.front() {
                if !group.is_empty() && events + next.events.len() > MOST_EVENTS {
                    break;
                }
                events += next.events.len();
                group.extend(queue.waiting.pop_front());
            }
        }

        let results = store_group(db, kept, &group);
        if group.len() > 1 {
            tracing::debug!(batches = group.len(), "batches stored in one commit");
        }
        for (request, result) in group.iter().zip(results) {
            request.slot.set(Turn::Done(result));
        }

        let mut queue = self.lock()?;
        match queue.waiting.front() {
            Some(next) => next.slot.set(Turn::Lead),
            None => queue.leading = false,
        }
        Ok(())
    }
}

/// Stores `group` in one transaction; should any batch fail, each alone.
fn store_group(
    db: &Database,
    kept: &PunchCache,
    group: &[Request],
) -> Vec<Result<BatchOutcome, StoreError>> {
    if group.len() > 1
        && let Ok(outcomes) = store_together(db, kept, group)
    {
        return outcomes.into_iter().map(Ok).collect();
    }
    let alone = |request: &Request| {
        let outcome = store_together(db, kept, std::slice::from_ref(request))?.pop();
        outcome.ok_or_else(|| StoreError::Backend("a batch stored alone gave no outcome".into()))
    };
    group.iter().map(alone).collect()
}

fn store_together(
    db: &Database,
    kept: &PunchCache,
    group: &[Request],
) -> Result<Vec<BatchOutcome>, StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        outcomes.push(apply_batch(&txn, kept, &request.batch, &request.events, &request.receipt)?);
    }
    let committed = txn.commit().map_err(backend);
    kept.committed();
    committed?;
    Ok(outcomes)
}
