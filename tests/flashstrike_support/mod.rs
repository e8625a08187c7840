//! Shared helpers of the FlashStrike fault and crash suites (`tests/flashstrike_faults.rs`,
//! `tests/flashstrike_crash.rs`).
//!
//! * every random choice comes from the suites' seeded splitmix64 ([`Rng`]);
//! * payloads are pure functions of the id: [`Formula::Sample`] is the formula of the real
//!   samples and of `write_log` (`sample_event`), [`Formula::Other`] a second log's (every field
//!   but the id differs), so a delivered event is checked byte-exact without keeping the log in
//!   memory, and an event of another log is never mistaken for this one's;
//! * [`SegFile::parse`] reads a generated segment back (and proves the reading by regenerating
//!   the file byte for byte with `segment_bytes`), so faults can aim at its regions and a
//!   foreign copy can be built with the same layout;
//! * [`crash_cut`] says whether a damaged unfinalized segment is a state FlashStrike's recorder
//!   can leave at a crash (only then may a Strict replay end clean without its events);
//! * [`guarded_replay`] runs a whole replay on its own thread inside `catch_unwind`, with a time
//!   limit, so a panic or a hang is counted instead of killing the suite;
//! * [`account`] checks one replay against the promise (see its docs).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use wal_recovery::flashstrike::block::RawBlockHeader;
use wal_recovery::flashstrike::cold::decompress;
use wal_recovery::flashstrike::event::{sample_event, RequestEvent};
use wal_recovery::flashstrike::generate::{segment_bytes, SegmentState};
use wal_recovery::flashstrike::header::RawHeader;
use wal_recovery::flashstrike::{BLOCK_BYTES, BLOCK_EVENTS, HEADER_BYTES};
use wal_recovery::{Error, Manager, RecoveryMode, RecoveryOptions, RecoveryReport};

pub mod corpus;

/// The suites' one seeded generator (splitmix64).
#[path = "../common/env.rs"]
mod env;
#[allow(unused_imports)] // not every suite that includes this module reads them
pub use env::{env_count, env_seed};

#[path = "../common/guarded.rs"]
mod guarded;

#[path = "../common/reading.rs"]
mod reading;
pub use reading::Reading;

#[path = "../common/rng.rs"]
mod rng;
#[allow(unused_imports)] // the crash suite draws no random numbers
pub use rng::Rng;

/// Size of a memory page: the unit in which a crash loses a `MAP_SHARED` write.
pub const PAGE: usize = 4096;
/// Events per full block, as a `u64`.
pub const PER_BLOCK: u64 = BLOCK_EVENTS as u64;

/// A unique temporary directory for test `tag` ([`env::tempdir_with_prefix`]).
pub fn tempdir(tag: &str) -> tempfile::TempDir {
    env::tempdir_with_prefix(&format!("walfs-{tag}-"))
}

// ---------------------------------------------------------------------------------------------
// Payload formulas
// ---------------------------------------------------------------------------------------------

/// Which log an event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Formula {
    /// `sample_event`: the samples' and `write_log`'s formula.
    Sample,
    /// Another log's events: same id, every other field different.
    Other,
}

/// The other log's event `id`.
pub fn other_event(id: u64) -> RequestEvent {
    RequestEvent {
        event_id: id,
        timestamp: id.wrapping_mul(3).wrapping_add(7),
        price: -(id.wrapping_mul(13) as i64),
        quantity: (id % 50 + 2) as i64,
        user_id: (id % 991) as u32 + 5,
        order_id: !(id as u32),
        request_type: ((id + 1) % 4) as u8,
        order_type: ((id + 1) % 2) as u8,
        side: ((id + 1) % 2) as u8,
    }
}

impl Formula {
    pub fn event(self, id: u64) -> RequestEvent {
        match self {
            Formula::Sample => sample_event(id),
            Formula::Other => other_event(id),
        }
    }

    pub fn bytes(self, id: u64) -> [u8; 64] {
        self.event(id).encode()
    }
}

/// Which payloads are right for which ids: by default only [`Formula::Sample`]'s; inside an
/// override range, the formulas it lists.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub overrides: Vec<(u64, u64, Vec<Formula>)>,
}

impl Expect {
    /// Whether `payload` is byte-exact an event `id` that was written to this log.
    pub fn matches(&self, id: u64, payload: &[u8]) -> bool {
        let allowed = self
            .overrides
            .iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&id))
            .map_or(&[Formula::Sample][..], |(_, _, f)| &f[..]);
        allowed.iter().any(|f| payload == f.bytes(id))
    }
}

