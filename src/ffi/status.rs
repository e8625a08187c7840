//! Status numbers, their names and descriptions, and where error messages are kept.
//!
//! Every fallible C function returns a [`wal_status`]. The numbers are part of the ABI: a number
//! is never renumbered and never reused for another meaning, even after its status is retired
//! (retired numbers stay listed here as comments). New statuses get new numbers in their
//! family's block.
//!
//! Error detail (paths, offsets, ids, errno) is kept as a message: on the calling thread for
//! every failed call, and on the handle for failed calls on a handle (see
//! [`super::wal_last_error_message`]).

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use super::panic::ffi_panic_boundary;
use crate::error::{ContinuityKind, CorruptionKind, Error};

/// Result of a C API call. `WAL_OK` (0) is success, `WAL_END` (1) is the clean end of a replay,
/// `WAL_AGAIN` (8, only from a handle opened in follow mode) says "nothing yet", and every
/// other number is an error (2 or more). Numbers are stable and never reused; errors are grouped in
/// blocks: 2-99 arguments and internal failures, 100-199 the environment (file system, locks,
/// threads), 200-299 corruption (one status per integrity check), 300-399 continuity between
/// segments, 400-499 event positions, 500-599 the writer. Unknown numbers may appear in later
/// versions: treat any number >= 2 other than WAL_AGAIN as an error. `wal_status_str` describes
/// any number.
/// cbindgen:prefix-with-name=false
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum wal_status {
    /// Success.
    WAL_OK = 0,
    /// The replay has no more events (end of the log, or where WAL_MODE_STOP_AT_CORRUPTION
    /// stopped). Not an error.
    WAL_END = 1,

    /// A required pointer argument is NULL.
    WAL_ERR_NULL_ARGUMENT = 2,
    /// An argument or option value is invalid (message says which).
    WAL_ERR_INVALID_ARGUMENT = 3,
    /// The caller's buffer is too small; `*needed` holds the required size.
    WAL_ERR_BUFFER_TOO_SMALL = 4,
    /// The library panicked (a bug); the call had no effect that can be relied on. A handle
    /// that panicked is poisoned: close it.
    WAL_ERR_PANIC = 5,
    /// An error the C API does not know (a newer library error kind); see the message.
    WAL_ERR_INTERNAL = 6,
    /// An earlier call on this handle panicked; the handle can only be closed.
    WAL_ERR_POISONED = 7,
    /// Follow mode (`wal_recovery_options.follow`): nothing new has been written and verified
    /// after the last event delivered yet; call again (or wait with `wal_recovery_next_wait`).
    /// Not an error.
    WAL_AGAIN = 8,

    /// An operating-system call failed; the message names the operation, the file and the
    /// errno ("os error N").
    WAL_ERR_IO = 100,
    /// The log directory does not exist.
    WAL_ERR_DIRECTORY_NOT_FOUND = 101,
    /// The log path exists but is not a directory.
    WAL_ERR_NOT_A_DIRECTORY = 102,
    /// Another writer holds the log directory.
    WAL_ERR_LOCKED = 103,
    /// Reserved, never returned: a panic of the background preloader is survived (replay
    /// continues synchronously) and reported as `worker_panic` in the report JSON.
    WAL_ERR_WORKER_PANICKED = 104,
    /// The directory holds segments of both formats (wal_recovery's own and FlashStrike v1);
    /// the message names a file of each. Set `format` in the options to read one of them.
    WAL_ERR_MIXED_FORMATS = 105,
    /// The directory holds segments of two logs (different format-2 log ids, or format-1
    /// segments next to format-2 ones); the message names a file of each. Refused in every
    /// mode, and by `wal_writer_open`.
    WAL_ERR_MIXED_LOGS = 106,

    /// A segment could not be used at all (unreadable, or its header is invalid) and event ids
    /// are missing because of it.
    WAL_ERR_SEGMENT_UNUSABLE = 200,
    /// Corruption: the file is shorter than a segment header.
    WAL_ERR_CORRUPT_TOO_SHORT = 201,
    /// Corruption: bad segment header magic.
    WAL_ERR_CORRUPT_HEADER_MAGIC = 202,
    /// Corruption: unsupported format version or header size.
    WAL_ERR_CORRUPT_HEADER_VERSION = 203,
    /// Corruption: segment header checksum mismatch.
    WAL_ERR_CORRUPT_HEADER_CHECKSUM = 204,
    /// Corruption: invalid or inconsistent segment header field.
    WAL_ERR_CORRUPT_HEADER_FIELD = 205,
    /// Corruption: bad block magic.
    WAL_ERR_CORRUPT_BLOCK_MAGIC = 206,
    /// Corruption: block header checksum mismatch.
    WAL_ERR_CORRUPT_BLOCK_HEADER_CHECKSUM = 207,
    /// Corruption: block index out of sequence.
    WAL_ERR_CORRUPT_BLOCK_INDEX = 208,
    /// Corruption: block event ids do not continue the previous block.
    WAL_ERR_CORRUPT_BLOCK_IDS = 209,
    /// Corruption: block length or event count out of bounds.
    WAL_ERR_CORRUPT_BLOCK_LENGTH = 210,
    /// Corruption: block payload checksum mismatch.
    WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM = 211,
    /// Corruption: chained checksum does not extend the previous block's.
    WAL_ERR_CORRUPT_CHAIN_MISMATCH = 212,
    /// Corruption: non-zero padding or reserved bytes.
    WAL_ERR_CORRUPT_PADDING = 213,
    /// Corruption: record framing overruns its block.
    WAL_ERR_CORRUPT_RECORD_FRAMING = 214,
    /// Corruption: a sealed header disagrees with the segment's blocks.
    WAL_ERR_CORRUPT_SEALED_MISMATCH = 215,
    /// Corruption: the file ends inside a block (or a sealed segment ends before the blocks
    /// its header counts).
    WAL_ERR_CORRUPT_TRUNCATED = 216,
    /// Corruption: bytes follow the last block of a sealed segment.
    WAL_ERR_CORRUPT_TRAILING_DATA = 217,
    /// Corruption: a cold (`.wal.lz4`) FlashStrike segment's LZ4 frame is truncated or garbled.
    WAL_ERR_CORRUPT_COLD_FRAME = 218,

    /// Event ids are missing between two segments.
    WAL_ERR_GAP = 301,
    /// Two segments hold the same ids with different content.
    WAL_ERR_CONFLICTING_DUPLICATE = 302,
    /// A segment starts inside the previous segment's id range.
    WAL_ERR_OVERLAP = 303,
    /// Ids continue but the cross-segment chain value does not (a segment was replaced).
    WAL_ERR_CHAIN_BREAK = 304,

    /// The requested event id is older than the oldest retained event.
    WAL_ERR_EVENT_TOO_OLD = 401,
    /// The requested event id is beyond the end of the log (last id + 1 is the furthest valid
    /// position).
    WAL_ERR_EVENT_BEYOND_END = 402,
    /// The requested event id is not in the segment that should hold it.
    WAL_ERR_EVENT_NOT_IN_SEGMENT = 403,
    /// The log holds no events and a specific id was requested.
    WAL_ERR_EMPTY_LOG = 404,

    /// The payload exceeds the format's maximum event size.
    WAL_ERR_PAYLOAD_TOO_LARGE = 501,
    /// Event ids would exceed the largest representable id.
    WAL_ERR_ID_OVERFLOW = 502,
    /// An earlier write or sync failed; the writer refuses further work (everything synced
    /// before the failure stays readable). Close it.
    WAL_ERR_WRITER_FAILED = 503,
}

