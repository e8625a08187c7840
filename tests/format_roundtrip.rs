//! Round trip: events of random sizes (0 up to `MAX_EVENT_BYTES`) written with the `Writer`
//! across many blocks and segments read back byte-exact, with the right ids, through a
//! `SegmentReader` over each file and through a `Manager` over the directory.

mod format_support;

use std::path::Path;

use format_support::*;
use wal_recovery::recovery::segment_reader::{SegmentEnd, SegmentReader};
use wal_recovery::segment::header::chain_seed;
use wal_recovery::segment::{record_size, MAX_BLOCK_PAYLOAD, MAX_EVENT_BYTES};
use wal_recovery::{Writer, WriterOptions};

/// Reads every segment file of `dir` on its own and checks it holds exactly its slice of `log`,
/// that every segment is sealed, clean and consistent with its header, and that ids and chain
/// values continue from one segment to the next. Returns the number of segments.
fn check_files(dir: &Path, log: &[Ev]) -> usize {
    let files = wal_files(dir);
    assert!(!files.is_empty());
    let mut next_id = log[0].0;
    // A format-2 log's chain starts from its log id (`chain_seed`), the same in every segment.
    let mut chain = chain_seed(
        SegmentReader::open(&files[0])
            .expect("open")
            .header()
            .log_id,
    );
    let mut seq = None;
    for path in &files {
        let mut r = SegmentReader::open(path).expect("open segment");
        assert!(!r.is_verified());
        r.verify();
        assert!(r.is_verified());
        assert_eq!(r.end(), &SegmentEnd::Clean, "{}", path.display());
        let h = *r.header();
        assert!(h.sealed, "{} not sealed after close", path.display());
        if let Some(prev) = seq {
            assert_eq!(h.sequence, prev + 1, "sequence numbers are contiguous");
        }
        seq = Some(h.sequence);
        assert_eq!(
            naming_seq(path),
            h.sequence,
            "file name encodes the header's sequence"
        );
        assert_eq!(
            h.first_event_id,
            next_id,
            "{}: first id continues the previous segment",
            path.display()
        );
        assert_eq!(
            h.prev_chain,
            chain,
            "{}: prev_chain is the previous segment's last chain",
            path.display()
        );
        assert_eq!(r.first_event_id(), h.first_event_id);
        assert_eq!(r.event_count(), h.event_count);
        assert_eq!(r.end_event_id(), h.first_event_id + h.event_count);
        assert_eq!(h.last_event_id, r.end_event_id() - 1);
        assert_eq!(r.index().len() as u64, u64::from(h.block_count));
        assert_eq!(r.last_chain(), h.last_chain);
        assert_eq!(r.valid_len(), r.file_len());
        assert_eq!(r.file_len(), file_len(path));
        assert_eq!(r.remaining_events(), h.event_count);
        assert_eq!(r.position(), h.first_event_id);
        let got = read_all(&mut r);
        assert_events(&got, &ids_in(log, h.first_event_id, r.end_event_id()));
        assert_eq!(r.remaining_events(), 0);
        assert_eq!(r.position(), r.end_event_id());
        // End is sticky.
        assert!(r.next().expect("next at end").is_none());
        // Rewind reads the same again.
        r.rewind();
        let again = read_all(&mut r);
        assert_eq!(again.len(), got.len());
        next_id = r.end_event_id();
        chain = r.last_chain();
    }
    assert_eq!(
        next_id,
        log.last().expect("non-empty log").0 + 1,
        "files hold the whole log"
    );
    files.len()
}

fn naming_seq(path: &Path) -> u64 {
    wal_recovery::segment::naming::parse(
        path.file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name"),
    )
    .expect("canonical segment file name")
}

/// A full Manager replay delivers exactly `log`, cleanly.
fn check_manager(dir: &Path, log: &[Ev]) {
    let (got, err, report) = replay(dir);
    if let Some(e) = err {
        panic!("Manager replay failed after {} events: {e}", got.len());
    }
    assert_events(&got, log);
    assert!(report.is_clean(), "report not clean: {report:?}");
    assert!(report.complete);
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.events_delivered, log.len() as u64);
    assert_eq!(
        report.bytes_delivered,
        log.iter().map(|e| e.1.len() as u64).sum::<u64>()
    );
    assert_eq!(report.first_delivered, Some(log[0].0));
    assert_eq!(
        report.last_delivered,
        Some(log.last().expect("non-empty").0)
    );
    assert_eq!(report.log_first_id, Some(log[0].0));
    assert_eq!(
        report.log_end_id,
        Some(log.last().expect("non-empty").0 + 1)
    );
}

