//! Exclusive ownership of a log directory by one writer, via `flock` on a `LOCK` file.
//!
//! Two writers appending to one directory would interleave ids and chains; the lock turns that
//! into a typed error instead. The lock dies with the process, so a crashed writer never leaves a
//! stale lock behind.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the lock file inside a log directory (not a `*.wal` file, so recovery ignores it).
pub const LOCK_FILE: &str = "LOCK";

/// Held for the writer's lifetime; released when dropped (closing the descriptor).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock or fails with [`Error::DirectoryLocked`].
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path: PathBuf = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        // SAFETY: flock on a descriptor we own, for the lifetime of `file`; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(Error::DirectoryLocked(dir.to_path_buf()));
            }
            return Err(Error::io("flock", &path, err));
        }
        Ok(DirLock { _file: file })
    }
}
