//! The C options of a replay, `wal_recovery_options`, with its mode and format enums and its
//! two initialisers: a struct that grows at its end, read by `wal_recovery_open` through
//! `struct_size` so that callers compiled against an older, smaller struct keep working.

use std::mem::{offset_of, size_of};
use std::time::Duration;

use super::panic::ffi_panic_boundary;
use super::ptr::{check_nonnull, Versioned};
use super::status::{fail_with, wal_status};
use crate::recovery::format::FormatChoice;
use crate::{RecoveryMode, RecoveryOptions};

/// What replay does at corruption, a gap, a conflicting duplicate or a broken chain (the
/// `mode` field of `wal_recovery_options`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wal_mode {
    /// Deliver every valid event in order; the first problem is returned as an error by
    /// `wal_recovery_next`. A torn tail in the last, unsealed segment is the normal crash
    /// state, not a problem.
    Strict = 0,
    /// Point-in-time recovery: end cleanly (WAL_END) at the first problem; the report says why.
    StopAtCorruption = 1,
    /// Skip what is damaged and continue with the next valid data; every skipped id range is
    /// in the report.
    SkipCorrupted = 2,
}

/// The on-disk format to read (the `format` field of `wal_recovery_options`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wal_format {
    /// Recognise the format from the segment headers (the default). A directory holding
    /// segments of both formats fails with WAL_ERR_MIXED_FORMATS.
    Auto = 0,
    /// Only wal_recovery's own format.
    Native = 1,
    /// Only FlashStrike v1 (`FS.<8 digits>.wal`, and cold `.wal.lz4` segments).
    FlashstrikeV1 = 2,
}

/// Replay options. Initialise with `wal_recovery_options_init`, then change fields.
///
/// `struct_size` must be `sizeof(wal_recovery_options)` as the caller was compiled (`_init`
/// sets it). The library reads only the first `struct_size` bytes: fields a smaller (older)
/// struct lacks keep their defaults, and bytes beyond what this library knows must be zero
/// (WAL_ERR_INVALID_ARGUMENT otherwise). Values below the v1 size (32) are invalid.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wal_recovery_options {
    /// `sizeof(wal_recovery_options)`.
    pub struct_size: u32,
    /// One of `wal_mode` (default WAL_MODE_STRICT).
    pub mode: u32,
    /// First event to deliver; 0 (default) means the oldest retained event.
    pub start_event_id: u64,
    /// Segments verified ahead by the background preloader, 1..=64 (default 3).
    pub preload_depth: u32,
    /// Capacity of the ring of finished segments awaiting close, 1..=65536 (default 64).
    pub finished_capacity: u32,
    /// Microseconds replay waits for the preloader before opening a segment itself.
    pub fallback_after_us: u32,
    /// Record the delivery of one event in N (by id) in the next-event latency histogram
    /// (N >= 1).
    pub next_event_sample_every: u32,
    /// One of `wal_format` (default WAL_FORMAT_AUTO). The struct grew from 32 to 40 bytes with
    /// this field: a caller compiled against the 32-byte struct gets the default.
    pub format: u32,
    /// One of `wal_follow` (default WAL_FOLLOW_OFF). Non-zero: follow the live log — after the
    /// last event, `wal_recovery_next` returns WAL_AGAIN instead of WAL_END, and events the
    /// writer appends later are delivered once they verify; the directory need not exist yet
    /// (native format only). This field was `reserved` (must be 0) before follow mode: old
    /// callers, which set it to 0, are unaffected.
    pub follow: u32,
}

const RECOVERY_OPTIONS_V1_SIZE: usize = 32;
const _: () = {
    assert!(size_of::<wal_recovery_options>() == 40);
    assert!(std::mem::align_of::<wal_recovery_options>() == 8);
    assert!(offset_of!(wal_recovery_options, struct_size) == 0);
    assert!(offset_of!(wal_recovery_options, mode) == 4);
    assert!(offset_of!(wal_recovery_options, start_event_id) == 8);
    assert!(offset_of!(wal_recovery_options, preload_depth) == 16);
    assert!(offset_of!(wal_recovery_options, finished_capacity) == 20);
    assert!(offset_of!(wal_recovery_options, fallback_after_us) == 24);
    assert!(offset_of!(wal_recovery_options, next_event_sample_every) == 28);
    assert!(offset_of!(wal_recovery_options, format) == 32);
    assert!(offset_of!(wal_recovery_options, follow) == 36);
};

// SAFETY: repr(C), integers only, no padding (the layout asserts above), starts with
// `struct_size: u32`.
unsafe impl Versioned for wal_recovery_options {
    const V1_SIZE: usize = RECOVERY_OPTIONS_V1_SIZE;
}