use wal_status::*;

/// Every status, in number order (tests and `wal_status_str`).
pub(crate) const ALL_STATUSES: &[wal_status] = &[
    WAL_OK,
    WAL_END,
    WAL_ERR_NULL_ARGUMENT,
    WAL_ERR_INVALID_ARGUMENT,
    WAL_ERR_BUFFER_TOO_SMALL,
    WAL_ERR_PANIC,
    WAL_ERR_INTERNAL,
    WAL_ERR_POISONED,
    WAL_AGAIN,
    WAL_ERR_IO,
    WAL_ERR_DIRECTORY_NOT_FOUND,
    WAL_ERR_NOT_A_DIRECTORY,
    WAL_ERR_LOCKED,
    WAL_ERR_WORKER_PANICKED,
    WAL_ERR_MIXED_FORMATS,
    WAL_ERR_MIXED_LOGS,
    WAL_ERR_SEGMENT_UNUSABLE,
    WAL_ERR_CORRUPT_TOO_SHORT,
    WAL_ERR_CORRUPT_HEADER_MAGIC,
    WAL_ERR_CORRUPT_HEADER_VERSION,
    WAL_ERR_CORRUPT_HEADER_CHECKSUM,
    WAL_ERR_CORRUPT_HEADER_FIELD,
    WAL_ERR_CORRUPT_BLOCK_MAGIC,
    WAL_ERR_CORRUPT_BLOCK_HEADER_CHECKSUM,
    WAL_ERR_CORRUPT_BLOCK_INDEX,
    WAL_ERR_CORRUPT_BLOCK_IDS,
    WAL_ERR_CORRUPT_BLOCK_LENGTH,
    WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM,
    WAL_ERR_CORRUPT_CHAIN_MISMATCH,
    WAL_ERR_CORRUPT_PADDING,
    WAL_ERR_CORRUPT_RECORD_FRAMING,
    WAL_ERR_CORRUPT_SEALED_MISMATCH,
    WAL_ERR_CORRUPT_TRUNCATED,
    WAL_ERR_CORRUPT_TRAILING_DATA,
    WAL_ERR_CORRUPT_COLD_FRAME,
    WAL_ERR_GAP,
    WAL_ERR_CONFLICTING_DUPLICATE,
    WAL_ERR_OVERLAP,
    WAL_ERR_CHAIN_BREAK,
    WAL_ERR_EVENT_TOO_OLD,
    WAL_ERR_EVENT_BEYOND_END,
    WAL_ERR_EVENT_NOT_IN_SEGMENT,
    WAL_ERR_EMPTY_LOG,
    WAL_ERR_PAYLOAD_TOO_LARGE,
    WAL_ERR_ID_OVERFLOW,
    WAL_ERR_WRITER_FAILED,
    // Keep in number order: new statuses go at the end of their block.
];

