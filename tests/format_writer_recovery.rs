//! Writer crash recovery: a log is written, synced, extended without sync and flushed; a copy of
//! its files taken at that moment has its last segment cut at many offsets (inside block headers,
//! on block boundaries, inside payloads and padding) to simulate a crash. A writer reopened on
//! each copy keeps every synced event and every complete block before the cut, continues ids
//! without a gap, and a full `Manager` replay then sees one clean, contiguous log.

mod format_support;

use std::path::{Path, PathBuf};

use format_support::*;
use wal_recovery::recovery::segment_reader::{SegmentEnd, SegmentReader};
use wal_recovery::segment::HEADER_BYTES;
use wal_recovery::{CorruptionKind, Error, Writer, WriterOptions};

/// A crash snapshot: the files as they were after `sync` + more appends + `flush`.
struct Snapshot {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    log: Vec<Ev>,
    /// One past the last synced id.
    synced_end: u64,
    /// Length the last segment had at the sync (0 when it was created after the sync).
    synced_len: u64,
    opts: WriterOptions,
    seed: u64,
}

impl Snapshot {
    fn take(
        opts: WriterOptions,
        seed: u64,
        synced: usize,
        unsynced: usize,
        max_len: u64,
    ) -> Snapshot {
        Self::take_until(opts, seed, synced, max_len, false, |_, n| n < unsynced)
    }

    /// As [`Self::take`], appending unsynced events while `more(live dir, appended so far)`;
    /// with `watch_files`, each is flushed before `more` looks at the files.
    fn take_until(
        opts: WriterOptions,
        seed: u64,
        synced: usize,
        max_len: u64,
        watch_files: bool,
        more: impl Fn(&Path, usize) -> bool,
    ) -> Snapshot {
        let tmp = fast_tempdir();
        let live = tmp.path().join("live");
        let base = tmp.path().join("base");
        let mut rng = Rng::new(seed);
        let mut w = Writer::open(&live, opts).expect("open");
        let mut log = Vec::new();
        append_random(&mut w, &mut log, &mut rng, seed, synced, max_len);
        w.sync().expect("sync");
        let synced_end = w.next_event_id();
        let last_at_sync = wal_files(&live).pop().expect("a segment");
        let synced_len = file_len(&last_at_sync);
        let mut n = 0;
        while more(&live, n) {
            append_random(&mut w, &mut log, &mut rng, seed, 1, max_len);
            n += 1;
            if watch_files {
                // The writer buffers blocks up to a 2 MiB boundary of the file; a predicate
                // that watches the files needs them written.
                w.flush().expect("flush");
            }
        }
        w.flush().expect("flush");
        copy_wal_files(&live, &base);
        let last = wal_files(&base).pop().expect("a segment");
        let synced_len = if last.file_name() == last_at_sync.file_name() {
            synced_len
        } else {
            0
        };
        drop(w);
        Snapshot {
            _tmp: tmp,
            base,
            log,
            synced_end,
            synced_len,
            opts,
            seed,
        }
    }

    fn last_segment(&self) -> PathBuf {
        wal_files(&self.base).pop().expect("a segment")
    }
}

