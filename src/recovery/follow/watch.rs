//! Blocking until the writer touches the log directory, for the deepest level of the back-off
//! idle strategy ([`super::IdleStrategy::Backoff`]).
//!
//! Why: a sleeping follower pays for every wake-up whether or not anything arrived — measured on
//! the development VM, about 20 µs of CPU per wake-up, so a 100 µs sleep alone costs ~15 % of a
//! core — while a longer sleep makes the first event after a quiet period late. An inotify watch
//! on the directory reports both what a follower waits for: data written to a segment file
//! (`IN_MODIFY` of a file inside it) and a new segment (`IN_CREATE`, `IN_MOVED_TO`: the writer
//! renames a new segment into place). Blocked in `ppoll` on it, an idle follower uses no CPU and
//! wakes when the writer writes. The wait still has a timeout (the strategy's longest sleep), so
//! a change inotify does not report (another machine writing to a network file system) is seen
//! as late as a plain sleep would see it, never missed.
//!
//! No wake-up is lost: the watch is set up before the first check, events queue while the
//! follower checks, and the queue is drained only right before a check, so anything written
//! after a check is still queued when the follower blocks, and `ppoll` returns at once.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// An inotify descriptor watching one directory.
#[derive(Debug)]
pub(crate) struct DirWatch {
    fd: libc::c_int,
}

impl DirWatch {
    /// Watches `dir`; `None` when it cannot (no directory yet, no inotify, out of watches): the
    /// caller then sleeps instead.
    pub(crate) fn new(dir: &Path) -> Option<DirWatch> {
        let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: plain system call with flags only; the returned descriptor is owned here.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        let w = DirWatch { fd };
        let mask = libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_ATTRIB;
        // SAFETY: `fd` is our inotify descriptor and `path` a NUL-terminated string that lives
        // across the call.
        let wd = unsafe { libc::inotify_add_watch(w.fd, path.as_ptr(), mask) };
        (wd >= 0).then_some(w)
    }

    /// Discards the queued events (called right before checking the log).
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is valid for writes of its length; `fd` is our descriptor.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return; // EAGAIN: empty (or an error, which the next wait also meets)
            }
        }
    }

    /// Blocks until an event is queued or `timeout` has passed.
    pub(crate) fn wait(&self, timeout: Duration) {
        let mut p = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask change. An interrupted
        // call (EINTR) returns early, which is a spurious wake-up: the caller checks and waits
        // again.
        unsafe { libc::ppoll(&mut p, 1, &ts, std::ptr::null()) };
    }
}

impl Drop for DirWatch {
    fn drop(&mut self) {
        // SAFETY: `fd` is owned by this value and closed once.
        unsafe { libc::close(self.fd) };
    }
}
