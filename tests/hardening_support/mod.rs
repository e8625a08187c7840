//! Shared helpers of the hardening suite (`tests/hardening_*.rs`, and only those).
//!
//! * every random choice comes from a seeded splitmix64 ([`Rng`]), so any failure reproduces;
//! * every payload is a pure function of its id ([`payload`]): byte `k` of event `i` is byte `k`
//!   of `i.to_le_bytes()` for `k < 8`, else `(i*31 + k*17) % 251`; its length is `i % 200`. A
//!   delivered event is therefore checked byte-exact without keeping the log in memory, and an
//!   event delivered under the wrong id can never compare equal by accident;
//! * [`guarded_replay`] runs a whole replay on its own thread inside `catch_unwind`, with a time
//!   limit, and returns what was delivered plus the report — so a panic or a hang is *counted*
//!   by the caller instead of killing the suite;
//! * [`account`] checks a replay against the promise: right payloads, strictly increasing ids,
//!   and every event of the original log either delivered or accounted for by the report;
//! * [`reexec`] starts this same test binary as a child process running one hidden helper test
//!   (writer crash, low `ulimit -n`, SIGBUS), so the parent can kill it or watch it die.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wal_recovery::recovery::report::RecoveryReport;
use wal_recovery::segment::naming;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, SegmentReader, Writer, WriterOptions};

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// The suites' one seeded generator (splitmix64), shared with the other support modules.
#[path = "../common/env.rs"]
mod env;
#[allow(unused_imports)] // not every suite that includes this module reads them
pub use env::{env_count, env_seed};

#[path = "../common/guarded.rs"]
mod guarded;

#[path = "../common/reading.rs"]
mod reading;
pub use reading::Reading;

#[path = "../common/files.rs"]
mod files;
#[path = "../common/format1.rs"]
mod format1;
#[allow(unused_imports)] // only the suites that mix two logs use it
pub use format1::to_format_1;

#[path = "../common/rng.rs"]
mod rng;
#[allow(unused_imports)] // not every suite that includes this module draws random numbers
pub use rng::Rng;

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

/// Payload length of event `i`.
#[inline]
pub fn payload_len(i: u64) -> usize {
    (i % 200) as usize
}

/// Byte `k` of event `i` in a log written with `salt` (salt 0 is the main log; another salt gives
/// a log with the same layout — same lengths — and different bytes everywhere).
#[inline]
pub fn payload_byte_salted(salt: u64, i: u64, k: usize) -> u8 {
    if k < 8 {
        i.to_le_bytes()[k] ^ (salt as u8).wrapping_mul(0x5B)
    } else {
        (i.wrapping_mul(31)
            .wrapping_add(k as u64 * 17)
            .wrapping_add(salt.wrapping_mul(101))
            % 251) as u8
    }
}

/// Byte `k` of event `i` in the main log.
#[inline]
pub fn payload_byte(i: u64, k: usize) -> u8 {
    payload_byte_salted(0, i, k)
}

/// The payload of event `i` under `salt`.
pub fn payload_salted(salt: u64, i: u64) -> Vec<u8> {
    (0..payload_len(i))
        .map(|k| payload_byte_salted(salt, i, k))
        .collect()
}

/// The payload of event `i` in the main log.
pub fn payload(i: u64) -> Vec<u8> {
    payload_salted(0, i)
}

/// Whether `p` is exactly the main-log payload of event `i`.
#[inline]
pub fn payload_matches(i: u64, p: &[u8]) -> bool {
    p.len() == payload_len(i) && p.iter().enumerate().all(|(k, &b)| b == payload_byte(i, k))
}

// ---------------------------------------------------------------------------------------------
// Directories and logs
// ---------------------------------------------------------------------------------------------

/// A unique temporary directory for test `tag` ([`env::tempdir_with_prefix`]).
pub fn tempdir(tag: &str) -> TempDir {
    env::tempdir_with_prefix(&format!("walhard-{tag}-"))
}

/// Directories to remove when the process exits (see [`remove_at_exit`]).
static AT_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

