//! Directory scan: find every segment file (`*.wal`, and FlashStrike's cold `*.wal.lz4`), read
//! and validate its header in the format its first bytes announce ([`super::format`]), and
//! order the usable segments by first event id.
//!
//! Only headers are read here (128 bytes per file: a FlashStrike segment that was never
//! finalized has its first ids in its first block header), so scanning 10 000 segments is
//! cheap; blocks are verified later, segment by segment, by the preloader. Every file gets a
//! status so the report can say exactly what was found — FlashStrike silently kept or dropped
//! files. A directory holding segments of both formats is an error naming one of each.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::format::{self, Decoded, Format, FormatChoice, HEADER_PREFIX_BYTES};
use super::telemetry::Telemetry;
use crate::error::{CorruptionKind, Error, Result};
use crate::segment::header::SegmentHeader;
use crate::segment::naming;

/// What the scan made of one `*.wal` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Header valid; the name matches its sequence number (or is not canonical).
    Ok,
    /// Header valid, but the canonical file name says another sequence number.
    NameMismatch {
        /// Sequence number in the name.
        name_sequence: u64,
    },
    /// The header failed validation.
    BadHeader {
        /// Which check failed.
        kind: CorruptionKind,
        /// Specifics.
        detail: String,
    },
    /// The file could not be opened or read.
    Unreadable {
        /// The OS error.
        error: String,
    },
    /// A segment file that holds no events and never did (FlashStrike: pre-created by the
    /// recorder, or finalized empty). Not data, so nothing is lost; listed for the record.
    Empty {
        /// What it is.
        detail: String,
    },
}

impl FileStatus {
    /// Whether the segment can be replayed.
    pub fn usable(&self) -> bool {
        matches!(self, FileStatus::Ok | FileStatus::NameMismatch { .. })
    }

    /// Whether the file is damage: neither usable nor an empty segment.
    pub fn is_damage(&self) -> bool {
        !self.usable() && !matches!(self, FileStatus::Empty { .. })
    }

    /// Short label for reports.
    pub fn label(&self) -> &'static str {
        match self {
            FileStatus::Ok => "ok",
            FileStatus::NameMismatch { .. } => "name/header mismatch",
            FileStatus::BadHeader { .. } => "bad header",
            FileStatus::Unreadable { .. } => "unreadable",
            FileStatus::Empty { .. } => "empty",
        }
    }

    /// Label plus specifics.
    pub fn describe(&self) -> String {
        match self {
            FileStatus::Ok => "ok".into(),
            FileStatus::NameMismatch { name_sequence } => {
                format!("name says sequence {name_sequence}, header disagrees")
            }
            FileStatus::BadHeader { kind, detail } => {
                format!("bad header: {}: {detail}", kind.as_str())
            }
            FileStatus::Unreadable { error } => format!("unreadable: {error}"),
            FileStatus::Empty { detail } => format!("empty: {detail}"),
        }
    }
}

/// One scanned `*.wal` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedFile {
    /// Path of the file.
    pub path: PathBuf,
    /// Sequence number from a canonical name.
    pub name_sequence: Option<u64>,
    /// File length in bytes.
    pub len: u64,
    /// Validation outcome.
    pub status: FileStatus,
    /// The header, when it decoded.
    pub header: Option<SegmentHeader>,
    /// The format its header announced, when it was recognised.
    pub format: Option<Format>,
}

/// Everything a directory scan found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Every `*.wal` file, usable segments first in replay order (first id, then sequence),
    /// then the rest in name order.
    pub files: Vec<ScannedFile>,
    /// Number of usable segments at the front of `files`.
    pub usable: usize,
    /// Entries that are not segment files (ignored, counted): for FlashStrike logs this
    /// includes `wal_meta.dat` and `wal_meta.dat.tmp`, which are never trusted.
    pub ignored: u64,
    /// The log's format (`None` when no segment header was recognised).
    pub format: Option<Format>,
}

impl Scan {
    /// The usable segments, in replay order.
    pub fn segments(&self) -> &[ScannedFile] {
        &self.files[..self.usable]
    }
}

