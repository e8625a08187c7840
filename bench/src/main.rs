//! CLI of wal-bench: parses options, calls [`wal_bench::run`], prints the tables.
//!
//! Tables go to stdout; with `--json` the JSON object goes to stdout instead and the
//! tables to stderr. Both are also written to `<out>/report.md` and `<out>/report.json`.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use wal_bench::Config;

/// Replay benchmark: wal_recovery against raft-engine, okaywal, commitlog and mmap baselines
/// on the same events.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Number of events.
    #[arg(long, default_value_t = 5_000_000)]
    events: u64,
    /// Payload bytes per event (>= 8).
    #[arg(long, default_value_t = 64)]
    payload_size: usize,
    /// Timed repetitions per figure.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Print one JSON object on stdout (tables go to stderr).
    #[arg(long)]
    json: bool,
    /// Output directory for charts and report files [default: target/wal-bench].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Parent directory for the scratch logs [default: system temp dir].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep the scratch logs after the run.
    #[arg(long)]
    keep_data: bool,
    /// Skip the cold-cache section.
    #[arg(long)]
    no_cold: bool,
    /// Only run systems whose name contains this (repeatable, case-insensitive).
    #[arg(long)]
    only: Vec<String>,
    /// Segment size of wal_recovery's writer, in bytes.
    #[arg(long, default_value_t = wal_bench::systems::WAL_SEGMENT_BYTES)]
    wal_segment_bytes: u64,
    /// Keep one core busy with a CPU hog thread for the whole run (the loaded-host figures).
    #[arg(long)]
    busy_core: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut cfg = Config {
        events: cli.events,
        payload_size: cli.payload_size,
        reps: cli.reps,
        data_dir: cli.data_dir,
        keep_data: cli.keep_data,
        cold: !cli.no_cold,
        only: cli.only,
        wal_segment_bytes: cli.wal_segment_bytes,
        busy_core: cli.busy_core,
        ..Config::default()
    };
    if let Some(out) = cli.out {
        cfg.out_dir = out;
    }
    let report = match wal_bench::run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wal-bench: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let md = report.to_markdown();
    if cli.json {
        eprintln!("{md}");
        println!("{}", report.to_json());
    } else {
        println!("{md}");
    }
    for c in &report.charts {
        eprintln!("chart: {}", c.display());
    }
    let failures = report.failures();
    for (name, err) in &failures {
        eprintln!("FAILED {name}: {err}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
