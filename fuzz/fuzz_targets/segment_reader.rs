//! `SegmentReader` on an arbitrary file: open, verify, iterate every event (by `next()` and in
//! batches, which must agree), seek to ids derived from the input. Must never panic, loop or
//! read outside the file; errors are typed.
//!
//! Input: byte 0 = flags (bit 0: fix the segment header CRC, bit 1: fix every block's CRCs and
//! chain — see `walfuzz::fixup`); bytes 1.. = the file.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wal_recovery::recovery::segment_reader::SegmentEnd;
use wal_recovery::SegmentReader;

fuzz_target!(|data: &[u8]| {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| walfuzz::scratch("segment.wal"));
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let mut file = file.to_vec();
    walfuzz::fixup(&mut file, flags);
    std::fs::write(path, &file).expect("write scratch file");

    let Ok(mut r) = SegmentReader::open(path) else {
        return;
    };
    r.verify();
    let first = r.first_event_id();
    let end = r.end_event_id();
    assert!(end >= first);
    assert!(r.valid_len() <= file.len() as u64);
    if let SegmentEnd::TornTail(t) = r.end() {
        assert_eq!(t.offset + t.bytes, file.len() as u64);
    }
    // Every event of the valid prefix, in order, inside the file.
    let mut expect = first;
    let max = file.len() / 8 + 1;
    let mut n = 0usize;
    let mut events = Vec::new();
    let ended = loop {
        match r.next() {
            Ok(Some(ev)) => {
                assert_eq!(ev.id, expect, "ids are contiguous");
                assert!(ev.payload.len() <= file.len());
                events.push((ev.id, ev.payload.to_vec()));
                expect += 1;
                n += 1;
                assert!(n <= max, "more events than the file can hold");
            }
            Ok(None) => {
                assert_eq!(expect, end, "iteration ends at end_event_id");
                break None;
            }
            Err(e) => break Some(e.to_string()), // typed framing error
        }
    };
    // The same events through batches (a separate loop in the reader), of a size from the
    // input, on a second reader; `next()` where a batch stops.
    let batch = 1 + data.len() % 67;
    let mut b = SegmentReader::open(path).expect("opened once already");
    b.verify();
    let mut got = Vec::new();
    let batches_ended = loop {
        let (k, _) = b.next_batch_with(batch, |ev| got.push((ev.id, ev.payload.to_vec())));
        assert!(k <= batch, "{k} events in a batch of at most {batch}");
        assert!(got.len() <= max, "more events than the file can hold");
        if k == 0 {
            match b.next() {
                Ok(Some(ev)) => got.push((ev.id, ev.payload.to_vec())),
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        }
    };
    assert_eq!(got, events, "batches of {batch} deliver what next() delivers");
    assert_eq!(batches_ended, ended, "batches of {batch} end as next() ends");
    // Seeks: both ends, past the end, before the start, and ids from the input.
    let mut targets = vec![
        first,
        end,
        end.saturating_add(1),
        first.saturating_sub(1),
        0,
        u64::MAX,
    ];
    for c in data.chunks(8).take(4) {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        let span = end - first + 1;
        targets.push(first + u64::from_le_bytes(b) % span);
    }
    for t in targets {
        if r.seek(t).is_ok() {
            assert!(t >= first && t <= end);
            if let Ok(Some(ev)) = r.next() {
                assert_eq!(ev.id, t, "seek lands on the requested id");
            }
        }
    }
});
