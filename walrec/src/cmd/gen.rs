//! `walrec gen`: writes a log of deterministic events with the library's [`Writer`].
//!
//! Payloads follow [`crate::genpayload`], so `walrec replay --check-gen` (or anyone) can check
//! every byte. On a directory that already holds a log, the writer continues it (its next id);
//! payloads are always those of the ids actually assigned.
//!
//! `--format flashstrike` writes a FlashStrike v1 log instead ([`flashstrike`]): not through a
//! writer (wal_recovery does not write that format), but byte-exact segment files as
//! FlashStrike's C++ recorder leaves them, in the state a `--scenario` names (clean shutdown,
//! crash, crash right after rotations, cold segments, restart gap), at any size — so the reader
//! side and operators can be exercised on every crash state without the C++ engine.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wal_recovery::segment::MAX_EVENT_BYTES;
use wal_recovery::{Writer, WriterOptions};

use crate::exit::{Failure, LibContext, Outcome};
use crate::genpayload::{Generator, SizeSpec};
use crate::output::{self, Unit};

mod flashstrike;

pub use flashstrike::ScenarioArg;

/// Arguments only a native log takes (refused with `--scenario`, i.e. a FlashStrike log).
const NATIVE_ONLY: [&str; 5] = [
    "payload_size",
    "segment_bytes",
    "block_bytes",
    "first_id",
    "sync_every",
];

/// Which format `gen` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum GenFormat {
    /// wal_recovery's own format, through its Writer.
    #[default]
    Native,
    /// FlashStrike v1, byte-exact as its recorder leaves it (needs --scenario).
    #[value(alias = "flashstrike-v1")]
    Flashstrike,
}

/// Arguments of `walrec gen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log directory (created if missing; must be empty for --format flashstrike).
    pub dir: PathBuf,
    /// Number of events to append (K/M/G suffixes allowed: 20M).
    #[arg(long, value_parser = super::count)]
    pub events: u64,
    /// Log format to write.
    #[arg(long, value_enum, default_value_t = GenFormat::Native)]
    pub format: GenFormat,
    /// Payload size in bytes, or a range MIN-MAX (length derived from the id).
    #[arg(long, value_name = "B|MIN-MAX", default_value = "64", value_parser = super::size_spec)]
    pub payload_size: SizeSpec,
    /// Target segment size (K/M/G suffixes allowed).
    #[arg(long, value_name = "S", default_value = "64MiB", value_parser = super::size)]
    pub segment_bytes: u64,
    /// Target block payload size (K/M/G suffixes allowed).
    #[arg(long, value_name = "K", default_value = "64KiB", value_parser = super::size)]
    pub block_bytes: u64,
    /// Id of the first event of a new log (ignored when the log exists).
    #[arg(long, value_name = "F", default_value_t = 1)]
    pub first_id: u64,
    /// Make the log durable every N events (0: only when closing).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub sync_every: u64,
    /// FlashStrike: the state the recorder leaves the log in (required with --format
    /// flashstrike).
    #[arg(long, value_enum, conflicts_with_all = NATIVE_ONLY)]
    pub scenario: Option<ScenarioArg>,
    /// FlashStrike: blocks of 256 events per segment [default: 16, as in the sample logs].
    #[arg(long, value_name = "B", requires = "scenario")]
    pub blocks_per_segment: Option<u32>,
    /// FlashStrike, --scenario cold: how many oldest segments are frozen to .wal.lz4
    /// [default: 2].
    #[arg(long, value_name = "K", requires = "scenario")]
    pub cold_segments: Option<u32>,
    /// FlashStrike, --scenario restart: ids lost in the restart gap [default: 1616].
    #[arg(long, value_name = "G", requires = "scenario", value_parser = super::count)]
    pub restart_gap: Option<u64>,
}

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct GenParams {
    /// Events to append.
    pub events: u64,
    /// Payload sizes.
    pub spec: SizeSpec,
    /// Writer options.
    pub writer: WriterOptions,
    /// Sync every N events (0: at close only).
    pub sync_every: u64,
}

/// What was generated.
#[derive(Clone, Debug)]
pub struct GenSummary {
    /// First id appended.
    pub first_id: u64,
    /// Events appended.
    pub events: u64,
    /// Payload bytes appended.
    pub payload_bytes: u64,
    /// Time taken (including the final sync).
    pub elapsed: Duration,
    /// Segment files in the directory afterwards.
    pub segments: usize,
    /// Bytes of all segment files afterwards.
    pub log_bytes: u64,
}

