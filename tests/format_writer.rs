//! Writer errors and layout: payload too large, invalid options, a second writer on the same
//! directory, `first_event_id` (honoured for a new log, ignored for an existing one), id 0 never
//! used, the id range's upper edge, file naming, header contents, and segment/block rolling at
//! the configured sizes.

mod format_support;

use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

use format_support::*;
use wal_recovery::recovery::segment_reader::{SegmentEnd, SegmentReader};
use wal_recovery::segment::header::chain_seed;
use wal_recovery::segment::{
    naming, record_size, BLOCK_ALIGN, HEADER_BYTES, HUGE_PAGE_BYTES, MAX_BLOCK_PAYLOAD,
    MAX_EVENT_BYTES,
};
use wal_recovery::{Error, Writer, WriterOptions};

const SEED: u64 = 0x3717_0001;

#[test]
fn payload_too_large_is_refused_and_harmless() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let mut w = Writer::open(&dir, WriterOptions::default()).expect("open");
    let mut log = Vec::new();
    append(&mut w, &mut log, SEED, 10);
    for len in [MAX_EVENT_BYTES + 1, MAX_EVENT_BYTES + 8, MAX_BLOCK_PAYLOAD] {
        match w.append(&vec![0x5A; len]) {
            Err(Error::PayloadTooLarge { len: l, max }) => {
                assert_eq!((l, max), (len, MAX_EVENT_BYTES))
            }
            other => panic!("append({len} bytes): expected PayloadTooLarge, got {other:?}"),
        }
    }
    // No id was consumed and the writer still works, up to the exact maximum.
    assert_eq!(w.next_event_id(), 2);
    append(&mut w, &mut log, SEED, MAX_EVENT_BYTES);
    append(&mut w, &mut log, SEED, 0);
    w.close().expect("close");
    let (got, err, report) = replay(&dir);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
    assert!(report.is_clean());
}

#[test]
fn invalid_options_are_refused() {
    let tmp = fast_tempdir();
    let d = WriterOptions::default();
    assert_eq!(d.first_event_id, 1, "id 0 is never the default");
    let bad = [
        (
            "first id 0",
            WriterOptions {
                first_event_id: 0,
                ..d
            },
        ),
        (
            "first id u64::MAX",
            WriterOptions {
                first_event_id: u64::MAX,
                ..d
            },
        ),
        (
            "block_bytes 0",
            WriterOptions {
                block_bytes: 0,
                ..d
            },
        ),
        (
            "block_bytes 7",
            WriterOptions {
                block_bytes: 7,
                ..d
            },
        ),
        (
            "block_bytes > 16 MiB",
            WriterOptions {
                block_bytes: MAX_BLOCK_PAYLOAD as u32 + 1,
                ..d
            },
        ),
        (
            "segment_bytes 0",
            WriterOptions {
                segment_bytes: 0,
                ..d
            },
        ),
        (
            "segment_bytes 135",
            WriterOptions {
                segment_bytes: 135,
                ..d
            },
        ),
    ];
    for (i, (what, opts)) in bad.iter().enumerate() {
        assert!(
            matches!(opts.validate(), Err(Error::InvalidArgument(_))),
            "{what}"
        );
        let dir = tmp.path().join(format!("bad{i}"));
        match Writer::open(&dir, *opts) {
            Err(Error::InvalidArgument(m)) => assert!(!m.is_empty()),
            other => panic!("{what}: expected InvalidArgument, got {other:?}"),
        }
        assert!(
            !dir.exists() || wal_files(&dir).is_empty(),
            "{what}: nothing written"
        );
    }
    let good = [
        WriterOptions {
            first_event_id: 1,
            ..d
        },
        WriterOptions {
            first_event_id: u64::MAX - 1,
            ..d
        },
        WriterOptions {
            block_bytes: 8,
            ..d
        },
        WriterOptions {
            block_bytes: MAX_BLOCK_PAYLOAD as u32,
            ..d
        },
        WriterOptions {
            segment_bytes: 136,
            ..d
        },
        WriterOptions {
            segment_bytes: u64::MAX,
            ..d
        },
    ];
    for (i, opts) in good.iter().enumerate() {
        opts.validate().unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        Writer::open(tmp.path().join(format!("good{i}")), *opts).expect("valid options open");
    }
}