/// Random sizes over the whole range, with zero-size and maximum-size events forced in, across
/// many blocks and segments.
#[test]
fn round_trip_random_sizes_up_to_max() {
    const SEED: u64 = 0x5EED_0001;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let block_bytes = 8 << 10;
    let opts = wopts(256 << 10, block_bytes);
    let mut rng = Rng::new(SEED);
    let mut w = Writer::open(&dir, opts).expect("open");
    let mut log = Vec::new();
    let mut forced = vec![
        0usize,
        0,
        MAX_EVENT_BYTES,
        MAX_EVENT_BYTES, // two maximal events back to back
        1,
        MAX_EVENT_BYTES - 1, // same record size as the maximum
        0,
        block_bytes as usize - 4, // record exactly fills a block
        block_bytes as usize - 3, // one byte more: a block of its own
        7,
        8,
        9,
    ];
    forced.reverse();
    for i in 0..1500u32 {
        let len = if i % 113 == 57 {
            forced.pop().unwrap_or(0)
        } else {
            match rng.below(100) {
                0..=4 => 0,
                5..=64 => rng.range(1, 256) as usize,
                65..=94 => rng.range(257, 8192) as usize,
                _ => rng.range(8193, 200_000) as usize,
            }
        };
        append(&mut w, &mut log, SEED, len);
    }
    for len in forced.into_iter().rev() {
        append(&mut w, &mut log, SEED, len);
    }
    w.close().expect("close");

    assert_eq!(
        log.iter().filter(|e| e.1.len() == MAX_EVENT_BYTES).count(),
        2
    );
    assert!(log.iter().filter(|e| e.1.is_empty()).count() >= 10);
    assert_eq!(log[0].0, 1, "a new log starts at id 1 by default");
    assert_eq!(record_size(MAX_EVENT_BYTES), MAX_BLOCK_PAYLOAD);

    let segments = check_files(&dir, &log);
    assert!(segments >= 10, "expected many segments, got {segments}");
    let blocks: usize = wal_files(&dir)
        .iter()
        .map(|p| SegmentReader::open_verified(p).expect("open").index().len())
        .sum();
    assert!(blocks >= 100, "expected many blocks, got {blocks}");
    check_manager(&dir, &log);
}

/// Several writer sessions (each reopening the log), explicit flushes and syncs in between, and
/// small blocks: ids continue across sessions and everything reads back exactly.
#[test]
fn round_trip_across_sessions_with_flushes() {
    const SEED: u64 = 0x5EED_0002;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let mut rng = Rng::new(SEED);
    let mut log = Vec::new();
    for session in 0..5 {
        // first_event_id only matters for the first session.
        let opts = WriterOptions {
            segment_bytes: 4096,
            block_bytes: 300,
            first_event_id: 1 + session * 1000,
        };
        let mut w = Writer::open(&dir, opts).expect("open");
        let expect_next = log.last().map_or(1, |e: &Ev| e.0 + 1);
        assert_eq!(w.next_event_id(), expect_next, "session {session}");
        for _ in 0..400 {
            let len = rng.below(200) as usize;
            append(&mut w, &mut log, SEED, len);
            match rng.below(40) {
                0 => w.flush().expect("flush"),
                1 => w.sync().expect("sync"),
                _ => {}
            }
        }
        if session % 2 == 0 {
            w.close().expect("close");
        } else {
            drop(w); // drop seals like close
        }
    }
    check_files(&dir, &log);
    check_manager(&dir, &log);
}

/// The smallest legal options: 8-byte blocks and 136-byte segments, i.e. one tiny record per
/// block, one block per segment (larger events get their own oversize block and segment).
#[test]
fn round_trip_minimal_options() {
    const SEED: u64 = 0x5EED_0003;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let mut w = Writer::open(&dir, wopts(136, 8)).expect("open");
    let mut log = Vec::new();
    for i in 0..60u64 {
        append(&mut w, &mut log, SEED, (i % 7) as usize * 3);
    }
    w.close().expect("close");
    let segments = check_files(&dir, &log);
    assert_eq!(
        segments, 60,
        "one event per block and one block per segment"
    );
    check_manager(&dir, &log);
}

/// Duplicate appends of the same payload are distinct events with distinct ids.
#[test]
fn round_trip_identical_payloads_keep_their_ids() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let mut w = Writer::open(&dir, wopts(1 << 20, 64)).expect("open");
    let mut log = Vec::new();
    for i in 0..50u64 {
        let p = vec![0xAB; (i % 3) as usize * 20];
        let id = w.append(&p).expect("append");
        log.push((id, p));
    }
    w.close().expect("close");
    assert_eq!(
        log.iter().map(|e| e.0).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>()
    );
    check_files(&dir, &log);
    check_manager(&dir, &log);
}