extern "C" fn remove_registered_dirs() {
    if let Ok(dirs) = AT_EXIT.lock() {
        for d in dirs.iter() {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// Keeps `dir` for the rest of the process (for fixtures held in a `static`, which are never
/// dropped) and removes it when the process exits.
pub fn remove_at_exit(dir: TempDir) -> PathBuf {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function with no arguments.
        unsafe { libc::atexit(remove_registered_dirs) };
    });
    let path = dir.keep();
    AT_EXIT.lock().expect("lock").push(path.clone());
    path
}

/// Writer options.
pub fn wopts(segment_bytes: u64, block_bytes: u32) -> WriterOptions {
    WriterOptions {
        segment_bytes,
        block_bytes,
        first_event_id: 1,
    }
}

/// Recovery options for `mode`, defaults otherwise.
pub fn ropts(mode: RecoveryMode) -> RecoveryOptions {
    RecoveryOptions {
        mode,
        ..RecoveryOptions::default()
    }
}

/// Appends `n` events with the payloads of `salt` and returns the id of the last.
pub fn append_n(w: &mut Writer, n: u64, salt: u64) -> u64 {
    let mut last = 0;
    for _ in 0..n {
        let id = w.next_event_id();
        last = w.append(&payload_salted(salt, id)).expect("append");
        assert_eq!(last, id);
    }
    last
}

/// How a log was left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `close()`: every segment sealed.
    Sealed,
    /// `sync()` then `mem::forget(writer)`: the last segment is unsealed (a crash after sync).
    Unsealed,
}

/// Writes `count` events into `dir` and leaves the log as `ending` says.
pub fn write_log(dir: &Path, opts: WriterOptions, count: u64, salt: u64, ending: Ending) {
    let mut w = Writer::open(dir, opts).expect("open writer");
    append_n(&mut w, count, salt);
    match ending {
        Ending::Sealed => w.close().expect("close writer"),
        Ending::Unsealed => {
            w.sync().expect("sync writer");
            // The writer seals on drop; forgetting it leaves the state a crash after sync leaves.
            // (Its directory lock is leaked with it until the process exits; readers take none.)
            std::mem::forget(w);
        }
    }
}

/// Every `*.wal` file of `dir`, sorted by name.
pub fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    v.sort();
    v
}

/// Copies every regular `*.wal` file of `from` into `to` (created if needed).
pub fn copy_wal_files(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for p in wal_files(from) {
        fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy segment");
    }
}

/// Removes every entry of `dir` (not `dir` itself).
pub fn clear_dir(dir: &Path) {
    for e in fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() && !p.is_symlink() {
            fs::remove_dir_all(&p).expect("remove subdir");
        } else {
            fs::remove_file(&p).expect("remove file");
        }
    }
}

/// One segment of an original (undamaged) log.
#[derive(Clone, Debug)]
pub struct SegLayout {
    pub name: String,
    pub sealed: bool,
    pub first: u64,
    /// One past the last valid id.
    pub end: u64,
    pub len: u64,
    /// File offset of every block header.
    pub block_offsets: Vec<u64>,
}

/// An original log's layout, read back with the library's verified reader.
#[derive(Clone, Debug)]
pub struct Layout {
    pub segs: Vec<SegLayout>,
    pub first: u64,
    pub end: u64,
}

impl Layout {
    pub fn of(dir: &Path) -> Layout {
        let mut segs = Vec::new();
        for p in wal_files(dir) {
            let r = SegmentReader::open_verified(&p)
                .unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
            segs.push(SegLayout {
                name: p.file_name().expect("name").to_string_lossy().into_owned(),
                sealed: r.header().sealed,
                first: r.first_event_id(),
                end: r.end_event_id(),
                len: r.file_len(),
                block_offsets: r
                    .index()
                    .iter()
                    .map(|e| (e.payload_offset - 64) as u64)
                    .collect(),
            });
        }
        for w in segs.windows(2) {
            assert_eq!(w[0].end, w[1].first, "original log is not contiguous");
        }
        let first = segs.first().map_or(1, |s| s.first);
        let end = segs.last().map_or(1, |s| s.end);
        Layout { segs, first, end }
    }

    pub fn count(&self) -> u64 {
        self.end - self.first
    }

    /// The segment (index) holding `id`.
    pub fn seg_of(&self, id: u64) -> Option<usize> {
        self.segs
            .iter()
            .position(|s| (s.first..s.end).contains(&id))
    }
}

