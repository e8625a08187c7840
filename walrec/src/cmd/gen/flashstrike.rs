//! `walrec gen --format flashstrike`: a FlashStrike v1 log directory, byte-exact.
//!
//! wal_recovery reads FlashStrike's logs but does not write them; their tests and anyone
//! checking a reader need them anyway, at sizes and in crash states the few real samples do not
//! cover. [`write_log`] lays a directory out exactly as FlashStrike's C++ recorder leaves it in
//! each [`Scenario`] (it regenerates the real samples byte for byte but for timestamps), with the
//! samples' event formula (so `walrec replay --check-gen` can check every record), and says what
//! a correct recovery must deliver. This command writes it and prints that expectation, so the
//! output of `walrec replay` / `walrec verify` on the result can be compared with it.
//!
//! The defaults (16 blocks per segment, 2 cold segments, a 1616-id restart gap) are those of the
//! sample logs, so `--events 20000 --scenario restart` reproduces `tests/data/flashstrike/restart`.

use std::io;
use std::path::Path;
use std::time::Instant;

use wal_recovery::flashstrike::generate::{write_log, LogLayout, LogSpec, Scenario};
use wal_recovery::flashstrike::BLOCK_EVENTS;

use super::Args;
use crate::exit::{Failure, Outcome};
use crate::output::{self, Table};

/// Blocks per segment of the sample logs (FlashStrike's minimum).
const DEFAULT_BLOCKS: u32 = 16;
/// Cold segments of the `cold` sample.
const DEFAULT_COLD: u32 = 2;
/// Ids lost in the `restart` sample's gap (16385..=18000).
const DEFAULT_RESTART_GAP: u64 = 1616;

/// `--scenario` values: the states FlashStrike's recorder leaves a log in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioArg {
    /// Clean shutdown: every segment finalized.
    Clean,
    /// Killed mid-segment: the active segment unfinalized (full blocks only), 3 pre-created.
    Crash,
    /// Killed right after rotations: events = k × (256 × blocks) + 1.
    CrashRotation,
    /// Clean, then the oldest --cold-segments segments frozen to .wal.lz4.
    Cold,
    /// A crash, then a restart that lost --restart-gap ids and reused the segment index.
    Restart,
}

impl ScenarioArg {
    fn scenario(self) -> Scenario {
        match self {
            ScenarioArg::Clean => Scenario::Clean,
            ScenarioArg::Crash => Scenario::Crash,
            ScenarioArg::CrashRotation => Scenario::CrashRotation,
            ScenarioArg::Cold => Scenario::Cold,
            ScenarioArg::Restart => Scenario::Restart,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ScenarioArg::Clean => "clean",
            ScenarioArg::Crash => "crash",
            ScenarioArg::CrashRotation => "crash-rotation",
            ScenarioArg::Cold => "cold",
            ScenarioArg::Restart => "restart",
        }
    }
}

/// `a..=b, c..=d`, or `none`.
pub fn ranges(r: &[(u64, u64)]) -> String {
    if r.is_empty() {
        return "none".into();
    }
    r.iter()
        .map(|(a, b)| format!("{a}..={b}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the log `a` describes (its format is FlashStrike, its scenario `scenario`).
pub fn run(a: &Args, scenario: ScenarioArg) -> anyhow::Result<Outcome> {
    let spec = LogSpec {
        scenario: scenario.scenario(),
        events: a.events,
        blocks_per_segment: a.blocks_per_segment.unwrap_or(DEFAULT_BLOCKS),
        cold_segments: a.cold_segments.unwrap_or(DEFAULT_COLD),
        restart_gap: a.restart_gap.unwrap_or(DEFAULT_RESTART_GAP),
    };
    let created = !a.dir.exists();
    std::fs::create_dir_all(&a.dir)
        .map_err(|e| Failure::io("gen: create directory", &a.dir, &e))?;
    let start = Instant::now();
    let layout = match write_log(&a.dir, &spec) {
        Ok(layout) => layout,
        Err(e) => {
            if created {
                // Nothing was written into it (refusals write nothing): leave no trace.
                let _ = std::fs::remove_dir(&a.dir);
            }
            return Err(match e.kind() {
                io::ErrorKind::InvalidInput => Failure::usage("gen", e.to_string()),
                io::ErrorKind::DirectoryNotEmpty => Failure {
                    what: "gen".into(),
                    file: Some(a.dir.clone()),
                    why: "directory not empty (a FlashStrike log is written whole, into an \
                          empty directory)"
                        .into(),
                    code: 2,
                },
                _ => Failure::io("gen", &a.dir, &e),
            }
            .into());
        }
    };
    let elapsed = start.elapsed();
    let text = summary(&a.dir, scenario, &spec, &layout, elapsed.as_secs_f64())?;
    let mut out = output::stdout();
    output::put(&mut out, &text)?;
    io::Write::flush(&mut out)?;
    Ok(Outcome::Clean)
}

/// What was written (a table of the files) and what a correct recovery delivers.
fn summary(
    dir: &Path,
    scenario: ScenarioArg,
    spec: &LogSpec,
    layout: &LogLayout,
    seconds: f64,
) -> anyhow::Result<String> {
    let per_segment = u64::from(spec.blocks_per_segment) * BLOCK_EVENTS as u64;
    let mut t = Table::new(&["FILE", ">BYTES"]);
    let mut total = 0u64;
    for name in &layout.files {
        let path = dir.join(name);
        let len = std::fs::metadata(&path)
            .map_err(|e| Failure::io("gen: stat", &path, &e))?
            .len();
        total += len;
        t.row(vec![name.clone(), output::bytes(len)]);
    }
    let appended = if spec.events == 0 {
        "none".to_string()
    } else {
        format!("1..={}", spec.events)
    };
    let mut s = format!(
        "wrote a FlashStrike v1 log, scenario {}: {} events appended (ids {appended}), \
         {} blocks ({} events) per segment, in {seconds:.3} s\n\
         log {}: {} files, {}\n",
        scenario.name(),
        output::thousands(spec.events),
        spec.blocks_per_segment,
        output::thousands(per_segment),
        dir.display(),
        layout.files.len(),
        output::bytes(total),
    );
    for line in t.render().lines() {
        s.push_str(&format!("  {line}\n"));
    }
    s.push_str(&format!(
        "expected recovery: delivered ids {}\n",
        ranges(&layout.delivered)
    ));
    if let Some((lo, hi)) = layout.gap {
        s.push_str(&format!(
            "expected gap: ids {lo}..={hi} (lost in the restart: strict replay stops there, \
             verify exits 1)\n"
        ));
    }
    let last = layout.delivered.last().map_or(0, |r| r.1);
    if last < spec.events && layout.gap.is_none_or(|(_, hi)| hi < spec.events) {
        s.push_str(&format!(
            "not on disk: ids {}..={} (a partial block never leaves the recorder's memory)\n",
            last + 1,
            spec.events
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_text() {
        assert_eq!(ranges(&[]), "none");
        assert_eq!(
            ranges(&[(1, 16_384), (18_001, 20_000)]),
            "1..=16384, 18001..=20000"
        );
    }
}