/// The open file, its length and its first bytes: up to [`HEADER_PREFIX_BYTES`] of a `.wal`,
/// or of a cold segment's decompressed content. The file stays open for the header's probes.
fn read_prefix(path: &Path) -> std::io::Result<(File, u64, Vec<u8>)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut prefix = Vec::with_capacity(HEADER_PREFIX_BYTES);
    if format::is_cold_name(path) {
        let mut compressed = Vec::new();
        (&file).take(len).read_to_end(&mut compressed)?;
        let inflated =
            crate::flashstrike::cold::decompress_prefix(&compressed, HEADER_PREFIX_BYTES)?;
        return Ok((file, len, inflated));
    }
    (&file)
        .take(HEADER_PREFIX_BYTES as u64)
        .read_to_end(&mut prefix)?;
    Ok((file, len, prefix))
}

fn read_header(
    path: &Path,
    choice: FormatChoice,
) -> (u64, FileStatus, Option<SegmentHeader>, Option<Format>) {
    let (file, len, prefix) = match read_prefix(path) {
        Ok(p) => p,
        Err(e) if format::is_cold_name(path) && e.kind() == std::io::ErrorKind::InvalidData => {
            let status = FileStatus::BadHeader {
                kind: CorruptionKind::ColdFrame,
                detail: e.to_string(),
            };
            return (0, status, None, Some(Format::FlashStrikeV1));
        }
        Err(e) => {
            let status = FileStatus::Unreadable {
                error: e.to_string(),
            };
            return (0, status, None, None);
        }
    };
    let detected = format::detect(&prefix);
    if prefix.len() < crate::segment::HEADER_BYTES {
        let status = FileStatus::BadHeader {
            kind: CorruptionKind::TooShort,
            detail: format!("{} bytes, a segment header needs 64", prefix.len()),
        };
        return (len, status, None, detected);
    }
    let mut read_at = |off: u64, buf: &mut [u8]| {
        use std::os::unix::fs::FileExt;
        // A cold file's bytes are compressed: only its prefix is known here (a cold segment
        // is always finalized, so nothing needs probing).
        !format::is_cold_name(path) && file.read_exact_at(buf, off).is_ok()
    };
    let mut stored = || crate::recovery::segment_bytes::trailing_hole(&file, len);
    match format::decode_header_probing(&prefix, choice, len, &mut stored, &mut read_at) {
        Ok(Decoded::Segment { header, format, .. }) => {
            (len, FileStatus::Ok, Some(header), Some(format))
        }
        Ok(Decoded::Empty { format, detail }) => {
            (len, FileStatus::Empty { detail }, None, Some(format))
        }
        Err(e) => (
            len,
            FileStatus::BadHeader {
                kind: e.kind,
                detail: e.detail,
            },
            None,
            detected.filter(|&f| choice.admits(f)),
        ),
    }
}

