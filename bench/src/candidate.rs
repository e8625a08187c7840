//! wal_recovery's figures beside the rest of the run: replay as a fraction of the machine
//! limits measured on its own segment files, ratios to every peer and baseline, the goals,
//! the cold-cache ratio to a raw read of the same files, the segment-handoff latency
//! distribution (telemetry HDR histogram) and segment open+verify time against a raw CRC32C
//! pass over the same bytes.
//!
//! Every ratio is "how many times faster wal_recovery is": other median time / wal_recovery's
//! median time (the same events, so the same work); `best` variants use min times.

use std::{
    collections::BTreeMap,
    fs::File,
    hint::black_box,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;
use memmap2::Mmap;
use serde::Serialize;
use wal_recovery::{
    recovery::telemetry::{HistogramSummary, OpSnapshot},
    SegmentReader,
};

use crate::{
    limits::Limits,
    report::{ColdRead, ColdReplay, Stats, SystemResult},
    systems::{
        wal_recovery_sys::{PhaseStats, ReportCounters},
        Kind,
    },
};

/// Name of the FlashStrike-format row ([`crate::systems::flashstrike_format`]).
pub const FLASHSTRIKE_ROW: &str = "wal_recovery (FlashStrike v1 log)";

/// Name of the candidate row the goals are judged on (when it ran).
pub const PRIMARY: &str = "wal_recovery (Rust API)";
/// File name of the handoff-latency chart in `out_dir`.
pub const HANDOFF_CHART: &str = "handoff_latency.svg";

/// Every segment file (`*.wal`) directly in `dir`, sorted by name.
pub fn segment_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("read_dir {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == wal_recovery::segment::naming::EXTENSION)
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Segment open+verify against raw CRC32C passes over the same file.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentVerify {
    pub path: PathBuf,
    pub bytes: u64,
    pub events: u64,
    /// `SegmentReader::open_verified` (open, fstat, mmap, header, every block checked, sparse
    /// index); the unmap is excluded.
    pub open_verified: Stats,
    /// `File::open` + `Mmap::map` + `crc32c` over the whole file (faults included, unmap
    /// excluded): the same page-cache work with nothing but the CRC.
    pub fresh_map_crc32c: Stats,
    /// `crc32c` over the whole file through a map faulted in beforehand.
    pub faulted_map_crc32c: Stats,
    /// fresh_map_crc32c median / open_verified median (the goal figure).
    pub ratio_vs_fresh_map_crc: f64,
    /// Same with min times.
    pub ratio_vs_fresh_map_crc_best: f64,
    /// faulted_map_crc32c median / open_verified median.
    pub ratio_vs_faulted_map_crc: f64,
    pub open_verified_gb_s_median: f64,
    pub fresh_map_crc32c_gb_s_median: f64,
    pub faulted_map_crc32c_gb_s_median: f64,
}

/// Times `SegmentReader::open_verified` on `path` against raw CRC32C passes, `reps` times
/// each, interleaved. The file should be in the page cache (it is, right after the warm
/// replays).
pub fn measure_segment_verify(path: &Path, reps: usize) -> anyhow::Result<SegmentVerify> {
    let file = File::open(path)?;
    // SAFETY: the harness does not modify the file while it is mapped.
    let faulted = unsafe { Mmap::map(&file)? };
    black_box(wal_recovery::segment::checksum::crc32c(black_box(&faulted)));
    let bytes = faulted.len() as u64;
    let (mut ov, mut fresh, mut hot) = (Vec::new(), Vec::new(), Vec::new());
    let mut events = 0;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let r = SegmentReader::open_verified(path)
            .with_context(|| format!("open_verified {}", path.display()))?;
        ov.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            r.is_verified()
                && matches!(
                    r.end(),
                    wal_recovery::recovery::segment_reader::SegmentEnd::Clean
                ),
            "{}: segment did not verify clean: {:?}",
            path.display(),
            r.end()
        );
        events = r.event_count();
        drop(r);

        let t = Instant::now();
        let f = File::open(path)?;
        // SAFETY: as above.
        let m = unsafe { Mmap::map(&f)? };
        black_box(wal_recovery::segment::checksum::crc32c(black_box(&m)));
        fresh.push(t.elapsed().as_secs_f64());
        drop((m, f));

        let t = Instant::now();
        black_box(wal_recovery::segment::checksum::crc32c(black_box(&faulted)));
        hot.push(t.elapsed().as_secs_f64());
    }
    let (ov, fresh, hot) = (Stats::new(ov), Stats::new(fresh), Stats::new(hot));
    let gb = |s: f64| bytes as f64 / s / 1e9;
    Ok(SegmentVerify {
        path: path.to_path_buf(),
        bytes,
        events,
        ratio_vs_fresh_map_crc: fresh.median_s / ov.median_s,
        ratio_vs_fresh_map_crc_best: fresh.min_s / ov.min_s,
        ratio_vs_faulted_map_crc: hot.median_s / ov.median_s,
        open_verified_gb_s_median: gb(ov.median_s),
        fresh_map_crc32c_gb_s_median: gb(fresh.median_s),
        faulted_map_crc32c_gb_s_median: gb(hot.median_s),
        open_verified: ov,
        fresh_map_crc32c: fresh,
        faulted_map_crc32c: hot,
    })
}