/// Simulates a crash that left the last segment `cut` bytes long, reopens a writer, appends,
/// and checks everything. `expected_end` is one past the last id that must survive.
fn crash_and_continue(snap: &Snapshot, cut: u64, expected_end: u64, work: &Path) {
    let _ = std::fs::remove_dir_all(work);
    copy_wal_files(&snap.base, work);
    let victim = wal_files(work).pop().expect("a segment");
    truncate(&victim, cut);

    let mut w = Writer::open(work, snap.opts)
        .unwrap_or_else(|e| panic!("cut at {cut}: Writer::open failed: {e}"));
    assert_eq!(
        w.next_event_id(),
        expected_end,
        "cut at {cut}: next id must be last readable + 1"
    );
    assert!(expected_end >= snap.synced_end, "synced events survive");
    let mut log = ids_in(&snap.log, 1, expected_end);
    for i in 0..12 {
        append(&mut w, &mut log, snap.seed ^ 0xFFFF, (i * 13) % 90);
    }
    w.close()
        .unwrap_or_else(|e| panic!("cut at {cut}: close failed: {e}"));

    // Every segment is now sealed and clean, and ids run contiguously from 1.
    let mut next = 1;
    for p in wal_files(work) {
        let r = SegmentReader::open_verified(&p)
            .unwrap_or_else(|e| panic!("cut at {cut}: {}: {e}", p.display()));
        assert_eq!(r.end(), &SegmentEnd::Clean, "cut at {cut}: {}", p.display());
        assert!(
            r.header().sealed,
            "cut at {cut}: {} left unsealed",
            p.display()
        );
        assert_eq!(r.first_event_id(), next, "cut at {cut}: {}", p.display());
        next = r.end_event_id();
    }
    let (got, err, report) = replay(work);
    if let Some(e) = err {
        panic!(
            "cut at {cut}: replay failed after {} events: {e}",
            got.len()
        );
    }
    assert_events(&got, &log);
    assert!(report.is_clean(), "cut at {cut}: {report:?}");
    assert!(report.complete);
    assert_eq!(
        report.torn_tail, None,
        "the writer sealed the repaired segment"
    );
}

/// One past the last id whose block lies entirely before `cut` in a segment with these blocks
/// (the segment's first id when none does).
fn surviving_end(blocks: &[BlockLayout], first_id: u64, cut: u64) -> u64 {
    blocks
        .iter()
        .take_while(|b| b.next_off <= cut)
        .last()
        .map_or(first_id, |b| b.end_id())
}

/// The layout of the (unsealed, clean) last segment of a snapshot.
fn last_layout(snap: &Snapshot) -> (Vec<BlockLayout>, u64) {
    let path = snap.last_segment();
    let r = SegmentReader::open_verified(&path).expect("open");
    assert!(
        !r.header().sealed,
        "the last segment of a crash snapshot is unsealed"
    );
    assert_eq!(r.end(), &SegmentEnd::Clean);
    (layout(&path), r.first_event_id())
}