impl wal_status {
    /// The status for a library error.
    pub fn from_error(e: &Error) -> wal_status {
        #[allow(unreachable_patterns)] // `Error` may gain variants: they map to INTERNAL.
        match e {
            Error::Io { .. } => WAL_ERR_IO,
            Error::DirectoryNotFound(_) => WAL_ERR_DIRECTORY_NOT_FOUND,
            Error::NotADirectory(_) => WAL_ERR_NOT_A_DIRECTORY,
            Error::Corrupt(c) => Self::from_corruption(c.kind),
            Error::Continuity { kind, .. } => Self::from_continuity(*kind),
            Error::SegmentUnusable { .. } => WAL_ERR_SEGMENT_UNUSABLE,
            Error::EventNotInSegment { .. } => WAL_ERR_EVENT_NOT_IN_SEGMENT,
            Error::EventTooOld { .. } => WAL_ERR_EVENT_TOO_OLD,
            Error::EventBeyondEnd { .. } => WAL_ERR_EVENT_BEYOND_END,
            Error::EmptyLog => WAL_ERR_EMPTY_LOG,
            Error::PayloadTooLarge { .. } => WAL_ERR_PAYLOAD_TOO_LARGE,
            Error::IdOverflow => WAL_ERR_ID_OVERFLOW,
            Error::InvalidArgument(_) => WAL_ERR_INVALID_ARGUMENT,
            Error::WriterFailed(_) => WAL_ERR_WRITER_FAILED,
            Error::DirectoryLocked(_) => WAL_ERR_LOCKED,
            Error::MixedFormats { .. } => WAL_ERR_MIXED_FORMATS,
            Error::MixedLogs { .. } => WAL_ERR_MIXED_LOGS,
            _ => WAL_ERR_INTERNAL,
        }
    }