#[test]
fn second_writer_on_same_directory_is_locked_out() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let mut w = Writer::open(&dir, WriterOptions::default()).expect("open");
    let mut log = Vec::new();
    append(&mut w, &mut log, SEED, 5);
    for _ in 0..2 {
        match Writer::open(&dir, WriterOptions::default()) {
            Err(Error::DirectoryLocked(p)) => assert_eq!(p, dir),
            other => panic!("expected DirectoryLocked, got {other:?}"),
        }
    }
    // The refused open did not disturb the holder.
    append(&mut w, &mut log, SEED, 6);
    w.close().expect("close");
    // Released on close: a new writer continues the log.
    let mut w = Writer::open(&dir, WriterOptions::default()).expect("reopen after close");
    assert_eq!(w.next_event_id(), 3);
    append(&mut w, &mut log, SEED, 7);
    drop(w);
    let w = Writer::open(&dir, WriterOptions::default()).expect("reopen after drop");
    assert_eq!(w.next_event_id(), 4);
    drop(w);
    let (got, err, _) = replay(&dir);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
}

#[test]
fn first_event_id_honoured_for_new_log_and_ignored_for_existing() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let opts = WriterOptions {
        first_event_id: 1_000_000,
        ..wopts(1024, 128)
    };
    // A writer that never appended leaves no segment: the log is still new.
    Writer::open(
        &dir,
        WriterOptions {
            first_event_id: 77,
            ..opts
        },
    )
    .expect("open")
    .close()
    .expect("close");
    assert!(wal_files(&dir).is_empty());

    let mut w = Writer::open(&dir, opts).expect("open");
    assert_eq!(w.next_event_id(), 1_000_000);
    let mut log = Vec::new();
    let mut rng = Rng::new(SEED);
    append_random(&mut w, &mut log, &mut rng, SEED, 100, 60);
    assert_eq!(log[0].0, 1_000_000);
    w.close().expect("close");
    let first = SegmentReader::open(&wal_files(&dir)[0]).expect("open");
    assert_eq!(first.header().first_event_id, 1_000_000);
    assert_eq!(first.header().prev_chain, chain_seed(first.header().log_id));
    drop(first);

    for other_first in [1, 5, 1_000_000, 1_000_050, 5_000_000] {
        let mut w = Writer::open(
            &dir,
            WriterOptions {
                first_event_id: other_first,
                ..opts
            },
        )
        .expect("reopen");
        assert_eq!(
            w.next_event_id(),
            log.last().expect("log").0 + 1,
            "first_event_id {other_first} must be ignored"
        );
        append_random(&mut w, &mut log, &mut rng, SEED, 7, 60);
        w.close().expect("close");
    }
    let (got, err, report) = replay(&dir);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn id_zero_is_never_used() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let mut w = Writer::open(&dir, wopts(512, 64)).expect("open");
    let mut log = Vec::new();
    assert_eq!(w.append(b"first").expect("append"), 1);
    log.push((1, b"first".to_vec()));
    let mut rng = Rng::new(SEED);
    append_random(&mut w, &mut log, &mut rng, SEED, 50, 40);
    w.close().expect("close");
    for p in wal_files(&dir) {
        let r = SegmentReader::open_verified(&p).expect("open");
        assert!(r.header().first_event_id >= 1);
        assert!(r.index().iter().all(|e| e.first_event_id >= 1));
    }
    let (got, _, _) = replay(&dir);
    assert!(got.iter().all(|e| e.0 != 0));
    assert_events(&got, &log);
}