// ---------------------------------------------------------------------------------------------
// Guarded replay
// ---------------------------------------------------------------------------------------------

/// What one replay did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Ids delivered, in delivery order.
    pub ids: Vec<u64>,
    /// Ids whose payload was not the main-log payload of that id.
    pub wrong: Vec<u64>,
    /// `Manager::open` failed with this error.
    pub open_err: Option<String>,
    /// `next()` returned this error (the replay stopped there).
    pub end_err: Option<String>,
    /// The report after the replay (absent when `open` failed).
    pub report: Option<RecoveryReport>,
    /// More events than `max_events` were delivered (a replay that does not end).
    pub runaway: bool,
    pub elapsed: Duration,
}

/// How a guarded replay ended.
#[derive(Debug)]
pub enum Run {
    Done(Box<Outcome>),
    Panicked(String),
    Hung,
}

/// Replays `dir` to its end (or first error) on the calling thread, checking each payload.
pub fn replay(dir: &Path, opts: RecoveryOptions, max_events: usize, how: Reading) -> Outcome {
    let start = Instant::now();
    let mut o = Outcome::default();
    let mut m = match Manager::open(dir, opts) {
        Ok(m) => m,
        Err(e) => {
            o.open_err = Some(e.to_string());
            o.elapsed = start.elapsed();
            return o;
        }
    };
    let end = reading::drain(&mut m, how, |id, payload| {
        if !payload_matches(id, payload) {
            o.wrong.push(id);
        }
        o.ids.push(id);
        o.runaway = o.ids.len() > max_events;
        !o.runaway
    });
    if let Err(e) = end {
        o.end_err = Some(e.to_string());
    }
    o.report = Some(m.report());
    drop(m);
    o.elapsed = start.elapsed();
    o
}

/// [`replay`] by `next()` on its own thread, inside `catch_unwind`, with a time limit. A hung
/// replay's thread is abandoned (it cannot be killed); the caller must then leave `dir` in place.
pub fn guarded_replay(
    dir: &Path,
    opts: RecoveryOptions,
    max_events: usize,
    limit: Duration,
) -> Run {
    guarded_replay_by(dir, opts, max_events, limit, Reading::Next)
}

/// [`guarded_replay`], reading the events as `how` says.
pub fn guarded_replay_by(
    dir: &Path,
    opts: RecoveryOptions,
    max_events: usize,
    limit: Duration,
    how: Reading,
) -> Run {
    let dir = dir.to_path_buf();
    match guarded::guarded("guarded-replay", limit, move || {
        replay(&dir, opts, max_events, how)
    }) {
        guarded::Guarded::Done(o) => Run::Done(Box::new(o)),
        guarded::Guarded::Panicked(p) => Run::Panicked(p),
        guarded::Guarded::Hung => Run::Hung,
    }
}

// ---------------------------------------------------------------------------------------------
// Accounting
// ---------------------------------------------------------------------------------------------

/// Why an event of the original log was not delivered, when the report accounts for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Accounted {
    /// Inside a `report.lost` range.
    Lost,
    /// After the point where a Strict replay failed or a StopAtCorruption replay stopped.
    NotReplayedByDesign,
    /// In the unsealed segment after its last delivered event, with `report.torn_tail` set.
    TornTail,
}

/// The verdict on one replay of a damaged copy.
#[derive(Debug, Default)]
pub struct Verdict {
    pub wrong_payloads: u64,
    /// Ids delivered out of order, twice, or outside the original log.
    pub order_violations: u64,
    pub unaccounted: Vec<u64>,
    /// The replay stopped early (error/stopped) but the report does not say so.
    pub report_mismatch: Option<String>,
    pub accounted: BTreeMap<Accounted, u64>,
    pub delivered: u64,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.wrong_payloads == 0
            && self.order_violations == 0
            && self.unaccounted.is_empty()
            && self.report_mismatch.is_none()
    }
}

