//! The tap journal under the outbox: a tap is durable once it is in the journal, survives
//! a stop before it is folded into the tree, is folded once and only once, and a journal
//! that is damaged or belongs to another store never puts a wrong tap in the tree.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use mtime_core::event::{Direction, DirectionSource, PresenceEvent, Subject, TimeReading};
use mtime_core::ids::{BootId, EmployeeId, EventId, KioskId};
use mtime_core::keys::SigningKey;
use mtime_sync::outbox::{EventDraft, Outbox};

/// The journal's size, as the outbox makes it.
const JOURNAL_SIZE: u64 = 64 * 1024;

fn tap(second: u64) -> EventDraft {
    EventDraft {
        subject: Subject::Employee { id: EmployeeId::random(), badge: None },
        direction: if second % 2 == 1 { Direction::In } else { Direction::Out },
        direction_source: DirectionSource::Explicit,
        reason: "WORK".parse().unwrap(),
        time: TimeReading {
            wall: Utc::now(),
            boot: BootId::random(),
            monotonic: Duration::from_secs(second),
            wall_trusted: true,
        },
        amends: None,
    }
}

fn store(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("kiosk.redb")
}

fn journal_of(store: &Path) -> PathBuf {
    let journal = Outbox::journal_path(store);
    assert_eq!(journal.file_name().unwrap(), "kiosk.redb-journal");
    journal
}

fn append(outbox: &Outbox, kiosk: KioskId, taps: std::ops::RangeInclusive<u64>) -> Vec<EventId> {
    taps.map(|n| outbox.append(kiosk, tap(n)).unwrap()).map(|e| e.id).collect()
}

fn ids(events: &[PresenceEvent]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

fn seqs(events: &[PresenceEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

fn set_aside_files(dir: &tempfile::TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".set-aside-"))
        .collect();
    names.sort();
    names
}

#[test]
fn taps_only_in_the_journal_are_there_after_a_restart_and_folded_once() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = KioskId::random();
    let confirmed = {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        append(&outbox, kiosk, 1..=5)
    };

    for _ in 0..2 {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        assert_eq!(outbox.pending().unwrap(), 5);
        let events = outbox.events().unwrap();
        assert_eq!(ids(&events), confirmed);
        assert_eq!(seqs(&events), [1, 2, 3, 4, 5]);
    }

    let journal = std::fs::metadata(journal_of(&store(&dir))).unwrap();
    assert_eq!(journal.len(), JOURNAL_SIZE);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(journal.permissions().mode() & 0o777, 0o600);
}

#[test]
fn the_pending_count_includes_taps_not_yet_folded() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(&store(&dir)).unwrap();
    let kiosk = KioskId::random();
    append(&outbox, kiosk, 1..=3);
    outbox.events().unwrap();
    append(&outbox, kiosk, 4..=7);

    assert_eq!(outbox.pending().unwrap(), 7);
    assert_eq!(outbox.status().pending, 7);
    assert_eq!(outbox.append(kiosk, tap(8)).unwrap().seq, 8);
}

#[test]
fn more_taps_than_the_journal_holds_are_folded_as_it_fills() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = KioskId::random();
    // About three journals' worth, with no reader to fold them.
    let confirmed = {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        append(&outbox, kiosk, 1..=1_400)
    };

    let outbox = Outbox::open(&store(&dir)).unwrap();
    let events = outbox.events().unwrap();
    assert_eq!(ids(&events), confirmed);
    assert_eq!(seqs(&events), (1..=1_400).collect::<Vec<u64>>());
    let monotonic: Vec<u64> = events.iter().map(|e| e.time.monotonic.as_secs()).collect();
    assert_eq!(monotonic, (1..=1_400).collect::<Vec<u64>>());
}

#[test]
fn a_journal_kept_after_its_fold_does_not_store_its_taps_twice() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = KioskId::random();
    let journal = journal_of(&store(&dir));
    let (confirmed, before_fold) = {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        let confirmed = append(&outbox, kiosk, 1..=3);
        let before_fold = std::fs::read(&journal).unwrap();
        outbox.events().unwrap();
        (confirmed, before_fold)
    };
    // As if the store stopped between the fold's commit and the journal's emptying.
    std::fs::write(&journal, before_fold).unwrap();

    let outbox = Outbox::open(&store(&dir)).unwrap();
    assert_eq!(ids(&outbox.events().unwrap()), confirmed);
    assert_eq!(outbox.pending().unwrap(), 3);
    assert_eq!(outbox.append(kiosk, tap(4)).unwrap().seq, 4);
    assert!(set_aside_files(&dir).is_empty());
}

#[test]
fn a_torn_last_record_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = KioskId::random();
    let confirmed = {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        append(&outbox, kiosk, 1..=3)
    };

    // The last byte written belongs to the last record: as if the kill came mid-write.
    let journal = journal_of(&store(&dir));
    let mut bytes = std::fs::read(&journal).unwrap();
    let last = bytes.iter().rposition(|b| *b != 0).unwrap();
    bytes[last] ^= 0xff;
    std::fs::write(&journal, bytes).unwrap();

    let outbox = Outbox::open(&store(&dir)).unwrap();
    let events = outbox.events().unwrap();
    assert_eq!(ids(&events), confirmed[..2]);
    assert_eq!(outbox.append(kiosk, tap(3)).unwrap().seq, 3);
}