impl wal_recovery_options {
    pub(super) fn defaults() -> wal_recovery_options {
        let d = RecoveryOptions::default();
        wal_recovery_options {
            struct_size: size_of::<wal_recovery_options>() as u32,
            mode: wal_mode::from(d.mode) as u32,
            start_event_id: d.start_event_id,
            preload_depth: d.preload_depth.try_into().unwrap_or(u32::MAX),
            finished_capacity: d.finished_capacity.try_into().unwrap_or(u32::MAX),
            fallback_after_us: d.fallback_after.as_micros().try_into().unwrap_or(u32::MAX),
            next_event_sample_every: d.next_event_sample_every,
            format: wal_format::Auto as u32,
            follow: super::follow::wal_follow::Off as u32,
        }
    }

    pub(super) fn to_options(self) -> Result<RecoveryOptions, wal_status> {
        let mode = match self.mode {
            0 => RecoveryMode::Strict,
            1 => RecoveryMode::StopAtCorruption,
            2 => RecoveryMode::SkipCorrupted,
            m => {
                return Err(fail_with(
                    wal_status::WAL_ERR_INVALID_ARGUMENT,
                    format!("invalid argument: mode {m} is not a wal_mode (0, 1 or 2)"),
                ))
            }
        };
        let format = match self.format {
            0 => FormatChoice::Auto,
            1 => FormatChoice::Native,
            2 => FormatChoice::FlashStrikeV1,
            f => {
                return Err(fail_with(
                    wal_status::WAL_ERR_INVALID_ARGUMENT,
                    format!("invalid argument: format {f} is not a wal_format (0, 1 or 2)"),
                ))
            }
        };
        let (follow, idle) = super::follow::follow_of(self.follow)?;
        Ok(RecoveryOptions {
            start_event_id: self.start_event_id,
            mode,
            format,
            preload_depth: self.preload_depth as usize,
            finished_capacity: self.finished_capacity as usize,
            fallback_after: Duration::from_micros(self.fallback_after_us.into()),
            next_event_sample_every: self.next_event_sample_every,
            follow,
            idle,
            ..RecoveryOptions::default()
        })
    }
}

impl From<RecoveryMode> for wal_mode {
    fn from(m: RecoveryMode) -> wal_mode {
        match m {
            RecoveryMode::Strict => wal_mode::Strict,
            RecoveryMode::StopAtCorruption => wal_mode::StopAtCorruption,
            RecoveryMode::SkipCorrupted => wal_mode::SkipCorrupted,
        }
    }
}

/// Fills the first 32 bytes of `*opts` (the fields of the first version of the struct) with the
/// defaults and sets `struct_size` to 32, so fields added later keep their defaults. Does
/// nothing when `opts` is NULL. Writes 32 bytes whatever this header's struct size, so callers
/// compiled against the 32-byte struct of earlier versions stay safe; new code uses
/// `wal_recovery_options_init_sized`, which initialises every field it has.
///
/// Thread-safe.
///
/// # Safety
/// `opts` is NULL or valid for writes of 32 bytes.
#[no_mangle]
#[deprecated = "writes only the first 32 bytes; use wal_recovery_options_init_sized(opts, sizeof *opts)"]
pub unsafe extern "C" fn wal_recovery_options_init(opts: *mut wal_recovery_options) {
    ffi_panic_boundary!({
        check_nonnull!(opts);
        let mut d = wal_recovery_options::defaults();
        d.struct_size = RECOVERY_OPTIONS_V1_SIZE as u32;
        // SAFETY: `opts` is non-NULL and valid for writes of 32 bytes (contract); the first 32
        // bytes of the struct are the first version's fields (layout asserted above), and a
        // byte copy has no alignment requirement.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&d as *const wal_recovery_options).cast::<u8>(),
                opts.cast::<u8>(),
                RECOVERY_OPTIONS_V1_SIZE,
            )
        };
    })
}

/// Fills `*opts`, a struct of `size` bytes as the caller was compiled (pass `sizeof *opts`),
/// with the defaults of every field this library knows, zeroes the rest, and sets
/// `struct_size` to `size`. Errors: WAL_ERR_NULL_ARGUMENT; WAL_ERR_INVALID_ARGUMENT when
/// `size` is below 32 or above 4096.
///
/// Thread-safe.
///
/// # Safety
/// `opts` is NULL or valid for writes of `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn wal_recovery_options_init_sized(
    opts: *mut wal_recovery_options,
    size: usize,
) -> wal_status {
    ffi_panic_boundary!({
        check_nonnull!(opts);
        if !(RECOVERY_OPTIONS_V1_SIZE..=4096).contains(&size) {
            return fail_with(
                wal_status::WAL_ERR_INVALID_ARGUMENT,
                format!("invalid argument: options size {size} (32..=4096)"),
            );
        }
        let mut d = wal_recovery_options::defaults();
        d.struct_size = size as u32;
        let ours = size_of::<wal_recovery_options>();
        // SAFETY: `opts` is non-NULL and valid for writes of `size` bytes (contract); byte
        // copies have no alignment requirement, and at most `size` bytes are written.
        unsafe {
            let dst = opts.cast::<u8>();
            std::ptr::write_bytes(dst, 0, size);
            let src = (&d as *const wal_recovery_options).cast::<u8>();
            std::ptr::copy_nonoverlapping(src, dst, ours.min(size));
        }
        wal_status::WAL_OK
    })
}
