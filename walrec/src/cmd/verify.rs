//! `walrec verify`: full verification of a log.
//!
//! Two passes:
//!
//! 1. every segment file is opened with [`SegmentReader::open`] and fully verified
//!    ([`SegmentReader::verify`]: headers, block CRCs, ids, chain, padding, sealed totals), giving
//!    a status per file;
//! 2. a [`Manager`] in skip-corrupted mode replays the whole log (draining `next_batch`), which
//!    checks what no single file can: contiguity across segments, gaps, duplicates, the
//!    cross-segment chain — and accounts for every lost id range.
//!
//! Clean (exit 0) means every segment verified and the replay report is clean. A torn tail of
//! the last, unsealed segment is the normal state after a crash: reported, but clean.
//!
//! Both formats go through the same two passes (`--format` forces one). What FlashStrike's
//! recorder leaves behind after a crash is judged as it is, not as damage: the segments it
//! pre-creates hold no events and are listed as `empty` (not a problem — the scan says so, and
//! [`SegmentReader::open`] refuses such a file, so it is never opened here); the active segment
//! it never finalized ends in zero-filled blocks, which is the torn tail of the last segment. A
//! restart gap (ids that no file holds) is found by the continuity pass and named in the
//! problems, with exit 1.

use std::path::PathBuf;

use serde::Serialize;
use wal_recovery::recovery::format::FormatChoice;
use wal_recovery::recovery::scan::{scan_dir_as, FileStatus, ScannedFile};
use wal_recovery::recovery::segment_reader::SegmentEnd;
use wal_recovery::recovery::telemetry::Telemetry;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, RecoveryReport, SegmentReader};

use super::{format_name, FormatArg};
use crate::exit::{is_damage, Failure, LibContext, Outcome};
use crate::output::{self, Table, Unit};

/// Arguments of `walrec verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log directory.
    pub dir: PathBuf,
    /// Print one JSON object (per-segment results and the recovery report).
    #[arg(long)]
    pub json: bool,
    /// Segment format: recognised from the headers (auto), or forced.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
}

/// Verification result of one segment file.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentResult {
    /// File name.
    pub file: String,
    /// Full path.
    pub path: String,
    /// Sequence number (header).
    pub sequence: Option<u64>,
    /// First event id (header).
    pub first_id: Option<u64>,
    /// Last valid event id (`None` when the valid prefix holds no event).
    pub last_id: Option<u64>,
    /// Events in the valid prefix.
    pub events: u64,
    /// File size.
    pub bytes: u64,
    /// Bytes of the valid prefix (header included).
    pub valid_bytes: u64,
    /// Whether the header is sealed.
    pub sealed: Option<bool>,
    /// The file's format ("native", "flashstrike-v1"), when its header was recognised.
    pub format: Option<&'static str>,
    /// "ok", "torn tail", "corrupt", "empty", "bad header", "unreadable" or "name mismatch".
    pub status: &'static str,
    /// Specifics (the corruption, the torn tail, …).
    pub detail: String,
    /// Whether this result makes the log unclean.
    pub problem: bool,
}

impl SegmentResult {
    /// `status: detail` (just `ok` when it is); the scan's description of a file it could not
    /// use already starts with the status label, which is not repeated.
    pub fn status_text(&self) -> String {
        if self.status == "ok" {
            "ok".to_string()
        } else if self.detail.starts_with(&format!("{}: ", self.status)) {
            self.detail.clone()
        } else {
            format!("{}: {}", self.status, self.detail)
        }
    }
}

