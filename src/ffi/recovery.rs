//! The replay handle: `wal_recovery_*`.
//!
//! # Handle layout and thread-safety
//! A `wal_recovery` is used by one thread at a time ("the replay thread"; it may change between
//! calls), except for the `wal_telemetry_*` functions, which may run on other threads at the
//! same time. To keep that sound, no function ever creates a Rust reference to the whole handle
//! that is unique (`&mut wal_recovery`): every function takes `&wal_recovery`, and the mutable
//! replay state lives in an [`UnsafeCell`] that only the replay functions open, as `&mut`, for
//! the duration of their call. The telemetry functions only read `telemetry` (an `Arc` of
//! atomics and locks, `Sync`), so a shared reference from another thread never overlaps a
//! unique one.

use std::cell::UnsafeCell;
use std::ffi::c_char;
use std::mem::{offset_of, size_of};
use std::sync::Arc;

use super::hot_window::{wal_hot_window, Filled};
use super::options::wal_recovery_options;
use super::panic::ffi_panic_boundary;
use super::ptr::{check_buf, check_nonnull, read_versioned, try_path, try_ref, write_string};
use super::status::{
    copy_message, fail, fail_with, thread_last_error, wal_status, ErrorState, HasErrorState,
};
use crate::recovery::event::Event;
use crate::recovery::telemetry::Telemetry;
use crate::{Manager, RecoveryOptions};

/// A replay of one log directory: scans it, positions at an event id and streams events in id
/// order. Opaque; create with `wal_recovery_open`, free with `wal_recovery_close`.
///
/// Thread-safety: use a handle from one thread at a time (it may move between threads between
/// calls). Only `wal_telemetry_snapshot`, `wal_telemetry_dump` and `wal_telemetry_prometheus`
/// may be called from other threads while a replay call runs.
pub struct wal_recovery {
    /// The manager's telemetry root: all that the telemetry functions touch.
    pub(crate) telemetry: Arc<Telemetry>,
    /// Last error message and poison flag of replay calls.
    pub(crate) errors: ErrorState,
    /// Replay state, accessed only by replay functions on the replay thread.
    pub(crate) replay: UnsafeCell<Replay>,
    /// The window `wal_recovery_next_hot` reads (`super::hot_window`): written by the library
    /// in replay calls and by the caller's inline code between them, on the replay thread.
    pub(crate) hot_window: UnsafeCell<wal_hot_window>,
}

impl std::fmt::Debug for wal_recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("wal_recovery").finish_non_exhaustive()
    }
}

impl HasErrorState for wal_recovery {
    fn errors(&self) -> &ErrorState {
        &self.errors
    }
}

/// What the replay functions mutate.
pub(crate) struct Replay {
    pub(crate) manager: Manager,
    /// What the hot window was last filled with, until the next replay call takes it back.
    pub(crate) hot: Option<Filled>,
}

// The handle moves between threads with its caller and is shared with telemetry threads.
const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<Manager>();
    send_sync::<Telemetry>();
};

/// One replayed event. `data` points into the log's read-only mapping (no copy) and is valid
/// until the next call on the same handle that moves the replay (`wal_recovery_next`,
/// `wal_recovery_next_batch`, `wal_recovery_resume`, `wal_recovery_close`). `data` is not
/// NUL-terminated and may be any non-NULL pointer when `len` is 0; it is NULL only in an event
/// that was not filled (end of replay or error).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wal_event {
    /// The event id (ids are contiguous across the log and never 0).
    pub event_id: u64,
    /// The payload bytes exactly as appended.
    pub data: *const u8,
    /// Payload length in bytes.
    pub len: usize,
}

impl wal_event {
    pub(crate) const EMPTY: wal_event = wal_event {
        event_id: 0,
        data: std::ptr::null(),
        len: 0,
    };

    #[inline(always)]
    pub(crate) fn from_event(e: &Event<'_>) -> wal_event {
        wal_event {
            event_id: e.id,
            data: e.payload.as_ptr(),
            len: e.payload.len(),
        }
    }
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<wal_event>() == 24);
    assert!(std::mem::align_of::<wal_event>() == 8);
    assert!(offset_of!(wal_event, event_id) == 0);
    assert!(offset_of!(wal_event, data) == 8);
    assert!(offset_of!(wal_event, len) == 16);
};

