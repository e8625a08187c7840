//! The checker, and the explorer loop that feeds it crash states.
//!
//! For every crash state, in every recovery mode, through the real [`Manager`]:
//! * every event up to the last id whose `sync` (or `close`) returned is delivered, with its
//!   exact payload; no payload is ever wrong; ids strictly increase (contiguously in Strict);
//! * Strict does not fail (a state a crash can produce is not damage).
//!
//! Then a new [`Writer`] opens the directory, must continue right after the last event Strict
//! delivered, appends events with another salt and closes, and a second Strict recovery must
//! deliver the whole log, old and new, cleanly.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, Writer};

use super::model::{sectors, Class, Keep};
use super::trace::Op;
use super::workload::{payload, Recorded};
use super::Rng;

/// Salt of the events appended after reopening a crash state.
const AFTER_SALT: u64 = 0x5EED_AF7E;
/// Events appended after reopening.
const AFTER_EVENTS: u64 = 3;

const MODES: [RecoveryMode; 3] = [
    RecoveryMode::Strict,
    RecoveryMode::StopAtCorruption,
    RecoveryMode::SkipCorrupted,
];

/// Replays `log` in `mode` and checks every payload (salt `salt` up to `switch`, `AFTER_SALT`
/// after). Returns the last id delivered (0: none) and whether the report is clean.
pub fn replay(
    log: &Path,
    mode: RecoveryMode,
    salt: u64,
    max: u32,
    switch: u64,
    promised: u64,
) -> Result<(u64, bool), String> {
    if !log.exists() {
        if promised > 0 {
            return Err(format!(
                "{}: the log directory is gone, but {promised} was synced",
                mode.as_str()
            ));
        }
        return Ok((0, true));
    }
    let opts = RecoveryOptions {
        mode,
        ..RecoveryOptions::default()
    };
    let mut m =
        Manager::open(log, opts).map_err(|e| format!("{}: open failed: {e}", mode.as_str()))?;
    let mut last = 0u64;
    // Ids 1..=prefix were all delivered.
    let mut prefix = 0u64;
    loop {
        match m.next() {
            Ok(Some(ev)) => {
                if ev.id <= last {
                    return Err(format!("{}: id {} after {last}", mode.as_str(), ev.id));
                }
                if mode == RecoveryMode::Strict && ev.id != last + 1 {
                    return Err(format!(
                        "{}: id {} after {last} (a gap)",
                        mode.as_str(),
                        ev.id
                    ));
                }
                let want = if ev.id <= switch {
                    payload(salt, max, ev.id)
                } else {
                    payload(AFTER_SALT, max, ev.id)
                };
                if ev.payload != want.as_slice() {
                    return Err(format!("{}: WRONG PAYLOAD for id {}", mode.as_str(), ev.id));
                }
                if ev.id == prefix + 1 {
                    prefix = ev.id;
                }
                last = ev.id;
            }
            Ok(None) => break,
            Err(e) => return Err(format!("{}: failed after id {last}: {e}", mode.as_str())),
        }
    }
    if prefix < promised {
        return Err(format!(
            "{}: delivered 1..={prefix} (last {last}), but {promised} was synced",
            mode.as_str()
        ));
    }
    Ok((last, m.report().is_clean()))
}

/// Checks one crash state of `rec` (materialized under `root`), promised up to `promised`.
pub fn check_state(rec: &Recorded, root: &Path, promised: u64) -> Result<(), String> {
    let spec = &rec.spec;
    let log = root.join(&spec.log_rel);
    let (salt, max) = (spec.seed, spec.max_payload);
    let mut strict_last = 0;
    for mode in MODES {
        let (last, _) = replay(&log, mode, salt, max, u64::MAX, promised)?;
        if mode == RecoveryMode::Strict {
            strict_last = last;
        }
    }
    let mut w = Writer::open(&log, spec.opts()).map_err(|e| format!("reopen failed: {e}"))?;
    if w.next_event_id() != strict_last + 1 {
        return Err(format!(
            "reopened writer continues at {}, Strict delivered up to {strict_last}",
            w.next_event_id()
        ));
    }
    for _ in 0..AFTER_EVENTS {
        let id = w.next_event_id();
        w.append(&payload(AFTER_SALT, max, id))
            .map_err(|e| format!("append after reopen: {e}"))?;
    }
    w.close().map_err(|e| format!("close after reopen: {e}"))?;
    let end = strict_last + AFTER_EVENTS;
    let (last, clean) = replay(&log, RecoveryMode::Strict, salt, max, strict_last, end)
        .map_err(|e| format!("second recovery: {e}"))?;
    if last != end || !clean {
        return Err(format!(
            "second recovery: delivered up to {last} (want {end}), clean report: {clean}"
        ));
    }
    Ok(())
}

/// What an exploration found.
#[derive(Debug, Default)]
pub struct Totals {
    pub traces: usize,
    pub ops: usize,
    pub states: usize,
    pub failures: Vec<String>,
}

impl Totals {
    pub fn add(&mut self, o: Totals) {
        self.traces += o.traces;
        self.ops += o.ops;
        self.states += o.states;
        self.failures.extend(o.failures);
    }
}

