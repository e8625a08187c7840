//! The writer handle: `wal_writer_*`.

use std::ffi::{c_char, c_void};
use std::mem::{offset_of, size_of};

use super::panic::ffi_panic_boundary;
use super::ptr::{check_nonnull, read_versioned, try_mut, try_path, try_ref, Versioned};
use super::status::{
    copy_message, fail, fail_with, thread_last_error, wal_status, ErrorState, HasErrorState,
};
use crate::segment::MAX_EVENT_BYTES;
use crate::{Writer, WriterOptions};

/// Appends events to a log directory. Opaque; create with `wal_writer_open`, free with
/// `wal_writer_close`. Only one writer may hold a directory at a time (across processes).
///
/// Thread-safety: use a writer from one thread at a time (it may move between threads between
/// calls).
#[derive(Debug)]
pub struct wal_writer {
    writer: Writer,
    errors: ErrorState,
}

impl HasErrorState for wal_writer {
    fn errors(&self) -> &ErrorState {
        &self.errors
    }
}

/// Writer options. Initialise with `wal_writer_options_init`, then change fields.
///
/// `struct_size` follows the same rule as in `wal_recovery_options` (v1 size: 24).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wal_writer_options {
    /// `sizeof(wal_writer_options)`.
    pub struct_size: u32,
    /// Target block payload size in bytes, 8..=16 MiB (default 64 KiB); a larger single event
    /// gets a block of its own.
    pub block_bytes: u32,
    /// Target segment size in bytes, >= 136 (default 64 MiB): the writer rolls to a new segment
    /// before a block would make the current one larger.
    pub segment_bytes: u64,
    /// Id of the first event of a new log, >= 1 (default 1). Ignored when the directory
    /// already holds a log, which continues where it ended.
    pub first_event_id: u64,
}

const WRITER_OPTIONS_V1_SIZE: usize = 24;
const _: () = {
    assert!(size_of::<wal_writer_options>() == WRITER_OPTIONS_V1_SIZE);
    assert!(std::mem::align_of::<wal_writer_options>() == 8);
    assert!(offset_of!(wal_writer_options, struct_size) == 0);
    assert!(offset_of!(wal_writer_options, block_bytes) == 4);
    assert!(offset_of!(wal_writer_options, segment_bytes) == 8);
    assert!(offset_of!(wal_writer_options, first_event_id) == 16);
};

// SAFETY: repr(C), integers only, no padding (the layout asserts above), starts with
// `struct_size: u32`.
unsafe impl Versioned for wal_writer_options {
    const V1_SIZE: usize = WRITER_OPTIONS_V1_SIZE;
}

impl wal_writer_options {
    fn defaults() -> wal_writer_options {
        let d = WriterOptions::default();
        wal_writer_options {
            struct_size: size_of::<wal_writer_options>() as u32,
            block_bytes: d.block_bytes,
            segment_bytes: d.segment_bytes,
            first_event_id: d.first_event_id,
        }
    }

    fn to_options(self) -> WriterOptions {
        WriterOptions {
            segment_bytes: self.segment_bytes,
            block_bytes: self.block_bytes,
            first_event_id: self.first_event_id,
        }
    }
}

/// Fills `*opts` with the defaults and sets `struct_size`. Does nothing when `opts` is NULL.
///
/// Thread-safe.
///
/// # Safety
/// `opts` is NULL or valid for writes of `sizeof(wal_writer_options)` bytes.
#[no_mangle]
pub unsafe extern "C" fn wal_writer_options_init(opts: *mut wal_writer_options) {
    ffi_panic_boundary!({
        check_nonnull!(opts);
        // SAFETY: `opts` is non-NULL and valid for writes (contract).
        unsafe { opts.write(wal_writer_options::defaults()) };
    })
}

/// Opens (creating it if needed) the log directory `dir` for appending and locks it. An
/// existing log continues where it ended: a torn tail left by a crash is cut off and the last
/// segment sealed; corruption that is not a torn tail is refused with its corruption status.
/// On success `*out` is a new handle to free with `wal_writer_close`; on failure `*out` is NULL
/// and `wal_last_error_message(NULL, ...)` has the detail. `opts` may be NULL for the
/// defaults. Errors include WAL_ERR_LOCKED (another writer holds the directory), WAL_ERR_IO,
/// WAL_ERR_INVALID_ARGUMENT, WAL_ERR_MIXED_LOGS (segments of two logs in the directory). A new
/// log is written in format 2 with a fresh random log id, and a format-1 log stays in that
/// format. Segments after a missing sequence number (a rename a power loss did not keep) hold
/// no synced event: they are renamed to `<name>.wal.unsynced` and appending continues before
/// them.
///
/// Thread-safe (no shared state).
///
/// # Safety
/// `dir` is NULL or a NUL-terminated path; `opts` is NULL or points to `opts->struct_size`
/// readable bytes; `out` is NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn wal_writer_open(
    dir: *const c_char,
    opts: *const wal_writer_options,
    out: *mut *mut wal_writer,
) -> wal_status {
    ffi_panic_boundary!({
        check_nonnull!(out);
        // SAFETY: `out` is non-NULL and valid for a pointer write (contract).
        unsafe { out.write(std::ptr::null_mut()) };
        let dir = try_path!(dir);
        let options = if opts.is_null() {
            WriterOptions::default()
        } else {
            // SAFETY: non-NULL, and `opts->struct_size` bytes are readable (contract).
            match unsafe { read_versioned(opts, wal_writer_options::defaults()) } {
                Ok(o) => o.to_options(),
                Err(status) => return status,
            }
        };
        let writer = match Writer::open(dir, options) {
            Ok(w) => w,
            Err(e) => return fail(&e),
        };
        let handle = Box::new(wal_writer {
            writer,
            errors: ErrorState::default(),
        });
        // SAFETY: `out` is non-NULL and valid for a pointer write (contract).
        unsafe { out.write(Box::into_raw(handle)) };
        wal_status::WAL_OK
    })
}