/// Checks one replay of a damaged copy of the log `layout` describes (see the module docs).
///
/// An event of the original log that was not delivered must be: inside a `report.lost` range
/// (`last_id None` = open-ended); or, in Strict/StopAtCorruption, after the last delivered event
/// of a replay that ended with an error / `report.stopped` (those modes stop early by design);
/// or in the log's unsealed last segment after its last delivered event, with
/// `report.torn_tail` set (the normal crash state).
pub fn account(o: &Outcome, mode: RecoveryMode, layout: &Layout) -> Verdict {
    let mut v = Verdict {
        wrong_payloads: o.wrong.len() as u64,
        delivered: o.ids.len() as u64,
        ..Verdict::default()
    };
    let n = layout.count() as usize;
    let mut got = vec![false; n];
    let mut prev = 0u64;
    for &id in &o.ids {
        if id <= prev || id < layout.first || id >= layout.end {
            v.order_violations += 1;
        } else {
            got[(id - layout.first) as usize] = true;
        }
        prev = prev.max(id);
    }
    if o.runaway {
        v.order_violations += 1;
    }
    let last_delivered = o.ids.iter().copied().max().unwrap_or(0);
    let report = o.report.as_ref();
    let stopped_early = match mode {
        RecoveryMode::Strict | RecoveryMode::StopAtCorruption => {
            let said = report.is_some_and(|r| r.error.is_some() || r.stopped.is_some());
            if o.open_err.is_some() {
                true
            } else if o.end_err.is_some() {
                if mode == RecoveryMode::Strict && report.is_none_or(|r| r.error.is_none()) {
                    v.report_mismatch = Some("next() failed but report.error is not set".into());
                }
                true
            } else {
                said
            }
        }
        // Format 2 refuses a directory holding two logs' segments at open, in every mode, with
        // a typed error naming a file of each: nothing is delivered, nothing goes unexplained.
        RecoveryMode::SkipCorrupted => o
            .open_err
            .as_deref()
            .is_some_and(|e| e.contains("segments of two logs")),
    };
    let lost: Vec<(u64, u64)> = report
        .map(|r| {
            r.lost
                .iter()
                .map(|l| (l.first_id, l.last_id.unwrap_or(u64::MAX)))
                .collect()
        })
        .unwrap_or_default();
    let torn = report.is_some_and(|r| r.torn_tail.is_some());
    let unsealed_last = layout
        .segs
        .last()
        .filter(|s| !s.sealed)
        .map(|s| (s.first, s.end));
    for (k, &g) in got.iter().enumerate() {
        if g {
            continue;
        }
        let id = layout.first + k as u64;
        let why = if lost.iter().any(|&(a, b)| a <= id && id <= b) {
            Some(Accounted::Lost)
        } else if stopped_early && id > last_delivered {
            Some(Accounted::NotReplayedByDesign)
        } else if torn
            && id > last_delivered
            && unsealed_last.is_some_and(|(a, b)| a <= id && id < b)
        {
            Some(Accounted::TornTail)
        } else {
            None
        };
        match why {
            Some(w) => *v.accounted.entry(w).or_default() += 1,
            None => v.unaccounted.push(id),
        }
    }
    v
}

/// Compresses a sorted id list into `a..=b` ranges for messages.
pub fn ranges_of(ids: &[u64]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let a = ids[i];
        let mut b = a;
        while i + 1 < ids.len() && ids[i + 1] == b + 1 {
            i += 1;
            b = ids[i];
        }
        out.push(if a == b {
            format!("{a}")
        } else {
            format!("{a}..={b}")
        });
        i += 1;
        if out.len() > 8 {
            out.push("…".into());
            break;
        }
    }
    out.join(", ")
}

// ---------------------------------------------------------------------------------------------
// Child processes (re-exec of this test binary)
// ---------------------------------------------------------------------------------------------

/// A command running this test binary's hidden `#[ignore]` helper test `helper` alone, with
/// `envs` set. The helper reads its instructions from the environment and returns at once when
/// they are absent (so `cargo test -- --ignored` runs it harmlessly).
pub fn reexec(helper: &str, envs: &[(&str, &OsStr)]) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let mut c = Command::new(exe);
    c.args([
        "--exact",
        helper,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ]);
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

/// Canonical name of segment `seq`.
pub fn seg_name(seq: u64) -> String {
    naming::file_name(seq)
}

/// Whether this process runs as root (root ignores file permissions).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}
