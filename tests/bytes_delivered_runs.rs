//! `bytes_delivered` is derived, not counted per event: a reader folds its delivered bytes when
//! the record length changes, when it seeks and around batches, and the hot path adds to no
//! counter. These tests replay a log whose payload length changes in runs (so events go
//! through the hot path, the full decode and the fold in turn) through `next()`,
//! `next_batch_with`, `poll` and resumes, and check the count after every step — and, with
//! batches of every size mixed with `next()` and resumes and the sample point (where `next()`'s
//! hot path stops) every few events, every event delivered.

#[path = "common/rng.rs"]
mod rng;

use rng::Rng;
use wal_recovery::{Manager, Next, RecoveryOptions, Writer, WriterOptions};

/// Payload length of event `id`: runs of 37 events of 64, 8, 200 and 0 bytes.
fn len_of(id: u64) -> usize {
    [64, 8, 200, 0][((id / 37) % 4) as usize]
}

/// The payload of event `id`.
fn payload_of(id: u64) -> Vec<u8> {
    vec![(id % 251) as u8; len_of(id)]
}

fn bytes_of(ids: impl IntoIterator<Item = u64>) -> u64 {
    ids.into_iter().map(|id| len_of(id) as u64).sum()
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

#[test]
fn bytes_delivered_follows_runs_batches_and_resumes() {
    const N: u64 = 6000;
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), N);
    let mut m = Manager::open(tmp.path(), RecoveryOptions::default()).expect("open");
    let mut delivered: Vec<u64> = Vec::new();
    let check = |m: &Manager, delivered: &[u64], what: &str| {
        let r = m.report();
        assert_eq!(r.events_delivered, delivered.len() as u64, "{what}");
        assert_eq!(
            r.bytes_delivered,
            bytes_of(delivered.iter().copied()),
            "{what}"
        );
    };
    // next() over several runs and segments.
    for _ in 0..1234 {
        let ev = m.next().expect("next").expect("an event");
        assert_eq!(ev.payload.len(), len_of(ev.id));
        delivered.push(ev.id);
    }
    check(&m, &delivered, "after next()");
    // A batch that spans runs.
    let mut ids = Vec::new();
    m.next_batch_with(500, |ev| {
        assert_eq!(ev.payload.len(), len_of(ev.id));
        ids.push(ev.id);
    })
    .expect("batch");
    assert!(!ids.is_empty());
    delivered.extend(ids);
    check(&m, &delivered, "after a batch");
    // next() again, straight after the batch (the hot path resumes inside a run).
    for _ in 0..100 {
        delivered.push(m.next().expect("next").expect("an event").id);
    }
    check(&m, &delivered, "after next() following a batch");
    // Resume backward into the middle of a run, then poll to the end.
    m.resume(1000).expect("resume");
    check(&m, &delivered, "after resume");
    loop {
        match m.poll().expect("poll") {
            Next::Event(ev) => {
                assert_eq!(ev.payload.len(), len_of(ev.id));
                delivered.push(ev.id);
            }
            Next::End => break,
            Next::Pending => panic!("not following"),
        }
    }
    check(&m, &delivered, "at the end");
    assert_eq!(*delivered.last().expect("events"), N);
}

/// Replays the whole log with batches of random sizes, a `next()` now and then and a few
/// resumes (backwards into a block already batched, and forwards), checking every event.
fn replay_mixed(dir: &std::path::Path, n: u64, sample_every: u32, seed: u64) {
    let opts = RecoveryOptions {
        next_event_sample_every: sample_every,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir, opts).expect("open");
    let mut rng = Rng::new(seed);
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
            let mut check = |ev: wal_recovery::Event<'_>| {
                assert_eq!(
                    (ev.id, ev.payload),
                    (expect, &payload_of(expect)[..]),
                    "batch of at most {max}"
                );
                expect += 1;
                bytes += ev.payload.len() as u64;
            };
            let k = if choice.is_multiple_of(2) {
                m.next_batch_with(max, check)
            } else {
                // Each event's place in the batch: 0, 1, 2, ... across the blocks it spans.
                let mut places = 0;
                m.next_batch_indexed(max, |place, ev| {
                    assert_eq!(place, places, "place in a batch of at most {max}");
                    places += 1;
                    check(ev);
                })
            }
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
fn batches_mixed_with_next_and_resumes_deliver_the_log_in_order() {
    const N: u64 = 9000;
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), N);
    for (sample_every, seed) in [(1024, 1), (5, 2), (1, 3), (64, 4), (7, 5)] {
        replay_mixed(tmp.path(), N, sample_every, seed);
    }
}
