//! `SegmentReader::seek` to every kind of id: first, last, last + 1 (at end), middle, before the
//! first and beyond last + 1 (typed error naming the range), and every block boundary (first and
//! last id of each block, ±1). After each seek the reader returns exactly the right events.

mod format_support;

use std::path::Path;

use format_support::*;
use wal_recovery::recovery::segment_reader::{SegmentEnd, SegmentReader};
use wal_recovery::{Error, Writer, WriterOptions};

const SEED: u64 = 0x5EE4_0001;

/// A sealed multi-block segment starting at id 1000 (so "before first" has room), plus the log.
fn fixture(dir: &Path) -> (std::path::PathBuf, Vec<Ev>) {
    let opts = WriterOptions {
        segment_bytes: 1 << 20,
        block_bytes: 400,
        first_event_id: 1000,
    };
    let mut w = Writer::open(dir, opts).expect("open");
    let mut log = Vec::new();
    let mut rng = Rng::new(SEED);
    for _ in 0..300 {
        let len = match rng.below(10) {
            0 => 0,
            1 => rng.range(300, 600) as usize, // oversize: a block of its own
            _ => rng.range(1, 120) as usize,
        };
        append(&mut w, &mut log, SEED, len);
    }
    w.close().expect("close");
    let files = wal_files(dir);
    assert_eq!(files.len(), 1, "fixture fits one segment");
    (files[0].clone(), log)
}

/// Seeks to `id` and checks the next `k` events (or all remaining when `k` is None) are exactly
/// the log's from `id` on, then that position/remaining are consistent.
#[track_caller]
fn check_seek(r: &mut SegmentReader, log: &[Ev], id: u64, k: Option<usize>) {
    r.seek(id)
        .unwrap_or_else(|e| panic!("seek({id}) failed: {e}"));
    let end = r.end_event_id();
    assert_eq!(r.position(), id, "position after seek({id})");
    assert_eq!(r.remaining_events(), end - id, "remaining after seek({id})");
    let want: Vec<Ev> = ids_in(log, id, end);
    let n = k.unwrap_or(want.len()).min(want.len());
    let mut got = Vec::new();
    for _ in 0..n {
        let e = r.next().expect("next").expect("an event");
        got.push((e.id, e.payload.to_vec()));
    }
    assert_events(&got, &want[..n]);
    if n == want.len() {
        assert!(
            r.next().expect("next at end").is_none(),
            "nothing after the last event (seek {id})"
        );
    }
}

#[track_caller]
fn assert_not_in_segment(r: &mut SegmentReader, id: u64, path: &Path) {
    let first = r.first_event_id();
    let end = r.end_event_id();
    match r.seek(id) {
        Err(Error::EventNotInSegment {
            requested,
            first: f,
            end: e,
            path: p,
        }) => {
            assert_eq!(
                (requested, f, e),
                (id, first, end),
                "seek({id}) error must name the range"
            );
            assert_eq!(p, path);
        }
        other => panic!("seek({id}): expected EventNotInSegment, got {other:?}"),
    }
}

#[test]
fn seek_first_last_end_middle_and_outside() {
    let tmp = fast_tempdir();
    let (path, log) = fixture(tmp.path());
    let mut r = SegmentReader::open_verified(&path).expect("open");
    assert_eq!(r.end(), &SegmentEnd::Clean);
    let first = log[0].0;
    let last = log.last().expect("log").0;
    assert_eq!(first, 1000);
    assert_eq!(r.first_event_id(), first);
    assert_eq!(r.end_event_id(), last + 1);

    // first
    check_seek(&mut r, &log, first, None);
    // last
    check_seek(&mut r, &log, last, None);
    // middle
    check_seek(&mut r, &log, (first + last) / 2, None);
    // last + 1: positioned at the end
    r.seek(last + 1).expect("seek(last + 1)");
    assert_eq!(r.position(), last + 1);
    assert_eq!(r.remaining_events(), 0);
    assert!(r.next().expect("next").is_none());
    assert!(r.next().expect("next again").is_none());
    // backwards after reaching the end
    check_seek(&mut r, &log, first + 1, Some(3));

    // Outside: before first, beyond last + 1, and the extremes. The cursor must stay usable.
    for id in [0, 1, first - 1, last + 2, last + 1000, u64::MAX] {
        assert_not_in_segment(&mut r, id, &path);
    }
    check_seek(&mut r, &log, first, Some(5));

    // Every single id, then reading to the end from a few of them.
    for (i, e) in log.iter().enumerate() {
        r.seek(e.0).expect("seek");
        let got = r.next().expect("next").expect("event");
        assert_eq!(got.id, e.0);
        assert_payload(e.0, got.payload, &e.1);
        if i % 37 == 0 {
            check_seek(&mut r, &log, e.0, None);
        }
    }
}

