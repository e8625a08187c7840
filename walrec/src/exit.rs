//! Exit codes and the one-line error messages of the tool.
//!
//! * `0` — the command succeeded and found nothing wrong;
//! * `1` — the command ran and found problems (corruption, gaps, a payload mismatch, a replay
//!   that ended with an error);
//! * `2` — usage or I/O errors: the command could not do its job (missing directory, bad
//!   arguments, unreadable files).
//!
//! Every failure is printed as one line: `walrec: <what>: <file>: <why>` (the file part is left
//! out when no file is involved).

use std::fmt;
use std::path::{Path, PathBuf};

/// What a command found, when it ran to the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing wrong: exit 0.
    Clean,
    /// Problems found and reported: exit 1.
    Problems,
}

impl Outcome {
    /// `Problems` when `bad`, else `Clean`.
    pub fn from_problems(bad: bool) -> Self {
        if bad {
            Outcome::Problems
        } else {
            Outcome::Clean
        }
    }

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Problems => 1,
        }
    }
}

/// A failure that ends a command, printed as one line.
#[derive(Debug)]
pub struct Failure {
    /// What was being done ("verify", "gen", "open log", …).
    pub what: String,
    /// The file or directory concerned.
    pub file: Option<PathBuf>,
    /// Why it failed.
    pub why: String,
    /// Exit code (1 for damage found in the log, 2 for usage and I/O errors).
    pub code: u8,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.what)?;
        if let Some(p) = &self.file {
            write!(f, ": {}", p.display())?;
        }
        write!(f, ": {}", self.why)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// A usage error (exit 2) with no file.
    pub fn usage(what: impl Into<String>, why: impl Into<String>) -> Self {
        Failure {
            what: what.into(),
            file: None,
            why: why.into(),
            code: 2,
        }
    }

    /// An I/O error on `path` (exit 2).
    pub fn io(what: impl Into<String>, path: &Path, e: &std::io::Error) -> Self {
        Failure {
            what: what.into(),
            file: Some(path.to_path_buf()),
            why: e.to_string(),
            code: 2,
        }
    }

    /// A problem found in the data (exit 1).
    pub fn problem(what: impl Into<String>, file: Option<PathBuf>, why: impl Into<String>) -> Self {
        Failure {
            what: what.into(),
            file,
            why: why.into(),
            code: 1,
        }
    }

    /// A library error, split into file and reason. Damage in the log (corruption, continuity,
    /// unusable segment) exits 1; everything else exits 2.
    pub fn lib(what: impl Into<String>, e: &wal_recovery::Error) -> Self {
        let (file, why, code) = split(e);
        Failure {
            what: what.into(),
            file,
            why,
            code,
        }
    }
}

/// Whether a library error means damage in the log (exit 1) rather than a usage or I/O error.
pub fn is_damage(e: &wal_recovery::Error) -> bool {
    use wal_recovery::Error as E;
    matches!(
        e,
        E::Corrupt(_) | E::Continuity { .. } | E::SegmentUnusable { .. }
    )
}

/// The file a library error concerns, the reason without that file, and the exit code.
fn split(e: &wal_recovery::Error) -> (Option<PathBuf>, String, u8) {
    use wal_recovery::Error as E;
    let code = if is_damage(e) { 1 } else { 2 };
    let (file, why) = match e {
        E::Io { op, path, source } => (non_empty(path), format!("{op}: {source}")),
        E::DirectoryNotFound(p) => (Some(p.clone()), "no such directory".to_string()),
        E::NotADirectory(p) => (Some(p.clone()), "not a directory".to_string()),
        E::Corrupt(c) => {
            let mut why = format!("{} at offset {}", c.kind.as_str(), c.offset);
            if let Some(b) = c.block {
                why.push_str(&format!(" (block {b})"));
            }
            if !c.detail.is_empty() {
                why.push_str(&format!(": {}", c.detail));
            }
            (Some(c.path.clone()), why)
        }
        E::Continuity {
            kind,
            previous,
            first_id,
            last_id,
            next,
        } => (
            Some(next.clone()),
            format!(
                "{} after {}: event ids {first_id}..={last_id}",
                kind.as_str(),
                if previous.as_os_str().is_empty() {
                    "<start>".into()
                } else {
                    previous.display().to_string()
                }
            ),
        ),
        E::SegmentUnusable { path, reason } => {
            (Some(path.clone()), format!("segment unusable: {reason}"))
        }
        E::EventNotInSegment {
            requested,
            first,
            end,
            path,
        } => (
            Some(path.clone()),
            format!("event {requested} not in segment (holds {first}..{end}, end exclusive)"),
        ),
        E::DirectoryLocked(p) => (
            Some(p.clone()),
            "another writer holds the log directory".to_string(),
        ),
        other => (None, other.to_string()),
    };
    (file, why, code)
}

fn non_empty(p: &Path) -> Option<PathBuf> {
    (!p.as_os_str().is_empty()).then(|| p.to_path_buf())
}

/// Converts a library result into an `anyhow` result carrying a [`Failure`].
pub trait LibContext<T> {
    /// Attaches what was being done.
    fn ctx(self, what: &str) -> anyhow::Result<T>;
}

impl<T> LibContext<T> for wal_recovery::Result<T> {
    fn ctx(self, what: &str) -> anyhow::Result<T> {
        self.map_err(|e| Failure::lib(what, &e).into())
    }
}

/// The exit code and the message line for an error that ended a command. `None` for the message
/// when output was cut by a closed pipe (e.g. `walrec dump | head`), which is not a failure.
pub fn report_error(e: &anyhow::Error) -> (u8, Option<String>) {
    if let Some(f) = e.downcast_ref::<Failure>() {
        return (f.code, Some(format!("walrec: {f}")));
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return (0, None);
        }
    }
    // Any other error: its context chain on one line.
    let msg = format!("{e:#}").replace('\n', " ");
    (2, Some(format!("walrec: {msg}")))
}
