//! Fault corpus: one fault at a time, applied to a fresh copy of a valid multi-segment log, then
//! replayed in every recovery mode. For every case and mode: no panic (`catch_unwind`), no hang
//! (10 s limit on its own thread), every delivered payload byte-exact, ids strictly increasing,
//! and every event of the original log delivered or accounted for by the report
//! (`hardening_support::account` says exactly how). And the invariant: a Strict replay that
//! ends clean (`Ok(None)`) has `report.is_clean()` and delivered every event of the original,
//! except those a crash could have left off disk (the unsealed last segment cut to a prefix of
//! itself, possibly followed by zeros: `crash_explained`) — Strict never ends clean on an
//! incomplete log.
//!
//! Faults: a bit flip at a random offset of a random file; truncation at a random offset; a
//! zero-filled range; a deleted middle segment; a segment duplicated under another name; two
//! segment files' names swapped; a segment replaced by the same-numbered segment of another log
//! (same layout, different payloads); an empty `*.wal` file; a junk `*.wal` file; an unreadable
//! segment (chmod 000 — skipped as root, which ignores permissions). Each runs on two originals:
//! a closed log (every segment sealed) and a crashed one (last segment unsealed).
//!
//! Reproduce: every case is derived from `WALH_FAULT_SEED` (default below); failures print the
//! case. Scale with `WALH_FAULT_BITFLIPS`, `WALH_FAULT_TRUNCATIONS`, `WALH_FAULT_ZEROS`.

mod hardening_support;

use std::fmt;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hardening_support::*;
use tempfile::TempDir;
use wal_recovery::RecoveryMode;

const DEFAULT_SEED: u64 = 0x5EED_FA17_0001;
const MODES: [RecoveryMode; 3] = [
    RecoveryMode::Strict,
    RecoveryMode::StopAtCorruption,
    RecoveryMode::SkipCorrupted,
];
const LIMIT: Duration = Duration::from_secs(10);
/// 8 segments of a few blocks each.
const SEGMENT_BYTES: u64 = 4096;
const BLOCK_BYTES: u32 = 512;
const EVENTS: u64 = 240;
const FOREIGN_SALT: u64 = 7;

/// The originals: a closed and a crashed log, and a foreign log of the same layout for each.
struct Originals {
    sealed: PathBuf,
    unsealed: PathBuf,
    foreign_sealed: PathBuf,
    foreign_unsealed: PathBuf,
    layout_sealed: Layout,
    layout_unsealed: Layout,
}