/// Opens the log directory `dir` for replay: scans every segment, positions at
/// `opts->start_event_id` and starts the background preloader. On success `*out` is a new
/// handle that the caller frees with `wal_recovery_close`; on failure `*out` is NULL and
/// `wal_last_error_message(NULL, ...)` has the detail (path, offset, ids, errno).
///
/// `opts` may be NULL for the defaults. Errors: WAL_ERR_NULL_ARGUMENT, WAL_ERR_INVALID_ARGUMENT
/// (options), WAL_ERR_DIRECTORY_NOT_FOUND, WAL_ERR_NOT_A_DIRECTORY, WAL_ERR_IO, the
/// WAL_ERR_EVENT_* statuses for a start id the log does not have, corruption and continuity
/// statuses when the start segment cannot be used.
///
/// Thread-safe (no shared state).
///
/// # Safety
/// `dir` is NULL or a NUL-terminated path; `opts` is NULL or points to `opts->struct_size`
/// readable bytes; `out` is NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_open(
    dir: *const c_char,
    opts: *const wal_recovery_options,
    out: *mut *mut wal_recovery,
) -> wal_status {
    ffi_panic_boundary!({
        check_nonnull!(out);
        // SAFETY: `out` is non-NULL and valid for a pointer write (contract).
        unsafe { out.write(std::ptr::null_mut()) };
        let dir = try_path!(dir);
        let options = if opts.is_null() {
            RecoveryOptions::default()
        } else {
            // SAFETY: non-NULL, and `opts->struct_size` bytes are readable (contract).
            match unsafe { read_versioned(opts, wal_recovery_options::defaults()) }
                .and_then(|o| o.to_options())
            {
                Ok(o) => o,
                Err(status) => return status,
            }
        };
        let manager = match Manager::open(dir, options) {
            Ok(m) => m,
            Err(e) => return fail(&e),
        };
        let handle = Box::new(wal_recovery {
            telemetry: Arc::clone(manager.telemetry()),
            errors: ErrorState::default(),
            replay: UnsafeCell::new(Replay { manager, hot: None }),
            hot_window: UnsafeCell::new(wal_hot_window::EMPTY),
        });
        // SAFETY: `out` is non-NULL and valid for a pointer write (contract).
        unsafe { out.write(Box::into_raw(handle)) };
        wal_status::WAL_OK
    })
}

/// Opens the replay state of `h` for a replay function, with what the caller consumed from the
/// hot window taken back (`super::hot_window::sync`), or returns WAL_ERR_POISONED or that
/// sync's error (after zeroing the event `out`, in the second form).
macro_rules! replay_of {
    ($h:ident) => {
        replay_of!($h, {})
    };
    ($h:ident, $out:ident) => {
        replay_of!($h, {
            // SAFETY: `$out` was checked non-NULL and is valid for a `wal_event` write (the
            // calling function's contract).
            unsafe { $out.write(wal_event::EMPTY) };
        })
    };
    ($h:ident, $on_poison:block) => {{
        if $h.errors.is_poisoned() {
            $on_poison;
            return poisoned();
        }
        // SAFETY: replay functions run on one thread at a time per handle (documented contract
        // of every replay function), and each opens the cell once, for its own call only; the
        // telemetry functions, which may run concurrently, never touch `replay`.
        let replay = unsafe { &mut *$h.replay.get() };
        if let Err(status) = $crate::ffi::hot_window::sync(replay, &$h.hot_window) {
            $on_poison;
            return status;
        }
        replay
    }};
}
// For `super::follow`, whose functions open a handle's replay state the same way.
pub(crate) use replay_of;

#[cold]
pub(crate) fn poisoned() -> wal_status {
    fail_with(
        wal_status::WAL_ERR_POISONED,
        "handle poisoned: an earlier call on it panicked; close it",
    )
}

