//! The batch wire format: sealing, opening, tampering, wrong keys, limits, and the chain.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone, Utc};

use mtime_core::badge::BadgeUid;
use mtime_core::batch::{
    BATCH, Batch, BatchError, BatchHash, ChainDecision, ChainHead, MAX_BATCH_EVENTS, SealedBatch,
};
use mtime_core::event::{
    Amendment, Direction, DirectionSource, PresenceEvent, Subject, TimeReading,
};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_core::seal::SealError;
use mtime_core::zone::resolve_local;

const TAPS: &str = include_str!("../../testdata/timeclock-export/taps.csv");

/// A fixed key, so the fixture below can be checked byte for byte.
const FIXTURE_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn kiosk() -> KioskId {
    KioskId(uuid::Uuid::from_u128(0x4b10_5c00_0000_4000_8000_0000_0000_0001))
}

/// The first `n` taps of the real punch log, as one kiosk would have recorded them.
fn real_events(n: usize, first_seq: u64) -> Vec<PresenceEvent> {
    let boot = BootId(uuid::Uuid::from_u128(7));
    TAPS.lines()
        .skip(1)
        .take(n)
        .enumerate()
        .map(|(i, line)| {
            let cols: Vec<&str> = line.split(',').collect();
            let local = NaiveDateTime::parse_from_str(cols[0], "%Y-%m-%dT%H:%M").unwrap();
            let wall = resolve_local(local, chrono_tz::America::Chicago).unwrap();
            let employee = EmployeeId(uuid::Uuid::from_u128(cols[1][1..].parse::<u128>().unwrap()));
            let badge: BadgeUid = cols[2].parse().unwrap();
            PresenceEvent {
                id: EventId(uuid::Uuid::from_u128(1000 + i as u128)),
                kiosk: kiosk(),
                seq: first_seq + i as u64,
                subject: Subject::Employee { id: employee, badge: Some(badge) },
                direction: cols[3].parse().unwrap(),
                direction_source: DirectionSource::Explicit,
                reason: "WORK".parse().unwrap(),
                time: TimeReading {
                    wall,
                    boot,
                    monotonic: Duration::from_secs(3600 + i as u64 * 7),
                    wall_trusted: true,
                },
                amends: None,
            }
        })
        .collect()
}

fn real_batch(key: &SigningKey) -> SealedBatch {
    Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: real_events(12, 1) }
        .seal(key)
        .unwrap()
}

#[test]
fn a_sealed_batch_opens_with_the_kiosks_key_and_round_trips() {
    let key = SigningKey::generate().unwrap();
    let sealed = real_batch(&key);
    assert_eq!(sealed.bytes[0], BATCH.version, "the version byte comes first");
    assert_eq!(sealed.hash, BatchHash::of(&sealed.bytes));

    let opened = SealedBatch::open(&sealed.bytes, kiosk(), &key.public()).unwrap();
    assert_eq!(opened, sealed);
    assert_eq!((opened.batch.first_seq(), opened.batch.last_seq()), (1, 12));
    assert_eq!(opened.batch.events[0].direction, Direction::In);
    assert_eq!(
        opened.batch.events[0].time.wall,
        Utc.with_ymd_and_hms(2025, 5, 12, 12, 54, 0).unwrap()
    );
}

#[test]
fn flipping_any_single_byte_is_refused() {
    let key = SigningKey::generate().unwrap();
    let sealed = real_batch(&key);
    for position in 0..sealed.bytes.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut tampered = sealed.bytes.clone();
            tampered[position] ^= mask;
            let err = SealedBatch::open(&tampered, kiosk(), &key.public()).unwrap_err();
            assert!(
                matches!(err, BatchError::Seal(SealError::BadSignature { .. })),
                "byte {position} ^ {mask:#04x}: {err}"
            );
        }
    }
}

#[test]
fn a_batch_signed_by_another_key_is_refused() {
    let kiosk_key = SigningKey::generate().unwrap();
    let other = SigningKey::generate().unwrap();
    let sealed = real_batch(&other);
    let err = SealedBatch::open(&sealed.bytes, kiosk(), &kiosk_key.public()).unwrap_err();
    assert!(matches!(err, BatchError::Seal(SealError::BadSignature { .. })), "{err}");
}

