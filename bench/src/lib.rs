//! wal-bench: side-by-side replay benchmark of WAL crates and trivial baselines.
//!
//! [`run`] does, in one process: generate the events ([`events`]); write them once per
//! data set with each system's normal API ([`systems`]); replay every system `reps` times
//! from the page cache, round-robin across systems, checking count and sum every time;
//! measure machine limits on the baseline file ([`limits`]); for wal_recovery, limits over its
//! own segment files, segment open+verify against raw CRC32C and its telemetry ([`candidate`]);
//! optionally evict the files and measure a raw sequential read and each system's replay cold
//! ([`cold`]); render tables, JSON ([`report`]) and SVG charts ([`chart`]) into the output
//! directory.

pub mod candidate;
pub mod chart;
pub mod cold;
pub mod events;
pub mod hog;
pub mod limits;
pub mod report;
pub mod systems;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;

use crate::{
    events::Events,
    report::{ColdRead, ColdReplay, DataSet, Report, Stats, SystemResult, Throughput},
    systems::{run_after_timer, wal_recovery_sys, Kind, System},
};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of events (ids 1..=events).
    pub events: u64,
    /// Payload bytes per event (>= 8).
    pub payload_size: usize,
    /// Timed repetitions of each replay (and of each limit / cold figure).
    pub reps: usize,
    /// Where charts, report.md and report.json go (created if missing).
    pub out_dir: PathBuf,
    /// Parent of the scratch directory holding the logs; system temp dir if `None`.
    pub data_dir: Option<PathBuf>,
    /// Keep the logs after the run instead of deleting them.
    pub keep_data: bool,
    /// Run the cold-cache section.
    pub cold: bool,
    /// If non-empty, run only systems whose name contains one of these (case-insensitive).
    pub only: Vec<String>,
    /// Segment size of wal_recovery's writer (default 64 MiB, its `WriterOptions` default).
    pub wal_segment_bytes: u64,
    /// Keep one core busy with a CPU hog for the whole run ([`hog`]).
    pub busy_core: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            events: 5_000_000,
            payload_size: 64,
            reps: 5,
            // Under the workspace's target/, so that a run never modifies tracked files;
            // bench/scripts/run.sh passes --out bench/results to record a run on purpose.
            out_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wal-bench")),
            data_dir: None,
            keep_data: false,
            cold: true,
            only: Vec::new(),
            wal_segment_bytes: systems::WAL_SEGMENT_BYTES,
            busy_core: false,
        }
    }
}

/// File name of the replay-throughput chart in `out_dir`.
pub const REPLAY_CHART: &str = "replay_throughput.svg";
/// File name of the cold-replay chart in `out_dir` (only when the cold section ran).
pub const COLD_CHART: &str = "cold_replay_throughput.svg";

