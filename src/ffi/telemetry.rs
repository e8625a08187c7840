//! Telemetry of a replay handle: `wal_telemetry_*`.
//!
//! These functions may run on any thread while the replay thread uses the handle: they take a
//! shared reference to the handle and touch only its `telemetry` (`Arc<Telemetry>`, atomics and
//! locks), never the replay state (see [`super::recovery`]). For the same reason they keep
//! their error messages per thread only (`wal_last_error_message(NULL, ...)`), never on the
//! handle, where they would race with the replay thread's own message.

use std::ffi::{c_char, CStr};
use std::mem::{offset_of, size_of};

use super::panic::ffi_panic_boundary;
use super::ptr::{check_buf, check_nonnull, try_ref, write_string};
use super::recovery::wal_recovery;
use super::status::{fail_with, wal_status};
use crate::recovery::telemetry::{
    try_render_prometheus, HistogramSummary, ManagerSnapshot, OpSnapshot, SegmentPreloaderSnapshot,
    SegmentReaderSnapshot, TelemetrySnapshot,
};

/// Statistics of one timed operation. `min_ns`, `max_ns` and `avg_ns` are 0 while `samples`
/// is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wal_op_stats {
    /// Operations recorded (`ok + fail`).
    pub samples: u64,
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed.
    pub fail: u64,
    /// Sum of all durations (ns).
    pub total_ns: u64,
    /// Shortest duration (ns).
    pub min_ns: u64,
    /// Longest duration (ns).
    pub max_ns: u64,
    /// Mean duration (ns), rounded down.
    pub avg_ns: u64,
}

/// Summary of an HDR latency histogram, in nanoseconds. `count`, `sum`, `min` and `max` are
/// exact; percentiles are within about 0.1 %. All 0 while `count` is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wal_histogram {
    /// Values recorded.
    pub count: u64,
    /// Sum of the values.
    pub sum: u64,
    /// Smallest value.
    pub min: u64,
    /// Largest value.
    pub max: u64,
    /// Mean, rounded down.
    pub mean: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
}

/// Segment reader metrics (open, verify, index, seek, close, integrity failures).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wal_segment_reader_telemetry {
    /// open + fstat + mmap of a segment file.
    pub open_segment: wal_op_stats,
    /// munmap + close of a segment file.
    pub close_segment: wal_op_stats,
    /// Full integrity walk of a segment.
    pub verify_segment: wal_op_stats,
    /// Sparse-index build.
    pub build_index: wal_op_stats,
    /// In-segment seek to an event id.
    pub seek_event: wal_op_stats,
    /// Segment header checksum mismatches.
    pub header_checksum_failures: u64,
    /// Block header checksum mismatches.
    pub block_header_checksum_failures: u64,
    /// Block payload checksum mismatches.
    pub block_checksum_failures: u64,
    /// Chained checksum mismatches.
    pub chained_checksum_failures: u64,
    /// Structural validation failures (sizes, ids, indices).
    pub validation_failures: u64,
    /// Segment opens that failed.
    pub open_failures: u64,
    /// Segments whose tail was torn.
    pub torn_tails: u64,
    /// Bytes verified.
    pub bytes_verified: u64,
}

/// Background preloader metrics.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wal_segment_preloader_telemetry {
    /// Background open + verify of an upcoming segment.
    pub preload_segment: wal_op_stats,
    /// Background close of a finished segment.
    pub finish_segment: wal_op_stats,
    /// Segments skipped for any reason (sum of the three below).
    pub segments_skipped: u64,
    /// Skipped: the scan found the header invalid.
    pub skipped_bad_header: u64,
    /// Skipped: verification found corruption.
    pub skipped_corrupt: u64,
    /// Skipped: I/O error.
    pub skipped_io: u64,
    /// Nanoseconds the preloader waited on a full ring of prepared segments.
    pub prepared_ring_full_wait_ns: u64,
}