/// Opens `w` for a call, or returns WAL_ERR_POISONED.
macro_rules! writer_of {
    ($w:ident) => {{
        let w = try_mut!($w);
        if w.errors.is_poisoned() {
            return fail_with(
                wal_status::WAL_ERR_POISONED,
                "writer poisoned: an earlier call on it panicked; close it",
            );
        }
        &mut w.writer
    }};
}

/// Appends one event of `len` bytes from `data` (copied; `data` may be NULL when `len` is 0)
/// and, when `event_id` is not NULL, stores its id there. The event is durable after the next
/// `wal_writer_sync` or `wal_writer_close`. Errors: WAL_ERR_PAYLOAD_TOO_LARGE (nothing
/// appended, the writer stays usable), WAL_ERR_ID_OVERFLOW, WAL_ERR_IO and
/// WAL_ERR_WRITER_FAILED (the writer refuses further appends; close it).
///
/// Thread-safety: one thread at a time per writer.
///
/// # Safety
/// `w` is NULL or a live writer; `data` is NULL or valid for reads of `len` bytes; `event_id`
/// is NULL or valid for a `uint64_t` write.
#[no_mangle]
pub unsafe extern "C" fn wal_writer_append(
    w: *mut wal_writer,
    data: *const c_void,
    len: usize,
    event_id: *mut u64,
) -> wal_status {
    ffi_panic_boundary!(w, {
        let writer = writer_of!(w);
        if data.is_null() && len != 0 {
            return super::ptr::null_argument("data");
        }
        if len > MAX_EVENT_BYTES {
            // Checked before a slice is built over `len` bytes.
            return fail(&crate::Error::PayloadTooLarge {
                len,
                max: MAX_EVENT_BYTES,
            });
        }
        let payload: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: `data` is non-NULL and valid for reads of `len <= MAX_EVENT_BYTES` bytes
            // (contract), unchanged during the call.
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
        };
        match writer.append(payload) {
            Ok(id) => {
                if !event_id.is_null() {
                    // SAFETY: non-NULL and valid for a write (contract).
                    unsafe { event_id.write(id) };
                }
                wal_status::WAL_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Writes the buffered blocks and makes every event appended so far durable (`fdatasync`, and
/// `fsync` of the directory after a new segment). Errors: WAL_ERR_IO, WAL_ERR_WRITER_FAILED.
///
/// Thread-safety: one thread at a time per writer.
///
/// # Safety
/// `w` is NULL or a live writer.
#[no_mangle]
pub unsafe extern "C" fn wal_writer_sync(w: *mut wal_writer) -> wal_status {
    ffi_panic_boundary!(w, {
        let writer = writer_of!(w);
        match writer.sync() {
            Ok(()) => wal_status::WAL_OK,
            Err(e) => fail(&e),
        }
    })
}

/// Flushes, seals the open segment, syncs, releases the directory lock and frees the writer.
/// The writer is freed whatever the result; on an error, `wal_last_error_message(NULL, ...)`
/// has the detail (what was synced before stays readable). `w` NULL: does nothing, WAL_OK.
///
/// Thread-safety: one thread at a time per writer.
///
/// # Safety
/// `w` is NULL or a live writer from `wal_writer_open`, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn wal_writer_close(w: *mut wal_writer) -> wal_status {
    ffi_panic_boundary!({
        if w.is_null() {
            return wal_status::WAL_OK;
        }
        // SAFETY: `w` came from `Box::into_raw` in `wal_writer_open` and is given back exactly
        // once (contract).
        let handle = unsafe { Box::from_raw(w) };
        if handle.errors.is_poisoned() {
            // Its state is unknown: drop it (best-effort seal, lock released) and say so.
            drop(handle);
            return fail_with(
                wal_status::WAL_ERR_POISONED,
                "writer was poisoned by an earlier panic; closed on a best-effort basis",
            );
        }
        match handle.writer.close() {
            Ok(()) => wal_status::WAL_OK,
            Err(e) => fail(&e),
        }
    })
}

/// As `wal_last_error_message`, for a writer: the message of the last failed call on `w`
/// (`wal_writer_append`, `wal_writer_sync`), or with `w` NULL the calling thread's last error.
///
/// Thread-safety: with a writer, on the thread using it; with NULL, any thread.
///
/// # Safety
/// `w` is NULL or a live writer; `buf` is NULL or valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn wal_writer_last_error_message(
    w: *const wal_writer,
    buf: *mut c_char,
    cap: usize,
) -> usize {
    ffi_panic_boundary!({
        let msg = if w.is_null() {
            thread_last_error()
        } else {
            try_ref!(w).errors.message()
        };
        // SAFETY: `buf` is NULL or valid for `cap` bytes (contract).
        unsafe { copy_message(&msg, buf, cap) }
    })
}