/// Opens and fully verifies one scanned file. `last` tells whether it is the last usable
/// segment (the only one allowed a torn tail). An empty segment (FlashStrike's pre-created
/// files) is listed, not opened, and is not a problem.
pub fn verify_file(f: &ScannedFile, last: bool) -> SegmentResult {
    let h = f.header.as_ref();
    let mut r = SegmentResult {
        file: f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: f.path.to_string_lossy().into_owned(),
        sequence: h.map(|h| h.sequence),
        first_id: h.map(|h| h.first_event_id),
        last_id: None,
        events: 0,
        bytes: f.len,
        valid_bytes: 0,
        sealed: h.map(|h| h.sealed),
        format: f.format.map(|f| f.as_str()),
        status: f.status.label(),
        detail: f.status.describe(),
        problem: f.status.is_damage(),
    };
    if !f.status.usable() {
        return r;
    }
    let mut reader = match SegmentReader::open(&f.path) {
        Ok(reader) => reader,
        // The file became an empty segment between the scan and now (a recorder pre-creating
        // it): what the scan would say now.
        Err(e @ wal_recovery::Error::SegmentUnusable { .. }) if empty_now(f) => {
            r.status = "empty";
            r.detail = Failure::lib("open", &e).why;
            return r;
        }
        Err(e) => {
            r.status = if is_damage(&e) {
                "corrupt"
            } else {
                "unreadable"
            };
            r.detail = Failure::lib("open", &e).why;
            r.problem = true;
            return r;
        }
    };
    reader.verify();
    r.events = reader.event_count();
    r.last_id = (r.events > 0).then(|| reader.end_event_id() - 1);
    r.valid_bytes = reader.valid_len();
    match reader.end() {
        SegmentEnd::Clean => {}
        SegmentEnd::TornTail(t) => {
            r.status = "torn tail";
            r.problem = !last;
            r.detail = format!(
                "torn tail at offset {}: {} bytes dropped ({}){}",
                t.offset,
                t.bytes,
                t.reason,
                if last { "" } else { "; not the last segment" }
            );
        }
        SegmentEnd::Corrupt(c) => {
            r.status = "corrupt";
            r.problem = true;
            let mut d = format!("{} at offset {}", c.kind.as_str(), c.offset);
            if let Some(b) = c.block {
                d.push_str(&format!(" (block {b})"));
            }
            if !c.detail.is_empty() {
                d.push_str(&format!(": {}", c.detail));
            }
            r.detail = d;
        }
    }
    r
}

/// Whether `f` scans as an empty segment now.
fn empty_now(f: &ScannedFile) -> bool {
    let Some(dir) = f.path.parent() else {
        return false;
    };
    let Ok(scan) = scan_dir_as(dir, FormatChoice::Auto, &Telemetry::new()) else {
        return false;
    };
    scan.files
        .iter()
        .any(|g| g.path == f.path && matches!(g.status, FileStatus::Empty { .. }))
}

/// Replays the whole log in skip-corrupted mode and returns its report.
fn continuity_pass(
    a: &Args,
    expected_events: u64,
) -> anyhow::Result<Result<RecoveryReport, wal_recovery::Error>> {
    let opts = RecoveryOptions {
        mode: RecoveryMode::SkipCorrupted,
        format: a.format.into(),
        ..RecoveryOptions::default()
    };
    let mut m = match Manager::open(&a.dir, opts) {
        Ok(m) => m,
        Err(e) if is_damage(&e) => return Ok(Err(e)),
        Err(e) => return Err(Failure::lib("verify", &e).into()),
    };
    let pb = output::progress(expected_events, "verify: continuity", Unit::Events);
    let mut done = 0u64;
    loop {
        let mut batch = Vec::with_capacity(4096);
        match m.next_batch(&mut batch, 4096) {
            Ok(0) => break,
            Ok(n) => {
                done += n as u64;
                if done & !0xffff != (done - n as u64) & !0xffff {
                    pb.set_position(done);
                }
            }
            Err(e) => {
                pb.finish_and_clear();
                return Ok(Err(e));
            }
        }
    }
    pb.finish_and_clear();
    Ok(Ok(m.report()))
}