/// Replay manager metrics.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wal_manager_telemetry {
    /// Header read of each file during the directory scan.
    pub read_segment_header: wal_op_stats,
    /// Whole resume (open and seek) calls.
    pub resume_from_event: wal_op_stats,
    /// Seek inside the resume segment.
    pub seek_event: wal_op_stats,
    /// Sampled deliveries (one event in `next_event_sample_every`).
    pub next_event: wal_op_stats,
    /// Latency of sampled `wal_recovery_next` calls.
    pub next_event_histogram: wal_histogram,
    /// Latency of segment handoffs (end of one segment to the first event of the next).
    pub segment_handoff_histogram: wal_histogram,
    /// Histogram values dropped because two threads recorded at the same instant.
    pub histogram_samples_dropped: u64,
    /// Segments replay opened itself because none was preloaded.
    pub fallback_opens: u64,
    /// Events delivered (published in batches during replay, exact at segment ends).
    pub events_delivered: u64,
    /// Payload bytes delivered.
    pub bytes_delivered: u64,
    /// Finished segments closed on the replay thread because the finished ring was full.
    pub finished_ring_full_sync_closes: u64,
    /// Segments selected for replay.
    pub segments_total: u64,
    /// Segments not started yet.
    pub segments_remaining: u64,
    /// The next-event sampling period in use (0 before replay starts).
    pub next_event_sample_every: u64,
    /// Wall-clock start of the replay (Unix ns; 0 = not started).
    pub replay_start_unix_ns: u64,
    /// Time since the replay started, frozen when it finished (ns; 0 = not started).
    pub replay_elapsed_ns: u64,
}

/// A plain-data copy of a replay's telemetry, filled by `wal_telemetry_snapshot`.
///
/// Set `struct_size = sizeof(wal_telemetry)` before the call: the library writes at most that
/// many bytes (so a caller compiled against an older, smaller struct is never overrun) and sets
/// `struct_size` to the size it wrote. Later versions only append members.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wal_telemetry {
    /// In: `sizeof(wal_telemetry)` as the caller was compiled. Out: bytes written.
    pub struct_size: u32,
    /// Zero.
    pub reserved: u32,
    /// Segment reader metrics.
    pub segment_reader: wal_segment_reader_telemetry,
    /// Background preloader metrics.
    pub segment_preloader: wal_segment_preloader_telemetry,
    /// Replay manager metrics.
    pub manager: wal_manager_telemetry,
}

const TELEMETRY_V1_SIZE: usize = 968;
const _: () = {
    assert!(size_of::<wal_op_stats>() == 7 * 8);
    assert!(size_of::<wal_histogram>() == 10 * 8);
    assert!(size_of::<wal_segment_reader_telemetry>() == 5 * 56 + 8 * 8);
    assert!(size_of::<wal_segment_preloader_telemetry>() == 2 * 56 + 5 * 8);
    assert!(size_of::<wal_manager_telemetry>() == 4 * 56 + 2 * 80 + 10 * 8);
    assert!(size_of::<wal_telemetry>() == TELEMETRY_V1_SIZE);
    assert!(std::mem::align_of::<wal_telemetry>() == 8);
    assert!(offset_of!(wal_telemetry, struct_size) == 0);
    assert!(offset_of!(wal_telemetry, segment_reader) == 8);
    assert!(offset_of!(wal_telemetry, segment_preloader) == 8 + 344);
    assert!(offset_of!(wal_telemetry, manager) == 8 + 344 + 152);
    assert!(offset_of!(wal_manager_telemetry, next_event_histogram) == 224);
    assert!(offset_of!(wal_manager_telemetry, events_delivered) == 224 + 160 + 16);
};

impl From<&OpSnapshot> for wal_op_stats {
    fn from(s: &OpSnapshot) -> Self {
        wal_op_stats {
            samples: s.samples,
            ok: s.ok,
            fail: s.fail,
            total_ns: s.total_ns,
            min_ns: s.min_ns,
            max_ns: s.max_ns,
            avg_ns: s.avg_ns,
        }
    }
}

impl From<&HistogramSummary> for wal_histogram {
    fn from(s: &HistogramSummary) -> Self {
        wal_histogram {
            count: s.count,
            sum: s.sum,
            min: s.min,
            max: s.max,
            mean: s.mean,
            p50: s.p50,
            p90: s.p90,
            p99: s.p99,
            p999: s.p999,
            p9999: s.p9999,
        }
    }
}