/// Delivers the next event into `*out`. Returns WAL_OK with `*out` filled, WAL_END at the end
/// of the replay (end of the log, or where WAL_MODE_STOP_AT_CORRUPTION stopped; further calls
/// keep returning WAL_END), WAL_AGAIN in follow mode when nothing new has verified yet (never
/// waits; see `wal_recovery_next_wait`), or an error (strict mode: the corruption, gap, ... that ended the
/// replay, returned again by every later call; see `wal_last_error_message`). On WAL_END or an
/// error, `*out` is zeroed.
///
/// One call per event: `wal_recovery_next_hot` (at the end of this header) delivers the same
/// events with this function's fast path inlined into the caller, which is faster.
///
/// `out->data` stays valid until the next call on `h` that moves the replay
/// (`wal_recovery_next`, `wal_recovery_next_batch`, `wal_recovery_resume`,
/// `wal_recovery_close`); copy the payload to keep it longer.
///
/// Thread-safety: replay thread only (see `wal_recovery`).
///
/// # Safety
/// `h` is NULL or a live handle; `out` is NULL or valid for a `wal_event` write.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_next(
    h: *mut wal_recovery,
    out: *mut wal_event,
) -> wal_status {
    ffi_panic_boundary!(h, {
        let h = try_ref!(h);
        check_nonnull!(out);
        // The hot path, with nothing else on it: a handle neither poisoned nor with a hot
        // window to take back (`replay_of!` would find nothing to do), the next record ready.
        if !h.errors.is_poisoned() {
            // SAFETY: as in `replay_of!`; this reference ends before `next_slow` opens the
            // cell again.
            let replay = unsafe { &mut *h.replay.get() };
            // SAFETY: `out` is non-NULL and valid for a `wal_event` write (contract).
            if replay.hot.is_none() && unsafe { write_if_hot(replay, out) } {
                return wal_status::WAL_OK;
            }
        }
        // SAFETY: as above.
        unsafe { next_slow(h, out) }
    })
}

/// `wal_recovery_next` past its hot path, out of line so that the per-event call keeps a small
/// frame (no registers saved, no stack).
///
/// # Safety
/// `out` is non-NULL and valid for a `wal_event` write.
#[cold]
#[inline(never)]
unsafe fn next_slow(h: &wal_recovery, out: *mut wal_event) -> wal_status {
    let replay = replay_of!(h, out);
    // SAFETY: this function's contract.
    unsafe { next_event(replay, out) }
}

/// The body of `wal_recovery_next`, also `wal_recovery_next_refill`'s.
///
/// # Safety
/// `out` is non-NULL and valid for a `wal_event` write.
#[inline(always)]
pub(crate) unsafe fn next_event(replay: &mut Replay, out: *mut wal_event) -> wal_status {
    // SAFETY: this function's contract.
    if unsafe { write_if_hot(replay, out) } {
        return wal_status::WAL_OK;
    }
    // SAFETY: as above.
    unsafe { next_cold(replay, out) }
}

/// Writes the next event to `out` if the hot path has it (`Manager::next_if_hot`).
///
/// # Safety
/// `out` is non-NULL and valid for a `wal_event` write.
#[inline(always)]
unsafe fn write_if_hot(replay: &mut Replay, out: *mut wal_event) -> bool {
    let Some(e) = replay.manager.next_if_hot() else {
        return false;
    };
    // SAFETY: this function's contract.
    unsafe { out.write(wal_event::from_event(&e)) };
    true
}

/// `wal_recovery_next` past the hot path (block or segment switch, sample, end, error,
/// follow mode), out of line so that the per-event call keeps a small frame.
///
/// # Safety
/// `out` is non-NULL and valid for a `wal_event` write.
#[cold]
#[inline(never)]
unsafe fn next_cold(replay: &mut Replay, out: *mut wal_event) -> wal_status {
    // SAFETY: this function's contract.
    unsafe { super::follow::write_next(out, replay.manager.poll()) }
}