// ---------------------------------------------------------------------------------------------
// Generated segment files, read back
// ---------------------------------------------------------------------------------------------

/// What a generated file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Finalized segment (`.wal`, or `.wal.lz4` when `cold`).
    Finalized,
    /// Unfinalized segment holding full blocks.
    Unfinalized,
    /// Unfinalized and empty (pre-created).
    Precreated,
    /// Anything else (`wal_meta.dat`).
    Other,
}

/// One file of a generated log, with the layout its bytes show.
#[derive(Clone, Debug)]
pub struct SegFile {
    pub name: String,
    /// On-disk bytes (compressed for a cold segment).
    pub disk: Vec<u8>,
    /// Segment content (decompressed for a cold segment).
    pub content: Vec<u8>,
    pub cold: bool,
    pub kind: Kind,
    pub index: u32,
    /// Blocks the file is preallocated for.
    pub capacity: u32,
    pub first_id: u64,
    /// Events on disk.
    pub events: u64,
    /// Blocks holding events.
    pub blocks_used: usize,
    pub created: u64,
    pub closed: u64,
    pub zero_magic: bool,
}

impl SegFile {
    /// Reads a file `write_log` wrote and checks the reading by regenerating it byte for byte.
    pub fn parse(name: &str, disk: Vec<u8>) -> SegFile {
        let cold = name.ends_with(".wal.lz4");
        let content = if cold {
            decompress(&disk, u64::MAX).expect("decompress a generated cold segment")
        } else {
            disk.clone()
        };
        let mut f = SegFile {
            name: name.to_string(),
            disk,
            content,
            cold,
            kind: Kind::Other,
            index: 0,
            capacity: 0,
            first_id: 0,
            events: 0,
            blocks_used: 0,
            created: 0,
            closed: 0,
            zero_magic: false,
        };
        if !name.contains(".wal") {
            return f;
        }
        let c = &f.content;
        let h = RawHeader::decode(c[..HEADER_BYTES].try_into().expect("64 bytes"));
        f.index = h.segment_index;
        f.capacity = ((c.len() - HEADER_BYTES) / BLOCK_BYTES) as u32;
        f.created = h.created_ts_ns;
        f.closed = h.closed_ts_ns;
        f.zero_magic = c[0] == 0;
        if h.checksum != 0 {
            f.kind = Kind::Finalized;
            f.first_id = h.first_event_id;
            f.events = u64::from(h.event_count);
            f.blocks_used = h.block_count as usize;
        } else {
            for k in 0..f.capacity as usize {
                let at = HEADER_BYTES + k * BLOCK_BYTES;
                let raw: [u8; 64] = c[at..at + 64].try_into().expect("64 bytes");
                if raw.iter().all(|&b| b == 0) {
                    break;
                }
                let bh = RawBlockHeader::decode(&raw);
                if k == 0 {
                    f.first_id = bh.first_event_id;
                }
                f.events += u64::from(bh.event_count);
                f.blocks_used += 1;
            }
            f.kind = if f.blocks_used == 0 {
                Kind::Precreated
            } else {
                Kind::Unfinalized
            };
        }
        assert!(
            f.regenerate(Formula::Sample, 0) == f.content,
            "{name}: not regenerated byte for byte from what was read back"
        );
        f
    }

    fn state(&self) -> SegmentState {
        match self.kind {
            Kind::Finalized => SegmentState::Finalized,
            _ => SegmentState::Unfinalized {
                zero_magic: self.zero_magic,
            },
        }
    }

    /// This segment's content written with `formula`, its ids shifted by `shift`.
    pub fn regenerate(&self, formula: Formula, shift: u64) -> Vec<u8> {
        let first = if self.events == 0 {
            0
        } else {
            self.first_id + shift
        };
        let make = move |id: u64| formula.event(id);
        segment_bytes(
            self.index,
            self.capacity,
            first,
            self.events,
            self.created,
            self.closed,
            self.state(),
            &make,
        )
    }

    /// Ids on disk, inclusive (`None` when it holds none).
    pub fn ids(&self) -> Option<(u64, u64)> {
        (self.events > 0).then(|| (self.first_id, self.first_id + self.events - 1))
    }

    /// File offset of block `k`.
    pub fn block_at(k: usize) -> usize {
        HEADER_BYTES + k * BLOCK_BYTES
    }

    /// Events in block `k` (0 for an unused block).
    pub fn block_events(&self, k: usize) -> u64 {
        self.events
            .saturating_sub(k as u64 * PER_BLOCK)
            .min(PER_BLOCK)
    }
}