fn originals() -> &'static Originals {
    static O: OnceLock<Originals> = OnceLock::new();
    O.get_or_init(|| {
        let root = remove_at_exit(tempdir("faults-orig"));
        let p = |s: &str| root.join(s);
        let o = wopts(SEGMENT_BYTES, BLOCK_BYTES);
        write_log(&p("sealed"), o, EVENTS, 0, Ending::Sealed);
        write_log(&p("unsealed"), o, EVENTS, 0, Ending::Unsealed);
        write_log(
            &p("foreign-sealed"),
            o,
            EVENTS,
            FOREIGN_SALT,
            Ending::Sealed,
        );
        write_log(
            &p("foreign-unsealed"),
            o,
            EVENTS,
            FOREIGN_SALT,
            Ending::Unsealed,
        );
        let layout_sealed = Layout::of(&p("sealed"));
        let layout_unsealed = Layout::of(&p("unsealed"));
        assert!(
            layout_sealed.segs.len() >= 8,
            "want ≥ 8 segments, got {}",
            layout_sealed.segs.len()
        );
        assert!(!layout_unsealed.segs.last().expect("segments").sealed);
        for (a, b) in [
            ("sealed", "foreign-sealed"),
            ("unsealed", "foreign-unsealed"),
        ] {
            let (la, lb) = (Layout::of(&p(a)), Layout::of(&p(b)));
            let shape = |l: &Layout| {
                l.segs
                    .iter()
                    .map(|s| (s.name.clone(), s.first, s.end, s.len))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                shape(&la),
                shape(&lb),
                "foreign log must have the same layout"
            );
        }
        Originals {
            sealed: p("sealed"),
            unsealed: p("unsealed"),
            foreign_sealed: p("foreign-sealed"),
            foreign_unsealed: p("foreign-unsealed"),
            layout_sealed,
            layout_unsealed,
        }
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base {
    Sealed,
    Unsealed,
}

#[derive(Clone, Debug)]
enum Fault {
    BitFlip { file: String, offset: u64, bit: u8 },
    Truncate { file: String, len: u64 },
    Zero { file: String, offset: u64, len: u64 },
    Delete { file: String },
    Duplicate { file: String, as_name: String },
    Swap { a: String, b: String },
    Foreign { file: String },
    EmptyFile { name: String },
    Junk { name: String, len: u64, seed: u64 },
    Unreadable { file: String },
}

impl Fault {
    fn class(&self) -> &'static str {
        match self {
            Fault::BitFlip { .. } => "bit flip",
            Fault::Truncate { .. } => "truncation",
            Fault::Zero { .. } => "zero-filled range",
            Fault::Delete { .. } => "deleted middle segment",
            Fault::Duplicate { .. } => "duplicated segment",
            Fault::Swap { .. } => "swapped names",
            Fault::Foreign { .. } => "segment from another log",
            Fault::EmptyFile { .. } => "empty file",
            Fault::Junk { .. } => "junk file",
            Fault::Unreadable { .. } => "unreadable file",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::BitFlip { file, offset, bit } => {
                write!(f, "flip bit {bit} of byte {offset} of {file}")
            }
            Fault::Truncate { file, len } => write!(f, "truncate {file} to {len} bytes"),
            Fault::Zero { file, offset, len } => {
                write!(f, "zero {len} bytes of {file} at {offset}")
            }
            Fault::Delete { file } => write!(f, "delete {file}"),
            Fault::Duplicate { file, as_name } => write!(f, "copy {file} to {as_name}"),
            Fault::Swap { a, b } => write!(f, "swap the names of {a} and {b}"),
            Fault::Foreign { file } => write!(f, "replace {file} by the same file of another log"),
            Fault::EmptyFile { name } => write!(f, "add an empty {name}"),
            Fault::Junk { name, len, seed } => {
                write!(f, "add {name}: {len} random bytes (seed {seed:#x})")
            }
            Fault::Unreadable { file } => write!(f, "chmod 000 {file}"),
        }
    }
}

#[derive(Clone, Debug)]
struct Case {
    n: usize,
    base: Base,
    fault: Fault,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case {} ({:?} log): {}", self.n, self.base, self.fault)
    }
}

struct Sizes {
    bitflips: u64,
    truncations: u64,
    zeros: u64,
}

