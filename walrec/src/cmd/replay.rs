//! `walrec replay`: replays a log through the [`Manager`] exactly as an engine would — one
//! `next()` per event — optionally checking every payload against the `gen` formula, and prints
//! the throughput, the recovery report and the telemetry.
//!
//! Exit 1 when the replay ended with an error, a payload did not match, or the report is not
//! clean (anything lost, skipped or inconsistent).
//!
//! The format is recognised from the headers (`--format` forces one). On a FlashStrike v1 log,
//! `--check-gen` checks every 64-byte `RequestEvent` against the formula `walrec gen --format
//! flashstrike` (and FlashStrike's own sample logs) use, whatever `--payload-size` says.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wal_recovery::recovery::format::Format;
use wal_recovery::recovery::telemetry::Telemetry;
use wal_recovery::{Manager, RecoveryOptions, RecoveryReport};

use super::{FormatArg, Mode};
use crate::exit::{Failure, Outcome};
use crate::genpayload::{Checker, Generator, Mismatch, SizeSpec};
use crate::output::{self, Unit};
use crate::telemetry_out;

/// Arguments of `walrec replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log directory.
    pub dir: PathBuf,
    /// First event id to replay (0: the oldest).
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub from: u64,
    /// What to do at corruption, gaps and other damage.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    pub mode: Mode,
    /// Segment format: recognised from the headers (auto), or forced.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Check every payload against the `gen` formula (FlashStrike logs: the sample
    /// `RequestEvent` formula); stop at the first mismatch.
    #[arg(long)]
    pub check_gen: bool,
    /// Payload size the log was generated with (for --check-gen): B or MIN-MAX.
    #[arg(long, value_name = "B|MIN-MAX", default_value = "64", value_parser = super::size_spec)]
    pub payload_size: SizeSpec,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print the telemetry as Prometheus text instead of the human dump (the summary becomes
    /// `#` comment lines, so the whole output is valid exposition format).
    #[arg(long, conflicts_with = "json")]
    pub prometheus: bool,
}

/// A payload that does not match the formula.
#[derive(Clone, Debug)]
pub struct GenMismatch {
    /// The event.
    pub id: u64,
    /// How it differs.
    pub mismatch: Mismatch,
}

/// What a replay did.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// Events delivered (and checked, with a checker).
    pub events: u64,
    /// Payload bytes delivered.
    pub bytes: u64,
    /// First and last id delivered.
    pub first: Option<u64>,
    /// Last id delivered.
    pub last: Option<u64>,
    /// Time from the first `next()` to the end (the Manager was already open).
    pub elapsed: Duration,
    /// Time `Manager::open` took (scan, resume, first segment verified).
    pub open_time: Duration,
    /// The error that ended the replay, if any.
    pub error: Option<wal_recovery::Error>,
    /// The first payload mismatch, if checking.
    pub mismatch: Option<GenMismatch>,
    /// The final report.
    pub report: RecoveryReport,
    /// Segments in the replay plan (usable segment files).
    pub segments: usize,
    /// The log's format, as the scan recognised it.
    pub format: Option<Format>,
    /// The telemetry root the replay recorded into.
    pub telemetry: Arc<Telemetry>,
}

impl ReplayOutcome {
    /// Whether anything went wrong.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.mismatch.is_some() || !self.report.is_clean()
    }
}