#[test]
fn a_batch_signed_by_one_kiosk_naming_another_is_refused() {
    let key = SigningKey::generate().unwrap();
    let sealed = real_batch(&key);
    let other = KioskId::random();
    let err = SealedBatch::open(&sealed.bytes, other, &key.public()).unwrap_err();
    assert_eq!(err, BatchError::WrongKiosk { signer: other, named: kiosk() });
}

#[test]
fn truncated_extended_and_oversize_input_is_refused() {
    let key = SigningKey::generate().unwrap();
    let sealed = real_batch(&key);
    for len in [0, 1, 64, sealed.bytes.len() - 1] {
        assert!(
            SealedBatch::open(&sealed.bytes[..len], kiosk(), &key.public()).is_err(),
            "len {len}"
        );
    }
    let mut longer = sealed.bytes.clone();
    longer.push(0);
    assert!(SealedBatch::open(&longer, kiosk(), &key.public()).is_err());

    let huge = vec![1u8; BATCH.max_bytes + 1];
    let err = SealedBatch::open(&huge, kiosk(), &key.public()).unwrap_err();
    assert!(matches!(err, BatchError::Seal(SealError::TooLarge { .. })), "{err}");
}

#[test]
fn an_unknown_version_and_trailing_bytes_are_refused_even_when_signed() {
    let key = SigningKey::generate().unwrap();
    let batch = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: real_events(2, 1) };
    let newer = mtime_core::seal::Kind { version: 2, ..BATCH };
    let bytes = mtime_core::seal::seal(newer, &batch, &key).unwrap();
    let err = SealedBatch::open(&bytes, kiosk(), &key.public()).unwrap_err();
    assert!(
        matches!(err, BatchError::Seal(SealError::UnknownVersion { found: 2, expected: 1, .. })),
        "{err}"
    );

    // A signed message with bytes after the batch: verify passes, decode refuses.
    let mut body = vec![BATCH.version];
    body.extend(postcard::to_stdvec(&batch).unwrap());
    body.extend([0xAA, 0xBB]);
    let signed = sign_raw(&key, &body);
    let err = SealedBatch::open(&signed, kiosk(), &key.public()).unwrap_err();
    assert!(err.to_string().contains("2 trailing bytes"), "{err}");
}

/// Signs raw bytes exactly as sealing does, to build malformed but signed messages.
fn sign_raw(key: &SigningKey, body: &[u8]) -> Vec<u8> {
    mtime_core::seal::seal_bytes(BATCH, body.to_vec(), key)
}

#[test]
fn sequence_numbers_may_not_wrap_past_the_largest() {
    // The largest seq followed by 0 would read as contiguous if the seq wrapped, leaving a
    // batch whose last seq comes before its first.
    let key = SigningKey::generate().unwrap();
    let mut events = real_events(2, 1);
    events[0].seq = u64::MAX;
    events[1].seq = 0;
    let batch = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events };
    let signed =
        sign_raw(&key, &[&[BATCH.version][..], &postcard::to_stdvec(&batch).unwrap()].concat());
    let err = SealedBatch::open(&signed, kiosk(), &key.public()).unwrap_err();
    assert_eq!(err, BatchError::NotContiguous { kiosk: kiosk(), previous: u64::MAX, found: 0 });
}

#[test]
fn batches_must_be_contiguous_non_empty_and_bounded() {
    let key = SigningKey::generate().unwrap();
    let mut events = real_events(3, 5);
    events[2].seq = 9;
    let err = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events }.seal(&key).unwrap_err();
    assert_eq!(err, BatchError::NotContiguous { kiosk: kiosk(), previous: 6, found: 9 });

    let err =
        Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: vec![] }.seal(&key).unwrap_err();
    assert_eq!(err, BatchError::Empty { kiosk: kiosk() });

    let err = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: real_events(1, 0) }
        .seal(&key)
        .unwrap_err();
    assert_eq!(err, BatchError::ZeroSeq { kiosk: kiosk() });

    let one = real_events(1, 1).remove(0);
    let many: Vec<PresenceEvent> =
        (1..=MAX_BATCH_EVENTS as u64 + 1).map(|seq| PresenceEvent { seq, ..one.clone() }).collect();
    let err =
        Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: many }.seal(&key).unwrap_err();
    assert!(matches!(err, BatchError::TooManyEvents { .. }), "{err}");
}

