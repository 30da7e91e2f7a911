//! The batch format: what the server's batch route decodes from a kiosk.

#![no_main]

use libfuzzer_sys::fuzz_target;

use mtime_core::batch::{BATCH, BatchError, BatchHash, ChainDecision, ChainHead, SealedBatch};
use mtime_core::seal::{self, SealError};
use mtime_fuzz::{KEY, kiosk};

fuzz_target!(|data: &[u8]| {
    let public = KEY.public();

    // As received: random bytes stop at the framing or the signature.
    if let Ok(opened) = SealedBatch::open(data, kiosk(), &public) {
        check(&opened);
    }

    // Signed as it stands, so the decoding and the batch's own rules meet the bytes.
    let signed = seal::seal_bytes(BATCH, data.to_vec(), &KEY);
    let opened = match SealedBatch::open(&signed, kiosk(), &public) {
        Ok(opened) => opened,
        Err(BatchError::Seal(SealError::BadSignature { .. })) => {
            panic!("a batch signed just now does not verify")
        }
        Err(_) => return,
    };
    assert_eq!(opened.bytes, signed);
    check(&opened);

    // Sealed again, the batch opens to the same batch: the encoder writes whatever the
    // decoder accepted.
    match opened.batch.clone().seal(&KEY) {
        Ok(again) => {
            let reopened = SealedBatch::open(&again.bytes, kiosk(), &public)
                .unwrap_or_else(|e| panic!("a batch sealed again does not open: {e}"));
            assert_eq!(reopened.batch, opened.batch);
        }
        Err(BatchError::Seal(SealError::TooLarge { .. })) => {}
        Err(e) => panic!("a batch that opened cannot be sealed again: {e}"),
    }
});

/// What every batch that opened must satisfy.
fn check(opened: &SealedBatch) {
    let batch = &opened.batch;
    assert_eq!(opened.hash, BatchHash::of(&opened.bytes));
    assert!(batch.validate(kiosk()).is_ok());
    // A valid batch is one contiguous, ascending range of sequence numbers.
    let span = batch.last_seq().checked_sub(batch.first_seq()).expect("last seq before first");
    assert_eq!(span.checked_add(1), u64::try_from(batch.events.len()).ok());

    // The chain decision neither panics nor appends a batch to the wrong predecessor.
    let fresh = ChainHead::default().decide(opened, None);
    if fresh == ChainDecision::Append {
        assert_eq!(batch.first_seq(), 1);
        assert_eq!(batch.prev, BatchHash::GENESIS);
    }
    let head = ChainHead { last_seq: batch.first_seq() - 1, last_hash: batch.prev };
    assert_eq!(head.decide(opened, None), ChainDecision::Append);
    assert_eq!(head.after(opened).last_seq, batch.last_seq());
}