/// The crash-state choices tried at each cut, in this order.
#[derive(Clone, Copy, Debug)]
enum Variant {
    /// Nothing un-synced survives.
    None,
    /// Everything survives.
    All,
    /// An in-order prefix survives, the last survivor maybe only in part.
    Prefix,
    /// Name changes at random, all data.
    Names,
    /// All names, data at random (whole, dropped, or in part, reordered).
    Data,
    /// One multi-sector write loses an inner sector while later ones persist; the rest survives.
    Hole,
    /// Everything at random.
    Random,
}

const VARIANTS: [Variant; 7] = [
    Variant::None,
    Variant::All,
    Variant::Prefix,
    Variant::Names,
    Variant::Data,
    Variant::Hole,
    Variant::Random,
];

/// The keep of every un-synced write in `un` from a choice per `gran`-aligned sector of each
/// file: the sector holds its content after the first `cut(file, sector, n)` of the `n`
/// un-synced writes that touch it (0: its durable content; `n`: its content at the cut).
/// That is what the page cache can leave on disk: a sector is written back whole, with every
/// write made to it so far, and sectors are written back in any order.
fn sector_keeps(
    m: &super::model::Model,
    un: &[usize],
    gran: u64,
    mut cut: impl FnMut(u64, u64, usize) -> usize,
) -> HashMap<usize, Keep> {
    let mut writers: std::collections::BTreeMap<(u64, u64), Vec<usize>> = Default::default();
    for &i in un {
        if let (Class::Data(f), Op::Write { off, data, .. }) = (m.class(i), &m.ops[i]) {
            for (lo, _) in sectors(*off, data.len() as u64, gran) {
                writers.entry((f, lo / gran)).or_default().push(i);
            }
        }
    }
    let mut applied: HashSet<(usize, u64)> = HashSet::new();
    for (&(f, sector), ws) in &writers {
        let c = cut(f, sector, ws.len());
        for &w in ws.iter().take(c) {
            applied.insert((w, sector));
        }
    }
    let mut keep = HashMap::new();
    for &i in un {
        if let Op::Write { off, data, .. } = &m.ops[i] {
            let mask: Vec<bool> = sectors(*off, data.len() as u64, gran)
                .map(|(lo, _)| applied.contains(&(i, lo / gran)))
                .collect();
            let k = if mask.iter().all(|&b| b) {
                Keep::Yes
            } else if mask.iter().all(|&b| !b) {
                Keep::No
            } else {
                Keep::Part { gran, mask }
            };
            keep.insert(i, k);
        }
    }
    keep
}

fn prefix_part(r: &mut Rng, off: u64, len: u64) -> Keep {
    let gran = if r.chance(1, 2) { 512 } else { 4096 };
    let s = sectors(off, len, gran).count();
    let upto = r.below(s as u64 + 1) as usize;
    Keep::Part {
        gran,
        mask: (0..s).map(|x| x < upto).collect(),
    }
}