/// Runs the whole benchmark. Per-system failures are recorded in the report (see
/// [`Report::failures`]); only set-up failures return `Err`.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    anyhow::ensure!(cfg.reps >= 1, "reps must be >= 1");
    anyhow::ensure!(cfg.events >= 1, "events must be >= 1");
    let t = Instant::now();
    let events = Events::generate(cfg.events, cfg.payload_size)?;
    log(format!(
        "generated {} events x {} B in {:.2} s",
        events.count(),
        events.payload_size(),
        t.elapsed().as_secs_f64()
    ));

    let mut systems = systems::systems_for(cfg.wal_segment_bytes);
    systems.retain(|s| s.supports_payload(events.payload_size()));
    if !cfg.only.is_empty() {
        let only: Vec<String> = cfg.only.iter().map(|o| o.to_lowercase()).collect();
        systems.retain(|s| {
            let n = s.name().to_lowercase();
            only.iter().any(|o| n.contains(o.as_str()))
        });
        anyhow::ensure!(!systems.is_empty(), "no system matches {:?}", cfg.only);
    }

    // Started before anything is written or replayed, stopped when `run` returns.
    let _hog = if cfg.busy_core {
        log("busy core: a CPU hog thread runs for the whole measurement".to_string());
        Some(hog::Hog::start()?)
    } else {
        None
    };

    let scratch = match &cfg.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::Builder::new()
                .prefix("wal-bench-")
                .tempdir_in(d)?
        }
        None => tempfile::Builder::new().prefix("wal-bench-").tempdir()?,
    };

    // One-time set-up (e.g. loading wal_recovery's cdylib), untimed.
    let prepare_errors: Vec<Option<String>> = systems
        .iter()
        .map(|s| s.prepare().err().map(|e| format!("prepare failed: {e:#}")))
        .collect();
    for (s, e) in systems.iter().zip(&prepare_errors) {
        if let Some(e) = e {
            log(format!("{}: {e}", s.name()));
        }
    }

    // Write phase: one data set per data_key.
    let mut datasets: Vec<DataSet> = Vec::new();
    let mut dirs: HashMap<String, PathBuf> = HashMap::new();
    for s in &systems {
        let key = s.data_key();
        if dirs.contains_key(&key) {
            continue;
        }
        let dir = dataset_dir(scratch.path(), &key);
        std::fs::create_dir_all(&dir)?;
        log(format!("writing {key} ..."));
        let t = Instant::now();
        let res = s.write(&dir, &events);
        let write_s = t.elapsed().as_secs_f64();
        run_after_timer();
        let (on_disk_bytes, files) = disk_usage(&dir).unwrap_or((0, 0));
        datasets.push(DataSet {
            data_key: key.clone(),
            written_by: s.name(),
            write_s,
            on_disk_bytes,
            files,
            error: res.err().map(|e| format!("{e:#}")),
        });
        dirs.insert(key, dir);
    }
    let write_error = |key: &str| {
        datasets
            .iter()
            .find(|d| d.data_key == key)
            .and_then(|d| d.error.clone())
            .map(|e| format!("write failed: {e}"))
    };

    // Warm replay, every system once per round so that drift in machine speed hits all alike,
    // in a new order each round (seeded, so runs repeat it): in a fixed order each system always
    // follows the same one, and wal_recovery's first row, always right after the unverified
    // scan, measured slower than its others.
    let n = systems.len();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut errors: Vec<Option<String>> = systems
        .iter()
        .zip(&prepare_errors)
        .map(|(s, p)| p.clone().or_else(|| write_error(&s.data_key())))
        .collect();
    wal_recovery_sys::take_phase(); // start the warm phase with empty telemetry
    for rep in 0..cfg.reps {
        let mut order: Vec<usize> = (0..n).collect();
        fastrand::Rng::with_seed(0x5eed_0000 + rep as u64).shuffle(&mut order);
        for i in order {
            let s = &systems[i];
            if errors[i].is_some() {
                continue;
            }
            match timed_replay(s.as_ref(), &dirs[&s.data_key()], &events) {
                Ok(secs) => samples[i].push(secs),
                Err(e) => errors[i] = Some(e),
            }
        }
        log(format!("warm replay rep {}/{} done", rep + 1, cfg.reps));
    }
    let mut results: Vec<SystemResult> = systems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ok = errors[i].is_none();
            let replay = ok.then(|| Stats::new(samples[i].clone()));
            SystemResult {
                name: s.name(),
                kind: s.kind(),
                data_key: s.data_key(),
                throughput: replay
                    .as_ref()
                    .map(|st| Throughput::new(st, events.count(), events.payload_bytes())),
                replay,
                speed_vs_fastest_peer: None,
                error: errors[i].clone(),
            }
        })
        .collect();
    let fastest_peer = results
        .iter()
        .filter(|r| r.kind == Kind::Peer)
        .filter_map(|r| r.replay.as_ref().map(|s| s.median_s))
        .min_by(f64::total_cmp);
    for r in &mut results {
        if let (Some(best), Some(st)) = (fastest_peer, &r.replay) {
            r.speed_vs_fastest_peer = Some(best / st.median_s);
        }
    }

    let warm_phase = wal_recovery_sys::take_phase();

    // Machine limits on the baseline file (written just for this if no baseline ran).
    let limits = limits_file(&dirs, &datasets, scratch.path(), &events)
        .and_then(|p| limits::measure(&p, cfg.reps))
        .map_err(|e| format!("{e:#}"));
    log("limits measured".into());

    // wal_recovery: limits over its segment files and segment open+verify, while cached.
    let wal_key = wal_recovery_sys::DATA_KEY;
    let wal_dir = datasets
        .iter()
        .any(|d| d.data_key == wal_key && d.error.is_none())
        .then(|| dirs[wal_key].clone());
    let mut wal_measured = None;
    if let Some(dir) = &wal_dir {
        let segs = candidate::segment_files(dir)?;
        let seg_bytes: u64 = segs
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum();
        let wl = limits::measure_files(&segs, cfg.reps).map_err(|e| format!("{e:#}"));
        let largest = segs
            .iter()
            .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .cloned();
        let sv = match largest {
            Some(p) => candidate::measure_segment_verify(&p, (2 * cfg.reps).max(10))
                .map_err(|e| format!("{e:#}")),
            None => Err("no segment file".to_string()),
        };
        log("wal_recovery limits and segment verify measured".into());
        wal_measured = Some((segs.len(), seg_bytes, wl, sv));
    }

    // Cold cache.
    let mut cold_reads = Vec::new();
    let mut cold_replays = Vec::new();
    let mut cold_phase = None;
    if cfg.cold {
        let ok_sets: Vec<&DataSet> = datasets.iter().filter(|d| d.error.is_none()).collect();
        let mut read_samples: Vec<Vec<f64>> = vec![Vec::new(); ok_sets.len()];
        let mut read_bytes = vec![(0u64, 0usize); ok_sets.len()];
        let mut resident = vec![0f64; ok_sets.len()];
        let mut replay_samples: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut replay_errors: Vec<Option<String>> = errors.clone();
        let mut buf = cold::AlignedBuf::new(cold::READ_BUF);
        for rep in 0..cfg.reps {
            for (j, d) in ok_sets.iter().enumerate() {
                let dir = &dirs[&d.data_key];
                cold::evict(dir)?;
                resident[j] = resident[j].max(cold::resident_fraction(dir)?);
                let t = Instant::now();
                read_bytes[j] = cold::raw_read(dir, &mut buf)?;
                read_samples[j].push(t.elapsed().as_secs_f64());
            }
            for (i, s) in systems.iter().enumerate() {
                if replay_errors[i].is_some() {
                    continue;
                }
                let dir = &dirs[&s.data_key()];
                cold::evict(dir)?;
                match timed_replay(s.as_ref(), dir, &events) {
                    Ok(secs) => replay_samples[i].push(secs),
                    Err(e) => replay_errors[i] = Some(e),
                }
            }
            log(format!("cold rep {}/{} done", rep + 1, cfg.reps));
        }
        cold_phase = Some(wal_recovery_sys::take_phase());
        for (j, d) in ok_sets.iter().enumerate() {
            let stats = Stats::new(read_samples[j].clone());
            let (bytes, files) = read_bytes[j];
            cold_reads.push(ColdRead {
                data_key: d.data_key.clone(),
                bytes,
                files,
                gb_s_max: bytes as f64 / stats.min_s / 1e9,
                gb_s_median: bytes as f64 / stats.median_s / 1e9,
                stats,
                resident_after_evict_max: resident[j],
            });
        }
        for (i, s) in systems.iter().enumerate() {
            let replay = replay_errors[i]
                .is_none()
                .then(|| Stats::new(replay_samples[i].clone()));
            cold_replays.push(ColdReplay {
                name: s.name(),
                data_key: s.data_key(),
                throughput: replay
                    .as_ref()
                    .map(|st| Throughput::new(st, events.count(), events.payload_bytes())),
                replay,
                error: replay_errors[i].clone(),
            });
        }
    }

    // Charts and files.
    std::fs::create_dir_all(&cfg.out_dir)
        .with_context(|| format!("create {}", cfg.out_dir.display()))?;
    let mut charts = Vec::new();
    // One throughput chart per phase (warm, cold), drawn only when the phase has rows.
    let warm: Vec<(String, f64)> = results
        .iter()
        .filter_map(|r| {
            r.throughput
                .as_ref()
                .map(|t| (r.name.clone(), t.m_events_s_median))
        })
        .collect();
    let cold: Vec<(String, f64)> = cold_replays
        .iter()
        .filter_map(|r| {
            r.throughput
                .as_ref()
                .map(|t| (r.name.clone(), t.m_events_s_median))
        })
        .collect();
    for (rows, phase, file) in [(warm, "Warm", REPLAY_CHART), (cold, "Cold", COLD_CHART)] {
        if rows.is_empty() {
            continue;
        }
        let path = cfg.out_dir.join(file);
        chart::throughput_chart(
            &rows,
            &format!(
                "{phase} replay, {} x {} B events (median of {})",
                events.count(),
                events.payload_size(),
                cfg.reps
            ),
            "M events/s",
            &path,
        )?;
        charts.push(path);
    }

    // wal_recovery's section and its handoff chart.
    let has_candidate = results.iter().any(|r| r.kind == Kind::Candidate);
    let mut candidate = None;
    if has_candidate {
        let (files, bytes, wl, sv) = wal_measured.unwrap_or_else(|| {
            let e = "wal_recovery's log was not written".to_string();
            (0, 0, Err(e.clone()), Err(e))
        });
        let mut c = candidate::analyse(
            wal_key,
            candidate::Inputs {
                events: events.count(),
                payload_size: events.payload_size(),
                results: &results,
                segment_files: files,
                segment_bytes: bytes,
                limits: wl,
                cold_reads: &cold_reads,
                cold_replays: &cold_replays,
                warm: (&warm_phase).into(),
                cold_phase: cold_phase.as_ref().map(Into::into),
                segment_verify: sv,
                busy_core: cfg.busy_core,
            },
        );
        if c.warm.handoff.count > 0 {
            let path = cfg.out_dir.join(candidate::HANDOFF_CHART);
            chart::handoff_chart(&c.warm.handoff.chart_rows(), &path)?;
            c.handoff_chart = Some(path.clone());
            charts.push(path);
        }
        candidate = Some(c);
    }

    let data_dir = cfg.keep_data.then(|| scratch.keep());
    let report = Report {
        events: events.count(),
        payload_size: events.payload_size(),
        reps: cfg.reps,
        busy_core: cfg.busy_core,
        payload_bytes: events.payload_bytes(),
        systems: results,
        datasets,
        limits,
        cold_reads,
        cold_replays,
        charts,
        data_dir,
        candidate,
    };
    std::fs::write(cfg.out_dir.join("report.md"), report.to_markdown())?;
    std::fs::write(
        cfg.out_dir.join("report.json"),
        serde_json::to_string_pretty(&report.to_json())?,
    )?;
    Ok(report)
}

