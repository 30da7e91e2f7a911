//! Batches stored at the same moment by many kiosks share commits; each caller still gets its
//! own outcome, and one batch's failure is its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use common::TestServer;
use mtime_core::batch::{Batch, BatchHash, SealedBatch};
use mtime_core::event::{Direction, DirectionSource, PresenceEvent, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_server::api::device::event_records;
use mtime_server::store::{BatchOutcome, StoreError};

const KIOSKS: usize = 8;
const EVENTS: usize = 40;
const ROUNDS: usize = 5;

struct Kiosk {
    id: KioskId,
    key: SigningKey,
    boot: BootId,
    seq: u64,
    prev: BatchHash,
}

impl Kiosk {
    /// The next batch: `EVENTS` trusted taps of `employee`, in and out in turn, from `at` on.
    fn batch(&mut self, employee: EmployeeId, at: DateTime<Utc>) -> SealedBatch {
        let events = (0..EVENTS)
            .map(|n| {
                self.seq += 1;
                PresenceEvent {
                    id: EventId::time_ordered(),
                    kiosk: self.id,
                    seq: self.seq,
                    subject: Subject::Employee { id: employee, badge: None },
                    direction: if n % 2 == 0 { Direction::In } else { Direction::Out },
                    direction_source: DirectionSource::Explicit,
                    reason: "WORK".parse().unwrap(),
                    time: TimeReading {
                        wall: at + TimeDelta::seconds(n as i64),
                        boot: self.boot,
                        monotonic: Duration::from_secs(self.seq),
                        wall_trusted: true,
                    },
                    amends: None,
                }
            })
            .collect();
        Batch { kiosk: self.id, prev: self.prev, events }.seal(&self.key).unwrap()
    }
}

#[tokio::test]
async fn batches_stored_together_each_get_their_own_outcome() {
    let server = TestServer::new();
    let site = server.site().await;
    let mut kiosks = Vec::new();
    let mut employees = Vec::new();
    for n in 0..KIOSKS {
        employees
            .push(server.employee(site, &format!("E{n:02}"), &format!("04A1B2C3D4E5{n:02}")).await);
        let (id, code) = server.kiosk(site).await;
        let key = SigningKey::generate().unwrap();
        server.enroll(&code, &key).await;
        kiosks.push(Kiosk { id, key, boot: BootId::random(), seq: 0, prev: BatchHash::GENESIS });
    }
    // The taps lie between the kiosks' enrollment and now.
    let enrolled = server.state.now();
    server.clock.advance(Duration::from_secs(2 * 3600));
    let now = server.state.now();
    let store = server.store();

    for round in 0..ROUNDS {
        let at = enrolled + TimeDelta::minutes(10 + round as i64);
        let batches: Vec<SealedBatch> =
            kiosks.iter_mut().zip(&employees).map(|(k, e)| k.batch(*e, at)).collect();

        // A batch of the first kiosk's that repeats an event id stored already: refused.
        let stolen = match round {
            0 => None,
            _ => Some(store.employee_events(employees[1]).unwrap()[0].punch.event),
        };
        let mut bad = kiosks[0].batch(employees[0], at);
        kiosks[0].seq -= EVENTS as u64;
        if let Some(id) = stolen {
            let mut events = bad.batch.events.clone();
            events[EVENTS / 2].id = id;
            let batch = Batch { kiosk: kiosks[0].id, prev: batches[0].hash, events };
            bad = batch.seal(&kiosks[0].key).unwrap();
        }

        let outcomes: Vec<Result<BatchOutcome, StoreError>> = std::thread::scope(|scope| {
            let mut all = Vec::new();
            for batch in &batches {
                let records = event_records(&batch.batch, now);
                all.push(scope.spawn(move || store.store_batch(batch, &records, b"receipt")));
            }
            if stolen.is_some() {
                let records = event_records(&bad.batch, now);
                let bad = &bad;
                all.push(scope.spawn(move || store.store_batch(bad, &records, b"receipt")));
            }
            all.into_iter().map(|t| t.join().unwrap()).collect()
        });

        for (n, outcome) in outcomes.iter().take(KIOSKS).enumerate() {
            assert!(
                matches!(outcome, Ok(BatchOutcome::Stored { .. })),
                "round {round}, kiosk {n}: {outcome:?}"
            );
        }
        if stolen.is_some() {
            // It follows the first kiosk's batch of this round, or, stored first, finds a gap.
            let refused = &outcomes[KIOSKS];
            assert!(
                matches!(refused, Err(StoreError::Conflict(_)) | Ok(BatchOutcome::Gap { .. })),
                "round {round}: {refused:?}"
            );
        }
        for (k, batch) in kiosks.iter_mut().zip(&batches) {
            k.prev = batch.hash;
        }

        for (n, employee) in employees.iter().enumerate() {
            let events = store.employee_events(*employee).unwrap();
            assert_eq!(events.len(), EVENTS * (round + 1), "round {round}, employee {n}");
        }
    }
    for k in &kiosks {
        let record = store.kiosk(k.id).unwrap().unwrap();
        assert_eq!(record.head.last_seq, (EVENTS * ROUNDS) as u64);
    }
}
