//! The per-event replay inlined into the C caller: `wal_recovery_next_hot` (a `static inline`
//! function of the header, `cbindgen.toml`'s trailer) reads records from a window the library
//! fills, and calls `wal_recovery_next_refill` only when the window is empty.
//!
//! Why: a call per event cannot keep up with the Rust API, whose `next()` inlines into the
//! caller's loop (measured 0.70–0.85x: the call, its NULL and poison checks and the event's
//! stores cost as much as the decode). The window holds what `next()`'s hot path would deliver
//! one by one ([`Manager::hot_run`]): records of one verified block, before the block end and
//! the next sampled event, that the predicted framing places inside the block. The inline
//! function checks each record's length field against the prediction exactly as the hot path
//! does, so it delivers the same events with the same checks; everything else (block and
//! segment switches, sampling, errors, the end) stays in the library.
//!
//! Coherence: the window lives in the handle, and every replay function starts by taking back
//! what the caller consumed from it ([`sync`], from `replay_of!`): the manager moves past those
//! events and the window is emptied. So `wal_recovery_next`, `_next_batch`, `_resume`,
//! `_report_json` and the follow functions see exactly the events delivered, whichever way they
//! were; only `wal_recovery_next_refill` fills the window again, after its event. A window the
//! caller changed other than by the inline function's steps (ids and position out of step) is
//! refused with WAL_ERR_INVALID_ARGUMENT rather than trusted.
//!
//! [`Manager::hot_run`]: crate::Manager

use std::cell::UnsafeCell;
use std::mem::{offset_of, size_of};

use super::panic::ffi_panic_boundary;
use super::ptr::{check_nonnull, try_ref};
use super::recovery::{next_event, poisoned, replay_of, wal_event, wal_recovery, Replay};
use super::status::{fail_with, wal_status};

/// A run of records that `wal_recovery_next_hot` (header, `static inline`) delivers without a
/// call. Owned by the handle (`wal_recovery_hot_window`); only that inline function may change
/// it, by its own steps. Every field may change at each replay call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wal_hot_window {
    /// The next record: its length field when `prefix` is 4, its payload when 0. Points into
    /// a verified block of the log's read-only mapping.
    pub pos: *const u8,
    /// The event id of the record at `pos`.
    pub next_id: u64,
    /// One past the last id the window delivers; `next_id >= end_id`: empty.
    pub end_id: u64,
    /// Bytes from one record to the next.
    pub size: usize,
    /// The payload length of every record the window delivers.
    pub len: u32,
    /// Bytes before each payload: 4 (a little-endian length field, which must equal `len`, or
    /// the record is left to `wal_recovery_next_refill`) or 0 (fixed-size records).
    pub prefix: u32,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<wal_hot_window>() == 40);
    assert!(std::mem::align_of::<wal_hot_window>() == 8);
    assert!(offset_of!(wal_hot_window, pos) == 0);
    assert!(offset_of!(wal_hot_window, next_id) == 8);
    assert!(offset_of!(wal_hot_window, end_id) == 16);
    assert!(offset_of!(wal_hot_window, size) == 24);
    assert!(offset_of!(wal_hot_window, len) == 32);
    assert!(offset_of!(wal_hot_window, prefix) == 36);
};

impl wal_hot_window {
    /// An empty window: the inline function calls the library at once.
    pub(crate) const EMPTY: wal_hot_window = wal_hot_window {
        pos: std::ptr::null(),
        next_id: 0,
        end_id: 0,
        size: 0,
        len: 0,
        prefix: 0,
    };
}

/// What the library last put in the handle's window, to take back what the caller consumed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filled {
    /// The window as filled (`pos` kept as an address: the replay state stays `Send`).
    first_id: u64,
    end_id: u64,
    pos: usize,
    size: usize,
    len: u32,
    prefix: u32,
}

/// Takes back what the caller consumed from the handle's window: the manager moves past those
/// events, and the window is emptied. Called by `replay_of!` before every replay function.
#[inline(always)]
pub(crate) fn sync(
    replay: &mut Replay,
    window: &UnsafeCell<wal_hot_window>,
) -> Result<(), wal_status> {
    // One predicted branch on `wal_recovery_next`'s per-event path; the rest out of line.
    match replay.hot {
        None => Ok(()),
        Some(filled) => take_back(replay, window, filled),
    }
}