#[test]
fn an_event_may_amend_only_an_earlier_one() {
    let key = SigningKey::generate().unwrap();
    let seal = |events: Vec<PresenceEvent>| {
        Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events }.seal(&key)
    };

    // Earlier in the batch, or in an earlier batch (unknown here): fine.
    let mut events = real_events(3, 4);
    events[1].amends = Some(Amendment::Replaces(events[0].id));
    events[2].amends = Some(Amendment::Withdraws(EventId(uuid::Uuid::from_u128(1))));
    let sealed = seal(events.clone()).unwrap();
    let opened = SealedBatch::open(&sealed.bytes, kiosk(), &key.public()).unwrap();
    assert_eq!(opened.batch.events, events, "amendments survive the wire");

    let mut events = real_events(3, 4);
    events[1].amends = Some(Amendment::Withdraws(events[1].id));
    let target = events[1].id;
    assert_eq!(
        seal(events).unwrap_err(),
        BatchError::AmendsLater { kiosk: kiosk(), seq: 5, target },
        "itself"
    );

    let mut events = real_events(3, 4);
    events[0].amends = Some(Amendment::Replaces(events[2].id));
    let target = events[2].id;
    assert_eq!(
        seal(events).unwrap_err(),
        BatchError::AmendsLater { kiosk: kiosk(), seq: 4, target },
        "a later one"
    );
}

#[test]
fn the_chain_appends_replays_refuses_forks_and_names_gaps() {
    let key = SigningKey::generate().unwrap();
    let head = ChainHead::default();
    let first = real_batch(&key);
    assert_eq!(head.decide(&first, None), ChainDecision::Append);
    let head = head.after(&first);
    assert_eq!(head.last_seq, 12);

    // The same batch again: a replay, if it is the one stored at that seq.
    assert_eq!(head.decide(&first, Some(first.hash)), ChainDecision::Replay);
    // Different content over a known range: a fork.
    let other = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: real_events(11, 1) }
        .seal(&key)
        .unwrap();
    assert_eq!(head.decide(&other, Some(first.hash)), ChainDecision::Fork);

    let next =
        Batch { kiosk: kiosk(), prev: first.hash, events: real_events(3, 13) }.seal(&key).unwrap();
    assert_eq!(head.decide(&next, None), ChainDecision::Append);
    let wrong_prev = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: real_events(3, 13) }
        .seal(&key)
        .unwrap();
    assert_eq!(head.decide(&wrong_prev, None), ChainDecision::Fork);
    let gap =
        Batch { kiosk: kiosk(), prev: first.hash, events: real_events(3, 14) }.seal(&key).unwrap();
    assert_eq!(head.decide(&gap, None), ChainDecision::Gap { expected: 13 });
}

#[test]
fn the_version_1_fixture_still_opens() {
    let key = SigningKey::from_seed_hex(FIXTURE_SEED).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fixture = std::fs::read(dir.join("batch-v1.bin")).unwrap();
    let hash = std::fs::read_to_string(dir.join("batch-v1.sha256")).unwrap();
    let opened = SealedBatch::open(&fixture, kiosk(), &key.public()).unwrap();
    assert_eq!(opened.batch.events, real_events(12, 1));
    assert_eq!(opened.hash.to_string(), hash.trim());
}

/// Writes the fixture above; run once when the format version changes, keeping the old
/// fixture under its version's name.
#[test]
#[ignore]
fn write_version_1_fixture() {
    let key = SigningKey::from_seed_hex(FIXTURE_SEED).unwrap();
    let sealed = real_batch(&key);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::write(dir.join("batch-v1.bin"), &sealed.bytes).unwrap();
    std::fs::write(dir.join("batch-v1.sha256"), format!("{}\n", sealed.hash)).unwrap();
}