impl From<&SegmentReaderSnapshot> for wal_segment_reader_telemetry {
    fn from(s: &SegmentReaderSnapshot) -> Self {
        wal_segment_reader_telemetry {
            open_segment: (&s.open_segment).into(),
            close_segment: (&s.close_segment).into(),
            verify_segment: (&s.verify_segment).into(),
            build_index: (&s.build_index).into(),
            seek_event: (&s.seek_event).into(),
            header_checksum_failures: s.header_checksum_failures,
            block_header_checksum_failures: s.block_header_checksum_failures,
            block_checksum_failures: s.block_checksum_failures,
            chained_checksum_failures: s.chained_checksum_failures,
            validation_failures: s.validation_failures,
            open_failures: s.open_failures,
            torn_tails: s.torn_tails,
            bytes_verified: s.bytes_verified,
        }
    }
}

impl From<&SegmentPreloaderSnapshot> for wal_segment_preloader_telemetry {
    fn from(s: &SegmentPreloaderSnapshot) -> Self {
        wal_segment_preloader_telemetry {
            preload_segment: (&s.preload_segment).into(),
            finish_segment: (&s.finish_segment).into(),
            segments_skipped: s.segments_skipped,
            skipped_bad_header: s.skipped_bad_header,
            skipped_corrupt: s.skipped_corrupt,
            skipped_io: s.skipped_io,
            prepared_ring_full_wait_ns: s.prepared_ring_full_wait_ns,
        }
    }
}

impl From<&ManagerSnapshot> for wal_manager_telemetry {
    fn from(s: &ManagerSnapshot) -> Self {
        wal_manager_telemetry {
            read_segment_header: (&s.read_segment_header).into(),
            resume_from_event: (&s.resume_from_event).into(),
            seek_event: (&s.seek_event).into(),
            next_event: (&s.next_event).into(),
            next_event_histogram: (&s.next_event_histogram).into(),
            segment_handoff_histogram: (&s.segment_handoff_histogram).into(),
            histogram_samples_dropped: s.histogram_samples_dropped,
            fallback_opens: s.fallback_opens,
            events_delivered: s.events_delivered,
            bytes_delivered: s.bytes_delivered,
            finished_ring_full_sync_closes: s.finished_ring_full_sync_closes,
            segments_total: s.segments_total,
            segments_remaining: s.segments_remaining,
            next_event_sample_every: s.next_event_sample_every,
            replay_start_unix_ns: s.replay_start_unix_ns,
            replay_elapsed_ns: s.replay_elapsed_ns,
        }
    }
}

impl From<&TelemetrySnapshot> for wal_telemetry {
    fn from(s: &TelemetrySnapshot) -> Self {
        wal_telemetry {
            struct_size: size_of::<wal_telemetry>() as u32,
            reserved: 0,
            segment_reader: (&s.segment_reader).into(),
            segment_preloader: (&s.segment_preloader).into(),
            manager: (&s.manager).into(),
        }
    }
}

/// Copies every telemetry counter, operation statistic and histogram summary of the replay
/// into `*out` (set `out->struct_size` first; see `wal_telemetry`). A snapshot taken during
/// replay is consistent per metric, not across metrics.
///
/// Thread-safety: may be called from any thread, also while the replay thread uses `h`
/// (but not during or after `wal_recovery_close(h)`). Errors are reported to
/// `wal_last_error_message(NULL, ...)` on the calling thread only.
///
/// # Safety
/// `h` is NULL or a live handle; `out` is NULL or points to a `wal_telemetry` of
/// `out->struct_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn wal_telemetry_snapshot(
    h: *const wal_recovery,
    out: *mut wal_telemetry,
) -> wal_status {
    ffi_panic_boundary!({
        let h = try_ref!(h);
        check_nonnull!(out);
        // SAFETY: `out` is non-NULL and its first 4 bytes are `struct_size` (contract).
        let size = unsafe { out.cast::<u32>().read_unaligned() } as usize;
        if size < TELEMETRY_V1_SIZE {
            return fail_with(
                wal_status::WAL_ERR_INVALID_ARGUMENT,
                format!(
                    "invalid argument: wal_telemetry.struct_size is {size}; set it to \
                     sizeof(wal_telemetry) = {}",
                    size_of::<wal_telemetry>()
                ),
            );
        }
        let mut snapshot = wal_telemetry::from(&h.telemetry.snapshot());
        let n = size.min(size_of::<wal_telemetry>());
        snapshot.struct_size = n as u32;
        // SAFETY: the caller's struct has `size >= n` writable bytes (contract); the source is a
        // local of `size_of::<wal_telemetry>() >= n` bytes with no padding (layout asserts).
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&snapshot as *const wal_telemetry).cast::<u8>(),
                out.cast::<u8>(),
                n,
            );
        }
        wal_status::WAL_OK
    })
}