/// The last representable id: `first_event_id = u64::MAX - 1` is accepted by validation, so
/// exactly one event (id `u64::MAX - 1`, end `u64::MAX`) fits; the next append is `IdOverflow`
/// and does not poison the writer.
#[test]
fn last_representable_id() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let opts = WriterOptions {
        first_event_id: u64::MAX - 3,
        ..wopts(4096, 256)
    };
    let mut w = Writer::open(&dir, opts).expect("open");
    let mut log = Vec::new();
    for _ in 0..3 {
        append(&mut w, &mut log, SEED, 9);
    }
    assert_eq!(log.last().expect("log").0, u64::MAX - 1);
    assert_eq!(w.next_event_id(), u64::MAX);
    assert!(matches!(w.append(b"x"), Err(Error::IdOverflow)));
    w.sync()
        .expect("sync after IdOverflow: the writer is not failed");
    w.close().expect("close");
    let files = wal_files(&dir);
    let mut r = SegmentReader::open_verified(&files[0]).expect("open");
    assert_eq!(r.end(), &SegmentEnd::Clean);
    assert_eq!(r.end_event_id(), u64::MAX);
    assert_eq!(r.header().last_event_id, u64::MAX - 1);
    assert_events(&read_all(&mut r), &log);
    r.seek(u64::MAX).expect("seek to the end position u64::MAX");
    assert!(r.next().expect("next").is_none());
    drop(r);
    // Reopening the full log: still nothing more fits.
    let mut w = Writer::open(&dir, opts).expect("reopen");
    assert_eq!(w.next_event_id(), u64::MAX);
    assert!(matches!(w.append(b"y"), Err(Error::IdOverflow)));
    drop(w);
    let (got, err, report) = replay(&dir);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn file_names_are_twenty_digit_sequences() {
    assert_eq!(naming::file_name(0), "00000000000000000000.wal");
    assert_eq!(naming::file_name(1), "00000000000000000001.wal");
    assert_eq!(naming::file_name(123_456_789), "00000000000123456789.wal");
    assert_eq!(naming::file_name(u64::MAX), "18446744073709551615.wal");
    for seq in [
        0,
        1,
        9,
        10,
        99_999_999,
        100_000_000,
        1 << 40,
        u64::MAX - 1,
        u64::MAX,
    ] {
        let name = naming::file_name(seq);
        assert_eq!(name.len(), 24, "{name}");
        assert_eq!(naming::parse(&name), Some(seq), "{name}");
    }
    for bad in [
        "",
        ".wal",
        "1.wal",
        "00000001.wal",              // FlashStrike's 8-digit names
        "0000000000000000001.wal",   // 19 digits
        "000000000000000000001.wal", // 21 digits
        "99999999999999999999.wal",  // 20 digits but > u64::MAX
        "18446744073709551616.wal",  // u64::MAX + 1
        "0000000000000000000a.wal",
        "+0000000000000000001.wal",
        " 0000000000000000001.wal",
        "00000000000000000001.WAL",
        "00000000000000000001.wal.lz4",
        "00000000000000000001.log",
        "00000000000000000001",
        "00000000000000000001.wal ",
    ] {
        assert_eq!(naming::parse(bad), None, "{bad:?}");
    }
    assert_eq!(naming::EXTENSION, "wal");
}