#[test]
fn a_journal_with_an_unreadable_header_is_set_aside_and_the_store_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = KioskId::random();
    let confirmed = {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        let confirmed = append(&outbox, kiosk, 1..=2);
        outbox.events().unwrap();
        confirmed
    };
    let journal = journal_of(&store(&dir));
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[20] ^= 0x01;
    std::fs::write(&journal, &bytes).unwrap();

    let outbox = Outbox::open(&store(&dir)).unwrap();
    assert_eq!(ids(&outbox.events().unwrap()), confirmed);
    assert_eq!(outbox.append(kiosk, tap(3)).unwrap().seq, 3);
    let kept = set_aside_files(&dir);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(dir.path().join(&kept[0])).unwrap(), bytes);
}

#[test]
fn a_journal_of_another_store_is_set_aside_unfolded() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let kiosk = KioskId::random();
    let ours = {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        let ours = append(&outbox, kiosk, 1..=2);
        outbox.events().unwrap();
        ours
    };
    {
        let outbox = Outbox::open(&store(&other)).unwrap();
        append(&outbox, KioskId::random(), 1..=4);
    }

    // Its taps 1 and 2 are not ours: none of its taps may enter our tree.
    std::fs::copy(journal_of(&store(&other)), journal_of(&store(&dir))).unwrap();
    let outbox = Outbox::open(&store(&dir)).unwrap();
    let events = outbox.events().unwrap();
    assert_eq!(ids(&events), ours);
    assert_eq!(outbox.append(kiosk, tap(3)).unwrap().seq, 3);
    assert_eq!(set_aside_files(&dir).len(), 1);

    // A journal older than the store's last tap is set aside too.
    outbox.events().unwrap();
    drop(outbox);
    let stale = {
        let third = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&store(&third)).unwrap();
        append(&outbox, kiosk, 1..=1);
        drop(outbox);
        std::fs::read(journal_of(&store(&third))).unwrap()
    };
    std::fs::write(journal_of(&store(&dir)), stale).unwrap();
    let outbox = Outbox::open(&store(&dir)).unwrap();
    assert_eq!(seqs(&outbox.events().unwrap()), [1, 2, 3]);
    assert_eq!(set_aside_files(&dir).len(), 2);
}

/// Where each record of the journal `bytes` begins: records follow the header's sector,
/// each its length (four bytes, little-endian), its checksum (four) and the event.
fn record_offsets(bytes: &[u8], count: usize) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 512;
    for _ in 0..count {
        offsets.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    offsets
}

#[test]
fn a_record_damaged_mid_journal_stops_the_fold_there_and_keeps_the_rest_aside() {
    let dir = tempfile::tempdir().unwrap();
    let kiosk = KioskId::random();
    let confirmed = {
        let outbox = Outbox::open(&store(&dir)).unwrap();
        append(&outbox, kiosk, 1..=10)
    };
    let journal = journal_of(&store(&dir));
    let mut bytes = std::fs::read(&journal).unwrap();
    let third = record_offsets(&bytes, 10)[2];
    bytes[third + 20] ^= 0x01;
    std::fs::write(&journal, &bytes).unwrap();

    let outbox = Outbox::open(&store(&dir)).unwrap();
    assert_eq!(ids(&outbox.events().unwrap()), confirmed[..2]);
    // The taps after the damage are not lost from sight: the file is kept as it was.
    let kept = set_aside_files(&dir);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(dir.path().join(&kept[0])).unwrap(), bytes);
    assert_eq!(outbox.append(kiosk, tap(3)).unwrap().seq, 3);
}

#[test]
fn a_journal_cut_short_or_grown_is_read_as_far_as_it_goes_and_made_whole() {
    for length in [JOURNAL_SIZE + 1, JOURNAL_SIZE / 2] {
        let dir = tempfile::tempdir().unwrap();
        let kiosk = KioskId::random();
        let confirmed = {
            let outbox = Outbox::open(&store(&dir)).unwrap();
            append(&outbox, kiosk, 1..=5)
        };
        let journal = journal_of(&store(&dir));
        let file = std::fs::OpenOptions::new().write(true).open(&journal).unwrap();
        file.set_len(length).unwrap();
        drop(file);

        let outbox = Outbox::open(&store(&dir)).unwrap();
        assert_eq!(ids(&outbox.events().unwrap()), confirmed, "journal of {length} bytes");
        assert!(set_aside_files(&dir).is_empty());
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), JOURNAL_SIZE);
        assert_eq!(outbox.append(kiosk, tap(6)).unwrap().seq, 6);
        drop(outbox);
        let outbox = Outbox::open(&store(&dir)).unwrap();
        assert_eq!(seqs(&outbox.events().unwrap()), [1, 2, 3, 4, 5, 6]);
    }
}

#[test]
fn callers_asking_for_a_batch_at_once_all_get_the_same_one() {
    let key = SigningKey::generate().unwrap();
    let kiosk = KioskId::random();
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&store(&dir)).unwrap();
        append(&outbox, kiosk, 1..=40);

        let start = std::sync::Barrier::new(8);
        let batches: Vec<_> = std::thread::scope(|s| {
            let callers: Vec<_> = (0..8)
                .map(|i| {
                    let (outbox, key, start) = (&outbox, &key, &start);
                    s.spawn(move || {
                        start.wait();
                        outbox.next_batch(kiosk, key, 5 + i).unwrap().unwrap()
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        for batch in &batches {
            assert_eq!(batch.hash, batches[0].hash, "round {round}: one batch in flight");
            assert_eq!(batch.bytes, batches[0].bytes);
        }
    }
}