/// Reads every file `write_log` put in `dir`, sorted by name.
pub fn read_log(dir: &Path) -> Vec<SegFile> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| SegFile::parse(n, std::fs::read(dir.join(n)).expect("read")))
        .collect()
}

/// The byte ranges of block `k` cut at page boundaries: the pieces a crash keeps or loses one
/// by one.
pub fn page_chunks(k: usize) -> Vec<(usize, usize)> {
    let (start, end) = (SegFile::block_at(k), SegFile::block_at(k + 1));
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let next = ((at / PAGE) + 1) * PAGE;
        out.push((at, next.min(end)));
        at = next.min(end);
    }
    out
}

/// Whether `damaged` is a state FlashStrike's recorder can leave at a crash, given that the
/// undamaged unfinalized segment is `orig` (blocks are `memcpy`'d into a preallocated
/// `MAP_SHARED` file in order, the header is written only at close): the same header, a length
/// of `64 + n × 16 448`, blocks `0..k` intact, block `k`'s share of each 4 KiB page either
/// intact or zero, and zeros after it. Returns the blocks that are intact and hold events.
pub fn crash_cut(orig: &[u8], damaged: &[u8]) -> Option<usize> {
    let len = damaged.len();
    if len < HEADER_BYTES
        || !(len - HEADER_BYTES).is_multiple_of(BLOCK_BYTES)
        || len > orig.len()
        || damaged[..HEADER_BYTES] != orig[..HEADER_BYTES]
    {
        return None;
    }
    let used = (0..(orig.len() - HEADER_BYTES) / BLOCK_BYTES)
        .take_while(|&k| orig[SegFile::block_at(k)..SegFile::block_at(k) + 64] != [0u8; 64])
        .count();
    let blocks = (len - HEADER_BYTES) / BLOCK_BYTES;
    let range = |k: usize| SegFile::block_at(k)..SegFile::block_at(k + 1);
    let Some(k) = (0..blocks).find(|&k| damaged[range(k)] != orig[range(k)]) else {
        return Some(used.min(blocks));
    };
    let torn_ok = page_chunks(k)
        .into_iter()
        .all(|(a, b)| damaged[a..b] == orig[a..b] || damaged[a..b].iter().all(|&x| x == 0));
    let rest_zero = damaged[SegFile::block_at(k + 1)..].iter().all(|&x| x == 0);
    (torn_ok && rest_zero).then_some(k.min(used))
}

// ---------------------------------------------------------------------------------------------
// Guarded replay
// ---------------------------------------------------------------------------------------------

/// What one replay did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Ids delivered, in delivery order.
    pub ids: Vec<u64>,
    /// Ids whose payload was not an event written under that id.
    pub wrong: Vec<u64>,
    /// Ids whose payload is not 64 bytes or whose first 8 bytes are not the id.
    pub misframed: Vec<u64>,
    /// `Manager::open` failed.
    pub open_err: Option<Error>,
    /// `next()` failed (the replay ended there).
    pub end_err: Option<Error>,
    /// The report after the replay (absent when `open` failed).
    pub report: Option<RecoveryReport>,
    /// More events than the cap were delivered (a replay that does not end).
    pub runaway: bool,
    pub elapsed: Duration,
}

impl Outcome {
    /// `next()` returned `Ok(None)`: the replay ended clean.
    pub fn clean_end(&self) -> bool {
        self.open_err.is_none() && self.end_err.is_none() && !self.runaway
    }

    /// Delivered ids as inclusive ranges.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        ranges(&self.ids)
    }

    /// One line for failure messages.
    pub fn summary(&self) -> String {
        let r = self.report.as_ref();
        format!(
            "delivered {:?}; wrong {:?}; open error {:?}; end error {:?}; clean report {:?}; lost {:?}; torn {:?}; stopped {:?}",
            short(&self.ranges()),
            short(&ranges(&self.wrong)),
            self.open_err.as_ref().map(|e| e.to_string()),
            self.end_err.as_ref().map(|e| e.to_string()),
            r.map(|r| r.is_clean()),
            r.map(|r| r.lost.iter().map(|l| (l.first_id, l.last_id)).collect::<Vec<_>>()),
            r.and_then(|r| r.torn_tail.as_ref().map(|t| (t.path.file_name().map(|n| n.to_os_string()), t.offset, t.bytes, t.reason.clone()))),
            r.and_then(|r| r.stopped.clone()),
        )
    }
}

