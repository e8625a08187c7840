//! Plain-data snapshots of the telemetry tree.
//!
//! Snapshots decouple reading from formatting: a monitoring thread copies the
//! live atomics / histograms once ([`super::Telemetry::snapshot`] or
//! `copy_to`) and then dumps, collects, diffs or compares the copy at leisure
//! without touching the shared state again. All fields are `u64`
//! (nanoseconds, counts or bytes) so the types are `Eq` and trivially
//! portable (e.g. across the C ABI).

/// Snapshot of an [`super::stats::OpStat`]. `min_ns`/`max_ns`/`avg_ns` are 0
/// when `samples == 0`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpSnapshot {
    /// Number of recorded operations (`ok + fail`).
    pub samples: u64,
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed.
    pub fail: u64,
    /// Sum of all durations.
    pub total_ns: u64,
    /// Shortest duration.
    pub min_ns: u64,
    /// Longest duration.
    pub max_ns: u64,
    /// `total_ns / samples`, rounded down.
    pub avg_ns: u64,
}

/// Summary of an HDR latency histogram (all values in nanoseconds).
///
/// `count`, `sum`, `min` and `max` are exact (tracked beside the histogram);
/// the percentiles come from `Histogram::value_at_quantile` (3 significant
/// digits, i.e. within ~0.1 % of the true value) clamped to `[min, max]`.
/// Values above the histogram's 60 s bound are counted at 60 s in the
/// percentiles. All fields are 0 when `count == 0`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistogramSummary {
    /// Number of recorded values.
    pub count: u64,
    /// Exact sum of recorded values (saturating).
    pub sum: u64,
    /// Smallest recorded value.
    pub min: u64,
    /// Largest recorded value.
    pub max: u64,
    /// `sum / count`, rounded down.
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

/// Snapshot of [`super::SegmentReader`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentReaderSnapshot {
    /// open + fstat + mmap of a segment file.
    pub open_segment: OpSnapshot,
    /// munmap + close of a segment file.
    pub close_segment: OpSnapshot,
    /// Full integrity walk of a segment.
    pub verify_segment: OpSnapshot,
    /// Sparse-index build.
    pub build_index: OpSnapshot,
    /// In-segment seek to an event id.
    pub seek_event: OpSnapshot,
    /// Segment-header checksum mismatches.
    pub header_checksum_failures: u64,
    /// Block-header checksum mismatches.
    pub block_header_checksum_failures: u64,
    /// Block payload checksum mismatches.
    pub block_checksum_failures: u64,
    /// Chained (cross-block) checksum mismatches.
    pub chained_checksum_failures: u64,
    /// Structural validation failures (sizes, ids, indices).
    pub validation_failures: u64,
    /// Segment opens that failed (open/fstat/mmap).
    pub open_failures: u64,
    /// Segments whose tail was torn (truncated to the last good block).
    pub torn_tails: u64,
    /// Bytes covered by successful and failed verifications.
    pub bytes_verified: u64,
}

/// Snapshot of [`super::SegmentPreloader`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentPreloaderSnapshot {
    /// Background open + verify of an upcoming segment.
    pub preload_segment: OpSnapshot,
    /// Background close of a finished segment.
    pub finish_segment: OpSnapshot,
    /// Segments skipped for any reason (sum of the three below).
    pub segments_skipped: u64,
    /// Skipped because the scan already found the header invalid.
    pub skipped_bad_header: u64,
    /// Skipped because verification found corruption.
    pub skipped_corrupt: u64,
    /// Skipped because of an I/O error (open/mmap/read).
    pub skipped_io: u64,
    /// Nanoseconds the worker spent waiting on a full prepared ring.
    pub prepared_ring_full_wait_ns: u64,
}

/// Snapshot of [`super::Manager`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagerSnapshot {
    /// Per-file header read during the directory scan.
    pub read_segment_header: OpSnapshot,
    /// Whole `resume_from_event` call.
    pub resume_from_event: OpSnapshot,
    /// The manager's seek inside the resume segment.
    pub seek_event: OpSnapshot,
    /// Sampled `next()` calls (only sampled events are counted here; see
    /// `next_event_sample_every` and `events_delivered`).
    pub next_event: OpSnapshot,
    /// HDR latency of sampled `next()` calls.
    pub next_event_histogram: HistogramSummary,
    /// HDR latency of segment handoffs (EOF of one segment to the first event
    /// of the next).
    pub segment_handoff_histogram: HistogramSummary,
    /// Histogram values not recorded because two threads recorded into the
    /// same manager histogram at the same instant (0 with a single replay thread).
    pub histogram_samples_dropped: u64,
    /// Segments the manager had to open synchronously because none was
    /// preloaded.
    pub fallback_opens: u64,
    /// Events handed to the caller.
    pub events_delivered: u64,
    /// Event bytes handed to the caller.
    pub bytes_delivered: u64,
    /// Finished segments closed synchronously because the finished ring was full.
    pub finished_ring_full_sync_closes: u64,
    /// Segments selected for replay.
    pub segments_total: u64,
    /// Segments not yet started.
    pub segments_remaining: u64,
    /// The `next_event` sampling period N in use (0 before replay starts).
    pub next_event_sample_every: u64,
    /// Wall-clock start of the replay (Unix ns; 0 = not started).
    pub replay_start_unix_ns: u64,
    /// Monotonic time since the replay started, frozen when it finished
    /// (0 = not started).
    pub replay_elapsed_ns: u64,
}

/// Snapshot of the whole [`super::Telemetry`] tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetrySnapshot {
    /// Segment reader metrics.
    pub segment_reader: SegmentReaderSnapshot,
    /// Background preloader metrics.
    pub segment_preloader: SegmentPreloaderSnapshot,
    /// Manager metrics.
    pub manager: ManagerSnapshot,
}