/// Delivers up to `cap` events into `out[0..*n]`. Returns WAL_OK with `1 <= *n <= cap`,
/// WAL_END with `*n == 0` at the end of the replay, WAL_AGAIN with `*n == 0` in follow mode when
/// nothing new has verified yet, or an error with `*n == 0` (as
/// `wal_recovery_next`). A batch never crosses a segment boundary, so it may hold fewer than
/// `cap` events before the end.
///
/// Every `out[i].data` of the batch stays valid until the next call on `h` that moves the
/// replay (`wal_recovery_next`, `wal_recovery_next_batch`, `wal_recovery_resume`,
/// `wal_recovery_close`). `cap` 0 is WAL_ERR_INVALID_ARGUMENT.
///
/// Speed: the caller reads a batch's payloads after the call that filled it; with a `cap` of
/// about 64 they are still in cache then. 64 replays about as fast as `wal_recovery_next_hot`
/// and faster than `wal_recovery_next`; 1024 slower than 64 (BENCHMARKS.md, "C ABI and C++").
///
/// Thread-safety: replay thread only (see `wal_recovery`).
///
/// # Safety
/// `h` is NULL or a live handle; `out` is NULL or valid for writes of `cap` events; `n` is NULL
/// or valid for a `size_t` write.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_next_batch(
    h: *mut wal_recovery,
    out: *mut wal_event,
    cap: usize,
    n: *mut usize,
) -> wal_status {
    ffi_panic_boundary!(h, {
        let h = try_ref!(h);
        check_nonnull!(out);
        check_nonnull!(n);
        // SAFETY: `n` is non-NULL and valid for a write (contract).
        unsafe { n.write(0) };
        if cap == 0 {
            return fail_with(
                wal_status::WAL_ERR_INVALID_ARGUMENT,
                "invalid argument: cap is 0",
            );
        }
        let manager = &mut replay_of!(h).manager;
        // One pass, no allocation: each event goes straight into the caller's array, at the
        // place the batch gives it (no counter of our own to keep in step); the count comes
        // back as the batch's length.
        let result = manager.next_batch_indexed(cap, |k, e| {
            if k < cap {
                // SAFETY: `out` is valid for writes of `cap` events (contract) and `k < cap`.
                unsafe { out.add(k).write(wal_event::from_event(&e)) };
            }
        });
        match result {
            Ok(0) if manager.is_following() => wal_status::WAL_AGAIN,
            Ok(0) => wal_status::WAL_END,
            Ok(k) => {
                // The batch delivered `k <= cap` events into `out[..k]`.
                let count = k.min(cap);
                // SAFETY: `n` is non-NULL and valid for a write (contract).
                unsafe { n.write(count) };
                wal_status::WAL_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Repositions the replay so that the next event delivered is `event_id` (0 = the oldest
/// retained event; the id after the last event positions at the end). Works forward and
/// backward, and after WAL_END or an error. Errors: WAL_ERR_EVENT_TOO_OLD,
/// WAL_ERR_EVENT_BEYOND_END, WAL_ERR_GAP (the id is in a missing range), corruption statuses;
/// after a failed resume, `wal_recovery_next` returns the same error until a resume succeeds.
///
/// Invalidates every `wal_event.data` obtained before.
///
/// Thread-safety: replay thread only (see `wal_recovery`).
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_resume(h: *mut wal_recovery, event_id: u64) -> wal_status {
    ffi_panic_boundary!(h, {
        let h = try_ref!(h);
        let replay = replay_of!(h);
        match replay.manager.resume(event_id) {
            Ok(()) => wal_status::WAL_OK,
            Err(e) => fail(&e),
        }
    })
}

/// Renders the recovery report (what was scanned, delivered, skipped and lost, with reasons) as
/// one JSON object into `buf`, NUL-terminated. `*needed` is always set to the size required,
/// NUL included; when `cap` is smaller, nothing but an empty string is written and
/// WAL_ERR_BUFFER_TOO_SMALL is returned. Call with `buf` NULL and `cap` 0 to ask the size. The
/// report changes as the replay moves, so ask again if the size was too small.
///
/// Thread-safety: replay thread only (see `wal_recovery`).
///
/// # Safety
/// `h` is NULL or a live handle; `buf` is NULL (then `cap` must be 0) or valid for writes of
/// `cap` bytes; `needed` is NULL or valid for a `size_t` write.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_report_json(
    h: *const wal_recovery,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> wal_status {
    ffi_panic_boundary!(h, {
        let h = try_ref!(h);
        check_buf!(buf, cap);
        check_nonnull!(needed);
        let replay = replay_of!(h);
        let json = replay.manager.report().to_json();
        // SAFETY: `buf`/`cap`/`needed` as in this function's contract, checked above.
        unsafe { write_string(&json, buf, cap, needed) }
    })
}

/// Stops the replay, joins the preloader thread, unmaps every segment and frees the handle.
/// Every `wal_event.data` obtained from `h` becomes invalid. Does nothing when `h` is NULL.
///
/// Thread-safety: replay thread only, and no telemetry call on `h` may be running or start
/// afterwards.
///
/// # Safety
/// `h` is NULL or a live handle from `wal_recovery_open`, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_close(h: *mut wal_recovery) {
    ffi_panic_boundary!({
        if !h.is_null() {
            // SAFETY: `h` came from `Box::into_raw` in `wal_recovery_open` and is given back
            // exactly once (contract).
            drop(unsafe { Box::from_raw(h) });
        }
    })
}

/// Copies the detail message of the last error into `buf`, NUL-terminated and cut to `cap - 1`
/// bytes (like `snprintf`), and returns the full message length in bytes, NUL excluded (a
/// buffer of `return value + 1` bytes holds it all). Returns 0 and writes an empty string when
/// there is no error to report. `buf` may be NULL when `cap` is 0 (to ask the length).
///
/// With a handle: the message of the last failed call on `h` among `wal_recovery_next`,
/// `_next_batch`, `_resume` and `_report_json` (the `wal_telemetry_*` functions, which may run
/// on other threads, keep theirs per thread only). With `h` NULL: the message of the calling
/// thread's last failed call of any function of this library; that is how to get the detail of
/// a failed `wal_recovery_open`, `wal_writer_open` or `wal_writer_close`. Successful calls clear
/// neither.
///
/// Thread-safety: with a handle, on the replay thread; with NULL, any thread (each thread has
/// its own message).
///
/// # Safety
/// `h` is NULL or a live handle; `buf` is NULL or valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn wal_last_error_message(
    h: *const wal_recovery,
    buf: *mut c_char,
    cap: usize,
) -> usize {
    ffi_panic_boundary!({
        // SAFETY: `h` is NULL or a live handle (contract); only shared access is taken.
        let msg = match unsafe { h.as_ref() } {
            Some(h) => h.errors.message(),
            None => thread_last_error(),
        };
        // SAFETY: `buf` is NULL or valid for `cap` bytes (contract).
        unsafe { copy_message(&msg, buf, cap) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Writer, WriterOptions};

    fn log(events: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriterOptions {
            segment_bytes: 4096,
            block_bytes: 512,
            ..WriterOptions::default()
        };
        let mut w = Writer::open(dir.path(), opts).unwrap();
        for i in 1..=events {
            w.append(&i.to_le_bytes()).unwrap();
        }
        w.close().unwrap();
        dir
    }

    fn open(dir: &std::path::Path) -> *mut wal_recovery {
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        let mut h = std::ptr::null_mut();
        // SAFETY: valid C string and out pointer; NULL options.
        let got = unsafe { wal_recovery_open(c.as_ptr(), std::ptr::null(), &mut h) };
        assert_eq!(got, wal_status::WAL_OK);
        h
    }

    #[test]
    fn a_panicked_handle_is_poisoned() {
        let dir = log(10);
        let h = open(dir.path());
        let mut ev = wal_event::EMPTY;
        // SAFETY: live handle, valid out pointer.
        assert_eq!(unsafe { wal_recovery_next(h, &mut ev) }, wal_status::WAL_OK);
        // What the boundary does after a panic in a call on `h`.
        // SAFETY: live handle.
        unsafe { (*h).errors.record(wal_status::WAL_ERR_PANIC) };
        // SAFETY: live handle, valid out pointer.
        let got = unsafe { wal_recovery_next(h, &mut ev) };
        assert_eq!(got, wal_status::WAL_ERR_POISONED);
        // SAFETY: live handle.
        let got = unsafe { wal_recovery_resume(h, 0) };
        assert_eq!(got, wal_status::WAL_ERR_POISONED);
        let mut buf = [0 as c_char; 128];
        // SAFETY: live handle, valid buffer.
        unsafe { wal_last_error_message(h, buf.as_mut_ptr(), buf.len()) };
        // SAFETY: NUL-terminated.
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        assert!(msg.contains("poisoned"), "{msg}");
        // SAFETY: live handle, closed once.
        unsafe { wal_recovery_close(h) };
    }

    #[test]
    fn batches_stay_in_one_segment() {
        let dir = log(2000);
        let h = open(dir.path());
        let mut evs = vec![wal_event::EMPTY; 1024];
        let (mut next, mut n, mut batches) = (1u64, 0usize, 0);
        // SAFETY: live handle; `evs` holds 1024 events; `n` valid.
        while unsafe { wal_recovery_next_batch(h, evs.as_mut_ptr(), evs.len(), &mut n) }
            == wal_status::WAL_OK
        {
            for e in &evs[..n] {
                // SAFETY: every pointer of the batch is valid until the next replay call.
                let payload = unsafe { std::slice::from_raw_parts(e.data, e.len) };
                assert_eq!((e.event_id, payload), (next, &next.to_le_bytes()[..]));
                next += 1;
            }
            batches += 1;
        }
        assert_eq!(next, 2001);
        // 4 KiB segments hold far fewer than 1024 events: batches end at segment boundaries.
        assert!(batches > 2000 / 1024 + 1, "{batches} batches");
        // SAFETY: live handle, closed once.
        unsafe { wal_recovery_close(h) };
    }
}