/// The keep of each un-synced op for variant `v` at cut `k`, or `None` when the variant has
/// nothing to vary there. Without `holes`, un-synced data of each file survives only as an
/// in-order prefix (no write kept after one lost, no sector kept after one lost).
fn choose(
    rec: &Recorded,
    k: usize,
    v: Variant,
    holes: bool,
    r: &mut Rng,
) -> Option<HashMap<usize, Keep>> {
    let m = &rec.model;
    let un = m.unsynced(k);
    let write_of = |i: usize| match &m.ops[i] {
        Op::Write { off, data, .. } => Some((*off, data.len() as u64)),
        _ => None,
    };
    let mut keep = HashMap::new();
    match v {
        Variant::None => {
            for &i in &un {
                keep.insert(i, Keep::No);
            }
        }
        Variant::All => {}
        Variant::Prefix => {
            if un.is_empty() {
                return None;
            }
            let p = r.below(un.len() as u64) as usize;
            for (n, &i) in un.iter().enumerate() {
                if n > p {
                    keep.insert(i, Keep::No);
                } else if n == p {
                    if let Some((off, len)) = write_of(i) {
                        keep.insert(i, prefix_part(r, off, len));
                    }
                }
            }
        }
        Variant::Names | Variant::Data | Variant::Random => {
            let mut any = false;
            // Without holes: per file, where its un-synced data stops.
            let mut stop: HashMap<u64, usize> = HashMap::new();
            if !holes {
                for &i in &un {
                    if let Class::Data(f) = m.class(i) {
                        *stop.entry(f).or_insert(0) += 1;
                    }
                }
                for n in stop.values_mut() {
                    *n = r.below(*n as u64 + 1) as usize;
                }
            }
            let mut seen: HashMap<u64, usize> = HashMap::new();
            let gran = if r.chance(1, 2) { 512 } else { 4096 };
            let sector_choice = if holes && !matches!(v, Variant::Names) {
                sector_keeps(m, &un, gran, |_, _, n| match r.below(3) {
                    0 => 0,
                    1 => n,
                    _ => r.below(n as u64 + 1) as usize,
                })
            } else {
                HashMap::new()
            };
            for &i in &un {
                let is_name = matches!(m.class(i), Class::Name(_));
                let random = match v {
                    Variant::Names => is_name,
                    Variant::Data => !is_name,
                    _ => true,
                };
                if !random {
                    continue;
                }
                any = true;
                if let (false, Class::Data(f)) = (holes, m.class(i)) {
                    let n = seen.entry(f).or_insert(0);
                    let choice = match (*n).cmp(&stop[&f]) {
                        std::cmp::Ordering::Less => Keep::Yes,
                        std::cmp::Ordering::Equal => match write_of(i) {
                            Some((off, len)) => prefix_part(r, off, len),
                            None => Keep::No,
                        },
                        std::cmp::Ordering::Greater => Keep::No,
                    };
                    *n += 1;
                    keep.insert(i, choice);
                    continue;
                }
                let choice = match sector_choice.get(&i) {
                    Some(k) => k.clone(),
                    // Names, and data that is not a write (truncation), whole or not at all.
                    None if r.chance(1, 3) => Keep::No,
                    None => Keep::Yes,
                };
                keep.insert(i, choice);
            }
            if !any {
                return None;
            }
        }
        Variant::Hole => {
            if !holes {
                return None;
            }
            // One sector of an un-synced write keeps its durable content while every other
            // sector, later ones included, holds its content at the cut.
            let gran = if r.chance(1, 2) { 512 } else { 4096 };
            let mut cands: Vec<(u64, u64)> = Vec::new();
            let mut last: HashMap<u64, u64> = HashMap::new();
            for &i in &un {
                if let (Class::Data(f), Some((off, len))) = (m.class(i), write_of(i)) {
                    for (lo, _) in sectors(off, len, gran) {
                        cands.push((f, lo / gran));
                        let e = last.entry(f).or_insert(0);
                        *e = (*e).max(lo / gran);
                    }
                }
            }
            cands.retain(|(f, s)| last.get(f).is_some_and(|&l| *s < l));
            if cands.is_empty() {
                return None;
            }
            let hole = cands[r.below(cands.len() as u64) as usize];
            keep = sector_keeps(m, &un, gran, |f, s, n| if (f, s) == hole { 0 } else { n });
        }
    }
    Some(keep)
}

/// Explores up to `budget` distinct crash states of `rec`: cut points right before and right
/// after every sync call and marker first, then the others, each with the [`VARIANTS`].
pub fn explore(rec: &Recorded, budget: usize, seed: u64, holes: bool, scratch: &Path) -> Totals {
    let mut r = Rng::new(seed);
    let n = rec.model.ops.len();
    let mut key_cuts = Vec::new();
    let mut other_cuts = Vec::new();
    for k in 0..=n {
        let near_sync = |i: usize| {
            i < n
                && (matches!(rec.model.class(i), Class::Sync { .. })
                    || matches!(rec.model.ops[i], Op::Mark(_)))
        };
        if near_sync(k) || (k > 0 && near_sync(k - 1)) || k == n {
            key_cuts.push(k);
        } else {
            other_cuts.push(k);
        }
    }
    // Shuffle each group (seeded), so a budget smaller than the cuts still spreads over the run.
    for v in [&mut key_cuts, &mut other_cuts] {
        for i in (1..v.len()).rev() {
            let j = r.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
    let mut seen = HashSet::new();
    let mut t = Totals {
        traces: 1,
        ops: n,
        ..Totals::default()
    };
    let mut attempts = 0usize;
    'outer: for round in 0..4 {
        for &k in key_cuts.iter().chain(other_cuts.iter()) {
            for v in VARIANTS {
                if t.states >= budget || attempts > budget * 20 {
                    break 'outer;
                }
                // Round 0 tries every variant once; later rounds only the random ones.
                if round > 0 && matches!(v, Variant::None | Variant::All) {
                    continue;
                }
                attempts += 1;
                let Some(keep) = choose(rec, k, v, holes, &mut r) else {
                    continue;
                };
                let img = rec.model.state(k, &keep);
                let promised = rec.promised(k);
                if !seen.insert((img.fingerprint(), promised)) {
                    continue;
                }
                t.states += 1;
                let dir = scratch.join(format!("s{}", t.states));
                img.materialize(&dir);
                let out = catch_unwind(AssertUnwindSafe(|| check_state(rec, &dir, promised)));
                let _ = std::fs::remove_dir_all(&dir);
                let err = match out {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(p) => format!(
                        "panic: {}",
                        p.downcast_ref::<String>()
                            .cloned()
                            .unwrap_or_else(|| "?".into())
                    ),
                };
                t.failures.push(format!(
                    "{} cut {k}/{n} {v:?} (promised {promised}): {err}",
                    rec.spec.name
                ));
            }
        }
    }
    t
}

/// The last id of the base log `log` (Strict, every payload checked), 0 when empty.
pub fn base_last(log: &Path, salt: u64, max: u32) -> u64 {
    replay(log, RecoveryMode::Strict, salt, max, u64::MAX, 0)
        .unwrap_or_else(|e| panic!("base log {}: {e}", log.display()))
        .0
}