/// The writer names each segment after the sequence number in its header, numbers segments
/// 1, 2, 3…, fills in the header (sealed totals, ids, chain links, creation time), and never
/// touches a sealed segment again when it reopens the log.
#[test]
fn segment_files_and_headers() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let log = sealed_log(&dir, wopts(1500, 200), SEED, 300, 80);
    let t1 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let files = wal_files(&dir);
    assert!(files.len() >= 5);
    let names: Vec<String> = fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(
        names.len(),
        files.len() + 1,
        "only segments and the LOCK file: {names:?}"
    );
    assert!(names.iter().any(|n| n == "LOCK"));
    let mut next_id = 1;
    let mut chain = chain_seed(
        SegmentReader::open(&files[0])
            .expect("open")
            .header()
            .log_id,
    );
    for (i, p) in files.iter().enumerate() {
        let name = p.file_name().expect("name").to_str().expect("utf-8");
        assert_eq!(name, naming::file_name(i as u64 + 1));
        let r = SegmentReader::open_verified(p).expect("open");
        let h = *r.header();
        assert_eq!(r.end(), &SegmentEnd::Clean);
        assert!(h.sealed);
        assert_eq!(h.sequence, i as u64 + 1);
        assert_eq!(h.first_event_id, next_id);
        assert_eq!(h.prev_chain, chain);
        assert_eq!(h.block_count as usize, r.index().len());
        assert_eq!(h.event_count, r.event_count());
        assert_eq!(h.last_event_id, h.first_event_id + h.event_count - 1);
        assert_eq!(h.last_chain, r.last_chain());
        assert!(
            (t0..=t1).contains(&h.created_unix_ns),
            "created {} not in {t0}..={t1}",
            h.created_unix_ns
        );
        // Blocks are 64-aligned and back to back.
        let mut off = HEADER_BYTES as u64;
        for b in layout(p) {
            assert_eq!(b.off, off);
            assert_eq!(b.off % BLOCK_ALIGN as u64, 0);
            off = b.next_off;
        }
        assert_eq!(off, file_len(p));
        next_id = r.end_event_id();
        chain = r.last_chain();
    }
    assert_eq!(next_id, log.last().expect("log").0 + 1);

    // Reopen and append: a new segment; sealed ones are byte-for-byte unchanged.
    let before: Vec<Vec<u8>> = files.iter().map(|p| fs::read(p).expect("read")).collect();
    let mut w = Writer::open(&dir, wopts(1500, 200)).expect("reopen");
    let mut log = log;
    append(&mut w, &mut log, SEED, 10);
    w.close().expect("close");
    let after = wal_files(&dir);
    assert_eq!(after.len(), files.len() + 1);
    assert_eq!(
        after.last().expect("files"),
        &dir.join(naming::file_name(files.len() as u64 + 1))
    );
    for (p, b) in files.iter().zip(&before) {
        assert!(
            fs::read(p).expect("read") == *b,
            "{} changed after reopen",
            p.display()
        );
    }
    let (got, err, report) = replay(&dir);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
    assert!(report.is_clean());
}

/// Segments roll at the configured size: every segment is at most `segment_bytes` unless it
/// holds a single (oversize) block, and no segment was rolled early (its successor's first block
/// would not have fitted). Blocks likewise fill up to `block_bytes` and no further, unless they
/// hold a single oversize record.
#[test]
fn writer_rolls_segments_and_blocks_at_configured_sizes() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let (segment_bytes, block_bytes) = (4096u64, 500u32);
    let mut w = Writer::open(&dir, wopts(segment_bytes, block_bytes)).expect("open");
    let mut log = Vec::new();
    let mut rng = Rng::new(SEED);
    for _ in 0..800 {
        let len = match rng.below(50) {
            0 => rng.range(500, 3000) as usize,  // a block of its own
            1 => rng.range(4100, 9000) as usize, // a block larger than a segment
            _ => rng.below(300) as usize,
        };
        append(&mut w, &mut log, SEED, len);
    }
    w.close().expect("close");
    let len_of = |id: u64| log[(id - 1) as usize].1.len();

    let files = wal_files(&dir);
    assert!(files.len() >= 20, "{} segments", files.len());
    let layouts: Vec<Vec<BlockLayout>> = files.iter().map(|p| layout(p)).collect();
    let mut oversize_segments = 0;
    for (i, p) in files.iter().enumerate() {
        let size = file_len(p);
        let blocks = &layouts[i];
        let h = *SegmentReader::open(p).expect("open").header();
        assert!(h.sealed);
        if blocks.len() > 1 {
            assert!(
                size <= segment_bytes,
                "{}: {size} bytes in {} blocks",
                p.display(),
                blocks.len()
            );
        } else if size > segment_bytes {
            oversize_segments += 1;
        }
        if let Some(next) = layouts.get(i + 1) {
            let next_first = next[0];
            let next_size = next_first.next_off - next_first.off;
            assert!(
                size + next_size > segment_bytes,
                "{}: rolled early ({size} + {next_size} would fit)",
                p.display()
            );
        }
    }
    assert!(
        oversize_segments > 0,
        "fixture has blocks larger than a segment"
    );

    let all_blocks: Vec<BlockLayout> = layouts.into_iter().flatten().collect();
    for (i, b) in all_blocks.iter().enumerate() {
        let payload = b.payload_end - b.payload_off;
        let expect: u64 = (b.first_id..b.end_id())
            .map(|id| record_size(len_of(id)) as u64)
            .sum();
        assert_eq!(payload, expect, "block {i}: payload is exactly its records");
        if b.count > 1 {
            assert!(
                payload <= u64::from(block_bytes),
                "block {i}: {payload} bytes, {} events",
                b.count
            );
        }
        if let Some(next) = all_blocks.get(i + 1) {
            let first_next = record_size(len_of(next.first_id)) as u64;
            assert!(
                payload + first_next > u64::from(block_bytes),
                "block {i} flushed early"
            );
        }
    }
}