/// Builds the corpus. Deterministic for a given seed and sizes.
fn corpus(seed: u64, sizes: &Sizes, include_unreadable: bool) -> Vec<Case> {
    let o = originals();
    let mut rng = Rng::new(seed);
    let mut faults: Vec<(Base, Fault)> = Vec::new();
    let layout = |b: Base| {
        if b == Base::Sealed {
            &o.layout_sealed
        } else {
            &o.layout_unsealed
        }
    };
    let pick_base = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            Base::Sealed
        } else {
            Base::Unsealed
        }
    };
    for _ in 0..sizes.bitflips {
        let base = pick_base(&mut rng);
        let l = layout(base);
        let s = &l.segs[rng.below(l.segs.len() as u64) as usize];
        // Half the flips land in a header (segment or block): they are few bytes among many.
        let offset = match rng.below(4) {
            0 => rng.below(64),
            1 => s.block_offsets[rng.below(s.block_offsets.len() as u64) as usize] + rng.below(64),
            _ => rng.below(s.len),
        };
        faults.push((
            base,
            Fault::BitFlip {
                file: s.name.clone(),
                offset,
                bit: rng.below(8) as u8,
            },
        ));
    }
    for _ in 0..sizes.truncations {
        let base = pick_base(&mut rng);
        let l = layout(base);
        let s = &l.segs[rng.below(l.segs.len() as u64) as usize];
        let len = match rng.below(4) {
            0 => rng.below(65), // inside the header
            1 => s.block_offsets[rng.below(s.block_offsets.len() as u64) as usize], // a block boundary
            _ => rng.below(s.len),
        };
        faults.push((
            base,
            Fault::Truncate {
                file: s.name.clone(),
                len,
            },
        ));
    }
    for _ in 0..sizes.zeros {
        let base = pick_base(&mut rng);
        let l = layout(base);
        let s = &l.segs[rng.below(l.segs.len() as u64) as usize];
        let (offset, len) = if rng.below(2) == 0 {
            // sector-sized, sector-aligned (what a lost write looks like)
            let off = rng.below(s.len.div_ceil(512)) * 512;
            (off, 512 * rng.range(1, 4))
        } else {
            (rng.below(s.len), rng.range(1, 300))
        };
        let len = len.min(s.len - offset).max(1);
        faults.push((
            base,
            Fault::Zero {
                file: s.name.clone(),
                offset,
                len,
            },
        ));
    }
    for base in [Base::Sealed, Base::Unsealed] {
        let l = layout(base);
        let n = l.segs.len();
        let names: Vec<String> = l.segs.iter().map(|s| s.name.clone()).collect();
        for name in &names[1..n - 1] {
            faults.push((base, Fault::Delete { file: name.clone() }));
        }
        for (k, name) in names.iter().enumerate() {
            faults.push((
                base,
                Fault::Duplicate {
                    file: name.clone(),
                    as_name: seg_name(100 + k as u64),
                },
            ));
            faults.push((
                base,
                Fault::Duplicate {
                    file: name.clone(),
                    as_name: format!("copy-of-{k}.wal"),
                },
            ));
        }
        for k in 0..n - 1 {
            faults.push((
                base,
                Fault::Swap {
                    a: names[k].clone(),
                    b: names[k + 1].clone(),
                },
            ));
        }
        for _ in 0..4 {
            let a = rng.below(n as u64) as usize;
            let b = (a + 1 + rng.below(n as u64 - 1) as usize) % n;
            faults.push((
                base,
                Fault::Swap {
                    a: names[a].clone(),
                    b: names[b].clone(),
                },
            ));
        }
        // The first segment of a log chains from the seed, so a first segment taken from another
        // log is only detectable at the next segment: see `foreign_first_segment_*` below.
        for name in &names[1..] {
            faults.push((base, Fault::Foreign { file: name.clone() }));
        }
        for name in [seg_name(n as u64 + 1), seg_name(0), "empty.wal".to_string()] {
            faults.push((base, Fault::EmptyFile { name }));
        }
        for name in [
            seg_name(n as u64 + 1),
            seg_name(0),
            "junk.wal".to_string(),
            seg_name(n as u64 + 50),
        ] {
            for len in [1, 63, 64, 200, 4096] {
                faults.push((
                    base,
                    Fault::Junk {
                        name: name.clone(),
                        len,
                        seed: rng.next_u64(),
                    },
                ));
            }
        }
        if include_unreadable {
            for name in &names {
                faults.push((base, Fault::Unreadable { file: name.clone() }));
            }
        }
    }
    faults
        .into_iter()
        .enumerate()
        .map(|(n, (base, fault))| Case { n, base, fault })
        .collect()
}

/// Copies the original into `dir` (emptied first) and applies the fault.
fn materialize(case: &Case, dir: &Path) {
    let o = originals();
    let (orig, foreign) = match case.base {
        Base::Sealed => (&o.sealed, &o.foreign_sealed),
        Base::Unsealed => (&o.unsealed, &o.foreign_unsealed),
    };
    clear_dir(dir);
    copy_wal_files(orig, dir);
    let p = |name: &str| dir.join(name);
    match &case.fault {
        Fault::BitFlip { file, offset, bit } => {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(p(file))
                .expect("open");
            let mut b = [0u8; 1];
            f.read_exact_at(&mut b, *offset).expect("read byte");
            b[0] ^= 1 << bit;
            f.write_all_at(&b, *offset).expect("write byte");
        }
        Fault::Truncate { file, len } => {
            OpenOptions::new()
                .write(true)
                .open(p(file))
                .expect("open")
                .set_len(*len)
                .expect("truncate");
        }
        Fault::Zero { file, offset, len } => {
            let f = OpenOptions::new().write(true).open(p(file)).expect("open");
            f.write_all_at(&vec![0u8; *len as usize], *offset)
                .expect("zero");
        }
        Fault::Delete { file } => fs::remove_file(p(file)).expect("delete"),
        Fault::Duplicate { file, as_name } => {
            fs::copy(p(file), p(as_name)).expect("duplicate");
        }
        Fault::Swap { a, b } => {
            fs::rename(p(a), p("swap.tmp")).expect("rename");
            fs::rename(p(b), p(a)).expect("rename");
            fs::rename(p("swap.tmp"), p(b)).expect("rename");
        }
        Fault::Foreign { file } => {
            fs::copy(foreign.join(file), p(file)).expect("copy foreign");
        }
        Fault::EmptyFile { name } => fs::write(p(name), b"").expect("empty file"),
        Fault::Junk { name, len, seed } => {
            let mut r = Rng::new(*seed);
            let mut b: Vec<u8> = (0..*len).map(|_| r.next_u64() as u8).collect();
            if *len >= 4 && seed % 2 == 0 {
                b[..4].copy_from_slice(b"WALS"); // junk that starts like a segment
            }
            fs::write(p(name), &b).expect("junk");
        }
        Fault::Unreadable { file } => {
            fs::set_permissions(p(file), fs::Permissions::from_mode(0o000)).expect("chmod");
        }
    }
}