/// Checks the generation parameters; usage errors name the option.
pub fn params_from(a: &Args) -> anyhow::Result<GenParams> {
    if a.payload_size.max > MAX_EVENT_BYTES {
        return Err(Failure::usage(
            "gen",
            format!(
                "--payload-size {} exceeds the maximum event size of {MAX_EVENT_BYTES} bytes",
                a.payload_size
            ),
        )
        .into());
    }
    let block_bytes = u32::try_from(a.block_bytes).map_err(|_| {
        Failure::usage(
            "gen",
            format!("--block-bytes {} is too large", a.block_bytes),
        )
    })?;
    let writer = WriterOptions {
        segment_bytes: a.segment_bytes,
        block_bytes,
        first_event_id: a.first_id,
    };
    writer.validate().ctx("gen")?;
    Ok(GenParams {
        events: a.events,
        spec: a.payload_size,
        writer,
        sync_every: a.sync_every,
    })
}

/// Appends `p.events` deterministic events to the log in `dir`.
pub fn generate(dir: &Path, p: &GenParams, show_progress: bool) -> anyhow::Result<GenSummary> {
    let start = Instant::now();
    let mut w = Writer::open(dir, p.writer).ctx("gen: open log")?;
    let first_id = w.next_event_id();
    let gen = Generator::new(p.spec);
    let pb = if show_progress {
        output::progress(p.events, "gen", Unit::Events)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut buf = Vec::with_capacity(p.spec.max);
    let mut payload_bytes = 0u64;
    for n in 0..p.events {
        let id = w.next_event_id();
        gen.fill(&mut buf, id);
        let got = w.append(&buf).ctx("gen: append")?;
        debug_assert_eq!(got, id);
        payload_bytes += buf.len() as u64;
        let done = n + 1;
        if p.sync_every != 0 && done % p.sync_every == 0 {
            w.sync().ctx("gen: sync")?;
        }
        if done & 0xffff == 0 {
            pb.set_position(done);
        }
    }
    w.close().ctx("gen: close")?;
    pb.finish_and_clear();
    let elapsed = start.elapsed();
    let (segments, log_bytes) = log_size(dir)?;
    Ok(GenSummary {
        first_id,
        events: p.events,
        payload_bytes,
        elapsed,
        segments,
        log_bytes,
    })
}

/// Number and total size of the `*.wal` files in `dir`.
pub fn log_size(dir: &Path) -> anyhow::Result<(usize, u64)> {
    let rd = std::fs::read_dir(dir).map_err(|e| Failure::io("list log", dir, &e))?;
    let mut n = 0;
    let mut total = 0;
    for entry in rd {
        let entry = entry.map_err(|e| Failure::io("list log", dir, &e))?;
        let p = entry.path();
        if p.extension().is_some_and(|x| x == "wal") {
            n += 1;
            total += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    Ok((n, total))
}

/// Runs `walrec gen`.
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    match (a.format, a.scenario) {
        (GenFormat::Flashstrike, Some(scenario)) => return flashstrike::run(&a, scenario),
        (GenFormat::Flashstrike, None) => {
            return Err(Failure::usage("gen", "--format flashstrike needs --scenario").into())
        }
        (GenFormat::Native, Some(_)) => {
            return Err(Failure::usage("gen", "--scenario needs --format flashstrike").into())
        }
        (GenFormat::Native, None) => {}
    }
    let p = params_from(&a)?;
    let s = generate(&a.dir, &p, true)?;
    let mut out = output::stdout();
    let ids = if s.events == 0 {
        "none".to_string()
    } else {
        format!("{}..={}", s.first_id, s.first_id + s.events - 1)
    };
    let r = output::rate(s.events, s.payload_bytes, s.elapsed);
    output::put(
        &mut out,
        &format!(
            "wrote {} events (ids {ids}), payload size {}, {} of payload, in {:.3} s ({:.1} M events/s, {:.2} GB/s)\n\
             log {}: {} segment files, {}\n",
            output::thousands(s.events),
            p.spec,
            output::bytes(s.payload_bytes),
            s.elapsed.as_secs_f64(),
            r.meps,
            r.gbps,
            a.dir.display(),
            s.segments,
            output::bytes(s.log_bytes),
        ),
    )?;
    std::io::Write::flush(&mut out)?;
    Ok(Outcome::Clean)
}
