//! Metrics of the background segment preloader (worker thread).
//!
//! The worker opens and verifies upcoming segments, pushes them into the
//! prepared ring, and closes finished segments it pops from the finished
//! ring. It is the only writer of these metrics, but a monitoring thread reads
//! them concurrently, so they are atomics like everywhere else.
//!
//! Skips are no longer silent (the original dropped corrupt segments with only
//! a log line): `segments_skipped` counts every skip and one counter per
//! [`SkipReason`] tells why. Time spent blocked on a full prepared ring is
//! accumulated in `prepared_ring_full_wait_ns`, which shows whether the worker
//! runs ahead of the replay (high) or behind it (near zero).

use super::clock::now_ns;
use super::snapshot::SegmentPreloaderSnapshot;
use super::stats::{Counter, OpStat};

/// Why the worker skipped a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The directory scan already marked the header invalid.
    BadHeader,
    /// Verification found corruption (checksum or structural).
    Corrupt,
    /// Opening, mapping or reading the file failed.
    Io,
}

impl SkipReason {
    /// Every reason, in export order.
    pub const ALL: [SkipReason; 3] = [SkipReason::BadHeader, SkipReason::Corrupt, SkipReason::Io];

    /// Stable lowercase name used as the `reason` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::BadHeader => "bad_header",
            SkipReason::Corrupt => "corrupt",
            SkipReason::Io => "io",
        }
    }
}

/// Background preloader metrics. All hooks are `&self` and lock-free.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct SegmentPreloader {
    /// Open + verify + first-block read of an upcoming segment.
    pub preload_segment: OpStat,
    /// Close of a finished segment.
    pub finish_segment: OpStat,
    /// Every skipped segment.
    pub segments_skipped: Counter,
    /// Skipped: invalid header at scan.
    pub skipped_bad_header: Counter,
    /// Skipped: corruption found while verifying.
    pub skipped_corrupt: Counter,
    /// Skipped: I/O failure.
    pub skipped_io: Counter,
    /// Total ns waited on a full prepared ring.
    pub prepared_ring_full_wait_ns: Counter,
}

impl SegmentPreloader {
    /// All metrics at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A preload (open + verify) that started at `start_ns` finished.
    #[inline]
    pub fn on_preload_segment(&self, start_ns: u64, ok: bool) {
        self.preload_segment.record_since(start_ns, ok);
    }

    /// An asynchronous close of a finished segment finished.
    #[inline]
    pub fn on_finish_segment(&self, start_ns: u64, ok: bool) {
        self.finish_segment.record_since(start_ns, ok);
    }

    /// A segment was skipped for `reason`.
    #[inline]
    pub fn on_segment_skipped(&self, reason: SkipReason) {
        self.segments_skipped.inc();
        match reason {
            SkipReason::BadHeader => &self.skipped_bad_header,
            SkipReason::Corrupt => &self.skipped_corrupt,
            SkipReason::Io => &self.skipped_io,
        }
        .inc();
    }

    /// The worker waited on a full prepared ring from `start_ns` until now.
    /// Returns the waited nanoseconds.
    #[inline]
    pub fn on_prepared_ring_full_wait(&self, start_ns: u64) -> u64 {
        let waited = now_ns().saturating_sub(start_ns);
        self.prepared_ring_full_wait_ns.add(waited);
        waited
    }

    /// Copies the current values into `out`.
    pub fn copy_to(&self, out: &mut SegmentPreloaderSnapshot) {
        self.preload_segment.copy_to(&mut out.preload_segment);
        self.finish_segment.copy_to(&mut out.finish_segment);
        out.segments_skipped = self.segments_skipped.get();
        out.skipped_bad_header = self.skipped_bad_header.get();
        out.skipped_corrupt = self.skipped_corrupt.get();
        out.skipped_io = self.skipped_io.get();
        out.prepared_ring_full_wait_ns = self.prepared_ring_full_wait_ns.get();
    }
}

super::snapshot_accessors!(SegmentPreloader, SegmentPreloaderSnapshot);

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    type T = SegmentPreloader;
    assert!(align_of::<T>() == 64);
    assert!(size_of::<T>().is_multiple_of(64));
    assert!(size_of::<T>() == 7 * 64);
    assert!(offset_of!(T, preload_segment) % 64 == 0);
    assert!(offset_of!(T, finish_segment) % 64 == 0);
    assert!(offset_of!(T, segments_skipped) % 64 == 0);
    assert!(offset_of!(T, skipped_bad_header) % 64 == 0);
    assert!(offset_of!(T, skipped_corrupt) % 64 == 0);
    assert!(offset_of!(T, skipped_io) % 64 == 0);
    assert!(offset_of!(T, prepared_ring_full_wait_ns) % 64 == 0);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_update_the_right_metrics() {
        let p = SegmentPreloader::new();
        let t = now_ns();
        p.on_preload_segment(t, true);
        p.on_preload_segment(t, true);
        p.on_preload_segment(t, false);
        p.on_finish_segment(t, true);
        p.on_segment_skipped(SkipReason::BadHeader);
        p.on_segment_skipped(SkipReason::Corrupt);
        p.on_segment_skipped(SkipReason::Corrupt);
        p.on_segment_skipped(SkipReason::Io);
        std::thread::sleep(std::time::Duration::from_millis(1));
        let waited = p.on_prepared_ring_full_wait(t);
        assert!(waited >= 1_000_000);
        let s = p.snapshot();
        assert_eq!((s.preload_segment.samples, s.preload_segment.ok), (3, 2));
        assert_eq!((s.finish_segment.samples, s.finish_segment.fail), (1, 0));
        assert_eq!(s.segments_skipped, 4);
        assert_eq!(
            (s.skipped_bad_header, s.skipped_corrupt, s.skipped_io),
            (1, 2, 1)
        );
        assert_eq!(s.prepared_ring_full_wait_ns, waited);
        assert_eq!(
            SkipReason::ALL.map(SkipReason::as_str),
            ["bad_header", "corrupt", "io"]
        );
    }
}