fn short(v: &[(u64, u64)]) -> String {
    if v.len() <= 6 {
        format!("{v:?}")
    } else {
        format!("{:?} … ({} ranges)", &v[..6], v.len())
    }
}

/// Inclusive ranges of consecutive ids.
pub fn ranges(ids: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &id in ids {
        match out.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(id) => *hi = id,
            _ => out.push((id, id)),
        }
    }
    out
}

/// Recovery options for `mode`.
pub fn ropts(mode: RecoveryMode) -> RecoveryOptions {
    RecoveryOptions {
        mode,
        ..RecoveryOptions::default()
    }
}

/// Replays `dir` to its end (or first error) on the calling thread, checking every payload.
pub fn replay(
    dir: &Path,
    opts: RecoveryOptions,
    expect: &Expect,
    max_events: usize,
    how: Reading,
) -> Outcome {
    let start = Instant::now();
    let mut o = Outcome::default();
    let mut m = match Manager::open(dir, opts) {
        Ok(m) => m,
        Err(e) => {
            o.open_err = Some(e);
            o.elapsed = start.elapsed();
            return o;
        }
    };
    let end = reading::drain(&mut m, how, |id, payload| {
        if !expect.matches(id, payload) {
            o.wrong.push(id);
        }
        if payload.len() != 64 || payload[..8] != id.to_le_bytes() {
            o.misframed.push(id);
        }
        o.ids.push(id);
        o.runaway = o.ids.len() > max_events;
        !o.runaway
    });
    if let Err(e) = end {
        o.end_err = Some(e);
    }
    o.report = Some(m.report());
    drop(m);
    o.elapsed = start.elapsed();
    o
}

/// How a guarded replay ended.
#[derive(Debug)]
pub enum Run {
    Done(Box<Outcome>),
    Panicked(String),
    Hung,
}

/// [`replay`] on its own thread, inside `catch_unwind`, with a time limit. A hung replay's
/// thread is abandoned (it cannot be killed); the caller must then leave `dir` alone.
pub fn guarded_replay(
    dir: &Path,
    opts: RecoveryOptions,
    expect: &Expect,
    max_events: usize,
    limit: Duration,
) -> Run {
    guarded_replay_by(dir, opts, expect, max_events, limit, Reading::Next)
}

/// [`guarded_replay`], reading the events as `how` says.
pub fn guarded_replay_by(
    dir: &Path,
    opts: RecoveryOptions,
    expect: &Expect,
    max_events: usize,
    limit: Duration,
    how: Reading,
) -> Run {
    let dir = dir.to_path_buf();
    let expect = expect.clone();
    match guarded::guarded("fs-guarded-replay", limit, move || {
        replay(&dir, opts, &expect, max_events, how)
    }) {
        guarded::Guarded::Done(o) => Run::Done(Box::new(o)),
        guarded::Guarded::Panicked(p) => Run::Panicked(p),
        guarded::Guarded::Hung => Run::Hung,
    }
}

// ---------------------------------------------------------------------------------------------
// Accounting
// ---------------------------------------------------------------------------------------------

/// Why an original event was not delivered, when the report accounts for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Accounted {
    /// Inside a `report.lost` range.
    Lost,
    /// After the point where a Strict replay failed or a StopAtCorruption replay stopped.
    NotReplayedByDesign,
    /// In the log's last data segment (unfinalized), after its last delivered event, with
    /// `report.torn_tail` naming that file.
    TornTail,
    /// Off disk in a state a crash of the recorder leaves ([`crash_cut`]): nothing can tell
    /// they were ever written.
    CrashExplained,
}

/// What [`account`] needs to know about the log a damaged copy came from.
#[derive(Clone, Debug, Default)]
pub struct Original {
    /// Ids on disk, inclusive ranges in order: what a correct recovery of the undamaged log
    /// delivers.
    pub ids: Vec<(u64, u64)>,
    /// Ids that may be delivered although they are not original (a foreign segment's).
    pub extra: Vec<(u64, u64)>,
    /// The last segment holding events, when unfinalized: its name and ids (a torn tail there
    /// is the normal crash state).
    pub torn_candidate: Option<(String, u64, u64)>,
    /// Ids a crash could have left off disk for this damaged copy ([`crash_cut`]): the only
    /// ones a Strict replay may end clean without.
    pub crash_explained: Vec<(u64, u64)>,
}