/// Whether the file is one the FlashStrike recorder created and never wrote: empty (after
/// `open`), or of a preallocated length and nothing but zeros (after `ftruncate`).
fn is_blank(path: &Path) -> bool {
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let len = file.metadata().map_or(1, |m| m.len());
    if len != 0 && !format::flashstrike::is_preallocated_len(len) {
        return false;
    }
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                if !format::all_zero(&buf[..n]) {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

/// The sequence number a canonical file name of either format encodes: wal_recovery's
/// 20-digit `.wal` names, FlashStrike's `FS.<8 digits>.wal` (and `.wal.lz4`).
fn name_sequence(name: &str) -> Option<u64> {
    naming::parse(name).or_else(|| format::flashstrike::parse_file_name(name))
}

/// Whether a directory entry name is a segment file's.
fn is_segment_name(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == naming::EXTENSION) || format::is_cold_name(path)
}

/// Scans `dir`, recognising the format from the headers. Missing directory, non-directory,
/// unreadable directory and segments of two formats are typed errors.
pub fn scan_dir(dir: &Path, telemetry: &Telemetry) -> Result<Scan> {
    scan_dir_as(dir, FormatChoice::Auto, telemetry)
}

/// As [`scan_dir`], reading only the format `choice` names (other segment files are bad
/// headers) unless it is [`FormatChoice::Auto`].
pub fn scan_dir_as(dir: &Path, choice: FormatChoice, telemetry: &Telemetry) -> Result<Scan> {
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::DirectoryNotFound(dir.to_path_buf()))
        }
        Err(e) => return Err(Error::io("stat directory", dir, e)),
    };
    if !meta.is_dir() {
        return Err(Error::NotADirectory(dir.to_path_buf()));
    }
    let rd = fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    let mut files = Vec::new();
    let mut ignored = 0u64;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let path = entry.path();
        let is_wal = is_segment_name(&path);
        // The entry's type comes with the directory listing (no stat); only symlinks are
        // followed, so a symlinked segment is read like the file it points to.
        let is_file = is_wal
            && match entry.file_type() {
                Ok(t) if t.is_symlink() => {
                    fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false)
                }
                Ok(t) => t.is_file(),
                Err(_) => fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false),
            };
        if !is_wal || !is_file {
            ignored += 1;
            continue;
        }
        let start = super::telemetry::now_ns();
        let name_sequence = entry.file_name().to_str().and_then(name_sequence);
        let (len, mut status, header, format) = read_header(&path, choice);
        if let (Some(h), Some(n)) = (&header, name_sequence) {
            if h.sequence != n {
                status = FileStatus::NameMismatch { name_sequence: n };
            }
        }
        telemetry
            .manager
            .on_read_segment_header(start, status.usable());
        files.push(ScannedFile {
            path,
            name_sequence,
            len,
            status,
            header,
            format,
        });
    }
    // A crash while the FlashStrike recorder creates a segment leaves its file empty (after
    // `open`) or all zeros (after `ftruncate`, before the header): newer than every segment
    // holding data, that is a segment never written, not damage.
    if choice.admits(Format::FlashStrikeV1)
        && !files.iter().any(|f| f.format == Some(Format::Native))
    {
        let last_data = files
            .iter()
            .filter(|f| f.status.usable())
            .filter_map(|f| f.header.map(|h| h.sequence))
            .max();
        for f in files.iter_mut() {
            let index = f
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(format::flashstrike::parse_file_name);
            let newer = index.is_some_and(|n| last_data.is_none_or(|l| n > l));
            if matches!(f.status, FileStatus::BadHeader { .. })
                && newer
                && !format::is_cold_name(&f.path)
                && is_blank(&f.path)
            {
                f.status = FileStatus::Empty {
                    detail: "created by the recorder and never written (a crash while creating it)"
                        .into(),
                };
                f.format = Some(Format::FlashStrikeV1);
            }
        }
    }
    let first_of = |f: Format| {
        files
            .iter()
            .filter(|s| s.format == Some(f) && !matches!(s.status, FileStatus::BadHeader { .. }))
            .map(|s| s.path.clone())
            .min()
    };
    let (native, flashstrike) = (first_of(Format::Native), first_of(Format::FlashStrikeV1));
    let format = match (native, flashstrike) {
        (Some(native), Some(flashstrike)) => {
            return Err(Error::MixedFormats {
                native,
                flashstrike,
            })
        }
        (Some(_), None) => Some(Format::Native),
        (None, Some(_)) => Some(Format::FlashStrikeV1),
        (None, None) => match choice {
            FormatChoice::Native => Some(Format::Native),
            FormatChoice::FlashStrikeV1 => Some(Format::FlashStrikeV1),
            FormatChoice::Auto => None,
        },
    };
    if format == Some(Format::Native) {
        one_log(&files)?;
    }
    // Usable first, ordered by (first id, sequence) — a stable, total order; then the rest.
    files.sort_by(|a, b| {
        let key = |f: &ScannedFile| match &f.header {
            Some(h) if f.status.usable() => (0u8, h.first_event_id, h.sequence, f.path.clone()),
            _ => (1u8, f.name_sequence.unwrap_or(u64::MAX), 0, f.path.clone()),
        };
        key(a).cmp(&key(b))
    });
    let usable = files.iter().take_while(|f| f.status.usable()).count();
    Ok(Scan {
        files,
        usable,
        ignored,
        format,
    })
}

/// Fails with [`Error::MixedLogs`] when the usable native segments do not all belong to one
/// log: two format-2 log ids, or format-1 segments next to format-2 ones (a writer continues a
/// format-1 log in format 1, so no writer leaves that mix).
fn one_log(files: &[ScannedFile]) -> Result<()> {
    // In name order, so that the message names the oldest segment and the first that differs.
    let mut usable: Vec<&ScannedFile> = files.iter().filter(|f| f.status.usable()).collect();
    usable.sort_by(|a, b| a.path.cmp(&b.path));
    let mut first: Option<(&ScannedFile, (u8, u64))> = None;
    for f in usable {
        let Some(h) = &f.header else { continue };
        let id = (h.version, h.log_id);
        match first {
            None => first = Some((f, id)),
            Some((g, gid)) if gid != id => {
                return Err(Error::MixedLogs {
                    first: g.path.clone(),
                    first_id: g.header.as_ref().map(|h| h.identity()).unwrap_or_default(),
                    other: f.path.clone(),
                    other_id: h.identity(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}