#[derive(Default)]
struct Tally {
    cases: u64,
    replays: u64,
    panics: u64,
    hangs: u64,
    wrong_payloads: u64,
    order_violations: u64,
    unaccounted: u64,
    report_mismatches: u64,
    strict_violations: u64,
    delivered: u64,
    accounted: std::collections::BTreeMap<Accounted, u64>,
    by_class: std::collections::BTreeMap<&'static str, u64>,
    failures: Vec<String>,
    slowest: Duration,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.cases += o.cases;
        self.replays += o.replays;
        self.panics += o.panics;
        self.hangs += o.hangs;
        self.wrong_payloads += o.wrong_payloads;
        self.order_violations += o.order_violations;
        self.unaccounted += o.unaccounted;
        self.report_mismatches += o.report_mismatches;
        self.strict_violations += o.strict_violations;
        self.delivered += o.delivered;
        for (k, v) in o.accounted {
            *self.accounted.entry(k).or_default() += v;
        }
        for (k, v) in o.by_class {
            *self.by_class.entry(k).or_default() += v;
        }
        self.failures.extend(o.failures);
        self.slowest = self.slowest.max(o.slowest);
    }
}

/// The log the case leaves *as a crash could have left it*: cutting the unsealed last segment
/// exactly at a block boundary is indistinguishable from a writer that crashed before writing
/// that block, so the events after the cut were never part of the log (nothing can detect them).
fn effective_layout(case: &Case) -> Layout {
    let o = originals();
    let mut l = if case.base == Base::Sealed {
        o.layout_sealed.clone()
    } else {
        o.layout_unsealed.clone()
    };
    if let Fault::Truncate { file, len } = &case.fault {
        let last = l.segs.last_mut().expect("segments");
        if !last.sealed && &last.name == file {
            if let Some(k) = last.block_offsets.iter().position(|&b| b == *len) {
                // Ids of blocks 0..k stay; find the first id of block k by replaying the original.
                let orig = o.unsealed.join(file);
                let r = wal_recovery::SegmentReader::open_verified(&orig).expect("open original");
                last.end = r.index()[k].first_event_id;
                l.end = last.end;
            }
        }
    }
    l
}

/// Ids of the original a crash could have left off disk in this damaged copy, so that a Strict
/// replay may end clean without them: only in the unsealed last segment, and only when the
/// damaged file is a prefix of the original followed by nothing but zeros — what an interrupted
/// append leaves (the writer appends whole blocks with `write`), or a power loss that persisted
/// the file size before the data. The ids of every block not wholly inside that prefix.
fn crash_explained(case: &Case, dir: &Path, layout: &Layout) -> Option<(u64, u64)> {
    let file = match &case.fault {
        Fault::BitFlip { file, .. } | Fault::Truncate { file, .. } | Fault::Zero { file, .. } => {
            file
        }
        _ => return None,
    };
    let last = layout
        .segs
        .last()
        .filter(|s| !s.sealed && &s.name == file)?;
    let orig_path = originals().unsealed.join(file);
    let orig = fs::read(&orig_path).expect("read original");
    let damaged = fs::read(dir.join(file)).unwrap_or_default();
    let common = orig
        .iter()
        .zip(&damaged)
        .take_while(|(a, b)| a == b)
        .count();
    if common < 64 || damaged[common..].iter().any(|&b| b != 0) {
        return None;
    }
    let r = wal_recovery::SegmentReader::open_verified(&orig_path).expect("open original");
    let first_cut = r
        .index()
        .iter()
        .find(|e| e.payload_end.next_multiple_of(64) > common)
        .map(|e| e.first_event_id)?;
    (first_cut < last.end).then_some((first_cut, last.end - 1))
}

