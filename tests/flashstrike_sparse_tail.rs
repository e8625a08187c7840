//! A FlashStrike segment's preallocated tail as its recorder leaves it: `ftruncate` to the full
//! size, so the space after the last written block is a *hole* of the file. The reader finds
//! where the file's trailing hole starts (`SEEK_HOLE`/`SEEK_DATA`) and neither reads nor
//! prefaults it — a hole reads as zeros by definition — while every byte the file does store
//! after the last block is still checked.
//!
//! Can it fail? With `trailing_hole` (`src/recovery/segment_bytes.rs`) returning the first
//! hole it finds instead of the hole that runs to the end of the file (done on a copy of the
//! tree, the file here untouched), `a_stored_byte_after_a_hole_is_reported_at_its_offset`
//! failed: `byte at 32960: the segment verified as Clean`. With the scan's probe and the
//! torn-tail decision reading to the end of the file again (the commit before they used the
//! hole), `a_crashed_logs_holes_are_never_read` failed: `FS.00000000.wal: 67321856 bytes of its
//! hole were read` (the active segment; the pre-created ones follow it in the same loop); with
//! the later-block probe reading a header before checking that it starts before the hole, it
//! failed with `FS.00000000.wal: 4141056 bytes of its hole were read` (a debug build, as CI's);
//! with the walk, or the torn-tail decision, reading the header of a block that starts exactly
//! where the hole does: `63 full blocks, FS.00000000.wal: 3158016 bytes of its hole were read`.

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

