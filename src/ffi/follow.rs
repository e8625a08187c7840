//! `wal_recovery_next_wait`: the waiting side of follow mode (`wal_recovery_options.follow`,
//! `crate::recovery::follow`). `wal_recovery_next` never waits — it returns WAL_AGAIN when
//! nothing new has verified — so that an engine with its own event loop keeps control; this
//! call is for a thread that does nothing else, idling as the options' strategy says.

use std::time::Duration;

use super::panic::ffi_panic_boundary;
use super::ptr::{check_nonnull, try_ref};
use super::recovery::{poisoned, replay_of, wal_event, wal_recovery};
use super::status::{fail, fail_with, wal_status};
use crate::{IdleStrategy, Next};

/// Follow mode and its idle strategy (the `follow` field of `wal_recovery_options`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wal_follow {
    /// Replay to the end of the log, then WAL_END (the default).
    Off = 0,
    /// Follow the live log; `wal_recovery_next_wait` idles by spinning, yielding, then blocking
    /// on an inotify watch of the log directory (10 ms timeout; a 1–100 µs back-off sleep where
    /// inotify is unavailable): about 1 % of a core while idle, woken by the writer's writes.
    Backoff = 1,
    /// Follow the live log; `wal_recovery_next_wait` busy-spins: the lowest latency, a whole
    /// core while waiting.
    Spin = 2,
    /// Follow the live log; `wal_recovery_next_wait` spins briefly, then yields the CPU between
    /// checks: a core while waiting unless other threads want it.
    Yield = 3,
}

/// Follow mode and idle strategy of a `wal_recovery_options.follow` value.
pub(crate) fn follow_of(follow: u32) -> Result<(bool, IdleStrategy), wal_status> {
    Ok(match follow {
        0 => (false, IdleStrategy::default()),
        1 => (true, IdleStrategy::default()),
        2 => (true, IdleStrategy::BusySpin),
        3 => (true, IdleStrategy::SpinThenYield { spins: 100 }),
        f => {
            return Err(fail_with(
                wal_status::WAL_ERR_INVALID_ARGUMENT,
                format!(
                    "invalid argument: follow {f} is not a wal_follow (0, 1, 2 or 3; this \
                     field was `reserved`, which had to be 0)"
                ),
            ))
        }
    })
}

/// Follow mode: as `wal_recovery_next`, but waits up to `timeout_ns` nanoseconds for the next
/// event, idling as `wal_recovery_options.follow` says; WAL_AGAIN when the time is up with
/// nothing new. `timeout_ns` 0 does not wait. Without follow mode it is `wal_recovery_next`
/// (which never waits: the log as it stands is all there is).
///
/// `out->data` stays valid as for `wal_recovery_next`.
///
/// Thread-safety: replay thread only (see `wal_recovery`).
///
/// # Safety
/// `h` is NULL or a live handle; `out` is NULL or valid for a `wal_event` write.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_next_wait(
    h: *mut wal_recovery,
    out: *mut wal_event,
    timeout_ns: u64,
) -> wal_status {
    ffi_panic_boundary!(h, {
        let h = try_ref!(h);
        check_nonnull!(out);
        let replay = replay_of!(h, out);
        let next = replay
            .manager
            .next_timeout(Duration::from_nanos(timeout_ns));
        // SAFETY: `out` is non-NULL and valid for a `wal_event` write (contract).
        unsafe { write_next(out, next) }
    })
}

/// Writes what `Manager::poll` or `next_timeout` returned into `*out` and returns its status:
/// the event and WAL_OK, or an empty event and WAL_AGAIN, WAL_END or the error's status. The one
/// mapping of `wal_recovery_next` and `wal_recovery_next_wait`.
///
/// # Safety
/// `out` is non-NULL and valid for a `wal_event` write.
pub(crate) unsafe fn write_next(out: *mut wal_event, next: crate::Result<Next<'_>>) -> wal_status {
    let (event, status) = match next {
        Ok(Next::Event(e)) => (wal_event::from_event(&e), wal_status::WAL_OK),
        Ok(Next::Pending) => (wal_event::EMPTY, wal_status::WAL_AGAIN),
        Ok(Next::End) => (wal_event::EMPTY, wal_status::WAL_END),
        Err(e) => (wal_event::EMPTY, fail(&e)),
    };
    // SAFETY: `out` is non-NULL and valid for a `wal_event` write (this function's contract).
    unsafe { out.write(event) };
    status
}