/// The invariant: a Strict replay that ends clean (`Ok(None)`) has a clean report, and every
/// event of the original was delivered but those a crash could have left off disk.
fn strict_violation(
    out: &Outcome,
    layout: &Layout,
    explained: Option<(u64, u64)>,
) -> Option<String> {
    if out.open_err.is_some() || out.end_err.is_some() || out.runaway {
        return None;
    }
    let report = out.report.as_ref()?;
    if !report.is_clean() {
        return Some("Strict ended clean but the report is not clean".into());
    }
    let got: std::collections::HashSet<u64> = out.ids.iter().copied().collect();
    let missing: Vec<u64> = (layout.first..layout.end)
        .filter(|id| !got.contains(id) && !explained.is_some_and(|(a, b)| (a..=b).contains(id)))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "Strict ended clean without original events [{}] (no crash leaves them off disk)",
            ranges_of(&missing)
        )
    })
}

fn run_case(case: &Case, dir: &Path, t: &mut Tally) -> bool {
    let layout = &effective_layout(case);
    materialize(case, dir);
    let explained = crash_explained(case, dir, layout);
    t.cases += 1;
    *t.by_class.entry(case.fault.class()).or_default() += 1;
    let mut dir_usable = true;
    for mode in MODES {
        t.replays += 1;
        let max = 4 * layout.count() as usize + 16;
        let how = Reading::alternating(t.replays);
        match guarded_replay_by(dir, ropts(mode), max, LIMIT, how) {
            Run::Panicked(p) => {
                t.panics += 1;
                t.failures
                    .push(format!("{case} [{mode:?} {how:?}]: PANIC: {p}"));
            }
            Run::Hung => {
                t.hangs += 1;
                t.failures
                    .push(format!("{case} [{mode:?} {how:?}]: HANG (> {LIMIT:?})"));
                dir_usable = false; // the abandoned thread may still read it
                break;
            }
            Run::Done(out) => {
                t.slowest = t.slowest.max(out.elapsed);
                let v = account(&out, mode, layout);
                t.wrong_payloads += v.wrong_payloads;
                t.order_violations += v.order_violations;
                t.unaccounted += v.unaccounted.len() as u64;
                t.delivered += v.delivered;
                for (k, n) in &v.accounted {
                    *t.accounted.entry(*k).or_default() += n;
                }
                if v.report_mismatch.is_some() {
                    t.report_mismatches += 1;
                }
                let strict = (mode == RecoveryMode::Strict)
                    .then(|| strict_violation(&out, layout, explained))
                    .flatten();
                if let Some(s) = &strict {
                    t.strict_violations += 1;
                    t.failures.push(format!(
                        "{case} [{mode:?} {how:?}]: {s}; delivered {} ({}); torn {:?}",
                        out.ids.len(),
                        ranges_of(&out.ids),
                        out.report
                            .as_ref()
                            .and_then(|r| r.torn_tail.as_ref().map(|t| (
                                t.offset,
                                t.bytes,
                                t.reason.clone()
                            ))),
                    ));
                }
                if !v.ok() {
                    let r = out.report.as_ref();
                    t.failures.push(format!(
                        "{case} [{mode:?} {how:?}]: wrong payloads {:?}, order violations {}, unaccounted [{}], {:?}; \
                         delivered {} ({}); open error {:?}; end error {:?}; lost {:?}; torn {:?}; stopped {:?}",
                        &out.wrong[..out.wrong.len().min(5)],
                        v.order_violations,
                        ranges_of(&v.unaccounted),
                        v.report_mismatch,
                        out.ids.len(),
                        ranges_of(&out.ids),
                        out.open_err,
                        out.end_err,
                        r.map(|r| r.lost.iter().map(|l| (l.first_id, l.last_id, l.reason.clone())).collect::<Vec<_>>()),
                        r.and_then(|r| r.torn_tail.as_ref().map(|t| (t.offset, t.bytes))),
                        r.and_then(|r| r.stopped.clone()),
                    ));
                }
            }
        }
    }
    dir_usable
}

