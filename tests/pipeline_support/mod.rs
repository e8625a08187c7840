//! Shared helpers of the recovery-pipeline test suite (`tests/pipeline_*.rs`).
//!
//! * logs are built with the library's own [`Writer`], with small segments and blocks so that a
//!   few thousand events give dozens of segments;
//! * every payload is deterministic ([`payload`]) so every delivered event is checked byte-exact;
//! * every replay runs under [`with_timeout`], so a hang fails the test instead of wedging CI;
//! * [`drain`] replays to the end (or to the first error) and returns exactly what was delivered.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;
use wal_recovery::recovery::report::LostRange;
use wal_recovery::segment::naming;
use wal_recovery::{
    Error, Manager, RecoveryMode, RecoveryOptions, SegmentReader, Writer, WriterOptions,
};

/// Default limit for one test's replay work. Nothing in the suite needs more than a few seconds.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Cap on events drained by one [`drain`] call: a replay that never ends fails instead of looping.
pub const MAX_EVENTS: usize = 2_000_000;

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

/// Payload length of event `id` (independent of the salt, so two logs written with different
/// salts have the same block and segment layout).
pub fn payload_len(id: u64) -> usize {
    (id % 97) as usize
}

/// Byte `k` of event `id` in a log written with `salt`.
#[inline]
pub fn payload_byte(salt: u64, id: u64, k: usize) -> u8 {
    ((id.wrapping_mul(31) + (k as u64) * 17 + salt * 101) % 251) as u8
}

/// The payload of event `id` in a log written with `salt` (salt 0 is the "main" log).
pub fn payload(salt: u64, id: u64) -> Vec<u8> {
    (0..payload_len(id))
        .map(|k| payload_byte(salt, id, k))
        .collect()
}

/// Whether `p` is exactly the payload of event `id` under `salt`.
pub fn payload_matches(salt: u64, id: u64, p: &[u8]) -> bool {
    p.len() == payload_len(id)
        && p.iter()
            .enumerate()
            .all(|(k, &b)| b == payload_byte(salt, id, k))
}

/// Sum of payload lengths of ids `first..=last`.
pub fn bytes_of(ids: impl IntoIterator<Item = u64>) -> u64 {
    ids.into_iter().map(|i| payload_len(i) as u64).sum()
}

// ---------------------------------------------------------------------------------------------
// Temp dirs
// ---------------------------------------------------------------------------------------------

/// A unique temporary directory for one test. Prefers tmpfs (`/dev/shm`): the writer fsyncs on
/// every segment seal and the suite writes tens of thousands of segments.
pub fn tempdir(tag: &str) -> TempDir {
    let mut b = tempfile::Builder::new();
    let prefix = format!("walpipe-{tag}-");
    b.prefix(&prefix);
    if let Some(base) = std::env::var_os("WAL_TEST_TMP") {
        return b.tempdir_in(base).expect("create temp dir in WAL_TEST_TMP");
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = b.tempdir_in(shm) {
            return d;
        }
    }
    b.tempdir().expect("create temp dir")
}

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

/// How to write a test log.
#[derive(Clone, Copy, Debug)]
pub struct LogSpec {
    pub segment_bytes: u64,
    pub block_bytes: u32,
    pub first_id: u64,
    pub count: u64,
    pub salt: u64,
}

impl LogSpec {
    /// ~3000 events in ~100 segments of ~6 blocks.
    pub fn standard() -> Self {
        LogSpec {
            segment_bytes: 2048,
            block_bytes: 256,
            first_id: 1,
            count: 3000,
            salt: 0,
        }
    }

    /// ~600 events in ~20 segments: for tests that build many logs.
    pub fn small() -> Self {
        LogSpec {
            segment_bytes: 2048,
            block_bytes: 256,
            first_id: 1,
            count: 600,
            salt: 0,
        }
    }

    pub fn writer_options(&self) -> WriterOptions {
        WriterOptions {
            segment_bytes: self.segment_bytes,
            block_bytes: self.block_bytes,
            first_event_id: self.first_id,
        }
    }
}

/// One verified block of a segment, as found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub first: u64,
    pub count: u64,
    /// File offset of the block header.
    pub offset: u64,
    /// File offset of the first payload byte.
    pub payload_offset: u64,
    /// File offset one past the last payload byte.
    pub payload_end: u64,
}

impl BlockInfo {
    pub fn last(&self) -> u64 {
        self.first + self.count - 1
    }
}

/// One segment file, as found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegInfo {
    pub path: PathBuf,
    pub name_seq: u64,
    pub header_seq: u64,
    pub sealed: bool,
    pub first: u64,
    /// Last valid id (`first - 1` when empty).
    pub last: u64,
    pub blocks: Vec<BlockInfo>,
    pub len: u64,
}

impl SegInfo {
    pub fn end(&self) -> u64 {
        self.last + 1
    }
    pub fn ids(&self) -> std::ops::RangeInclusive<u64> {
        self.first..=self.last
    }
    pub fn count(&self) -> u64 {
        self.end() - self.first
    }
}