#[test]
fn seek_every_block_boundary() {
    let tmp = fast_tempdir();
    let (path, log) = fixture(tmp.path());
    let mut r = SegmentReader::open_verified(&path).expect("open");
    let blocks = layout(&path);
    assert!(
        blocks.len() >= 30,
        "fixture has many blocks ({})",
        blocks.len()
    );
    assert!(
        blocks.iter().any(|b| b.count == 1),
        "fixture has single-event blocks"
    );
    let (first, end) = (r.first_event_id(), r.end_event_id());
    for b in &blocks {
        let last_in_block = b.end_id() - 1;
        for id in [
            b.first_id.wrapping_sub(1),
            b.first_id,
            b.first_id + 1,
            last_in_block - 1,
            last_in_block,
            b.end_id(),
        ] {
            if id < first || id > end {
                assert_not_in_segment(&mut r, id, &path);
            } else if id == end {
                r.seek(id).expect("seek(end)");
                assert!(r.next().expect("next").is_none());
            } else {
                // Read across the boundary: this block's tail and the next block's head.
                check_seek(&mut r, &log, id, Some(4));
            }
        }
    }
}

/// Seeking an unsealed segment with a torn tail: the valid prefix is seekable, its end is a
/// valid position, and ids in the torn part are reported as outside the segment.
#[test]
fn seek_in_torn_unsealed_segment() {
    let tmp = fast_tempdir();
    let snap = tmp.path().join("snap");
    let log = unsealed_snapshot(
        &tmp.path().join("log"),
        &snap,
        wopts(1 << 20, 256),
        SEED,
        200,
        100,
    );
    let path = wal_files(&snap).pop().expect("segment");
    let blocks = layout(&path);
    let torn = blocks[blocks.len() - 3];
    truncate(&path, torn.payload_off + 5);
    let mut r = SegmentReader::open_verified(&path).expect("open");
    assert!(matches!(r.end(), SegmentEnd::TornTail(_)), "{:?}", r.end());
    assert_eq!(r.end_event_id(), torn.first_id);
    check_seek(&mut r, &log, log[0].0, None);
    check_seek(&mut r, &log, torn.first_id - 1, None);
    r.seek(torn.first_id).expect("seek(valid end)");
    assert!(r.next().expect("next").is_none());
    for id in [torn.first_id + 1, torn.end_id(), log.last().expect("log").0] {
        assert_not_in_segment(&mut r, id, &path);
    }
}

/// An empty valid prefix (unsealed segment whose first block is torn): only `first` is a valid
/// position, and it is at the end.
#[test]
fn seek_in_segment_with_no_valid_events() {
    let tmp = fast_tempdir();
    let snap = tmp.path().join("snap");
    let log = unsealed_snapshot(
        &tmp.path().join("log"),
        &snap,
        wopts(1 << 20, 256),
        SEED,
        20,
        100,
    );
    let path = wal_files(&snap).pop().expect("segment");
    truncate(&path, 64 + 30);
    let mut r = SegmentReader::open_verified(&path).expect("open");
    assert_eq!(r.event_count(), 0);
    assert_eq!(r.end_event_id(), log[0].0);
    r.seek(log[0].0).expect("seek(first) in an empty prefix");
    assert!(r.next().expect("next").is_none());
    assert_not_in_segment(&mut r, log[0].0 + 1, &path);
    assert_not_in_segment(&mut r, log[0].0 - 1, &path);
}
