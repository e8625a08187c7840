//! `next_batch_with` mixed with `next()` and resumes: batches of every size (1 to a whole
//! segment) over a log whose payload length changes in runs, inside blocks and across segments,
//! with the sample point (where `next()`'s hot path stops) every few events, checking every
//! event delivered (id, payload bytes), the report's byte count after every call, and the end.

use wal_recovery::{Manager, RecoveryOptions, Writer, WriterOptions};

/// Payload length of event `id`: runs of 29 events of 64, 8, 200 and 0 bytes.
fn len_of(id: u64) -> usize {
    [64, 8, 200, 0][((id / 29) % 4) as usize]
}

/// The payload of event `id`.
fn payload_of(id: u64) -> Vec<u8> {
    (0..len_of(id))
        .map(|k| (id.wrapping_mul(31).wrapping_add(k as u64) % 251) as u8)
        .collect()
}

fn write(dir: &std::path::Path, n: u64) {
    let opts = WriterOptions {
        segment_bytes: 64 << 10,
        block_bytes: 4096,
        ..WriterOptions::default()
    };
    let mut w = Writer::open(dir, opts).expect("open writer");
    for id in 1..=n {
        assert_eq!(w.append(&payload_of(id)).expect("append"), id);
    }
    w.close().expect("close");
}

/// A small deterministic generator (xorshift) for batch sizes and the calls' order.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Replays the whole log with batches of random sizes, a `next()` now and then and a few
/// resumes (backwards into a block already batched, and forwards), checking every event.
fn replay_mixed(dir: &std::path::Path, n: u64, sample_every: u32, seed: u64) {
    let opts = RecoveryOptions {
        next_event_sample_every: sample_every,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir, opts).expect("open");
    let mut rng = Rng(seed);
    let (mut expect, mut bytes) = (1u64, 0u64);
    let mut resumes = 0;
    loop {
        let before = expect;
        let choice = rng.below(20);
        if choice == 0 && resumes < 6 && expect > 300 {
            // Back into a block batched before, or ahead.
            resumes += 1;
            let to = if resumes % 2 == 1 {
                expect - 1 - rng.below(200)
            } else {
                (expect + rng.below(500)).min(n)
            };
            m.resume(to).expect("resume");
            // The report counts delivered events; re-delivered ones count again.
            expect = to;
            continue;
        }
        let got = if choice < 3 {
            match m.next().expect("next") {
                Some(ev) => {
                    assert_eq!((ev.id, ev.payload), (expect, &payload_of(expect)[..]));
                    expect += 1;
                    bytes += ev.payload.len() as u64;
                    1
                }
                None => 0,
            }
        } else {
            let max = [1, 2, 7, 64, 300, usize::MAX][rng.below(6) as usize];
            let k = m
                .next_batch_with(max, |ev| {
                    assert_eq!(
                        (ev.id, ev.payload),
                        (expect, &payload_of(expect)[..]),
                        "batch of at most {max}"
                    );
                    expect += 1;
                    bytes += ev.payload.len() as u64;
                })
                .expect("batch");
            assert!(k <= max, "{k} events for a batch of at most {max}");
            assert_eq!(k as u64, expect - before);
            k
        };
        let r = m.report();
        assert_eq!(r.bytes_delivered, bytes, "bytes delivered at id {expect}");
        if got == 0 {
            break;
        }
    }
    assert_eq!(
        expect,
        n + 1,
        "the replay ended at id {expect}, not after {n}"
    );
    let r = m.report();
    assert!(r.is_clean() && r.complete, "{r:?}");
    assert_eq!(r.last_delivered, Some(n));
}

#[test]
fn batches_next_and_resumes_deliver_every_event_once_in_order() {
    const N: u64 = 9000;
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), N);
    for (sample_every, seed) in [(1024, 1), (5, 2), (1, 3), (64, 4), (7, 5)] {
        replay_mixed(tmp.path(), N, sample_every, seed);
    }
}
