//! Making directory entries durable: the parts of the fsync discipline that are about names.
//!
//! `fsync(2)` on a file makes its data and metadata durable, but not the directory entry that
//! names it: that needs an `fsync` of the directory holding the entry. The writer therefore
//! fsyncs a log directory's *parent* when it creates the log directory (otherwise a power loss
//! can lose the whole log, synced events included), and fsyncs the log directory after it
//! creates, renames or removes a segment (see `docs/RELIABILITY.md`, "The fsync discipline").

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `fsync` of the directory `dir`, which makes the entries created, renamed or removed in it
/// so far durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io("open directory", dir, e))?;
    d.sync_all()
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// Creates `dir` and any missing ancestors, then makes each created entry durable by
/// fsyncing the directory that holds it (deepest first, ending with the ancestor that already
/// existed). Returns the directories it created, outermost first.
pub(crate) fn create_dir_durably(dir: &Path, fsync_parents: bool) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    missing.reverse();
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    if fsync_parents {
        for created in missing.iter().rev() {
            let parent = match created.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            fsync_dir(parent)?;
        }
    }
    Ok(missing)
}