/// A log directory and its segments (in sequence order).
#[derive(Debug)]
pub struct Log {
    pub dir: PathBuf,
    pub segs: Vec<SegInfo>,
    pub first: u64,
    pub last: u64,
}

impl Log {
    pub fn end(&self) -> u64 {
        self.last + 1
    }
    pub fn all_ids(&self) -> Vec<u64> {
        (self.first..=self.last).collect()
    }
    /// Index of the segment holding `id`.
    pub fn seg_of(&self, id: u64) -> usize {
        self.segs
            .iter()
            .position(|s| s.ids().contains(&id))
            .unwrap_or_else(|| panic!("no segment holds {id}"))
    }
}

/// Reads every canonically named segment of `dir` (sorted by name) with the library's verified
/// reader.
pub fn segments(dir: &Path) -> Vec<SegInfo> {
    files::wal_files_with_seq(dir)
        .into_iter()
        .map(|(n, p)| seg_info(&p, n))
        .collect()
}

/// Describes one segment file (which must verify cleanly up to its valid end).
pub fn seg_info(path: &Path, name_seq: u64) -> SegInfo {
    let r = SegmentReader::open_verified(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let h = *r.header();
    let blocks = r
        .index()
        .iter()
        .map(|e| BlockInfo {
            first: e.first_event_id,
            count: u64::from(e.event_count),
            offset: (e.payload_offset - 64) as u64,
            payload_offset: e.payload_offset as u64,
            payload_end: e.payload_end as u64,
        })
        .collect();
    SegInfo {
        path: path.to_path_buf(),
        name_seq,
        header_seq: h.sequence,
        sealed: h.sealed,
        first: h.first_event_id,
        last: r.end_event_id() - 1,
        blocks,
        len: r.file_len(),
    }
}

/// Appends `spec.count` events to `w` (ids continue the writer's).
pub fn append_events(w: &mut Writer, count: u64, salt: u64) {
    for _ in 0..count {
        let id = w.next_event_id();
        let got = w.append(&payload(salt, id)).expect("append");
        assert_eq!(got, id);
    }
}

/// Writes and closes a log in `dir` (created if needed), then describes it. Every segment is
/// sealed and contiguous.
pub fn write_log(dir: &Path, spec: LogSpec) -> Log {
    let mut w = Writer::open(dir, spec.writer_options()).expect("open writer");
    append_events(&mut w, spec.count, spec.salt);
    w.close().expect("close writer");
    let segs = segments(dir);
    assert!(!segs.is_empty());
    for pair in segs.windows(2) {
        assert_eq!(
            pair[0].end(),
            pair[1].first,
            "writer produced a non-contiguous log"
        );
    }
    assert!(segs.iter().all(|s| s.sealed));
    let log = Log {
        dir: dir.to_path_buf(),
        first: segs[0].first,
        last: segs.last().unwrap().last,
        segs,
    };
    assert_eq!(log.first, spec.first_id);
    assert_eq!(log.last, spec.first_id + spec.count - 1);
    log
}

/// Canonical path of segment `seq` in `dir`.
pub fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(naming::file_name(seq))
}

/// XORs one byte of a file with 0xFF.
pub fn flip_byte(path: &Path, offset: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open for corruption");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).expect("read byte");
    b[0] ^= 0xFF;
    f.write_all_at(&b, offset).expect("write byte");
    f.sync_all().ok();
}

/// Appends raw bytes to a file.
pub fn append_bytes(path: &Path, bytes: &[u8]) {
    let f = OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    use std::io::Write;
    (&f).write_all(bytes).expect("append bytes");
}

/// Copies every `*.wal` file of `from` into `to` (created).
pub fn copy_wal_files(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.path().extension().is_some_and(|x| x == "wal") {
            fs::copy(e.path(), to.join(e.file_name())).expect("copy segment");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

/// Runs `f` on its own thread and fails the test if it does not finish within `limit`.
/// A panic inside `f` is propagated as the test's panic.
pub fn with_timeout_of<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let h = thread::Builder::new()
        .name(format!("timed-{what}"))
        .spawn(move || {
            let v = f();
            let _ = tx.send(v);
        })
        .expect("spawn timed thread");
    match rx.recv_timeout(limit) {
        Ok(v) => {
            h.join().expect("timed thread");
            v
        }
        Err(RecvTimeoutError::Timeout) => panic!("{what}: did not finish within {limit:?} (hang)"),
        Err(RecvTimeoutError::Disconnected) => match h.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => panic!("{what}: thread ended without a result"),
        },
    }
}

/// [`with_timeout_of`] with the default [`TIMEOUT`].
pub fn with_timeout<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    with_timeout_of(what, TIMEOUT, f)
}

/// Options with a mode and a start id, defaults otherwise.
pub fn opts(mode: RecoveryMode, start: u64) -> RecoveryOptions {
    RecoveryOptions {
        mode,
        start_event_id: start,
        ..RecoveryOptions::default()
    }
}

/// What a replay delivered.
#[derive(Debug)]
pub struct Drained {
    /// Ids delivered, in order.
    pub ids: Vec<u64>,
    /// How it ended: `Ok(())` for `Ok(None)`, or the error `next()` returned.
    pub end: Result<(), Error>,
}

