//! `bytes_delivered` is derived, not counted per event: a reader folds its delivered bytes when
//! the record length changes, when it seeks and around batches, and the hot path adds to no
//! counter. These tests replay a log whose payload length changes in runs (so events go
//! through the hot path, the full decode and the fold in turn) through `next()`,
//! `next_batch_with`, `poll` and resumes, and check the count after every step.

use wal_recovery::{Manager, Next, RecoveryOptions, Writer, WriterOptions};

/// Payload length of event `id`: runs of 37 events of 64, 8, 200 and 0 bytes.
fn len_of(id: u64) -> usize {
    [64, 8, 200, 0][((id / 37) % 4) as usize]
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
        let p = vec![(id % 251) as u8; len_of(id)];
        assert_eq!(w.append(&p).expect("append"), id);
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