/// Complete blocks are written in chunks that end at multiples of 2 MiB of the file
/// ([`HUGE_PAGE_BYTES`]), so the page cache can hold segments in 2 MiB folios: between those
/// boundaries the file does not grow; `flush` writes everything appended; `sync`, rolling and
/// `close` do too.
#[test]
fn blocks_are_written_in_chunks_ending_at_2_mib_boundaries() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let chunk = HUGE_PAGE_BYTES as u64;
    let mut w = Writer::open(&dir, wopts(16 * chunk, 64 << 10)).expect("open");
    let seg = dir.join(naming::file_name(1));
    let payload = [7u8; 1000]; // record 1008 bytes: 65 per 64 KiB block
    let mut lens = Vec::new();
    let mut appended = 0u64;
    // About 5 MiB of events: at least two boundaries crossed.
    while appended < 5 * chunk {
        w.append(&payload).expect("append");
        appended += 1008;
        if seg.exists() {
            lens.push(file_len(&seg));
        }
    }
    // Only the header until the first boundary, then exactly multiples of 2 MiB.
    assert!(lens.contains(&(HEADER_BYTES as u64)), "header-only phase");
    assert!(
        lens.contains(&chunk),
        "first chunk written: {:?}",
        lens.last()
    );
    assert!(lens.contains(&(2 * chunk)), "second chunk written");
    for &l in &lens {
        assert!(
            l == HEADER_BYTES as u64 || l % chunk == 0,
            "file length {l} is neither the header nor a 2 MiB multiple"
        );
    }
    let events = w.next_event_id() - 1;
    let before_flush = file_len(&seg);
    w.flush().expect("flush");
    let after_flush = file_len(&seg);
    assert!(
        after_flush > before_flush,
        "flush wrote the buffered blocks"
    );
    // Everything appended is in the file now: a reader (the segment is unsealed) sees it all.
    let mut r = SegmentReader::open_verified(&seg).expect("open");
    assert_eq!(r.end(), &SegmentEnd::Clean);
    assert_eq!(r.event_count(), events);
    let mut n = 0;
    while let Some(e) = r.next().expect("next") {
        assert_eq!(e.payload, &payload[..]);
        n += 1;
    }
    assert_eq!(n, events);
    drop(r);
    // Appends after a flush are buffered again until the next boundary; close writes them.
    for _ in 0..10 {
        w.append(&payload).expect("append");
    }
    assert_eq!(file_len(&seg), after_flush, "ten events stay buffered");
    w.close().expect("close");
    let r = SegmentReader::open_verified(&seg).expect("open");
    assert!(r.header().sealed);
    assert_eq!(r.event_count(), events + 10);
}