/// Runs `walrec verify`.
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let scan = scan_dir_as(&a.dir, a.format.into(), &Telemetry::new()).ctx("verify")?;
    let total: u64 = scan.files.iter().map(|f| f.len).sum();
    let pb = output::progress(total, "verify: segments", Unit::Bytes);
    let mut results = Vec::with_capacity(scan.files.len());
    for (i, f) in scan.files.iter().enumerate() {
        results.push(verify_file(f, i + 1 == scan.usable));
        pb.inc(f.len);
    }
    pb.finish_and_clear();
    let events: u64 = results.iter().map(|r| r.events).sum();
    let replay = continuity_pass(&a, events)?;

    let mut problems: Vec<String> = results
        .iter()
        .filter(|r| r.problem)
        .map(|r| format!("{}: {}", r.path, r.status_text()))
        .collect();
    match &replay {
        Ok(rep) => {
            for l in &rep.lost {
                let last = l.last_id.map_or("?".to_string(), |x| x.to_string());
                let file = l
                    .path
                    .as_ref()
                    .map(|p| format!(" after {}", p.display()))
                    .unwrap_or_default();
                problems.push(format!(
                    "lost ids {}..={last}{file}: {}",
                    l.first_id, l.reason
                ));
            }
            for c in &rep.continuity {
                problems.push(format!(
                    "{} between {} and {}: ids {}..={}",
                    c.kind,
                    c.previous.display(),
                    c.next.display(),
                    c.first_id,
                    c.last_id
                ));
            }
            for d in rep.duplicates.iter().filter(|d| !d.identical) {
                problems.push(format!(
                    "conflicting duplicate: {} repeats ids {}..={} of {}",
                    d.other.display(),
                    d.first_id,
                    d.last_id,
                    d.kept.display()
                ));
            }
            if !rep.is_clean() && problems.is_empty() {
                problems.push("recovery report is not clean".into());
            }
        }
        Err(e) => problems.push(format!("replay: {}", Failure::lib("replay", e))),
    }
    let clean = problems.is_empty();

    let mut out = output::stdout();
    if a.json {
        let report = match &replay {
            Ok(rep) => output::report_json(rep),
            Err(_) => serde_json::Value::Null,
        };
        let v = serde_json::json!({
            "dir": a.dir.to_string_lossy(),
            "format": scan.format.map(|f| f.as_str()),
            "clean": clean,
            "segment_files": results.len(),
            "events_verified": events,
            "bytes": total,
            "segments": results,
            "problems": problems,
            "replay_error": replay.as_ref().err().map(|e| e.to_string()),
            "report": report,
        });
        output::put(&mut out, &format!("{v}\n"))?;
    } else {
        let mut t = Table::new(&[
            "FILE", ">SEQ", "IDS", ">EVENTS", ">BYTES", "SEALED", "STATUS",
        ]);
        for r in &results {
            let ids = match (r.first_id, r.last_id) {
                (Some(f), Some(l)) => format!("{f}..={l}"),
                (Some(_), None) => "(no events)".into(),
                _ if r.status == "empty" => "(empty)".into(),
                _ => "-".into(),
            };
            let status = r.status_text();
            t.row(vec![
                r.file.clone(),
                r.sequence.map_or("-".into(), |s| s.to_string()),
                ids,
                output::thousands(r.events),
                output::bytes(r.bytes),
                match r.sealed {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                },
                status,
            ]);
        }
        output::put(&mut out, &t.render())?;
        output::put(&mut out, "continuity (full replay, skip-corrupted mode):\n")?;
        match &replay {
            Ok(rep) => output::put(&mut out, &output::report_text(rep, "  "))?,
            Err(e) => output::put(
                &mut out,
                &format!(
                    "  format: {}\n  replay failed: {e}\n",
                    format_name(scan.format)
                ),
            )?,
        }
        if clean {
            output::put(
                &mut out,
                &format!(
                    "verdict: CLEAN — {} segment files, {} events, {} verified\n",
                    results.len(),
                    output::thousands(events),
                    output::bytes(total)
                ),
            )?;
        } else {
            output::put(
                &mut out,
                &format!("verdict: {} PROBLEM(S) FOUND\n", problems.len()),
            )?;
            for p in &problems {
                output::put(&mut out, &format!("  - {p}\n"))?;
            }
        }
    }
    std::io::Write::flush(&mut out)?;
    Ok(Outcome::from_problems(!clean))
}
