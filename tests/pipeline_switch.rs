//! Recovery pipeline, the prepared segment switch: the manager decides the switch to a segment
//! the preloader prepared while the replay enters the previous segment's last block, and at the
//! boundary only checks that the last block was read to its end. These logs are crafted so that
//! the last block of a segment has valid checksums and broken record framing, the one damage
//! that can only show while reading: the switch must then fall back to the general path, report
//! it per mode and deliver exactly what the blocks declare — never skip a record silently and
//! never return a leftover one.

mod pipeline_support;

#[path = "common/craft.rs"]
mod craft;

use std::fs;
use std::path::Path;
use std::time::Duration;

use pipeline_support::*;
use wal_recovery::recovery::report::{ContinuityReport, LostRange, RecoveryReport, SkippedSegment};
use wal_recovery::segment::header::SegmentHeader;
use wal_recovery::segment::{naming, record, CHAIN_SEED};
use wal_recovery::{CorruptionKind, Error, Manager, RecoveryMode};

use RecoveryMode::{SkipCorrupted as Skip, StopAtCorruption as Stop, Strict};

/// Blocks per segment and events per block of the crafted logs.
const BLOCKS: u64 = 4;
const PER_BLOCK: u64 = 8;
const SEGMENTS: u64 = 3;

/// How the last block of segment 1 is damaged (its payload checksum matches the damage).
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// It declares one event less than the records it holds: the leftover record is found
    /// when the block is finished, after every declared event was delivered.
    ExtraRecord,
    /// Its last record's length prefix runs past the block: found when reading that record.
    Overrun,
}

/// Writes a sealed segment `seq` whose blocks hold (declared count, records) from `first` on,
/// chained from `prev_chain`; returns the chain of its last block.
fn craft_segment(
    dir: &Path,
    seq: u64,
    first: u64,
    prev_chain: u32,
    blocks: &[(u32, Vec<u8>)],
) -> u32 {
    let (body, chain, end) = craft::blocks(first, prev_chain, blocks);
    let header = SegmentHeader {
        sealed: true,
        block_count: blocks.len() as u32,
        last_event_id: end - 1,
        event_count: end - first,
        last_chain: chain,
        ..SegmentHeader::new_open(seq, first, prev_chain, 1)
    };
    let mut file = header.encode().to_vec();
    file.extend_from_slice(&body);
    fs::write(dir.join(naming::file_name(seq)), file).expect("write crafted segment");
    chain
}

/// The records of events `ids`, with the suite's payloads.
fn records(ids: std::ops::Range<u64>) -> Vec<u8> {
    let mut v = Vec::new();
    for id in ids {
        record::encode_into(&mut v, &payload(0, id));
    }
    v
}

/// Three sealed, chained segments of `BLOCKS` x `PER_BLOCK` events from id 1; the last block of
/// segment 1 is damaged as `damage` says (segment 2 still starts where segment 1's headers
/// say it ends).
fn crafted_log(tag: &str, damage: Damage) -> tempfile::TempDir {
    let tmp = tempdir(tag);
    let mut chain = CHAIN_SEED;
    let mut id = 1;
    for seq in 1..=SEGMENTS {
        let blocks: Vec<(u32, Vec<u8>)> = (0..BLOCKS)
            .map(|b| {
                let ids = id + b * PER_BLOCK..id + (b + 1) * PER_BLOCK;
                let mut rec = records(ids.clone());
                let mut count = PER_BLOCK as u32;
                if seq == 1 && b == BLOCKS - 1 {
                    match damage {
                        Damage::ExtraRecord => count -= 1,
                        Damage::Overrun => {
                            // The last record's length prefix, rewritten to run past the block.
                            let last = records(ids.end - 1..ids.end).len();
                            let at = rec.len() - last;
                            rec[at..at + 4].copy_from_slice(&1_000_000u32.to_le_bytes());
                        }
                    }
                }
                (count, rec)
            })
            .collect();
        chain = craft_segment(tmp.path(), seq, id, chain, &blocks);
        id += blocks.iter().map(|(c, _)| u64::from(*c)).sum::<u64>();
    }
    tmp
}

/// Replays the crafted log in `mode`: takes one event, gives the preloader time to prepare the
/// following segments (so that the switch out of segment 1 is decided ahead, in its last
/// block), then drains. Returns what was delivered and the report.
fn replay(dir: &Path, mode: RecoveryMode) -> (Drained, RecoveryReport) {
    let dir = dir.to_path_buf();
    with_timeout("crafted replay", move || {
        let mut m = Manager::open(&dir, opts(mode, 0)).expect("open");
        let first = take(&mut m, 1);
        std::thread::sleep(Duration::from_millis(100));
        let mut d = drain(&mut m);
        d.ids.splice(0..0, first);
        (d, m.report())
    })
}

