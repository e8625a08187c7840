//! The recovery report: an exact account of what a replay found, delivered and could not
//! deliver — available at any time during replay and at its end, and rendered as JSON for tools
//! and the C API.
//!
//! Operators must know after a crash exactly what was recovered; every lost or skipped id range
//! appears here with its reason, so nothing is ever skipped silently.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::format::Format;
use super::options::RecoveryMode;
use super::scan::ScannedFile;

/// A range of event ids that was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostRange {
    /// First id not delivered.
    pub first_id: u64,
    /// Last id not delivered (inclusive); `None` when unknown (damage at the end of the log
    /// whose extent no header records).
    pub last_id: Option<u64>,
    /// Why (corruption, missing segment, unusable file…).
    pub reason: String,
    /// The file involved, when one is.
    pub path: Option<PathBuf>,
}

/// A segment left out of the replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedSegment {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// The torn tail of an unsealed segment (the normal state after a crash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTailReport {
    /// The segment.
    pub path: PathBuf,
    /// Offset of the first dropped byte.
    pub offset: u64,
    /// Bytes dropped.
    pub bytes: u64,
    /// What was found there.
    pub reason: String,
}

/// Two files holding the same or overlapping ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateReport {
    /// File replayed.
    pub kept: PathBuf,
    /// File not replayed (or replayed only past the overlap).
    pub other: PathBuf,
    /// Ids the two files share.
    pub first_id: u64,
    /// Last shared id (inclusive).
    pub last_id: u64,
    /// Byte-identical content (same chain values), or conflicting/overlapping.
    pub identical: bool,
}

/// A problem between neighbouring segments (gap, overlap, broken chain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContinuityReport {
    /// "gap", "overlap", "conflicting duplicate" or "broken chain".
    pub kind: String,
    /// Earlier segment.
    pub previous: PathBuf,
    /// Later segment.
    pub next: PathBuf,
    /// First id concerned.
    pub first_id: u64,
    /// Last id concerned (inclusive).
    pub last_id: u64,
}

/// Everything a replay found and did. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Log directory.
    pub dir: PathBuf,
    /// Mode used.
    pub mode: RecoveryMode,
    /// Every `*.wal` file and what the scan made of it.
    pub files: Vec<ScannedFile>,
    /// Directory entries that are not segment files (ignored).
    pub ignored_files: u64,
    /// The log's format, as recognised from its headers (`None`: no segment header was).
    pub format: Option<Format>,
    /// Segment files found.
    pub segments_scanned: u64,
    /// Segments whose events were (at least partly) delivered.
    pub segments_replayed: u64,
    /// Segments left out, with reasons.
    pub segments_skipped: Vec<SkippedSegment>,
    /// Torn tail of the last segment, if any.
    pub torn_tail: Option<TornTailReport>,
    /// Every id range not delivered.
    pub lost: Vec<LostRange>,
    /// Duplicate and overlapping segments.
    pub duplicates: Vec<DuplicateReport>,
    /// Gaps, overlaps and broken chains met during replay.
    pub continuity: Vec<ContinuityReport>,
    /// Segments the manager opened itself because the preloader had not.
    pub fallback_opens: u64,
    /// Finished readers closed synchronously because the finished ring was full.
    pub sync_closes: u64,
    /// Events delivered.
    pub events_delivered: u64,
    /// Payload bytes delivered.
    pub bytes_delivered: u64,
    /// First id delivered.
    pub first_delivered: Option<u64>,
    /// Last id delivered.
    pub last_delivered: Option<u64>,
    /// Where the replay was asked to start (after resolving 0 to the oldest id).
    pub start_event_id: u64,
    /// Oldest and newest ids the log's headers claim (`None` for an empty log).
    pub log_first_id: Option<u64>,
    /// One past the newest id the *sealed* segment headers claim at open (`None` when no
    /// segment is sealed). The events of an unsealed segment (the one a crash left open) are
    /// known only by reading its blocks: see `last_delivered` for how far the replay got.
    pub log_end_id: Option<u64>,
    /// Replay reached the end of the log.
    pub complete: bool,
    /// `StopAtCorruption`: why replay ended early.
    pub stopped: Option<String>,
    /// `Strict`: the error that ended replay.
    pub error: Option<String>,
    /// The preloader thread panicked (replay continued synchronously).
    pub worker_panic: Option<String>,
}