/// An HDR histogram summary (ns).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub sum_ns: u64,
    pub min_ns: u64,
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub p9999_ns: u64,
    pub max_ns: u64,
}

impl From<&HistogramSummary> for Latency {
    fn from(h: &HistogramSummary) -> Latency {
        Latency {
            count: h.count,
            sum_ns: h.sum,
            min_ns: h.min,
            mean_ns: h.mean,
            p50_ns: h.p50,
            p90_ns: h.p90,
            p99_ns: h.p99,
            p999_ns: h.p999,
            p9999_ns: h.p9999,
            max_ns: h.max,
        }
    }
}

impl Latency {
    /// (label, ns) rows for the handoff chart: p50, p90, p99, p99.9, max.
    pub fn chart_rows(&self) -> Vec<(String, f64)> {
        [
            ("p50", self.p50_ns),
            ("p90", self.p90_ns),
            ("p99", self.p99_ns),
            ("p99.9", self.p999_ns),
            ("max", self.max_ns),
        ]
        .iter()
        .map(|(l, v)| (l.to_string(), (*v).max(1) as f64))
        .collect()
    }
}

/// A telemetry operation counter.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Op {
    pub samples: u64,
    pub total_ns: u64,
    pub avg_ns: u64,
    pub min_ns: u64,
    pub max_ns: u64,
}

impl From<&OpSnapshot> for Op {
    fn from(o: &OpSnapshot) -> Op {
        Op {
            samples: o.samples,
            total_ns: o.total_ns,
            avg_ns: o.avg_ns,
            min_ns: o.min_ns,
            max_ns: o.max_ns,
        }
    }
}

/// What wal_recovery's telemetry and reports recorded over one phase (warm or cold).
/// Telemetry covers the Rust-API replays only; `reports` covers every candidate system.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Phase {
    /// Rust-API replays that recorded into the telemetry below.
    pub telemetry_replays: u64,
    /// Directory scan: one header read per segment file.
    pub read_segment_header: Op,
    /// `Manager::open`'s positioning: includes opening the first segment on the replay thread
    /// (and verifying it, when the library verifies up front).
    pub resume_from_event: Op,
    /// Segment handoffs (end of one segment to the first event of the next).
    pub handoff: Latency,
    /// Sampled `next()` calls (1 in 1024, "Rust API" row only).
    pub next_event: Latency,
    pub open_segment: Op,
    pub verify_segment: Op,
    pub close_segment: Op,
    /// Background open+verify by the preloader.
    pub preload_segment: Op,
    /// Background close by the preloader.
    pub finish_segment: Op,
    pub fallback_opens: u64,
    pub finished_ring_full_sync_closes: u64,
    pub prepared_ring_full_wait_ns: u64,
    pub bytes_verified: u64,
    pub events_delivered_last_replay: u64,
    pub reports: BTreeMap<String, ReportCounters>,
}

impl From<&PhaseStats> for Phase {
    fn from(p: &PhaseStats) -> Phase {
        let t = &p.telemetry;
        Phase {
            telemetry_replays: p.rust_replays,
            read_segment_header: (&t.manager.read_segment_header).into(),
            resume_from_event: (&t.manager.resume_from_event).into(),
            handoff: (&t.manager.segment_handoff_histogram).into(),
            next_event: (&t.manager.next_event_histogram).into(),
            open_segment: (&t.segment_reader.open_segment).into(),
            verify_segment: (&t.segment_reader.verify_segment).into(),
            close_segment: (&t.segment_reader.close_segment).into(),
            preload_segment: (&t.segment_preloader.preload_segment).into(),
            finish_segment: (&t.segment_preloader.finish_segment).into(),
            fallback_opens: t.manager.fallback_opens,
            finished_ring_full_sync_closes: t.manager.finished_ring_full_sync_closes,
            prepared_ring_full_wait_ns: t.segment_preloader.prepared_ring_full_wait_ns,
            bytes_verified: t.segment_reader.bytes_verified,
            events_delivered_last_replay: t.manager.events_delivered,
            reports: p.reports.clone(),
        }
    }
}