/// Bytes of `path` from `from` on that are in the page cache (`mincore` over a mapping, which
/// itself reads nothing).
fn resident_from(path: &Path, from: u64) -> u64 {
    let f = fs::File::open(path).expect("open");
    // SAFETY: a read-only map of a test file nobody writes meanwhile; its bytes are never read.
    let map = unsafe { memmap2::Mmap::map(&f) }.expect("mmap");
    let page = 4096usize;
    let mut pages = vec![0u8; map.len().div_ceil(page)];
    // SAFETY: `map` is a live mapping of `map.len()` bytes at a page-aligned address, and
    // `pages` has one byte per page of it, as `mincore` writes.
    let rc = unsafe {
        libc::mincore(
            map.as_ptr() as *mut libc::c_void,
            map.len(),
            pages.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    let first = (from as usize).div_ceil(page);
    pages.iter().skip(first).filter(|&&p| p & 1 != 0).count() as u64 * page as u64
}

/// After a crash the recorder leaves its active segment unfinalized, a hole after its last
/// block, and three pre-created segments that are a header page and a hole (64 MiB segments as
/// FlashStrike's engine configures them). A recovery reads none of those holes: the scan's
/// probe of a segment that looks empty and the torn-tail decision (no later block, only zeros
/// after the torn one) stop where the stored bytes end. Reading them filled the page cache with
/// zeroed pages: a fresh 20 M-event crash log took 0.21–0.24 s to recover, 0.08–0.15 s without
/// (`examples/replay_dir.rs`, three alternated pairs). Nothing of a hole is read here; the
/// bound leaves 1 MiB for readahead around the stored bytes on other machines, while one stray
/// read inside a hole brings in a readahead window (4 MiB on this machine's 8 MiB setting: the
/// later-block probe reading its first header before checking where the hole starts did).
#[test]
fn a_crashed_logs_holes_are_never_read() {
    // 3 full blocks in the active segment; and 63, after which the next block's header starts
    // on a page boundary — where the hole starts — so the walk itself meets the hole.
    for full_blocks in [3u64, 63] {
        crashed_log_holes_unread(full_blocks);
    }
}

fn crashed_log_holes_unread(full_blocks: u64) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = LogSpec {
        scenario: Scenario::Crash,
        events: full_blocks * 256 + 100,
        blocks_per_segment: 4096,
        cold_segments: 0,
        restart_gap: 0,
    };
    let layout = write_log(tmp.path(), &spec).expect("write_log");
    let mut files: Vec<PathBuf> = fs::read_dir(tmp.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    // The active segment and three pre-created ones, each mostly hole.
    assert_eq!(files.len(), 4, "{files:?}");
    let holes: Vec<(PathBuf, u64)> = files
        .iter()
        .map(|p| {
            let f = fs::File::open(p).expect("open");
            let len = f.metadata().expect("stat").len();
            let hole = wal_recovery::recovery::segment_bytes::trailing_hole(&f, len);
            assert!(hole < len / 8, "{}: hole from {hole} of {len}", p.display());
            (p.clone(), hole)
        })
        .collect();
    if full_blocks == 63 {
        assert_eq!(
            holes[0].1,
            HEADER + 63 * BLOCK_BYTES,
            "the hole starts at block 63"
        );
    }

    let (ids, err, clean) = replay(tmp.path(), RecoveryMode::Strict);
    let want: Vec<u64> = layout.delivered.iter().flat_map(|&(a, b)| a..=b).collect();
    assert_eq!(ids, want);
    assert_eq!(
        ids.last(),
        Some(&(full_blocks * 256)),
        "the full blocks, not the partial one"
    );
    // A crash's torn tail is not damage: Strict ends without an error.
    assert_eq!(err, None);
    assert!(clean, "the report of a crashed log is clean");

    for (path, hole) in holes {
        let read = resident_from(&path, hole);
        assert!(
            read <= 1 << 20,
            "{full_blocks} full blocks, {}: {read} bytes of its hole were read",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
    }
}

/// A torn last block as the kernel's page-by-page write-back leaves it: its header and first
/// page on disk, the rest of it never written — here punched back into the hole. The block is
/// the torn tail, the blocks before it are delivered, and of the 64 MiB hole only what the torn
/// block's own payload check faults in is read: its records run into the hole, and the hash
/// reads them (one readahead window, 4 MiB here; hashing them as zeros unread is not done).
/// Fails with the header walk taking the torn block's payload, which runs past the hole's start,
/// for proof that the hole is stale and reading the whole file after it: `FS.00000000.wal:
/// 67321856 bytes of its hole were read`.
#[test]
fn a_torn_blocks_missing_pages_are_not_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = LogSpec {
        scenario: Scenario::Crash,
        events: 4 * 256 + 100,
        blocks_per_segment: 4096,
        cold_segments: 0,
        restart_gap: 0,
    };
    write_log(tmp.path(), &spec).expect("write_log");
    let path = tmp.path().join("FS.00000000.wal");
    // Block 3's header and first records share the page at 49 152; its later pages go.
    let torn = HEADER + 3 * BLOCK_BYTES;
    let cut = torn.next_multiple_of(4096);
    assert!(cut > torn + 64 && cut < torn + BLOCK_BYTES);
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open for write");
    let len = f.metadata().expect("stat").len();
    // SAFETY: a valid descriptor of a file of `len` bytes; the range lies inside it.
    let rc = unsafe {
        libc::fallocate(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            cut as libc::off_t,
            (len - cut) as libc::off_t,
        )
    };
    assert_eq!(rc, 0, "punch: {}", std::io::Error::last_os_error());
    drop(f);
    let hole = wal_recovery::recovery::segment_bytes::trailing_hole(
        &fs::File::open(&path).expect("open"),
        len,
    );
    assert_eq!(hole, cut, "the hole starts inside block 3");

    let (ids, err, clean) = replay(tmp.path(), RecoveryMode::Strict);
    assert_eq!(
        ids,
        (1..=3 * 256).collect::<Vec<_>>(),
        "blocks 0-2, not the torn one"
    );
    assert_eq!(err, None, "a torn tail is not damage");
    assert!(clean);
    let read = resident_from(&path, hole);
    assert!(
        read <= 8 << 20,
        "FS.00000000.wal: {read} bytes of its hole were read"
    );
}