/// [`sync`] of a filled window.
#[cold]
#[inline(never)]
fn take_back(
    replay: &mut Replay,
    window: &UnsafeCell<wal_hot_window>,
    filled: Filled,
) -> Result<(), wal_status> {
    // SAFETY: the window is read and written only on the replay thread (the contract of every
    // replay function and of `wal_recovery_next_hot`), through this cell's pointer, and no
    // reference to it is held across calls.
    let seen = unsafe { window.get().read() };
    let consumed = seen.next_id.wrapping_sub(filled.first_id);
    let in_step = seen.end_id == filled.end_id
        && seen.size == filled.size
        && seen.len == filled.len
        && seen.prefix == filled.prefix
        && consumed <= filled.end_id - filled.first_id
        && usize::try_from(consumed)
            .ok()
            .and_then(|k| k.checked_mul(filled.size))
            .and_then(|b| b.checked_add(filled.pos))
            == Some(seen.pos as usize);
    if !in_step || replay.manager.skip_hot(consumed).is_none() {
        // Nothing moves and the window stays as found: every later replay call on the handle
        // fails alike until the window is back in step (what was delivered cannot be known).
        return Err(fail_with(
            wal_status::WAL_ERR_INVALID_ARGUMENT,
            format!(
                "invalid argument: the hot window was changed by the caller (filled with ids \
                 {}..{}, found next id {}, end id {}); only wal_recovery_next_hot may move it, \
                 and every replay call on this handle fails until it is back in step",
                filled.first_id, filled.end_id, seen.next_id, seen.end_id
            ),
        ));
    }
    replay.hot = None;
    // SAFETY: as above.
    unsafe { window.get().write(wal_hot_window::EMPTY) };
    Ok(())
}

/// Fills the handle's (empty) window with what the hot path would deliver next.
fn fill(replay: &mut Replay, window: &UnsafeCell<wal_hot_window>) {
    let Some(run) = replay.manager.hot_run() else {
        return;
    };
    let w = wal_hot_window {
        pos: run.records.as_ptr(),
        next_id: run.first_id,
        end_id: run.first_id + run.count,
        size: run.size,
        len: run.len,
        prefix: run.prefix,
    };
    replay.hot = Some(Filled {
        first_id: w.next_id,
        end_id: w.end_id,
        pos: w.pos as usize,
        size: w.size,
        len: w.len,
        prefix: w.prefix,
    });
    // SAFETY: as in `sync`.
    unsafe { window.get().write(w) };
}

/// The handle's hot window, for `wal_recovery_next_hot`: the same pointer for the handle's
/// life. NULL when `h` is NULL (and `wal_recovery_next_hot` with a NULL window makes a call per
/// event, like `wal_recovery_next`).
///
/// Thread-safety: replay thread only (see `wal_recovery`).
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_hot_window(h: *mut wal_recovery) -> *mut wal_hot_window {
    ffi_panic_boundary!({
        // SAFETY: `h` is NULL or a live handle (contract); only shared access is taken.
        match unsafe { h.as_ref() } {
            Some(h) => h.hot_window.get(),
            None => std::ptr::null_mut(),
        }
    })
}

/// The out-of-line half of `wal_recovery_next_hot`: takes back what the caller consumed from
/// `w`, delivers the next event exactly as `wal_recovery_next` (same statuses, same `*out`),
/// then fills `w` with the events that follow it on the fast path (`w` may be NULL: then
/// nothing is filled). `w` must be NULL or `h`'s own window (`wal_recovery_hot_window(h)`),
/// else WAL_ERR_INVALID_ARGUMENT. Call it through `wal_recovery_next_hot`.
///
/// Thread-safety: replay thread only (see `wal_recovery`).
///
/// # Safety
/// `h` is NULL or a live handle; `w` is NULL or `h`'s window; `out` is NULL or valid for a
/// `wal_event` write.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_next_refill(
    h: *mut wal_recovery,
    w: *mut wal_hot_window,
    out: *mut wal_event,
) -> wal_status {
    ffi_panic_boundary!(h, {
        let h = try_ref!(h);
        check_nonnull!(out);
        if !w.is_null() && w != h.hot_window.get() {
            // SAFETY: `out` is non-NULL and valid for a `wal_event` write (contract).
            unsafe { out.write(wal_event::EMPTY) };
            return fail_with(
                wal_status::WAL_ERR_INVALID_ARGUMENT,
                "invalid argument: the window is not this handle's (wal_recovery_hot_window)",
            );
        }
        let replay = replay_of!(h, out);
        // SAFETY: `out` is non-NULL and valid for a `wal_event` write (contract).
        let status = unsafe { next_event(replay, out) };
        if status == wal_status::WAL_OK && !w.is_null() {
            fill(replay, &h.hot_window);
        }
        status
    })
}

#[cfg(test)]
mod tests {
    use crate::recovery::prefetch::READ_AHEAD_BYTES;

    #[test]
    fn the_headers_read_ahead_is_the_librarys() {
        // `wal_recovery_next_hot` (the header's inline function) asks for lines as far ahead as
        // the library's own per-event step; the header spells the distance out.
        let header = include_str!("../../include/wal_recovery.h");
        let define = format!("#define WAL_RECOVERY_READ_AHEAD {READ_AHEAD_BYTES}u\n");
        assert!(header.contains(&define), "the header lacks {define:?}");
    }
}