/// Ids `a..=b`.
fn ids(a: u64, b: u64) -> Vec<u64> {
    (a..=b).collect()
}

/// The message of the framing failure both crafted logs have: at the start of the leftover or
/// overrunning record (block 3's payload starts at 64 + 3 x 320 + 64 = 1088; seven 8-byte
/// records precede it).
const FRAMING: &str = "record framing overruns block at offset 1144 (block 3): record for event 32 overruns its block";

/// Expects the framing failure of segment 1's last block.
#[track_caller]
fn assert_framing(e: &Error, dir: &Path) {
    match e {
        Error::Corrupt(c) => {
            assert_eq!(c.kind, CorruptionKind::RecordFraming, "{c}");
            assert_eq!((c.offset, c.block), (1144, Some(BLOCKS - 1)), "{c}");
            assert_eq!(c.path, dir.join(naming::file_name(1)));
        }
        other => panic!("expected a record framing error, got {other:?}"),
    }
    assert_eq!(
        e.to_string(),
        format!(
            "corruption: {}: {FRAMING}",
            dir.join(naming::file_name(1)).display()
        )
    );
}

/// Strict fails and StopAtCorruption stops at the damage, after the same events; neither goes
/// into segment 2.
#[track_caller]
fn assert_strict_and_stop(dir: &Path, delivered: u64) {
    let (d, r) = replay(dir, Strict);
    assert_eq!(d.ids, ids(1, delivered));
    assert_framing(d.err(), dir);
    assert_eq!(r.error, Some(d.err().to_string()));
    assert_eq!(
        (&r.stopped, r.complete, r.segments_replayed),
        (&None, false, 1)
    );
    assert!(r.lost.is_empty() && r.segments_skipped.is_empty(), "{r:?}");

    let (d, r) = replay(dir, Stop);
    assert_eq!(d.ids, ids(1, delivered));
    assert!(d.end.is_ok(), "{:?}", d.end);
    let why = format!(
        "corruption: {}: {FRAMING}",
        dir.join(naming::file_name(1)).display()
    );
    assert_eq!((&r.stopped, &r.error), (&Some(why), &None));
    assert_eq!((r.complete, r.segments_replayed), (false, 1));
    assert!(r.lost.is_empty() && r.segments_skipped.is_empty(), "{r:?}");
}

/// The rest of segment 1 recorded as skipped, as SkipCorrupted reports it.
fn skipped_rest(dir: &Path) -> Vec<SkippedSegment> {
    vec![SkippedSegment {
        path: dir.join(naming::file_name(1)),
        reason: "rest of segment from offset 1144 skipped: record framing overruns block".into(),
    }]
}

#[test]
fn leftover_record_in_a_last_block_is_reported_in_each_mode() {
    let log = crafted_log("switch-extra", Damage::ExtraRecord);
    let dir = log.path();
    // Segment 1's last block declares 7 of its 8 records: ids 1..=31, all delivered before the
    // leftover record is found.
    assert_strict_and_stop(dir, 31);

    // Nothing declared is missing: the replay goes on into segment 2 without a gap.
    let (d, r) = replay(dir, Skip);
    assert_eq!(d.ids, ids(1, 95));
    assert!(d.end.is_ok(), "{:?}", d.end);
    assert_eq!(r.segments_skipped, skipped_rest(dir));
    assert!(r.lost.is_empty() && r.continuity.is_empty(), "{r:?}");
    assert_eq!((r.complete, r.segments_replayed), (true, 3));
}

#[test]
fn overrunning_record_in_a_last_block_is_reported_in_each_mode() {
    let log = crafted_log("switch-overrun", Damage::Overrun);
    let dir = log.path();
    // The last record of segment 1, id 32, cannot be read.
    assert_strict_and_stop(dir, 31);

    // Exactly that id is lost, as a gap before segment 2.
    let (d, r) = replay(dir, Skip);
    let mut want = ids(1, 31);
    want.extend(33..=96);
    assert_eq!(d.ids, want);
    assert!(d.end.is_ok(), "{:?}", d.end);
    assert_eq!(r.segments_skipped, skipped_rest(dir));
    let seg1 = dir.join(naming::file_name(1));
    assert_eq!(
        r.lost,
        vec![LostRange {
            first_id: 32,
            last_id: Some(32),
            reason: FRAMING.into(),
            path: Some(seg1.clone()),
        }]
    );
    assert_eq!(
        r.continuity,
        vec![ContinuityReport {
            kind: "gap".into(),
            previous: seg1,
            next: dir.join(naming::file_name(2)),
            first_id: 32,
            last_id: 32,
        }]
    );
    assert_eq!((r.complete, r.segments_replayed), (true, 3));
}
