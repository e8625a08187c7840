//! Helpers shared by the `format_*` integration tests (and only by them).
//!
//! Deterministic: every random choice comes from a seeded splitmix64, so a failure reproduces
//! exactly. Payloads are a pure function of `(seed, id, len)`, so a misplaced or stale payload
//! can never compare equal by accident.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt;
use std::path::Path;

use wal_recovery::recovery::segment_reader::{SegmentEnd, SegmentReader};
use wal_recovery::segment::{record_size, BLOCK_ALIGN, HEADER_BYTES};
use wal_recovery::{
    Corruption, Error, Manager, RecoveryOptions, RecoveryReport, Writer, WriterOptions,
};

/// A temporary directory on tmpfs when one is available (tests that create thousands of files
/// or call `fsync` hundreds of times stay fast), else in the default temporary directory.
pub fn fast_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new()
            .prefix("wal-format-test")
            .tempdir_in(shm)
        {
            return d;
        }
    }
    tempfile::tempdir().expect("tempdir")
}

/// An event as appended: its id and payload.
pub type Ev = (u64, Vec<u8>);

/// The suites' one seeded generator (splitmix64), shared with the other support modules.
#[path = "../common/rng.rs"]
mod rng;

#[path = "../common/files.rs"]
mod files;
pub use files::wal_files;
#[allow(unused_imports)] // not every suite that includes this module draws random numbers
pub use rng::Rng;

/// The payload of event `id` (`len` bytes) in a log generated with `seed`.
pub fn payload(seed: u64, id: u64, len: usize) -> Vec<u8> {
    let mut r =
        Rng::new(seed ^ id.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ (len as u64).rotate_left(32));
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&r.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Asserts two payloads are equal without dumping megabytes on failure.
#[track_caller]
pub fn assert_payload(id: u64, got: &[u8], want: &[u8]) {
    if got != want {
        let first_diff = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "payload of event {id} differs: got {} bytes, want {} bytes, first difference at {first_diff:?}",
            got.len(),
            want.len()
        );
    }
}

/// Asserts `got` is exactly `want` (ids and payload bytes, in order).
#[track_caller]
pub fn assert_events(got: &[Ev], want: &[Ev]) {
    let n = got.len().min(want.len());
    for i in 0..n {
        assert_eq!(got[i].0, want[i].0, "event #{i}: wrong id");
        assert_payload(got[i].0, &got[i].1, &want[i].1);
    }
    assert_eq!(
        got.len(),
        want.len(),
        "got {} events (ids {:?}..={:?}), want {} (ids {:?}..={:?})",
        got.len(),
        got.first().map(|e| e.0),
        got.last().map(|e| e.0),
        want.len(),
        want.first().map(|e| e.0),
        want.last().map(|e| e.0)
    );
}

/// Writer options with first id 1.
pub fn wopts(segment_bytes: u64, block_bytes: u32) -> WriterOptions {
    WriterOptions {
        segment_bytes,
        block_bytes,
        first_event_id: 1,
    }
}

/// Appends one event with a payload derived from `seed` and records it in `log`.
pub fn append(w: &mut Writer, log: &mut Vec<Ev>, seed: u64, len: usize) -> u64 {
    let expected_id = w.next_event_id();
    let p = payload(seed, expected_id, len);
    let id = w.append(&p).expect("append");
    assert_eq!(id, expected_id, "append returned an unexpected id");
    if let Some(last) = log.last() {
        assert_eq!(id, last.0 + 1, "ids must be contiguous");
    }
    log.push((id, p));
    id
}

/// Appends `n` events of random lengths in `0..=max_len`.
pub fn append_random(
    w: &mut Writer,
    log: &mut Vec<Ev>,
    rng: &mut Rng,
    seed: u64,
    n: usize,
    max_len: u64,
) {
    for _ in 0..n {
        let len = rng.below(max_len + 1) as usize;
        append(w, log, seed, len);
    }
}

/// Copies every segment file of `src` into `dst` (created), as a crash snapshot would hold them.
pub fn copy_wal_files(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).expect("create snapshot dir");
    for f in wal_files(src) {
        fs::copy(&f, dst.join(f.file_name().expect("file name"))).expect("copy segment");
    }
}

pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).expect("stat").len()
}

pub fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open")
        .set_len(len)
        .expect("set_len");
}

pub fn write_at(path: &Path, off: u64, bytes: &[u8]) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open")
        .write_all_at(bytes, off)
        .expect("write_at");
}

pub fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open")
        .write_all(bytes)
        .expect("append bytes");
}

pub fn flip_bit(path: &Path, off: u64, bit: u8) {
    let mut b = [0u8; 1];
    fs::File::open(path)
        .expect("open")
        .read_exact_at(&mut b, off)
        .expect("read byte");
    b[0] ^= 1 << bit;
    write_at(path, off, &b);
}

pub fn read_header_bytes(path: &Path, off: u64) -> [u8; 64] {
    let mut b = [0u8; 64];
    fs::File::open(path)
        .expect("open")
        .read_exact_at(&mut b, off)
        .expect("read 64 bytes");
    b
}

/// Reads every event the reader yields from its current position, stopping at `None`.
/// Panics on an error: use [`read_until_error`] when one is expected.
pub fn read_all(r: &mut SegmentReader) -> Vec<Ev> {
    let (evs, err) = read_until_error(r);
    if let Some(e) = err {
        panic!("unexpected read error after {} events: {e}", evs.len());
    }
    evs
}