/// Replays `dir` from `opts.start_event_id`, one `next()` per event. `check` verifies payloads
/// (against the FlashStrike sample formula instead when the log is FlashStrike v1).
/// Errors from `Manager::open` are returned as the outer error (exit 1 for damage, else 2).
pub fn replay(
    dir: &Path,
    opts: RecoveryOptions,
    check: Option<&Generator>,
    progress_label: Option<&str>,
) -> anyhow::Result<ReplayOutcome> {
    let telemetry = Arc::new(Telemetry::new());
    let t0 = Instant::now();
    let mut m = Manager::open_with_telemetry(dir, opts, Arc::clone(&telemetry))
        .map_err(|e| Failure::lib("replay: open log", &e))?;
    let open_time = t0.elapsed();
    let segments = m.scan().usable;
    let format = m.scan().format;
    let check = check.map(|g| match format {
        Some(Format::FlashStrikeV1) => Checker::FlashStrike,
        _ => Checker::Gen(g),
    });
    let expected = m
        .report()
        .log_end_id
        .map_or(0, |end| end.saturating_sub(m.report().start_event_id));
    let pb = match progress_label {
        Some(l) => output::progress(expected, l, Unit::Events),
        None => indicatif::ProgressBar::hidden(),
    };
    let (mut events, mut bytes, mut first, mut last) = (0u64, 0u64, None, None);
    let mut error = None;
    let mut mismatch = None;
    let start = Instant::now();
    loop {
        match m.next() {
            Ok(Some(ev)) => {
                events += 1;
                bytes += ev.payload.len() as u64;
                first.get_or_insert(ev.id);
                last = Some(ev.id);
                if let Some(g) = check {
                    if let Err(mm) = g.check(ev.id, ev.payload) {
                        mismatch = Some(GenMismatch {
                            id: ev.id,
                            mismatch: mm,
                        });
                        break;
                    }
                }
                if events & 0xffff == 0 {
                    pb.set_position(events);
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    let report = m.report();
    drop(m); // stops and joins the preloader
    Ok(ReplayOutcome {
        events,
        bytes,
        first,
        last,
        elapsed,
        open_time,
        error,
        mismatch,
        report,
        segments,
        format,
        telemetry,
    })
}

/// Runs `walrec replay`.
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let opts = RecoveryOptions {
        start_event_id: a.from,
        mode: a.mode.into(),
        format: a.format.into(),
        ..RecoveryOptions::default()
    };
    let gen = a.check_gen.then(|| Generator::new(a.payload_size));
    let r = replay(&a.dir, opts, gen.as_ref(), Some("replay"))?;
    let rate = output::rate(r.events, r.bytes, r.elapsed);
    let mut out = output::stdout();
    if a.json {
        let v = serde_json::json!({
            "dir": a.dir.to_string_lossy(),
            "mode": r.report.mode.as_str(),
            "format": r.format.map(|f| f.as_str()),
            "ok": !r.failed(),
            "events": r.events,
            "bytes": r.bytes,
            "first_id": r.first,
            "last_id": r.last,
            "segments": r.segments,
            "seconds": r.elapsed.as_secs_f64(),
            "open_seconds": r.open_time.as_secs_f64(),
            "m_events_per_s": rate.meps,
            "gb_per_s": rate.gbps,
            "check_gen": if a.check_gen {
                serde_json::json!({
                    "formula": formula(&r),
                    "payload_size": a.payload_size.to_string(),
                    "ok": r.mismatch.is_none(),
                    "mismatch": r.mismatch.as_ref().map(|m| serde_json::json!({
                        "id": m.id,
                        "detail": m.mismatch.to_string(),
                    })),
                })
            } else {
                serde_json::Value::Null
            },
            "error": r.error.as_ref().map(|e| e.to_string()),
            "report": output::report_json(&r.report),
            "telemetry": telemetry_out::json(&r.telemetry),
        });
        output::put(&mut out, &format!("{v}\n"))?;
    } else if a.prometheus {
        // The summary as exposition-format comments, so the whole output stays scrapable.
        for l in summary_text(&r, a.check_gen.then_some(a.payload_size)).lines() {
            output::put(&mut out, &format!("# {l}\n"))?;
        }
        output::put(&mut out, &telemetry_out::prometheus(&r.telemetry))?;
    } else {
        output::put(
            &mut out,
            &summary_text(&r, a.check_gen.then_some(a.payload_size)),
        )?;
        output::put(
            &mut out,
            &telemetry_out::dump_or_note(&r.telemetry, "replay"),
        )?;
    }
    std::io::Write::flush(&mut out)?;
    drop(out);
    if let Some(m) = &r.mismatch {
        eprintln!(
            "walrec: replay --check-gen: event {}: {} ({})",
            m.id,
            m.mismatch,
            match r.format {
                Some(Format::FlashStrikeV1) => "FlashStrike sample formula".to_string(),
                _ => format!("payload size {}", a.payload_size),
            }
        );
    } else if let Some(e) = &r.error {
        eprintln!("walrec: {}", Failure::lib("replay", e));
    } else if !r.report.is_clean() {
        eprintln!(
            "walrec: replay: {}: the log is not clean (see the report)",
            a.dir.display()
        );
    }
    Ok(Outcome::from_problems(r.failed()))
}

/// Which formula `--check-gen` used: `gen` or `flashstrike-sample`.
fn formula(r: &ReplayOutcome) -> &'static str {
    match r.format {
        Some(Format::FlashStrikeV1) => "flashstrike-sample",
        _ => "gen",
    }
}

/// Human summary of a replay: events, ids, throughput, check result and the report.
pub fn summary_text(r: &ReplayOutcome, checked: Option<SizeSpec>) -> String {
    let rate = output::rate(r.events, r.bytes, r.elapsed);
    let ids = match (r.first, r.last) {
        (Some(f), Some(l)) => format!("ids {f}..={l}"),
        _ => "no events".into(),
    };
    let mut s = format!(
        "replayed {} events ({ids}), {} of payload, {} segments, in {:.3} s (open {:.1} ms)\n\
         throughput: {:.1} M events/s, {:.2} GB/s ({:.2} ns/event)\n",
        output::thousands(r.events),
        output::bytes(r.bytes),
        r.segments,
        r.elapsed.as_secs_f64(),
        r.open_time.as_secs_f64() * 1e3,
        rate.meps,
        rate.gbps,
        if r.events > 0 {
            r.elapsed.as_nanos() as f64 / r.events as f64
        } else {
            0.0
        },
    );
    if let Some(spec) = checked {
        let what = match r.format {
            Some(Format::FlashStrikeV1) => {
                "the FlashStrike sample formula (64-byte RequestEvents)".to_string()
            }
            _ => format!("the gen formula (payload size {spec})"),
        };
        match &r.mismatch {
            None => s.push_str(&format!(
                "check-gen: all {} payloads match {what}\n",
                output::thousands(r.events)
            )),
            Some(m) => s.push_str(&format!(
                "check-gen: MISMATCH at event {}: {}\n",
                m.id, m.mismatch
            )),
        }
    }
    if let Some(e) = &r.error {
        s.push_str(&format!("replay ended with an error: {e}\n"));
    }
    s.push_str(&output::report_text(&r.report, ""));
    s
}
