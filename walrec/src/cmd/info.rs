//! `walrec info`: one row per segment file, from the directory scan (headers only, no block is
//! read, so it is fast on any log size).
//!
//! Unsealed segments (the one being written, or the last one after a crash) have no totals in
//! their header: their last id and event count show as `?` (`null` in JSON).

use std::path::PathBuf;

use serde::Serialize;
use wal_recovery::recovery::scan::{scan_dir, ScannedFile};
use wal_recovery::recovery::telemetry::Telemetry;

use crate::exit::{LibContext, Outcome};
use crate::output::{self, Table};

/// Arguments of `walrec info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log directory.
    pub dir: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One segment file, as the scan saw it.
#[derive(Debug, Serialize)]
pub struct Row {
    /// File name.
    pub file: String,
    /// Full path.
    pub path: String,
    /// Sequence number from the header.
    pub sequence: Option<u64>,
    /// First event id (header).
    pub first_id: Option<u64>,
    /// Last event id (sealed headers only).
    pub last_id: Option<u64>,
    /// Event count (sealed headers only).
    pub events: Option<u64>,
    /// File size.
    pub bytes: u64,
    /// Whether the header is sealed.
    pub sealed: Option<bool>,
    /// Scan status label ("ok", "bad header", …).
    pub status: &'static str,
    /// Status with specifics.
    pub detail: String,
}

/// The row of one scanned file.
pub fn row(f: &ScannedFile) -> Row {
    let h = f.header.as_ref();
    let sealed = h.map(|h| h.sealed);
    let counted = h.filter(|h| h.sealed);
    Row {
        file: f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: f.path.to_string_lossy().into_owned(),
        sequence: h.map(|h| h.sequence),
        first_id: h.map(|h| h.first_event_id),
        last_id: counted
            .filter(|h| h.event_count > 0)
            .map(|h| h.last_event_id),
        events: counted.map(|h| h.event_count),
        bytes: f.len,
        sealed,
        status: f.status.label(),
        detail: f.status.describe(),
    }
}

/// Runs `walrec info`. Exits 1 when a file's header is unusable.
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let scan = scan_dir(&a.dir, &Telemetry::new()).ctx("info")?;
    let rows: Vec<Row> = scan.files.iter().map(row).collect();
    let bad = scan.files.iter().any(|f| !f.status.usable());
    let total: u64 = rows.iter().map(|r| r.bytes).sum();
    let mut out = output::stdout();
    if a.json {
        let v = serde_json::json!({
            "dir": a.dir.to_string_lossy(),
            "segments": rows,
            "segment_files": scan.files.len(),
            "usable": scan.usable,
            "ignored_files": scan.ignored,
            "total_bytes": total,
        });
        output::put(&mut out, &format!("{v}\n"))?;
    } else {
        let mut t = Table::new(&[
            "FILE", ">SEQ", "IDS", ">EVENTS", ">BYTES", "SEALED", "STATUS",
        ]);
        for r in &rows {
            let ids = match (r.first_id, r.last_id, r.events) {
                (Some(f), Some(l), _) => format!("{f}..={l}"),
                (Some(_), None, Some(0)) => "(empty)".to_string(),
                (Some(f), None, _) => format!("{f}..?"),
                _ => "-".to_string(),
            };
            t.row(vec![
                r.file.clone(),
                r.sequence.map_or("-".into(), |s| s.to_string()),
                ids,
                r.events.map_or("?".into(), output::thousands),
                output::bytes(r.bytes),
                match r.sealed {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                },
                r.detail.clone(),
            ]);
        }
        output::put(&mut out, &t.render())?;
        output::put(
            &mut out,
            &format!(
                "{} segment files ({} usable), {}, {} other entries ignored\n",
                scan.files.len(),
                scan.usable,
                output::bytes(total),
                scan.ignored
            ),
        )?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(Outcome::from_problems(bad))
}