    /// The status for a failed integrity check.
    pub fn from_corruption(kind: CorruptionKind) -> wal_status {
        match kind {
            CorruptionKind::TooShort => WAL_ERR_CORRUPT_TOO_SHORT,
            CorruptionKind::HeaderMagic => WAL_ERR_CORRUPT_HEADER_MAGIC,
            CorruptionKind::HeaderVersion => WAL_ERR_CORRUPT_HEADER_VERSION,
            CorruptionKind::HeaderChecksum => WAL_ERR_CORRUPT_HEADER_CHECKSUM,
            CorruptionKind::HeaderField => WAL_ERR_CORRUPT_HEADER_FIELD,
            CorruptionKind::BlockMagic => WAL_ERR_CORRUPT_BLOCK_MAGIC,
            CorruptionKind::BlockHeaderChecksum => WAL_ERR_CORRUPT_BLOCK_HEADER_CHECKSUM,
            CorruptionKind::BlockIndex => WAL_ERR_CORRUPT_BLOCK_INDEX,
            CorruptionKind::BlockIds => WAL_ERR_CORRUPT_BLOCK_IDS,
            CorruptionKind::BlockLength => WAL_ERR_CORRUPT_BLOCK_LENGTH,
            CorruptionKind::PayloadChecksum => WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM,
            CorruptionKind::ChainMismatch => WAL_ERR_CORRUPT_CHAIN_MISMATCH,
            CorruptionKind::Padding => WAL_ERR_CORRUPT_PADDING,
            CorruptionKind::RecordFraming => WAL_ERR_CORRUPT_RECORD_FRAMING,
            CorruptionKind::SealedMismatch => WAL_ERR_CORRUPT_SEALED_MISMATCH,
            CorruptionKind::Truncated => WAL_ERR_CORRUPT_TRUNCATED,
            CorruptionKind::TrailingData => WAL_ERR_CORRUPT_TRAILING_DATA,
            CorruptionKind::ColdFrame => WAL_ERR_CORRUPT_COLD_FRAME,
        }
    }

    /// The status for a continuity problem between segments.
    pub fn from_continuity(kind: ContinuityKind) -> wal_status {
        match kind {
            ContinuityKind::Gap => WAL_ERR_GAP,
            ContinuityKind::ConflictingDuplicate => WAL_ERR_CONFLICTING_DUPLICATE,
            ContinuityKind::Overlap => WAL_ERR_OVERLAP,
            ContinuityKind::ChainBreak => WAL_ERR_CHAIN_BREAK,
        }
    }

    /// The status with number `code`, if there is one.
    pub fn from_u32(code: u32) -> Option<wal_status> {
        ALL_STATUSES.iter().copied().find(|s| *s as u32 == code)
    }

    /// True for every error (number >= 2, except WAL_AGAIN).
    pub fn is_error(self) -> bool {
        self as u32 >= 2 && self != WAL_AGAIN
    }

