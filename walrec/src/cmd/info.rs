//! `walrec info`: one row per segment file, from the directory scan (headers only, no block is
//! read, so it is fast on any log size).
//!
//! Unsealed segments (the one being written, or the last one after a crash) have no totals in
//! their header: their last id and event count show as `?` (`null` in JSON).
//!
//! Both formats are listed the same way, and the log's format is printed. A FlashStrike directory
//! also holds files that are segments by name but hold no events: the ones its recorder
//! pre-creates (and, after a crash, leaves behind). They are listed as `empty` — they are not
//! data, so they are not problems, and `info` exits 0 for them; only damaged or unreadable
//! headers make it exit 1. Cold FlashStrike segments (`.wal.lz4`) are listed with their
//! compressed size; their header is read from the decompressed start of the frame.

use std::path::PathBuf;

use serde::Serialize;
use wal_recovery::recovery::scan::{scan_dir_as, FileStatus, ScannedFile};
use wal_recovery::recovery::telemetry::Telemetry;

use super::{format_name, FormatArg};
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
    /// Segment format: recognised from the headers (auto), or forced.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
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
    /// Event count (sealed headers only; 0 for an empty segment).
    pub events: Option<u64>,
    /// File size.
    pub bytes: u64,
    /// Whether the header is sealed.
    pub sealed: Option<bool>,
    /// The file's format, when its header was recognised.
    pub format: Option<&'static str>,
    /// Native format version (1 or 2), when the header was recognised.
    pub version: Option<u8>,
    /// Native format 2: the log id (`0x` + 16 hex digits); `null` in format 1 and FlashStrike.
    pub log_id: Option<String>,
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
    let empty = matches!(f.status, FileStatus::Empty { .. });
    let native = f.format == Some(wal_recovery::recovery::format::Format::Native);
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
        events: counted.map(|h| h.event_count).or(empty.then_some(0)),
        bytes: f.len,
        sealed,
        format: f.format.map(|f| f.as_str()),
        version: h.filter(|_| native).map(|h| h.version),
        log_id: h
            .filter(|h| native && h.log_id != 0)
            .map(|h| format!("{:#018x}", h.log_id)),
        status: f.status.label(),
        detail: f.status.describe(),
    }
}

/// Runs `walrec info`. Exits 1 when a file's header is damaged or unreadable (an empty,
/// pre-created segment is not a problem).
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let scan = scan_dir_as(&a.dir, a.format.into(), &Telemetry::new()).ctx("info")?;
    let rows: Vec<Row> = scan.files.iter().map(row).collect();
    let bad = scan.files.iter().any(|f| f.status.is_damage());
    let empty = scan
        .files
        .iter()
        .filter(|f| matches!(f.status, FileStatus::Empty { .. }))
        .count();
    let total: u64 = rows.iter().map(|r| r.bytes).sum();
    let mut out = output::stdout();
    if a.json {
        let v = serde_json::json!({
            "dir": a.dir.to_string_lossy(),
            "format": scan.format.map(|f| f.as_str()),
            "log": log_identity(&rows),
            "segments": rows,
            "segment_files": scan.files.len(),
            "usable": scan.usable,
            "empty": empty,
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
                (None, None, Some(0)) => "(empty)".to_string(),
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
        let empty = if empty > 0 {
            format!(", {empty} empty")
        } else {
            String::new()
        };
        output::put(
            &mut out,
            &format!(
                "{} segment files ({} usable{empty}), {}, {} other entries ignored\n\
                 format: {}\n\
                 log: {}\n",
                scan.files.len(),
                scan.usable,
                output::bytes(total),
                scan.ignored,
                format_name(scan.format),
                log_identity(&rows).unwrap_or_else(|| "-".into()),
            ),
        )?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(Outcome::from_problems(bad))
}

/// The log's identity, from the first segment whose native header was read: `log id 0x…
/// (format 2)` or `format 1 (no log id)`. (The scan has already refused a directory whose
/// segments disagree: `Error::MixedLogs`.)
fn log_identity(rows: &[Row]) -> Option<String> {
    let r = rows.iter().find(|r| r.version.is_some())?;
    Some(match &r.log_id {
        Some(id) => format!("log id {id} (format {})", r.version.unwrap_or(2)),
        None => "format 1 (no log id)".into(),
    })
}