/// The UTF-8 string a C string argument holds, or the status to return.
///
/// # Safety
/// `s` is non-NULL and NUL-terminated.
unsafe fn utf8_arg<'a>(s: *const c_char, name: &str) -> Result<&'a str, wal_status> {
    // SAFETY: forwarded from this function's contract.
    unsafe { CStr::from_ptr(s) }.to_str().map_err(|e| {
        fail_with(
            wal_status::WAL_ERR_INVALID_ARGUMENT,
            format!("invalid argument: `{name}` is not UTF-8: {e}"),
        )
    })
}

/// Renders the human-readable telemetry report (one framed section per component, durations
/// and sizes in readable units) under the title `label` into `buf`, NUL-terminated. `*needed`
/// is always set to the size required, NUL included; when `cap` is smaller, only an empty
/// string is written and WAL_ERR_BUFFER_TOO_SMALL is returned (ask again with a larger buffer:
/// the text changes as the replay moves). `buf` may be NULL when `cap` is 0.
///
/// Thread-safety: as `wal_telemetry_snapshot`.
///
/// # Safety
/// `h` is NULL or a live handle; `label` is NULL or a NUL-terminated UTF-8 string; `buf` is
/// NULL (then `cap` is 0) or valid for writes of `cap` bytes; `needed` is NULL or valid for a
/// `size_t` write.
#[no_mangle]
pub unsafe extern "C" fn wal_telemetry_dump(
    h: *const wal_recovery,
    label: *const c_char,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> wal_status {
    ffi_panic_boundary!({
        let h = try_ref!(h);
        check_nonnull!(label);
        check_buf!(buf, cap);
        check_nonnull!(needed);
        // SAFETY: `label` is non-NULL and NUL-terminated (contract).
        let label = match unsafe { utf8_arg(label, "label") } {
            Ok(l) => l,
            Err(status) => return status,
        };
        let mut text = String::new();
        if h.telemetry.dump(label, &mut text).is_err() {
            return fail_with(
                wal_status::WAL_ERR_INTERNAL,
                "telemetry dump failed to format",
            );
        }
        // SAFETY: `buf`/`cap`/`needed` as in this function's contract, checked above.
        unsafe { write_string(&text, buf, cap, needed) }
    })
}

/// Renders the telemetry in the Prometheus text exposition format 0.0.4 into `buf`,
/// NUL-terminated, with series named `<prefix>_<component>_<metric>` (counters end in
/// `_total`; histograms are summaries with quantiles 0.5 to 0.9999). `prefix` must match
/// `[a-zA-Z_:][a-zA-Z0-9_:]*` and not end in `_` (WAL_ERR_INVALID_ARGUMENT otherwise);
/// "wal_recovery" is the customary one. Buffer protocol as `wal_telemetry_dump`.
///
/// Thread-safety: as `wal_telemetry_snapshot`.
///
/// # Safety
/// `h` is NULL or a live handle; `prefix` is NULL or a NUL-terminated string; `buf` is NULL
/// (then `cap` is 0) or valid for writes of `cap` bytes; `needed` is NULL or valid for a
/// `size_t` write.
#[no_mangle]
pub unsafe extern "C" fn wal_telemetry_prometheus(
    h: *const wal_recovery,
    prefix: *const c_char,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> wal_status {
    ffi_panic_boundary!({
        let h = try_ref!(h);
        check_nonnull!(prefix);
        check_buf!(buf, cap);
        check_nonnull!(needed);
        // SAFETY: `prefix` is non-NULL and NUL-terminated (contract).
        let prefix = match unsafe { utf8_arg(prefix, "prefix") } {
            Ok(p) => p,
            Err(status) => return status,
        };
        let text = match try_render_prometheus(&h.telemetry, prefix) {
            Ok(t) => t,
            Err(e) => {
                return fail_with(
                    wal_status::WAL_ERR_INVALID_ARGUMENT,
                    format!("invalid argument: {e}"),
                )
            }
        };
        // SAFETY: `buf`/`cap`/`needed` as in this function's contract, checked above.
        unsafe { write_string(&text, buf, cap, needed) }
    })
}