/// Reads until `None` or an error; returns the events and the error, if any.
pub fn read_until_error(r: &mut SegmentReader) -> (Vec<Ev>, Option<Error>) {
    let mut out = Vec::new();
    loop {
        match r.next() {
            Ok(Some(e)) => out.push((e.id, e.payload.to_vec())),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// [`read_until_error`] of a fresh verified reader of `path`, checked to agree with reading
/// the same file in batches (`next_batch_with`, of 1, 2, 3 and 64 events, then `next()` where
/// a batch stops): the same events, then the same error.
#[allow(dead_code)] // only the framing tests read by batches
pub fn read_until_error_by_batches_too(path: &Path) -> (Vec<Ev>, Option<Error>) {
    let want = read_until_error(&mut SegmentReader::open_verified(path).expect("open"));
    let want_err = want.1.as_ref().map(ToString::to_string);
    for max in [1, 2, 3, 64] {
        let mut r = SegmentReader::open_verified(path).expect("open");
        let mut got = Vec::new();
        let err = loop {
            let (k, _) = r.next_batch_with(max, |e| got.push((e.id, e.payload.to_vec())));
            assert!(k <= max, "{k} events in a batch of at most {max}");
            if k > 0 {
                continue;
            }
            match r.next() {
                Ok(Some(e)) => got.push((e.id, e.payload.to_vec())),
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        assert_eq!(got, want.0, "batches of at most {max}");
        assert_eq!(err, want_err, "batches of at most {max}");
    }
    want
}

/// A full default-options `Manager` replay over `dir`.
pub fn replay(dir: &Path) -> (Vec<Ev>, Option<Error>, RecoveryReport) {
    let mut m = Manager::open(dir, RecoveryOptions::default()).expect("Manager::open");
    let mut out = Vec::new();
    let err = loop {
        match m.next() {
            Ok(Some(e)) => out.push((e.id, e.payload.to_vec())),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    // End of log must be sticky.
    if err.is_none() {
        assert!(
            matches!(m.next(), Ok(None)),
            "next() after the end must keep returning None"
        );
    }
    let report = m.report();
    (out, err, report)
}

/// The `Corruption` of a `SegmentEnd::Corrupt`, or a panic naming what was found instead.
#[track_caller]
pub fn expect_corrupt(end: &SegmentEnd) -> &Corruption {
    match end {
        SegmentEnd::Corrupt(c) => c,
        other => panic!("expected SegmentEnd::Corrupt, found {other:?}"),
    }
}

/// The `Corruption` carried by an error, or a panic naming the error.
#[track_caller]
pub fn expect_corrupt_err(e: &Error) -> &Corruption {
    e.corruption()
        .unwrap_or_else(|| panic!("expected Error::Corrupt, got {e:?}"))
}

/// One block as laid out in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLayout {
    /// Offset of the block header.
    pub off: u64,
    /// Offset of the first payload byte.
    pub payload_off: u64,
    /// Offset one past the payload.
    pub payload_end: u64,
    /// Offset of the next block (payload end rounded up to 64).
    pub next_off: u64,
    pub first_id: u64,
    pub count: u32,
}

impl BlockLayout {
    pub fn end_id(&self) -> u64 {
        self.first_id + u64::from(self.count)
    }
}

/// The block layout of a clean segment (verifies it and asserts it is clean).
pub fn layout(path: &Path) -> Vec<BlockLayout> {
    let r = SegmentReader::open_verified(path).expect("open segment");
    assert_eq!(r.end(), &SegmentEnd::Clean, "fixture segment must be clean");
    r.index()
        .iter()
        .map(|e| {
            let payload_end = e.payload_end as u64;
            BlockLayout {
                off: (e.payload_offset - HEADER_BYTES) as u64,
                payload_off: e.payload_offset as u64,
                payload_end,
                next_off: payload_end.next_multiple_of(BLOCK_ALIGN as u64),
                first_id: e.first_event_id,
                count: e.event_count,
            }
        })
        .collect()
}

/// The events of `log` with ids in `lo..hi`.
pub fn ids_in(log: &[Ev], lo: u64, hi: u64) -> Vec<Ev> {
    log.iter()
        .filter(|e| e.0 >= lo && e.0 < hi)
        .cloned()
        .collect()
}

/// Bytes a block holding `lens` occupies on disk (header + records, padded to 64).
pub fn block_disk_size(lens: &[usize]) -> u64 {
    let payload: usize = lens.iter().map(|&l| record_size(l)).sum();
    (HEADER_BYTES + payload).next_multiple_of(BLOCK_ALIGN) as u64
}

/// Writes a log with `writer_opts`, syncs, snapshots the segment files into `snapshot` *before*
/// the writer seals anything (so the last segment is unsealed), then drops the writer.
pub fn unsealed_snapshot(
    dir: &Path,
    snapshot: &Path,
    writer_opts: WriterOptions,
    seed: u64,
    n: usize,
    max_len: u64,
) -> Vec<Ev> {
    let mut w = Writer::open(dir, writer_opts).expect("Writer::open");
    let mut log = Vec::new();
    let mut rng = Rng::new(seed);
    append_random(&mut w, &mut log, &mut rng, seed, n, max_len);
    w.sync().expect("sync");
    copy_wal_files(dir, snapshot);
    drop(w);
    log
}

/// Writes a log and closes the writer (every segment sealed).
pub fn sealed_log(
    dir: &Path,
    writer_opts: WriterOptions,
    seed: u64,
    n: usize,
    max_len: u64,
) -> Vec<Ev> {
    let mut w = Writer::open(dir, writer_opts).expect("Writer::open");
    let mut log = Vec::new();
    let mut rng = Rng::new(seed);
    append_random(&mut w, &mut log, &mut rng, seed, n, max_len);
    w.close().expect("close");
    log
}