    /// The symbolic name, as in the C header.
    pub fn name(self) -> &'static CStr {
        match self {
            WAL_OK => c"WAL_OK",
            WAL_END => c"WAL_END",
            WAL_ERR_NULL_ARGUMENT => c"WAL_ERR_NULL_ARGUMENT",
            WAL_ERR_INVALID_ARGUMENT => c"WAL_ERR_INVALID_ARGUMENT",
            WAL_ERR_BUFFER_TOO_SMALL => c"WAL_ERR_BUFFER_TOO_SMALL",
            WAL_ERR_PANIC => c"WAL_ERR_PANIC",
            WAL_ERR_INTERNAL => c"WAL_ERR_INTERNAL",
            WAL_ERR_POISONED => c"WAL_ERR_POISONED",
            WAL_AGAIN => c"WAL_AGAIN",
            WAL_ERR_IO => c"WAL_ERR_IO",
            WAL_ERR_DIRECTORY_NOT_FOUND => c"WAL_ERR_DIRECTORY_NOT_FOUND",
            WAL_ERR_NOT_A_DIRECTORY => c"WAL_ERR_NOT_A_DIRECTORY",
            WAL_ERR_LOCKED => c"WAL_ERR_LOCKED",
            WAL_ERR_WORKER_PANICKED => c"WAL_ERR_WORKER_PANICKED",
            WAL_ERR_MIXED_FORMATS => c"WAL_ERR_MIXED_FORMATS",
            WAL_ERR_MIXED_LOGS => c"WAL_ERR_MIXED_LOGS",
            WAL_ERR_SEGMENT_UNUSABLE => c"WAL_ERR_SEGMENT_UNUSABLE",
            WAL_ERR_CORRUPT_TOO_SHORT => c"WAL_ERR_CORRUPT_TOO_SHORT",
            WAL_ERR_CORRUPT_HEADER_MAGIC => c"WAL_ERR_CORRUPT_HEADER_MAGIC",
            WAL_ERR_CORRUPT_HEADER_VERSION => c"WAL_ERR_CORRUPT_HEADER_VERSION",
            WAL_ERR_CORRUPT_HEADER_CHECKSUM => c"WAL_ERR_CORRUPT_HEADER_CHECKSUM",
            WAL_ERR_CORRUPT_HEADER_FIELD => c"WAL_ERR_CORRUPT_HEADER_FIELD",
            WAL_ERR_CORRUPT_BLOCK_MAGIC => c"WAL_ERR_CORRUPT_BLOCK_MAGIC",
            WAL_ERR_CORRUPT_BLOCK_HEADER_CHECKSUM => c"WAL_ERR_CORRUPT_BLOCK_HEADER_CHECKSUM",
            WAL_ERR_CORRUPT_BLOCK_INDEX => c"WAL_ERR_CORRUPT_BLOCK_INDEX",
            WAL_ERR_CORRUPT_BLOCK_IDS => c"WAL_ERR_CORRUPT_BLOCK_IDS",
            WAL_ERR_CORRUPT_BLOCK_LENGTH => c"WAL_ERR_CORRUPT_BLOCK_LENGTH",
            WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM => c"WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM",
            WAL_ERR_CORRUPT_CHAIN_MISMATCH => c"WAL_ERR_CORRUPT_CHAIN_MISMATCH",
            WAL_ERR_CORRUPT_PADDING => c"WAL_ERR_CORRUPT_PADDING",
            WAL_ERR_CORRUPT_RECORD_FRAMING => c"WAL_ERR_CORRUPT_RECORD_FRAMING",
            WAL_ERR_CORRUPT_SEALED_MISMATCH => c"WAL_ERR_CORRUPT_SEALED_MISMATCH",
            WAL_ERR_CORRUPT_TRUNCATED => c"WAL_ERR_CORRUPT_TRUNCATED",
            WAL_ERR_CORRUPT_TRAILING_DATA => c"WAL_ERR_CORRUPT_TRAILING_DATA",
            WAL_ERR_CORRUPT_COLD_FRAME => c"WAL_ERR_CORRUPT_COLD_FRAME",
            WAL_ERR_GAP => c"WAL_ERR_GAP",
            WAL_ERR_CONFLICTING_DUPLICATE => c"WAL_ERR_CONFLICTING_DUPLICATE",
            WAL_ERR_OVERLAP => c"WAL_ERR_OVERLAP",
            WAL_ERR_CHAIN_BREAK => c"WAL_ERR_CHAIN_BREAK",
            WAL_ERR_EVENT_TOO_OLD => c"WAL_ERR_EVENT_TOO_OLD",
            WAL_ERR_EVENT_BEYOND_END => c"WAL_ERR_EVENT_BEYOND_END",
            WAL_ERR_EVENT_NOT_IN_SEGMENT => c"WAL_ERR_EVENT_NOT_IN_SEGMENT",
            WAL_ERR_EMPTY_LOG => c"WAL_ERR_EMPTY_LOG",
            WAL_ERR_PAYLOAD_TOO_LARGE => c"WAL_ERR_PAYLOAD_TOO_LARGE",
            WAL_ERR_ID_OVERFLOW => c"WAL_ERR_ID_OVERFLOW",
            WAL_ERR_WRITER_FAILED => c"WAL_ERR_WRITER_FAILED",
        }
    }

    /// A one-line description.
    pub fn description(self) -> &'static CStr {
        match self {
            WAL_OK => c"success",
            WAL_END => c"end of replay",
            WAL_ERR_NULL_ARGUMENT => c"a required pointer argument is NULL",
            WAL_ERR_INVALID_ARGUMENT => c"invalid argument",
            WAL_ERR_BUFFER_TOO_SMALL => c"buffer too small",
            WAL_ERR_PANIC => c"internal panic (library bug)",
            WAL_ERR_INTERNAL => c"internal error",
            WAL_ERR_POISONED => c"handle poisoned by an earlier panic",
            WAL_AGAIN => c"nothing new yet (follow mode)",
            WAL_ERR_IO => c"I/O error",
            WAL_ERR_DIRECTORY_NOT_FOUND => c"log directory not found",
            WAL_ERR_NOT_A_DIRECTORY => c"log path is not a directory",
            WAL_ERR_LOCKED => c"another writer holds the log directory",
            WAL_ERR_WORKER_PANICKED => c"segment preloader thread panicked",
            WAL_ERR_MIXED_FORMATS => c"segments of two formats in one directory",
            WAL_ERR_MIXED_LOGS => c"segments of two logs in one directory",
            WAL_ERR_SEGMENT_UNUSABLE => c"segment unusable",
            WAL_ERR_CORRUPT_TOO_SHORT
            | WAL_ERR_CORRUPT_HEADER_MAGIC
            | WAL_ERR_CORRUPT_HEADER_VERSION
            | WAL_ERR_CORRUPT_HEADER_CHECKSUM
            | WAL_ERR_CORRUPT_HEADER_FIELD
            | WAL_ERR_CORRUPT_BLOCK_MAGIC
            | WAL_ERR_CORRUPT_BLOCK_HEADER_CHECKSUM
            | WAL_ERR_CORRUPT_BLOCK_INDEX
            | WAL_ERR_CORRUPT_BLOCK_IDS
            | WAL_ERR_CORRUPT_BLOCK_LENGTH
            | WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM
            | WAL_ERR_CORRUPT_CHAIN_MISMATCH
            | WAL_ERR_CORRUPT_PADDING
            | WAL_ERR_CORRUPT_RECORD_FRAMING
            | WAL_ERR_CORRUPT_SEALED_MISMATCH
            | WAL_ERR_CORRUPT_TRUNCATED
            | WAL_ERR_CORRUPT_TRAILING_DATA
            | WAL_ERR_CORRUPT_COLD_FRAME => corruption_description(self),
            WAL_ERR_GAP => c"gap in event ids between segments",
            WAL_ERR_CONFLICTING_DUPLICATE => c"conflicting duplicate segments",
            WAL_ERR_OVERLAP => c"overlapping segments",
            WAL_ERR_CHAIN_BREAK => c"broken checksum chain between segments",
            WAL_ERR_EVENT_TOO_OLD => c"event older than the oldest retained event",
            WAL_ERR_EVENT_BEYOND_END => c"event beyond the end of the log",
            WAL_ERR_EVENT_NOT_IN_SEGMENT => c"event not in segment",
            WAL_ERR_EMPTY_LOG => c"the log holds no events",
            WAL_ERR_PAYLOAD_TOO_LARGE => c"payload too large",
            WAL_ERR_ID_OVERFLOW => c"event id overflow",
            WAL_ERR_WRITER_FAILED => c"writer failed earlier and refuses further work",
        }
    }
}