impl Drained {
    pub fn err(&self) -> &Error {
        match &self.end {
            Err(e) => e,
            Ok(()) => panic!(
                "expected the replay to end in an error; it ended cleanly after {} events",
                self.ids.len()
            ),
        }
    }
    pub fn assert_ok(&self) {
        if let Err(e) = &self.end {
            panic!(
                "expected Ok(None) at the end; got error after {} events: {e}",
                self.ids.len()
            );
        }
    }
}

/// Calls `next()` until `Ok(None)` or an error. Every payload is checked byte-exact against
/// `payload(salt_of(id), id)`.
pub fn drain_with(m: &mut Manager, salt_of: &dyn Fn(u64) -> u64) -> Drained {
    let mut ids = Vec::new();
    loop {
        match m.next() {
            Ok(Some(ev)) => {
                let salt = salt_of(ev.id);
                if !payload_matches(salt, ev.id, ev.payload) {
                    let other = (0..4).find(|&s| payload_matches(s, ev.id, ev.payload));
                    panic!(
                        "payload of event {} (after {} events) is not the salt-{salt} payload (len {} vs {}); matches salt {other:?}",
                        ev.id,
                        ids.len(),
                        ev.payload.len(),
                        payload_len(ev.id)
                    );
                }
                ids.push(ev.id);
                assert!(ids.len() <= MAX_EVENTS, "replay does not end");
            }
            Ok(None) => return Drained { ids, end: Ok(()) },
            Err(e) => return Drained { ids, end: Err(e) },
        }
    }
}

/// [`drain_with`] for a log written entirely with salt 0.
pub fn drain(m: &mut Manager) -> Drained {
    drain_with(m, &|_| 0)
}

/// Takes exactly `n` events (all must be salt 0) and returns their ids.
pub fn take(m: &mut Manager, n: usize) -> Vec<u64> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let ev = m.next().expect("next").expect("an event");
        assert!(
            payload_matches(0, ev.id, ev.payload),
            "payload of event {} differs",
            ev.id
        );
        ids.push(ev.id);
    }
    ids
}

/// Ids `a..=b` as a vector.
pub fn range(a: u64, b: u64) -> Vec<u64> {
    (a..=b).collect()
}

/// Concatenation of inclusive ranges.
pub fn ranges(rs: &[(u64, u64)]) -> Vec<u64> {
    rs.iter().flat_map(|&(a, b)| a..=b).collect()
}

/// What SkipCorrupted reports lost for damage `c` in the block of `seg` starting at id
/// `first`: the rest of the segment.
pub fn lost_rest_of(seg: &SegInfo, first: u64, c: &wal_recovery::Corruption) -> Vec<LostRange> {
    vec![LostRange {
        first_id: first,
        last_id: Some(seg.last),
        reason: c.what(),
        path: Some(seg.path.clone()),
    }]
}

/// Asserts two id lists are equal, with a compact message on mismatch.
#[track_caller]
pub fn assert_ids(got: &[u64], want: &[u64]) {
    if got != want {
        let first_diff = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "delivered ids differ: got {} ids, want {}; first difference at index {first_diff}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            got.get(first_diff..(first_diff + 5).min(got.len())),
            want.get(first_diff..(first_diff + 5).min(want.len()))
        );
    }
}

/// The suites' one seeded generator (splitmix64), shared with the other support modules.
#[path = "../common/rng.rs"]
mod rng;

#[path = "../common/files.rs"]
mod files;
#[path = "../common/format1.rs"]
mod format1;
#[allow(unused_imports)] // only the suites that mix two logs use it
pub use format1::to_format_1;
#[allow(unused_imports)] // not every suite that includes this module draws random numbers
pub use rng::Rng;

// ---------------------------------------------------------------------------------------------
// Process resources
// ---------------------------------------------------------------------------------------------

/// Open descriptors of this process that point into `dir`.
pub fn fds_into(dir: &Path) -> usize {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| fs::read_link(e.path()).ok())
                .filter(|t| t.starts_with(&dir))
                .count()
        })
        .unwrap_or(0)
}

/// Lines of `/proc/self/maps` that map a file inside `dir`.
pub fn maps_into(dir: &Path) -> usize {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let needle = format!("{}/", dir.display());
    fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().filter(|l| l.contains(&needle)).count())
        .unwrap_or(0)
}

/// Threads of this process whose name is `name`.
pub fn threads_named(name: &str) -> usize {
    fs::read_dir("/proc/self/task")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| fs::read_to_string(e.path().join("comm")).ok())
                .filter(|c| c.trim_end() == name)
                .count()
        })
        .unwrap_or(0)
}

/// The scheduling policy (`/proc/<tid>/stat` field 41: 0 normal, 3 `SCHED_BATCH`, 5
/// `SCHED_IDLE`) of each thread of this process named `name`.
pub fn thread_policies(name: &str) -> Vec<u32> {
    let Ok(rd) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| {
            // Fields after the parenthesised name start at field 3 (state).
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().nth(41 - 3)?.parse().ok()
        })
        .collect()
}