/// One other row and how many times faster a candidate is than it.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub name: String,
    pub kind: Kind,
    /// other median / candidate median.
    pub ratio: f64,
    /// other min / candidate min.
    pub ratio_best: f64,
}

/// One candidate row against the limits and the other rows.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateRow {
    pub name: String,
    pub min_s: f64,
    pub median_s: f64,
    pub m_events_s_median: f64,
    pub m_events_s_max: f64,
    /// Segment-file bytes / median replay time.
    pub segment_gb_s_median: f64,
    /// Memory-read time over the same segment files / replay time (1 = as fast as reading
    /// the bytes once from the faulted maps).
    pub frac_of_mem_read: Option<f64>,
    /// CRC32C time over the same segment files / replay time.
    pub frac_of_crc32c: Option<f64>,
    pub vs: Vec<Ratio>,
}

/// Cold replay against the raw read of the same files.
#[derive(Clone, Debug, Serialize)]
pub struct ColdRatio {
    pub name: String,
    pub replay_median_s: f64,
    pub raw_read_median_s: f64,
    /// raw read median / cold replay median.
    pub ratio: f64,
    /// raw read min / cold replay min.
    pub ratio_best: f64,
}

/// One goal of the issue, judged on the median.
#[derive(Clone, Debug, Serialize)]
pub struct Goal {
    pub goal: String,
    /// Minimum wanted.
    pub target: f64,
    /// From median times (`None`: not measured in this run).
    pub measured: Option<f64>,
    /// From min times.
    pub measured_best: Option<f64>,
    /// `None` when not measured or not applicable.
    pub met: Option<bool>,
    pub note: String,
}

impl Goal {
    fn new(goal: String, target: f64, m: Option<(f64, f64)>, note: impl Into<String>) -> Goal {
        Goal {
            goal,
            target,
            measured: m.map(|x| x.0),
            measured_best: m.map(|x| x.1),
            met: m.map(|x| x.0 >= target),
            note: note.into(),
        }
    }
}

/// Where a warm Rust-API replay's time goes, per replay (averages over the phase's
/// Rust-API replays, from the telemetry), against the primary row's median replay time.
#[derive(Clone, Debug, Serialize)]
pub struct Budget {
    pub replay_median_s: f64,
    /// Directory scan (segment headers), per replay.
    pub scan_s: f64,
    /// `Manager::open` positioning (`resume_from_event`): opens the first segment on the
    /// replay thread (and verifies it there when the library verifies up front), seeks,
    /// starts the preloader.
    pub first_segment_open_verify_s: f64,
    /// Sum of the segment handoffs, per replay.
    pub handoffs_s: f64,
    /// Segment verification time per replay, on any thread (first segment on the replay
    /// thread, the others mostly on the preloader).
    pub verify_all_threads_s: f64,
    /// replay - scan - positioning - handoffs: the delivery loop (including any verification
    /// done on the replay thread as events are reached).
    pub rest_s: f64,
    /// `rest_s` per event.
    pub rest_ns_per_event: f64,
}

impl Budget {
    fn new(replay_median_s: f64, events: u64, p: &Phase) -> Option<Budget> {
        let n = p.telemetry_replays;
        if n == 0 {
            return None;
        }
        let per = |ns: u64| ns as f64 / 1e9 / n as f64;
        let scan_s = per(p.read_segment_header.total_ns);
        let first = per(p.resume_from_event.total_ns);
        let handoffs_s = per(p.handoff.sum_ns);
        let rest_s = replay_median_s - scan_s - first - handoffs_s;
        Some(Budget {
            replay_median_s,
            rest_s,
            scan_s,
            first_segment_open_verify_s: first,
            handoffs_s,
            verify_all_threads_s: per(p.verify_segment.total_ns),
            rest_ns_per_event: rest_s * 1e9 / events.max(1) as f64,
        })
    }
}

/// Everything wal_recovery-specific in a report.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub data_key: String,
    /// Row the goals are judged on.
    pub primary: Option<String>,
    pub segment_files: usize,
    /// Total size of the segment files (what the limits below scan).
    pub segment_bytes: u64,
    /// Memory read and CRC32C over wal_recovery's segment files (maps faulted beforehand).
    pub limits: Option<Limits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits_error: Option<String>,
    pub rows: Vec<CandidateRow>,
    pub cold: Vec<ColdRatio>,
    pub goals: Vec<Goal>,
    pub warm: Phase,
    pub cold_phase: Option<Phase>,
    /// Where a warm replay's time goes (primary row's median against the telemetry).
    pub budget: Option<Budget>,
    pub segment_verify: Option<SegmentVerify>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_verify_error: Option<String>,
    pub handoff_chart: Option<PathBuf>,
}