/// Every corruption kind, in status order (201..).
const CORRUPTION_KINDS: [CorruptionKind; 18] = [
    CorruptionKind::TooShort,
    CorruptionKind::HeaderMagic,
    CorruptionKind::HeaderVersion,
    CorruptionKind::HeaderChecksum,
    CorruptionKind::HeaderField,
    CorruptionKind::BlockMagic,
    CorruptionKind::BlockHeaderChecksum,
    CorruptionKind::BlockIndex,
    CorruptionKind::BlockIds,
    CorruptionKind::BlockLength,
    CorruptionKind::PayloadChecksum,
    CorruptionKind::ChainMismatch,
    CorruptionKind::Padding,
    CorruptionKind::RecordFraming,
    CorruptionKind::SealedMismatch,
    CorruptionKind::Truncated,
    CorruptionKind::TrailingData,
    CorruptionKind::ColdFrame,
];

/// "corruption: <the library's own name of the check>", built once: the C text never drifts
/// from [`CorruptionKind::as_str`].
fn corruption_description(s: wal_status) -> &'static CStr {
    static TEXTS: OnceLock<Vec<CString>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        CORRUPTION_KINDS
            .iter()
            .map(|k| CString::new(format!("corruption: {}", k.as_str())).unwrap_or_default())
            .collect()
    });
    CORRUPTION_KINDS
        .iter()
        .position(|&k| wal_status::from_corruption(k) == s)
        .and_then(|i| texts.get(i))
        .map_or(c"corruption", CString::as_c_str)
}