/// Cut offsets after the synced data: every block boundary, and seeded random offsets inside
/// each block's header, payload and padding.
fn cut_offsets(blocks: &[BlockLayout], from: u64, len: u64, rng: &mut Rng) -> Vec<u64> {
    let mut cuts = vec![len];
    for b in blocks.iter().filter(|b| b.off >= from) {
        cuts.push(b.off);
        cuts.push(b.off + 1);
        cuts.push(b.off + rng.range(2, 63));
        cuts.push(b.payload_off);
        if b.payload_end > b.payload_off + 1 {
            cuts.push(rng.range(b.payload_off + 1, b.payload_end - 1));
        }
        cuts.push(b.payload_end);
        if b.next_off > b.payload_end + 1 {
            cuts.push(rng.range(b.payload_end + 1, b.next_off - 1));
        }
        cuts.push(b.next_off - 1);
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.retain(|&c| c >= from && c <= len);
    cuts
}

/// The synced data and the unsynced tail share the last segment.
#[test]
fn crash_inside_the_segment_holding_synced_data() {
    let snap = Snapshot::take(
        WriterOptions {
            segment_bytes: 1 << 20,
            block_bytes: 512,
            first_event_id: 1,
        },
        0xC2A5_0001,
        150,
        250,
        200,
    );
    assert_eq!(wal_files(&snap.base).len(), 1);
    assert!(snap.synced_len > HEADER_BYTES as u64);
    let (blocks, first_id) = last_layout(&snap);
    let len = file_len(&snap.last_segment());
    let mut rng = Rng::new(snap.seed);
    let cuts = cut_offsets(&blocks, snap.synced_len, len, &mut rng);
    assert!(cuts.len() >= 50, "only {} cut offsets", cuts.len());
    let work = snap._tmp.path().join("work");
    for cut in cuts {
        let end = surviving_end(&blocks, first_id, cut);
        crash_and_continue(&snap, cut, end, &work);
    }
}

/// The unsynced appends rolled into new segments: the last segment holds no synced data, so the
/// crash may have cut it anywhere — even inside or right after its own 64-byte header.
#[test]
fn crash_in_a_segment_created_after_the_last_sync() {
    // Append until the writer has rolled twice and the newest segment holds many blocks.
    let opts = WriterOptions {
        segment_bytes: 8192,
        block_bytes: 256,
        first_event_id: 1,
    };
    let snap = Snapshot::take_until(opts, 0xC2A5_0002, 60, 120, true, |live, _| {
        let files = wal_files(live);
        files.len() < 3 || file_len(files.last().expect("file")) < 4000
    });
    assert!(wal_files(&snap.base).len() >= 3);
    assert_eq!(
        snap.synced_len, 0,
        "the last segment was created after the sync"
    );
    let (blocks, first_id) = last_layout(&snap);
    assert!(blocks.len() >= 10, "{} blocks", blocks.len());
    assert!(first_id >= snap.synced_end);
    let len = file_len(&snap.last_segment());
    let mut rng = Rng::new(snap.seed);
    let mut cuts = cut_offsets(&blocks, HEADER_BYTES as u64, len, &mut rng);
    cuts.push(HEADER_BYTES as u64); // header only: the segment holds nothing and is dropped
    cuts.sort_unstable();
    cuts.dedup();
    assert!(cuts.len() >= 50, "only {} cut offsets", cuts.len());
    let work = snap._tmp.path().join("work");
    for cut in cuts {
        crash_and_continue(&snap, cut, surviving_end(&blocks, first_id, cut), &work);
    }
}

/// A crash between creating a segment file and completing its 64-byte header leaves a file
/// shorter than a header (or zero-filled): it cannot hold any event, so reopening must not be
/// refused — the log continues from the previous, sealed segment.
#[test]
fn crash_while_writing_a_new_segment_header() {
    let snap = Snapshot::take(
        WriterOptions {
            segment_bytes: 2048,
            block_bytes: 256,
            first_event_id: 1,
        },
        0xC2A5_0003,
        60,
        120,
        120,
    );
    let (_, first_id) = last_layout(&snap);
    let work = snap._tmp.path().join("work");
    // A crash inside segment creation leaves only the temporary file (the canonical name
    // appears by rename after the header is synced): the writer removes it and continues.
    let header = read_header_bytes(&snap.last_segment(), 0);
    for cut in [0usize, 1, 8, 32, 63, 64] {
        let _ = std::fs::remove_dir_all(&work);
        copy_wal_files(&snap.base, &work);
        let last = wal_files(&work).pop().expect("segment");
        let name = last.file_name().unwrap().to_str().unwrap().to_string();
        let seq: u64 = name.trim_end_matches(".wal").parse().unwrap();
        let tmp = work.join(format!(
            "{}.tmp",
            wal_recovery::segment::naming::file_name(seq + 1)
        ));
        std::fs::write(&tmp, &header[..cut]).expect("write tmp");
        let mut w = Writer::open(&work, snap.opts).expect("reopen over a stale temporary");
        assert!(!tmp.exists(), "stale temporary removed");
        let expected_end = SegmentReader::open_verified(&last).unwrap().end_event_id();
        assert_eq!(w.next_event_id(), expected_end);
        w.append(b"after").unwrap();
        w.close().unwrap();
    }
    // A canonically named newest segment damaged below a header cannot come from a crash: the
    // writer refuses it (typed error) rather than reusing its ids, and leaves it untouched.
    for (what, content) in [
        ("0 bytes", &header[..0]),
        ("10 bytes", &header[..10]),
        ("63 bytes", &header[..63]),
        ("64 zeros", &[0u8; 64][..]),
    ] {
        let _ = std::fs::remove_dir_all(&work);
        copy_wal_files(&snap.base, &work);
        let victim = wal_files(&work).pop().expect("segment");
        std::fs::write(&victim, content).unwrap();
        match Writer::open(&work, snap.opts) {
            Err(wal_recovery::Error::Corrupt(c)) => assert!(
                matches!(
                    c.kind,
                    CorruptionKind::TooShort | CorruptionKind::HeaderMagic
                ),
                "{what}: {c}"
            ),
            other => panic!("{what}: expected a corruption error, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(&victim).unwrap(),
            content,
            "{what}: file untouched"
        );
    }
    let _ = first_id;
}

/// Zeros after the last complete block (the file grew but the data never landed).
#[test]
fn crash_with_zero_filled_tail() {
    let snap = Snapshot::take(
        WriterOptions {
            segment_bytes: 1 << 20,
            block_bytes: 512,
            first_event_id: 1,
        },
        0xC2A5_0004,
        50,
        50,
        200,
    );
    let (blocks, _) = last_layout(&snap);
    let work = snap._tmp.path().join("work");
    for zeros in [1usize, 64, 4096] {
        let _ = std::fs::remove_dir_all(&work);
        copy_wal_files(&snap.base, &work);
        let victim = wal_files(&work).pop().expect("segment");
        append_bytes(&victim, &vec![0; zeros]);
        let len = file_len(&victim);
        crash_and_continue_in_place(&snap, &work, blocks.last().expect("blocks").end_id());
        assert!(file_len(&victim) < len);
    }
}

/// Like [`crash_and_continue`] but on a prepared `work` directory.
fn crash_and_continue_in_place(snap: &Snapshot, work: &Path, expected_end: u64) {
    let mut w = Writer::open(work, snap.opts).expect("open");
    assert_eq!(w.next_event_id(), expected_end);
    let mut log = ids_in(&snap.log, 1, expected_end);
    append(&mut w, &mut log, 7, 33);
    w.close().expect("close");
    let (got, err, report) = replay(work);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
    assert!(report.is_clean(), "{report:?}");
}

/// Repeated crashes: each reopen repairs and seals, and the log stays one contiguous sequence.
#[test]
fn repeated_crashes_keep_one_contiguous_log() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let opts = WriterOptions {
        segment_bytes: 3000,
        block_bytes: 300,
        first_event_id: 1,
    };
    let seed = 0xC2A5_0005;
    let mut rng = Rng::new(seed);
    let mut log: Vec<Ev> = Vec::new();
    for round in 0..15 {
        let mut w = Writer::open(&dir, opts).expect("open");
        let resumed = w.next_event_id();
        assert_eq!(resumed, log.last().map_or(1, |e| e.0 + 1), "round {round}");
        append_random(&mut w, &mut log, &mut rng, seed, 40, 150);
        w.sync().expect("sync");
        let synced_end = w.next_event_id();
        append_random(&mut w, &mut log, &mut rng, seed, 40, 150);
        w.flush().expect("flush");
        // Crash: abandon the writer (no close, no seal); its lock dies with it.
        std::mem::forget(w);
        let last = wal_files(&dir).pop().expect("segment");
        let r = SegmentReader::open_verified(&last).expect("open");
        assert!(!r.header().sealed);
        let blocks = layout(&last);
        let first_id = r.first_event_id();
        drop(r);
        let len = file_len(&last);
        // Blocks ending at or before the sync are durable: never cut into them.
        let lo = blocks
            .iter()
            .rev()
            .find(|b| b.end_id() <= synced_end)
            .map_or(HEADER_BYTES as u64, |b| b.next_off);
        let cut = rng.range(lo, len);
        truncate(&last, cut);
        let end = surviving_end(&blocks, first_id, cut).max(synced_end);
        log.truncate(log.iter().position(|e| e.0 >= end).unwrap_or(log.len()));
        // The forgotten writer still holds the directory lock (its descriptor leaked):
        // continue in a copy, as a restarted process would see the files.
        let next_dir = tmp.path().join(format!("log{round}"));
        copy_wal_files(&dir, &next_dir);
        std::fs::remove_dir_all(&dir).expect("remove");
        std::fs::rename(&next_dir, &dir).expect("rename");
    }
    let w = Writer::open(&dir, opts).expect("open");
    assert_eq!(w.next_event_id(), log.last().expect("log").0 + 1);
    w.close().expect("close");
    let (got, err, report) = replay(&dir);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
    assert!(report.is_clean(), "{report:?}");
}

/// Damage that is not a torn tail is refused with a typed error, never "repaired" away.
#[test]
fn reopen_refuses_corruption_that_is_not_a_torn_tail() {
    let snap = Snapshot::take(
        WriterOptions {
            segment_bytes: 1 << 20,
            block_bytes: 256,
            first_event_id: 1,
        },
        0xC2A5_0006,
        100,
        0,
        100,
    );
    let (blocks, _) = last_layout(&snap);
    let work = snap._tmp.path().join("work");
    // Unsealed: a damaged block followed by valid ones.
    copy_wal_files(&snap.base, &work);
    let victim = wal_files(&work).pop().expect("segment");
    let b = blocks[blocks.len() / 2];
    flip_bit(&victim, b.payload_off + 5, 0);
    let before = std::fs::read(&victim).expect("read");
    match Writer::open(&work, snap.opts) {
        Err(e) => {
            let c = expect_corrupt_err(&e);
            assert_eq!(
                (c.kind, c.offset),
                (CorruptionKind::PayloadChecksum, b.off),
                "{e}"
            );
        }
        Ok(w) => panic!(
            "opened over mid-segment corruption, next id {}",
            w.next_event_id()
        ),
    }
    assert!(
        std::fs::read(&victim).expect("read") == before,
        "a refused open must not modify the segment"
    );

    // Sealed last segment with a damaged block.
    let sealed = snap._tmp.path().join("sealed");
    sealed_log(&sealed, snap.opts, 3, 100, 100);
    let victim = wal_files(&sealed).pop().expect("segment");
    let blocks = layout(&victim);
    let last = *blocks.last().expect("blocks");
    flip_bit(&victim, last.payload_off, 7);
    match Writer::open(&sealed, snap.opts) {
        Err(e) => assert_eq!(
            expect_corrupt_err(&e).kind,
            CorruptionKind::PayloadChecksum,
            "{e}"
        ),
        Ok(_) => panic!("opened over a corrupt sealed segment"),
    }
    // Bad segment header.
    flip_bit(&victim, 0, 0);
    assert!(matches!(
        Writer::open(&sealed, snap.opts),
        Err(Error::Corrupt(_))
    ));
}

/// Recovery (not the writer) over the crash states a segment creation leaves: the newest file
/// holds only its header (normal: an empty torn segment), or the header never reached the disk
/// (0..63 bytes, or 64 zero bytes). No event can be in such a file, so a strict replay should
/// deliver every event before it and end cleanly.
#[test]
fn manager_over_damaged_newest_segment() {
    let snap = Snapshot::take(
        WriterOptions {
            segment_bytes: 2048,
            block_bytes: 256,
            first_event_id: 1,
        },
        0xC2A5_0007,
        60,
        120,
        120,
    );
    let (_, first_id) = last_layout(&snap);
    let victim = snap.last_segment();
    let header = read_header_bytes(&victim, 0);
    // A valid header and no block: an empty torn segment, a clean end.
    std::fs::write(&victim, header).expect("write");
    let (got, err, report) = replay(&snap.base);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &ids_in(&snap.log, 1, first_id));
    assert!(report.complete);
    // Below a header: the writer never leaves this (segments appear by rename), so it is damage
    // whose extent is unknown — strict replay delivers everything before it, then names it.
    let cases: [(&str, &[u8]); 4] = [
        ("0 bytes", &[]),
        ("10 header bytes", &header[..10]),
        ("63 header bytes", &header[..63]),
        ("64 zero bytes", &[0; 64]),
    ];
    for (what, content) in cases {
        std::fs::write(&victim, content).expect("write");
        let (got, err, _report) = replay(&snap.base);
        assert_events(&got, &ids_in(&snap.log, 1, first_id));
        match err {
            Some(wal_recovery::Error::SegmentUnusable { path, .. }) => {
                assert_eq!(path, victim, "{what}")
            }
            other => panic!("newest segment is {what}: expected SegmentUnusable, got {other:?}"),
        }
    }
}