/// Runs the corpus on two threads (the machine has two cores) and prints the summary.
fn run_corpus(label: &str, seed: u64, sizes: Sizes, only_class: Option<&str>) -> Tally {
    let root = is_root();
    if root {
        println!(
            "faults: running as root (euid 0): the unreadable-file (chmod 000) cases are SKIPPED here — root ignores \
             permissions; `unreadable_files_as_unprivileged_user` runs them in a child that drops to uid 65534"
        );
    }
    let mut cases = corpus(seed, &sizes, !root);
    if let Some(class) = only_class {
        cases.retain(|c| c.fault.class() == class);
    }
    let started = Instant::now();
    let next = Mutex::new(0usize);
    let total = Mutex::new(Tally::default());
    let workers = 2;
    std::thread::scope(|s| {
        for w in 0..workers {
            let (cases, next, total) = (&cases, &next, &total);
            s.spawn(move || {
                let tmp = tempdir(&format!("faults-w{w}"));
                let mut dir = tmp.path().join("log");
                fs::create_dir_all(&dir).expect("mkdir");
                let mut t = Tally::default();
                let mut spare = 0;
                loop {
                    let i = {
                        let mut g = next.lock().expect("lock");
                        let i = *g;
                        *g += 1;
                        i
                    };
                    let Some(case) = cases.get(i) else { break };
                    if !run_case(case, &dir, &mut t) {
                        // A hung replay may still use the directory: leave it, take a new one.
                        spare += 1;
                        dir = tmp.path().join(format!("log{spare}"));
                        fs::create_dir_all(&dir).expect("mkdir");
                    }
                }
                // Restore permissions so the temp dir can be removed by a non-root user.
                for p in wal_files(&dir) {
                    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o644));
                }
                total.lock().expect("lock").merge(t);
            });
        }
    });
    let t = total.into_inner().expect("lock");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "faults[{label}]: seed {seed:#x}; {} replays ({} modes) in {secs:.1} s, slowest replay {:?}; events delivered {}; \
         accounted undelivered {:?}; order violations {}, report mismatches {}",
        t.replays,
        MODES.len(),
        t.slowest,
        t.delivered,
        t.accounted,
        t.order_violations,
        t.report_mismatches
    );
    println!("faults[{label}]: cases per class {:?}", t.by_class);
    for f in t
        .failures
        .iter()
        .take(env_count("WALH_FAULT_SHOW", 25) as usize)
    {
        println!("FAIL {f}");
    }
    println!(
        "faults: {} cases, {} panics, {} hangs, {} wrong payloads, {} unaccounted events, {} clean Strict ends on an \
         incomplete log",
        t.cases,
        t.panics,
        t.hangs,
        t.wrong_payloads + t.order_violations,
        t.unaccounted,
        t.strict_violations
    );
    t
}

fn assert_clean(t: &Tally) {
    assert_eq!(
        (
            t.panics,
            t.hangs,
            t.wrong_payloads,
            t.order_violations,
            t.unaccounted,
            t.report_mismatches,
            t.strict_violations
        ),
        (0, 0, 0, 0, 0, 0, 0),
        "fault corpus failed: {} failing replays, first: {:?}",
        t.failures.len(),
        t.failures.first()
    );
}

/// CI size: ≥ 2 000 bit flips plus every other fault class.
#[test]
fn fault_corpus() {
    let seed = env_seed("WALH_FAULT_SEED", DEFAULT_SEED);
    let sizes = Sizes {
        bitflips: env_count("WALH_FAULT_BITFLIPS", 2000),
        truncations: env_count("WALH_FAULT_TRUNCATIONS", 300),
        zeros: env_count("WALH_FAULT_ZEROS", 300),
    };
    let t = run_corpus("ci", seed, sizes, None);
    assert_clean(&t);
}