/// The verdict on one replay of a damaged copy.
#[derive(Debug, Default)]
pub struct Verdict {
    pub wrong_payloads: u64,
    /// Ids delivered out of order, twice, outside the log, or too many.
    pub order_violations: u64,
    pub unaccounted: Vec<u64>,
    /// Strict ended clean although the report is not clean or original events are missing.
    pub strict_violation: Option<String>,
    /// `next()` failed in Strict but `report.error` is not set.
    pub report_mismatch: Option<String>,
    pub accounted: BTreeMap<Accounted, u64>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.wrong_payloads == 0
            && self.order_violations == 0
            && self.unaccounted.is_empty()
            && self.strict_violation.is_none()
            && self.report_mismatch.is_none()
    }

    /// One line for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "wrong payloads {}, order violations {}, unaccounted {:?}, strict: {:?}, report: {:?}",
            self.wrong_payloads,
            self.order_violations,
            short(&ranges(&self.unaccounted)),
            self.strict_violation,
            self.report_mismatch
        )
    }
}

fn within(ranges: &[(u64, u64)], id: u64) -> bool {
    ranges.iter().any(|&(a, b)| a <= id && id <= b)
}

/// Checks one replay of a damaged copy of `orig`:
///
/// * every delivered payload byte-exact an event written under its id, ids strictly
///   increasing, inside the log;
/// * every original event delivered or accounted for: in a `report.lost` range; after the
///   point where Strict failed or StopAtCorruption stopped; in the torn tail of the last
///   (unfinalized) data segment, with `report.torn_tail` naming it; or off disk in a state a
///   crash leaves (`orig.crash_explained`);
/// * **the invariant**: when a Strict replay ends clean (`Ok(None)`), the report is clean and
///   every original event was delivered, except those a crash could have left off disk.
pub fn account(o: &Outcome, mode: RecoveryMode, orig: &Original) -> Verdict {
    let mut v = Verdict {
        wrong_payloads: (o.wrong.len() + o.misframed.len()) as u64,
        ..Verdict::default()
    };
    let mut prev = 0u64;
    let mut got = std::collections::HashSet::new();
    for &id in &o.ids {
        if id <= prev || !(within(&orig.ids, id) || within(&orig.extra, id)) {
            v.order_violations += 1;
        }
        got.insert(id);
        prev = prev.max(id);
    }
    if o.runaway {
        v.order_violations += 1;
    }
    let last = o.ids.last().copied().unwrap_or(0);
    let report = o.report.as_ref();
    let stopped_early = match mode {
        RecoveryMode::Strict => {
            if o.end_err.is_some() && report.is_none_or(|r| r.error.is_none()) {
                v.report_mismatch = Some("next() failed but report.error is not set".into());
            }
            !o.clean_end()
        }
        RecoveryMode::StopAtCorruption => {
            o.open_err.is_some() || report.is_some_and(|r| r.stopped.is_some())
        }
        RecoveryMode::SkipCorrupted => false,
    };
    let lost: Vec<(u64, u64)> = report
        .map(|r| {
            r.lost
                .iter()
                .map(|l| (l.first_id, l.last_id.unwrap_or(u64::MAX)))
                .collect()
        })
        .unwrap_or_default();
    let torn_here = |name: &str| {
        report
            .and_then(|r| r.torn_tail.as_ref())
            .is_some_and(|t| t.path.file_name().is_some_and(|n| n == name))
    };
    let mut missing = Vec::new();
    for &(a, b) in &orig.ids {
        for id in a..=b {
            if got.contains(&id) {
                continue;
            }
            missing.push(id);
            let why = if within(&orig.crash_explained, id) {
                Some(Accounted::CrashExplained)
            } else if within(&lost, id) {
                Some(Accounted::Lost)
            } else if stopped_early && id > last {
                Some(Accounted::NotReplayedByDesign)
            } else if orig
                .torn_candidate
                .as_ref()
                .is_some_and(|(n, lo, hi)| torn_here(n) && *lo <= id && id <= *hi && id > last)
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
    }
    if mode == RecoveryMode::Strict && o.clean_end() {
        let unexplained: Vec<u64> = missing
            .iter()
            .copied()
            .filter(|&id| !within(&orig.crash_explained, id))
            .collect();
        if report.is_some_and(|r| !r.is_clean()) {
            v.strict_violation = Some("Strict ended clean but the report is not clean".into());
        } else if !unexplained.is_empty() {
            v.strict_violation = Some(format!(
                "Strict ended clean without original events {:?} (no crash leaves them off disk)",
                short(&ranges(&unexplained))
            ));
        }
    }
    v
}