/// Describes any status number: a static, NUL-terminated string that is never NULL
/// ("unknown status" for numbers this library does not know).
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn wal_status_str(status: u32) -> *const c_char {
    ffi_panic_boundary!({
        match wal_status::from_u32(status) {
            Some(s) => s.description().as_ptr(),
            None => c"unknown status".as_ptr(),
        }
    })
}

/// The symbolic name of a status number ("WAL_ERR_GAP"): a static, NUL-terminated string that
/// is never NULL ("WAL_UNKNOWN_STATUS" for numbers this library does not know).
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn wal_status_name(status: u32) -> *const c_char {
    ffi_panic_boundary!({
        match wal_status::from_u32(status) {
            Some(s) => s.name().as_ptr(),
            None => c"WAL_UNKNOWN_STATUS".as_ptr(),
        }
    })
}

thread_local! {
    /// Message of the calling thread's most recent failed call.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `msg` as the calling thread's last error and returns `status`.
pub(crate) fn fail_with(status: wal_status, msg: impl Into<String>) -> wal_status {
    let msg = msg.into();
    // `try_with` fails only while the thread is being torn down: the message is then dropped.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = msg);
    status
}

/// Records a library error as the calling thread's last error and returns its status.
pub(crate) fn fail(e: &Error) -> wal_status {
    fail_with(wal_status::from_error(e), e.to_string())
}

/// A copy of the calling thread's last error message.
pub(crate) fn thread_last_error() -> String {
    LAST_ERROR
        .try_with(|e| e.borrow().clone())
        .unwrap_or_default()
}

/// Per-handle error state: the message of the handle's last failed call, and whether a panic
/// left the handle in an unknown state.
#[derive(Debug, Default)]
pub(crate) struct ErrorState {
    message: Mutex<String>,
    poisoned: AtomicBool,
}

impl ErrorState {
    /// After a call on the handle returned `status`: an error copies the thread's last error
    /// message to the handle; a panic also poisons it.
    #[cold]
    pub(crate) fn record(&self, status: wal_status) {
        if status == WAL_ERR_PANIC {
            self.poisoned.store(true, Ordering::Relaxed);
        }
        let msg = thread_last_error();
        *self.message.lock().unwrap_or_else(|p| p.into_inner()) = msg;
    }

    /// True once a call on the handle has panicked.
    #[inline]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// A copy of the handle's last error message.
    pub(crate) fn message(&self) -> String {
        self.message
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Handles that keep their own last-error message.
pub(crate) trait HasErrorState {
    /// The handle's error state.
    fn errors(&self) -> &ErrorState;
}

/// After a call on the handle `h` returned `status`: mirrors an error into the handle.
///
/// # Safety
/// `h` is NULL or points to a live handle (the calling function's contract).
#[inline]
pub(crate) unsafe fn mirror<H: HasErrorState>(h: *const H, status: wal_status) -> wal_status {
    if status.is_error() {
        // SAFETY: per this function's contract, a non-NULL `h` points to a live handle; only
        // shared access is taken.
        if let Some(h) = unsafe { h.as_ref() } {
            h.errors().record(status);
        }
    }
    status
}

/// Copies `msg` into `buf` (capacity `cap`, may be NULL when `cap` is 0) the way `snprintf`
/// does: at most `cap - 1` bytes, cut at a UTF-8 character boundary, then a NUL. Returns the
/// full length of `msg` in bytes (without the NUL).
///
/// # Safety
/// `buf` is NULL or valid for writes of `cap` bytes.
pub(crate) unsafe fn copy_message(msg: &str, buf: *mut c_char, cap: usize) -> usize {
    if !buf.is_null() && cap > 0 {
        let mut n = msg.len().min(cap - 1);
        while !msg.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: `buf` is valid for `cap` bytes and `n + 1 <= cap`; `msg` does not overlap a
        // caller-owned buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
            buf.add(n).write(0);
        }
    }
    msg.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_unique_sorted_and_named() {
        for w in ALL_STATUSES.windows(2) {
            assert!((w[0] as u32) < (w[1] as u32), "{:?} / {:?}", w[0], w[1]);
        }
        for &s in ALL_STATUSES {
            assert_eq!(wal_status::from_u32(s as u32), Some(s));
            let name = s.name().to_str().unwrap();
            assert_eq!(name, format!("{s:?}"));
            assert!(!s.description().is_empty());
        }
        assert_eq!(wal_status::from_u32(9999), None);
    }

    #[test]
    fn every_error_variant_has_its_own_status() {
        use crate::error::Corruption;
        use std::path::PathBuf;
        let p = || PathBuf::from("/x/00000000000000000001.wal");
        let corrupt = |kind| {
            Error::Corrupt(Box::new(Corruption {
                path: p(),
                offset: 64,
                block: Some(0),
                kind,
                detail: String::new(),
            }))
        };
        let continuity = |kind| Error::Continuity {
            kind,
            previous: p(),
            next: p(),
            first_id: 5,
            last_id: 9,
        };
        let cases: Vec<(Error, wal_status)> = vec![
            (
                Error::Io {
                    op: "open",
                    path: p(),
                    source: std::io::Error::from_raw_os_error(13),
                },
                WAL_ERR_IO,
            ),
            (Error::DirectoryNotFound(p()), WAL_ERR_DIRECTORY_NOT_FOUND),
            (Error::NotADirectory(p()), WAL_ERR_NOT_A_DIRECTORY),
            (
                Error::SegmentUnusable {
                    path: p(),
                    reason: "r".into(),
                },
                WAL_ERR_SEGMENT_UNUSABLE,
            ),
            (
                Error::EventNotInSegment {
                    requested: 1,
                    first: 2,
                    end: 3,
                    path: p(),
                },
                WAL_ERR_EVENT_NOT_IN_SEGMENT,
            ),
            (
                Error::EventTooOld {
                    requested: 1,
                    oldest: 2,
                },
                WAL_ERR_EVENT_TOO_OLD,
            ),
            (
                Error::EventBeyondEnd {
                    requested: 9,
                    end: 3,
                },
                WAL_ERR_EVENT_BEYOND_END,
            ),
            (Error::EmptyLog, WAL_ERR_EMPTY_LOG),
            (
                Error::PayloadTooLarge { len: 9, max: 1 },
                WAL_ERR_PAYLOAD_TOO_LARGE,
            ),
            (Error::IdOverflow, WAL_ERR_ID_OVERFLOW),
            (Error::InvalidArgument("x".into()), WAL_ERR_INVALID_ARGUMENT),
            (Error::WriterFailed("x".into()), WAL_ERR_WRITER_FAILED),
            (Error::DirectoryLocked(p()), WAL_ERR_LOCKED),
            (continuity(ContinuityKind::Gap), WAL_ERR_GAP),
            (
                continuity(ContinuityKind::ConflictingDuplicate),
                WAL_ERR_CONFLICTING_DUPLICATE,
            ),
            (continuity(ContinuityKind::Overlap), WAL_ERR_OVERLAP),
            (continuity(ContinuityKind::ChainBreak), WAL_ERR_CHAIN_BREAK),
        ];
        let kinds = CORRUPTION_KINDS;
        let mut seen = std::collections::HashSet::new();
        for (e, want) in &cases {
            assert_eq!(wal_status::from_error(e), *want, "{e}");
            assert!(seen.insert(*want), "{want:?} used twice");
        }
        for (i, k) in kinds.into_iter().enumerate() {
            let s = wal_status::from_error(&corrupt(k));
            assert_eq!(s as u32, 201 + i as u32, "{k:?}");
            assert!(seen.insert(s));
            // The description names the same check as the library's own text.
            assert!(
                s.description().to_str().unwrap().ends_with(k.as_str()),
                "{k:?}"
            );
        }
        // The I/O message carries the errno.
        let msg = cases[0].0.to_string();
        assert!(msg.contains("os error 13"), "{msg}");
    }

    #[test]
    fn messages_are_cut_like_snprintf() {
        let mut buf = [0x55 as c_char; 6];
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { copy_message("héllo wörld", buf.as_mut_ptr(), buf.len()) };
        assert_eq!(n, "héllo wörld".len());
        // SAFETY: copy_message NUL-terminated it.
        let got = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(got.to_str().unwrap(), "héll"); // 5 bytes fit; "héllo" would be 6
                                                   // SAFETY: NULL with cap 0 only asks the length.
        assert_eq!(unsafe { copy_message("abc", std::ptr::null_mut(), 0) }, 3);
    }
}