/// Long run: `cargo test --release --test hardening_faults -- --ignored fault_corpus_long`.
#[test]
#[ignore = "long run (~10x the CI corpus); run with --release --ignored"]
fn fault_corpus_long() {
    let seed = env_seed("WALH_FAULT_SEED", DEFAULT_SEED ^ 0x10C0);
    let sizes = Sizes {
        bitflips: env_count("WALH_FAULT_BITFLIPS", 20_000),
        truncations: env_count("WALH_FAULT_TRUNCATIONS", 3_000),
        zeros: env_count("WALH_FAULT_ZEROS", 3_000),
    };
    let t = run_corpus("long", seed, sizes, None);
    assert_clean(&t);
}

/// Child: drops root privileges (uid/gid 65534) and runs the unreadable-file cases, which root
/// would read regardless of permissions.
#[test]
#[ignore = "helper: child process of unreadable_files_as_unprivileged_user"]
fn unreadable_child() {
    if std::env::var_os("WALH_UNREADABLE_CHILD").is_none() {
        return;
    }
    // SAFETY: setgroups/setgid/setuid with no memory arguments but an empty group list.
    let dropped = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setgid(65534) == 0
            && libc::setuid(65534) == 0
    };
    if !dropped || is_root() {
        println!("UNREADABLE-SKIP: cannot drop privileges");
        return;
    }
    let sizes = Sizes {
        bitflips: 0,
        truncations: 0,
        zeros: 0,
    };
    let t = run_corpus("unreadable", DEFAULT_SEED, sizes, Some("unreadable file"));
    assert!(t.cases > 0);
    assert_clean(&t);
    println!("UNREADABLE-OK");
}

/// chmod 000 segment files. As an unprivileged user: in-process, in `fault_corpus`. As root: in a
/// child that drops to uid 65534 first (or skipped, saying so, when that fails).
#[test]
fn unreadable_files_as_unprivileged_user() {
    if !is_root() {
        println!("faults: not root: the unreadable-file cases run inside fault_corpus");
        return;
    }
    let out = reexec(
        "unreadable_child",
        &[("WALH_UNREADABLE_CHILD", std::ffi::OsStr::new("1"))],
    )
    .output()
    .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("faults") || l.starts_with("FAIL"))
    {
        println!("{line}");
    }
    if stdout.contains("UNREADABLE-SKIP") {
        println!(
            "faults: unreadable-file cases SKIPPED: running as root and cannot drop privileges"
        );
        return;
    }
    assert!(
        out.status.success() && stdout.contains("UNREADABLE-OK"),
        "unreadable-file child failed: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Known bugs and limitations: minimal deterministic reproductions
// ---------------------------------------------------------------------------------------------

/// A fresh copy of the sealed original in its own temp dir.
fn fresh_copy(tag: &str) -> (TempDir, PathBuf, Layout) {
    let o = originals();
    let tmp = tempdir(tag);
    let dir = tmp.path().join("log");
    copy_wal_files(&o.sealed, &dir);
    (tmp, dir, o.layout_sealed.clone())
}

fn done(run: Run) -> Outcome {
    match run {
        Run::Done(o) => *o,
        other => panic!("replay did not complete: {other:?}"),
    }
}

/// Regression test for (former) BUG-1, fixed by `Manager::leading_damage`: a closed 8-segment
/// log whose first segment header is damaged (byte 0). The scan sees
/// `00000000000000000001.wal` as unusable and every mode accounts for its ids: Strict fails
/// (typed error), StopAtCorruption stops with `report.stopped`, SkipCorrupted lists the missing
/// ids in `report.lost`. (Before the fix, every mode started silently at the second segment.)
#[test]
fn unusable_first_segment_is_accounted() {
    let (_tmp, dir, layout) = fresh_copy("bug1");
    let first = dir.join(&layout.segs[0].name);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&first)
        .expect("open");
    f.write_all_at(b"X", 0).expect("damage header magic");
    for mode in MODES {
        let out = done(guarded_replay(&dir, ropts(mode), 10_000, LIMIT));
        let v = account(&out, mode, &layout);
        assert!(
            v.ok(),
            "{mode:?}: unaccounted [{}], delivered {}, open error {:?}, end error {:?}, lost {:?}",
            ranges_of(&v.unaccounted),
            ranges_of(&out.ids),
            out.open_err,
            out.end_err,
            out.report.as_ref().map(|r| &r.lost)
        );
    }
}

