//! A FlashStrike segment's preallocated tail as its recorder leaves it: `ftruncate` to the full
//! size, so the space after the last written block is a *hole* of the file. The reader finds
//! where the file's trailing hole starts (`SEEK_HOLE`/`SEEK_DATA`) and neither reads nor
//! prefaults it — a hole reads as zeros by definition — while every byte the file does store
//! after the last block is still checked.
//!
//! Can it fail? With `trailing_hole` (`src/recovery/segment_bytes.rs`) returning the first
//! hole it finds instead of the hole that runs to the end of the file (done on a copy of the
//! tree, the file here untouched), `a_stored_byte_after_a_hole_is_reported_at_its_offset`
//! failed: `byte at 32960: the segment verified as Clean`.

use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use wal_recovery::error::CorruptionKind;
use wal_recovery::flashstrike::generate::{write_log, LogSpec, Scenario};
use wal_recovery::recovery::format::SegmentEnd;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, SegmentReader};

/// 300 events in a 64-block segment: a full block and a 44-event one; the generator writes up
/// to the last event, so the hole starts inside the second block's unused slots and runs over
/// the 62 unused blocks (about 1 MiB) to the end of the file.
const EVENTS: u64 = 300;
const BLOCKS: u32 = 64;
const HEADER: u64 = 64;
const BLOCK_BYTES: u64 = 64 + 256 * 64;

fn sparse_log(dir: &Path) -> PathBuf {
    let spec = LogSpec {
        scenario: Scenario::Clean,
        events: EVENTS,
        blocks_per_segment: BLOCKS,
        cold_segments: 0,
        restart_gap: 0,
    };
    write_log(dir, &spec).expect("write_log");
    dir.join("FS.00000000.wal")
}

fn replay(dir: &Path, mode: RecoveryMode) -> (Vec<u64>, Option<String>, bool) {
    let opts = RecoveryOptions {
        mode,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir, opts).expect("open");
    let mut ids = Vec::new();
    let err = loop {
        match m.next() {
            Ok(Some(ev)) => {
                assert_eq!(ev.payload.get(..8), Some(&ev.id.to_le_bytes()[..]));
                ids.push(ev.id);
            }
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    (ids, err, m.report().is_clean())
}

#[test]
fn the_generator_leaves_the_tail_a_hole_and_it_verifies_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = sparse_log(tmp.path());
    let meta = fs::metadata(&path).expect("stat");
    assert_eq!(meta.len(), HEADER + u64::from(BLOCKS) * BLOCK_BYTES);
    // The file system stores the two written blocks, not the ~1 MiB after them (every Linux
    // file system a test directory lives on supports holes: ext4, xfs, btrfs, tmpfs).
    assert!(
        meta.blocks() * 512 < meta.len() / 2,
        "{} bytes stored for a {}-byte file: the tail is not a hole",
        meta.blocks() * 512,
        meta.len()
    );
    let r = SegmentReader::open_verified(&path).expect("open");
    assert!(matches!(r.end(), SegmentEnd::Clean), "{:?}", r.end());
    let (ids, err, clean) = replay(tmp.path(), RecoveryMode::Strict);
    assert_eq!(ids, (1..=EVENTS).collect::<Vec<_>>());
    assert_eq!((err, clean), (None, true));
}

#[test]
fn a_stored_byte_after_a_hole_is_reported_at_its_offset() {
    let len = HEADER + u64::from(BLOCKS) * BLOCK_BYTES;
    let after_last_block = HEADER + 2 * BLOCK_BYTES;
    // The first byte after the last block, one in the middle of the hole, the file's last
    // byte: each turns part of the hole into stored data with a hole before it.
    for at in [after_last_block, len / 2 + 3, len - 1] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = sparse_log(tmp.path());
        let f = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open for write");
        f.write_all_at(&[0x5A], at).expect("write one byte");
        drop(f);
        assert_eq!(fs::metadata(&path).expect("stat").len(), len);

        let r = SegmentReader::open_verified(&path).expect("open");
        match r.end() {
            SegmentEnd::Corrupt(c) => assert_eq!(
                (c.kind, c.offset),
                (CorruptionKind::TrailingData, at),
                "byte at {at}: {c}"
            ),
            other => panic!("byte at {at}: the segment verified as {other:?}"),
        }
        // The blocks themselves verified: Strict delivers them and does not end clean.
        let (ids, err, clean) = replay(tmp.path(), RecoveryMode::Strict);
        assert_eq!(ids, (1..=EVENTS).collect::<Vec<_>>(), "byte at {at}");
        assert!(
            err.is_some() && !clean,
            "byte at {at}: Strict ended {err:?}, clean report {clean}"
        );
    }
}