/// Times one replay (closing excluded via `after_timer`) and checks count and sum.
fn timed_replay(s: &dyn System, dir: &Path, events: &Events) -> Result<f64, String> {
    let t = Instant::now();
    let res = s.replay(dir);
    let secs = t.elapsed().as_secs_f64();
    run_after_timer();
    match res {
        Ok((count, sum)) if count == events.count() && sum == events.expected_sum() => Ok(secs),
        Ok((count, sum)) => Err(format!(
            "wrong result: count {count} (expected {}), sum {sum} (expected {})",
            events.count(),
            events.expected_sum()
        )),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The baseline log to measure limits on: the baseline system's, or a fresh one.
fn limits_file(
    dirs: &HashMap<String, PathBuf>,
    datasets: &[DataSet],
    scratch: &Path,
    events: &Events,
) -> anyhow::Result<PathBuf> {
    let baseline = systems::baseline::MmapBaseline { check_crc: true };
    let key = baseline.data_key();
    if let Some(dir) = dirs.get(&key) {
        if datasets
            .iter()
            .any(|d| d.data_key == key && d.error.is_none())
        {
            return Ok(systems::baseline::log_path(dir));
        }
    }
    let dir = scratch.join("limits");
    std::fs::create_dir_all(&dir)?;
    baseline.write(&dir, events)?;
    Ok(systems::baseline::log_path(&dir))
}

/// Total apparent size and number of the files under `dir`.
fn disk_usage(dir: &Path) -> anyhow::Result<(u64, usize)> {
    let files = cold::files_under(dir)?;
    let mut bytes = 0;
    for f in &files {
        bytes += std::fs::metadata(f)?.len();
    }
    Ok((bytes, files.len()))
}

/// Directory of the data set `key` inside the scratch directory `root` (the directory
/// reported as `Report::data_dir` when the data is kept).
pub fn dataset_dir(root: &Path, key: &str) -> PathBuf {
    let name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    root.join(name)
}

fn log(msg: String) {
    eprintln!("[wal-bench] {msg}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A system whose replay is off by one event: the harness must reject it.
    struct Liar;

    impl System for Liar {
        fn name(&self) -> String {
            "liar".into()
        }
        fn write(&self, _dir: &Path, _events: &Events) -> anyhow::Result<()> {
            Ok(())
        }
        fn replay(&self, _dir: &Path) -> anyhow::Result<(u64, u64)> {
            Ok((99, events::expected_sum(99)))
        }
    }

    #[test]
    fn wrong_count_is_rejected() {
        let ev = Events::generate(100, 8).unwrap();
        let err = timed_replay(&Liar, Path::new("."), &ev).unwrap_err();
        assert!(err.contains("wrong result"), "{err}");
    }

    #[test]
    fn dataset_dir_is_flat() {
        let d = dataset_dir(Path::new("/x"), "raft-engine (compression off)");
        assert_eq!(d, Path::new("/x/raft_engine__compression_off_"));
    }
}