/// SkipCorrupted: a closed 8-segment log whose `00000000000000000003.wal` is replaced by the
/// same-numbered segment of another log written with the same options (same ids and layout,
/// different payloads). The segment chains with neither neighbour, so it is not delivered: the
/// break is reported and its ids go to `report.lost` (Strict and StopAtCorruption stop there).
#[test]
fn skip_mode_never_delivers_a_segment_from_another_log() {
    let o = originals();
    let (_tmp, dir, layout) = fresh_copy("bug2");
    let name = &layout.segs[2].name;
    // Format 1 on both sides: format 2 refuses the mix at open (`Error::MixedLogs`, every mode),
    // before the chain checks this test is about.
    to_format_1(&dir);
    let foreign = _tmp.path().join("foreign");
    copy_wal_files(&o.foreign_sealed, &foreign);
    to_format_1(&foreign);
    fs::copy(foreign.join(name), dir.join(name)).expect("replace segment");
    let out = done(guarded_replay(
        &dir,
        ropts(RecoveryMode::SkipCorrupted),
        10_000,
        LIMIT,
    ));
    let r = out.report.as_ref().expect("report");
    assert!(
        r.continuity.iter().any(|c| c.kind == "broken chain"),
        "the break is detected"
    );
    let v = account(&out, RecoveryMode::SkipCorrupted, &layout);
    assert!(
        v.ok(),
        "wrong payloads for ids [{}]; lost {:?}",
        ranges_of(&out.wrong),
        r.lost
    );
}

/// No mode may deliver a payload that is not the log's: a first segment from another log breaks
/// the chain with its successor (visible from the scanned headers alone: sealed `last_chain` of
/// segment 1 ≠ `prev_chain` of segment 2, while 2 chains on), so it is refused before the first
/// event is delivered (Strict fails, Stop stops, Skip reports its ids lost).
#[test]
fn foreign_first_segment_is_never_delivered() {
    let o = originals();
    let (_tmp, dir, layout) = fresh_copy("bug3");
    let name = &layout.segs[0].name;
    // Format 1 on both sides: format 2 refuses the mix at open (`Error::MixedLogs`, every mode),
    // before the chain checks this test is about.
    to_format_1(&dir);
    let foreign = _tmp.path().join("foreign");
    copy_wal_files(&o.foreign_sealed, &foreign);
    to_format_1(&foreign);
    fs::copy(foreign.join(name), dir.join(name)).expect("replace segment");
    let first = &layout.segs[0];
    for mode in MODES {
        let out = done(guarded_replay(&dir, ropts(mode), 10_000, LIMIT));
        assert!(
            out.wrong.is_empty(),
            "{mode:?}: wrong payloads for ids [{}]",
            ranges_of(&out.wrong)
        );
        match mode {
            // Two logs' segments in one chain: refused at open, nothing delivered.
            RecoveryMode::Strict => {
                assert!(out.ids.is_empty(), "strict delivered {} ids", out.ids.len());
                let e = out.open_err.as_deref().expect("strict open must fail");
                assert!(e.contains("broken chain"), "{e}");
            }
            // Stops before the foreign first segment: nothing delivered, the reason reported.
            RecoveryMode::StopAtCorruption => {
                assert!(out.ids.is_empty(), "stop delivered {} ids", out.ids.len());
                let r = out.report.as_ref().expect("report");
                assert!(
                    r.stopped
                        .as_deref()
                        .is_some_and(|s| s.contains("broken chain")),
                    "{:?}",
                    r.stopped
                );
            }
            // Skips it: its ids are reported lost; everything after is delivered.
            RecoveryMode::SkipCorrupted => {
                let r = out.report.as_ref().expect("report");
                assert!(
                    r.lost
                        .iter()
                        .any(|l| l.first_id == first.first && l.last_id == Some(first.end - 1)),
                    "{:?}",
                    r.lost
                );
                assert_eq!(
                    out.ids.first().copied(),
                    Some(first.end),
                    "delivery starts after it"
                );
            }
        }
    }
}