impl RecoveryReport {
    /// True when nothing was lost, skipped or inconsistent (a torn tail alone is clean).
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty()
            && self.segments_skipped.is_empty()
            && self.continuity.is_empty()
            && self.duplicates.iter().all(|d| d.identical)
            && self.files.iter().all(|f| !f.status.is_damage())
            && self.stopped.is_none()
            && self.error.is_none()
    }

    /// Renders the report as one JSON object.
    pub fn to_json(&self) -> String {
        let mut j = Json::default();
        j.open('{');
        j.str_field("dir", &self.dir.to_string_lossy());
        j.str_field("mode", self.mode.as_str());
        j.bool_field("clean", self.is_clean());
        j.bool_field("complete", self.complete);
        j.num_field("start_event_id", self.start_event_id);
        j.opt_num_field("log_first_id", self.log_first_id);
        j.opt_num_field("log_end_id", self.log_end_id);
        j.num_field("events_delivered", self.events_delivered);
        j.num_field("bytes_delivered", self.bytes_delivered);
        j.opt_num_field("first_delivered", self.first_delivered);
        j.opt_num_field("last_delivered", self.last_delivered);
        j.num_field("segments_scanned", self.segments_scanned);
        j.num_field("segments_replayed", self.segments_replayed);
        j.num_field("ignored_files", self.ignored_files);
        j.opt_str_field("format", self.format.map(Format::as_str));
        j.num_field("fallback_opens", self.fallback_opens);
        j.num_field("sync_closes", self.sync_closes);
        j.opt_str_field("stopped", self.stopped.as_deref());
        j.opt_str_field("error", self.error.as_deref());
        j.opt_str_field("worker_panic", self.worker_panic.as_deref());
        j.key("torn_tail");
        match &self.torn_tail {
            None => j.raw("null"),
            Some(t) => {
                j.open('{');
                j.str_field("path", &t.path.to_string_lossy());
                j.num_field("offset", t.offset);
                j.num_field("bytes", t.bytes);
                j.str_field("reason", &t.reason);
                j.close('}');
            }
        }
        j.array("lost", &self.lost, |j, l| {
            j.num_field("first_id", l.first_id);
            j.opt_num_field("last_id", l.last_id);
            j.str_field("reason", &l.reason);
            j.opt_str_field(
                "path",
                l.path.as_ref().map(|p| p.to_string_lossy()).as_deref(),
            );
        });
        j.array("segments_skipped", &self.segments_skipped, |j, s| {
            j.str_field("path", &s.path.to_string_lossy());
            j.str_field("reason", &s.reason);
        });
        j.array("duplicates", &self.duplicates, |j, d| {
            j.str_field("kept", &d.kept.to_string_lossy());
            j.str_field("other", &d.other.to_string_lossy());
            j.num_field("first_id", d.first_id);
            j.num_field("last_id", d.last_id);
            j.bool_field("identical", d.identical);
        });
        j.array("continuity", &self.continuity, |j, c| {
            j.str_field("kind", &c.kind);
            j.str_field("previous", &c.previous.to_string_lossy());
            j.str_field("next", &c.next.to_string_lossy());
            j.num_field("first_id", c.first_id);
            j.num_field("last_id", c.last_id);
        });
        j.array("files", &self.files, |j, f| {
            j.str_field("path", &f.path.to_string_lossy());
            j.opt_num_field("name_sequence", f.name_sequence);
            j.num_field("bytes", f.len);
            j.str_field("status", f.status.label());
            j.str_field("detail", &f.status.describe());
            j.opt_str_field("format", f.format.map(Format::as_str));
            match &f.header {
                Some(h) => {
                    j.num_field("sequence", h.sequence);
                    j.num_field("first_id", h.first_event_id);
                    j.bool_field("sealed", h.sealed);
                    j.opt_num_field("last_id", h.sealed.then_some(h.last_event_id));
                    j.opt_num_field("event_count", h.sealed.then_some(h.event_count));
                }
                None => {
                    for k in ["sequence", "first_id", "sealed", "last_id", "event_count"] {
                        j.key(k);
                        j.raw("null");
                    }
                }
            }
        });
        j.close('}');
        j.out
    }
}

/// Minimal JSON writer: correct escaping, no dependencies.
#[derive(Default)]
struct Json {
    out: String,
    need_comma: bool,
}

impl Json {
    fn sep(&mut self) {
        if self.need_comma {
            self.out.push(',');
        }
        self.need_comma = true;
    }
    fn open(&mut self, c: char) {
        self.out.push(c);
        self.need_comma = false;
    }
    fn close(&mut self, c: char) {
        self.out.push(c);
        self.need_comma = true;
    }
    fn key(&mut self, k: &str) {
        self.sep();
        escape_into(&mut self.out, k);
        self.out.push(':');
        self.need_comma = false;
    }
    fn raw(&mut self, v: &str) {
        self.out.push_str(v);
        self.need_comma = true;
    }
    fn str_field(&mut self, k: &str, v: &str) {
        self.key(k);
        escape_into(&mut self.out, v);
        self.need_comma = true;
    }
    fn opt_str_field(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str_field(k, v),
            None => {
                self.key(k);
                self.raw("null");
            }
        }
    }
    fn num_field(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self.need_comma = true;
    }
    fn opt_num_field(&mut self, k: &str, v: Option<u64>) {
        match v {
            Some(v) => self.num_field(k, v),
            None => {
                self.key(k);
                self.raw("null");
            }
        }
    }
    fn bool_field(&mut self, k: &str, v: bool) {
        self.key(k);
        self.raw(if v { "true" } else { "false" });
    }
    fn array<T>(&mut self, k: &str, items: &[T], mut f: impl FnMut(&mut Json, &T)) {
        self.key(k);
        self.open('[');
        for it in items {
            self.sep();
            self.open('{');
            f(self, it);
            self.close('}');
        }
        self.close(']');
    }
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping).
pub fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