/// Inputs of [`analyse`] measured by the harness.
pub struct Inputs<'a> {
    pub events: u64,
    pub payload_size: usize,
    pub results: &'a [SystemResult],
    pub segment_files: usize,
    pub segment_bytes: u64,
    pub limits: Result<Limits, String>,
    pub cold_reads: &'a [ColdRead],
    pub cold_replays: &'a [ColdReplay],
    pub warm: Phase,
    pub cold_phase: Option<Phase>,
    pub segment_verify: Result<SegmentVerify, String>,
    /// A CPU hog kept one core busy (`--busy-core`): the scan goal is then 0.5x, not 0.9x.
    pub busy_core: bool,
}

/// Builds the candidate section from the run's measurements.
pub fn analyse(data_key: &str, inp: Inputs<'_>) -> Candidate {
    let others: Vec<&SystemResult> = inp
        .results
        .iter()
        .filter(|r| r.kind != Kind::Candidate && r.replay.is_some())
        .collect();
    let limits = inp.limits.as_ref().ok();
    let rows: Vec<CandidateRow> = inp
        .results
        .iter()
        .filter(|r| r.kind == Kind::Candidate)
        .filter_map(|r| {
            let st = r.replay.as_ref()?;
            let t = r.throughput.as_ref()?;
            Some(CandidateRow {
                name: r.name.clone(),
                min_s: st.min_s,
                median_s: st.median_s,
                m_events_s_median: t.m_events_s_median,
                m_events_s_max: t.m_events_s_max,
                segment_gb_s_median: inp.segment_bytes as f64 / st.median_s / 1e9,
                frac_of_mem_read: limits.map(|l| l.mem_read.median_s / st.median_s),
                frac_of_crc32c: limits.map(|l| l.crc32c.median_s / st.median_s),
                vs: others
                    .iter()
                    .map(|o| {
                        let os = o.replay.as_ref().expect("filtered on replay");
                        Ratio {
                            name: o.name.clone(),
                            kind: o.kind,
                            ratio: os.median_s / st.median_s,
                            ratio_best: os.min_s / st.min_s,
                        }
                    })
                    .collect(),
            })
        })
        .collect();

    let raw = inp.cold_reads.iter().find(|c| c.data_key == data_key);
    let cold: Vec<ColdRatio> = inp
        .cold_replays
        .iter()
        .filter(|c| c.data_key == data_key)
        .filter_map(|c| {
            let st = c.replay.as_ref()?;
            let raw = raw?;
            Some(ColdRatio {
                name: c.name.clone(),
                replay_median_s: st.median_s,
                raw_read_median_s: raw.stats.median_s,
                ratio: raw.stats.median_s / st.median_s,
                ratio_best: raw.stats.min_s / st.min_s,
            })
        })
        .collect();

    let primary = rows
        .iter()
        .find(|r| r.name == PRIMARY)
        .or(rows.first())
        .cloned();
    let mut goals = Vec::new();
    let vs = |pred: &dyn Fn(&Ratio) -> bool| -> Vec<(String, f64, f64)> {
        primary
            .as_ref()
            .map(|p| {
                p.vs.iter()
                    .filter(|r| pred(r))
                    .map(|r| (r.name.clone(), r.ratio, r.ratio_best))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (prefix, target) in [("raft-engine", 25.0), ("okaywal", 25.0), ("commitlog", 4.0)] {
        let found = vs(&|r| r.kind == Kind::Peer && r.name.starts_with(prefix));
        if found.is_empty() {
            goals.push(Goal::new(
                format!("replay >= {target}x {prefix}"),
                target,
                None,
                "not run",
            ));
        }
        for (name, m, b) in found {
            goals.push(Goal::new(
                format!("replay >= {target}x {name}"),
                target,
                Some((m, b)),
                "",
            ));
        }
    }
    let unverified = vs(&|r| r.kind == Kind::Baseline && r.name.contains("no CRC"));
    let (scan_goal, under) = if inp.busy_core {
        (0.5, ", both with one core kept busy")
    } else {
        (0.9, "")
    };
    goals.push(Goal::new(
        format!("replay >= {scan_goal}x unverified mmap scan (baseline: 1 mmap, no CRC){under}"),
        scan_goal,
        unverified.first().map(|x| (x.1, x.2)),
        if unverified.is_empty() { "not run" } else { "" },
    ));
    // The same goal for the closure API, from its own row's ratios.
    let batch_vs_scan = rows
        .iter()
        .find(|r| r.name == crate::systems::wal_recovery_sys::BATCH_ROW)
        .and_then(|r| {
            r.vs.iter()
                .find(|o| o.kind == Kind::Baseline && o.name.contains("no CRC"))
                .map(|o| (o.ratio, o.ratio_best))
        });
    goals.push(Goal::new(
        format!("replay through next_batch_with >= {scan_goal}x unverified mmap scan{under}"),
        scan_goal,
        batch_vs_scan,
        if batch_vs_scan.is_none() {
            "not run"
        } else {
            ""
        },
    ));
    let applies = inp.payload_size == 64;
    let mut g = Goal::new(
        "warm end-to-end replay >= 150 M events/s (64 B events)".into(),
        150.0,
        primary
            .as_ref()
            .map(|p| (p.m_events_s_median, p.m_events_s_max)),
        if applies {
            String::new()
        } else {
            format!("not applicable: {} B events in this run", inp.payload_size)
        },
    );
    if !applies {
        g.met = None;
    }
    goals.push(g);
    let pc = primary
        .as_ref()
        .and_then(|p| cold.iter().find(|c| c.name == p.name));
    goals.push(Goal::new(
        "cold replay >= 0.8x raw sequential read of the same files".into(),
        0.8,
        pc.map(|c| (c.ratio, c.ratio_best)),
        if pc.is_some() {
            ""
        } else {
            "cold section not run"
        },
    ));
    let sv = inp.segment_verify.as_ref().ok();
    goals.push(Goal::new(
        "segment open+verify >= 0.8x raw CRC32C pass (fresh mmap + crc32c)".into(),
        0.8,
        sv.map(|s| (s.ratio_vs_fresh_map_crc, s.ratio_vs_fresh_map_crc_best)),
        match &inp.segment_verify {
            Ok(s) => format!(
                "{:.2}x against a CRC over an already-faulted map",
                s.ratio_vs_faulted_map_crc
            ),
            Err(e) => format!("not measured: {e}"),
        },
    ));

    // FlashStrike v1 logs (issue 14): the same events in FlashStrike's format, replayed
    // through the same pipeline, against 200 M events/s and against the native replay.
    let fs = rows.iter().find(|r| r.name == FLASHSTRIKE_ROW);
    let fs_note = if fs.is_some() { "" } else { "not run" };
    goals.push(Goal::new(
        "FlashStrike v1 log replay >= 200 M events/s (64 B RequestEvents, 4096-block segments)"
            .into(),
        200.0,
        fs.map(|r| (r.m_events_s_median, r.m_events_s_max)),
        fs_note,
    ));
    goals.push(Goal::new(
        "FlashStrike v1 log replay >= 0.9x the native replay of the same events".into(),
        0.9,
        fs.zip(primary.as_ref()).map(|(f, p)| {
            (
                f.m_events_s_median / p.m_events_s_median,
                f.m_events_s_max / p.m_events_s_max,
            )
        }),
        fs_note,
    ));

    // The C ABI against the Rust API, same log, same run: the inline per-event call and the
    // batched call.
    for (row, target, goal) in [
        (
            crate::systems::wal_recovery_inline::ROW,
            0.95,
            "C ABI per event (inline wal_recovery_next_hot) >= 0.95x the Rust API",
        ),
        (
            "wal_recovery (C ABI, batched 64)",
            1.0,
            "C ABI batched 64 >= the Rust API",
        ),
    ] {
        let c = rows.iter().find(|r| r.name == row);
        goals.push(Goal::new(
            goal.into(),
            target,
            c.zip(primary.as_ref()).map(|(c, p)| {
                (
                    c.m_events_s_median / p.m_events_s_median,
                    c.m_events_s_max / p.m_events_s_max,
                )
            }),
            if c.is_some() { "" } else { "not run" },
        ));
    }

    let budget = primary
        .as_ref()
        .and_then(|p| Budget::new(p.median_s, inp.events, &inp.warm));
    Candidate {
        data_key: data_key.to_string(),
        primary: primary.map(|p| p.name),
        budget,
        segment_files: inp.segment_files,
        segment_bytes: inp.segment_bytes,
        limits_error: inp.limits.as_ref().err().cloned(),
        limits: inp.limits.ok(),
        rows,
        cold,
        goals,
        warm: inp.warm,
        cold_phase: inp.cold_phase,
        segment_verify_error: inp.segment_verify.as_ref().err().cloned(),
        segment_verify: inp.segment_verify.ok(),
        handoff_chart: None,
    }
}
