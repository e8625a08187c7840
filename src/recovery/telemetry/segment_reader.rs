//! Metrics of the segment reader (open, verify, index, seek, close).
//!
//! The reader runs on two threads: the replay thread opens the resume segment
//! and seeks in it, the background preloader opens/verifies all later segments
//! and closes finished ones. Hence every metric here is atomic (see
//! [`super::stats`]) and the hooks take `&self`. Each metric sits on its own
//! cache line (checked at compile time at the bottom of this file).
//!
//! Compared to the original: the block-header checksum, open failures and torn
//! tails get their own counters instead of being invisible, and `seek_event`
//! is an ok/fail operation.

use super::snapshot::SegmentReaderSnapshot;
use super::stats::{Counter, OpStat};

/// Why a segment failed verification; each kind has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifyFailure {
    /// The 64-byte segment header's checksum does not match.
    HeaderChecksum,
    /// A block header's checksum does not match.
    BlockHeaderChecksum,
    /// A block's payload checksum does not match.
    BlockChecksum,
    /// The chained checksum across blocks does not match.
    ChainedChecksum,
    /// Structural validation failed (sizes, ids, indices, counts).
    Validation,
}

/// Segment reader metrics. Shared via `Arc<Telemetry>`; all hooks are `&self`
/// and lock-free.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct SegmentReader {
    /// open + fstat + mmap.
    pub open_segment: OpStat,
    /// munmap + close (explicit or on drop).
    pub close_segment: OpStat,
    /// Full integrity walk.
    pub verify_segment: OpStat,
    /// Sparse-index build.
    pub build_index: OpStat,
    /// In-segment seek to an event id.
    pub seek_event: OpStat,
    /// Segment-header checksum mismatches.
    pub header_checksum_failures: Counter,
    /// Block-header checksum mismatches.
    pub block_header_checksum_failures: Counter,
    /// Block payload checksum mismatches.
    pub block_checksum_failures: Counter,
    /// Chained checksum mismatches.
    pub chained_checksum_failures: Counter,
    /// Structural validation failures.
    pub validation_failures: Counter,
    /// Failed opens (also counted as `open_segment` failures).
    pub open_failures: Counter,
    /// Segments with a torn tail.
    pub torn_tails: Counter,
    /// Bytes walked by `verify_segment`.
    pub bytes_verified: Counter,
}

impl SegmentReader {
    /// All metrics at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A segment open that started at `start_ns` finished; a failure also
    /// bumps `open_failures`.
    #[inline]
    pub fn on_open_segment(&self, start_ns: u64, ok: bool) {
        self.open_segment.record_since(start_ns, ok);
        if !ok {
            self.open_failures.inc();
        }
    }

    /// A verification that walked `bytes` bytes finished. Report the reason
    /// of a failure separately with [`Self::on_verify_failure`].
    #[inline]
    pub fn on_verify_segment(&self, start_ns: u64, ok: bool, bytes: u64) {
        self.verify_segment.record_since(start_ns, ok);
        self.bytes_verified.add(bytes);
    }

    /// Counts one verification failure of the given kind.
    #[inline]
    pub fn on_verify_failure(&self, kind: VerifyFailure) {
        match kind {
            VerifyFailure::HeaderChecksum => &self.header_checksum_failures,
            VerifyFailure::BlockHeaderChecksum => &self.block_header_checksum_failures,
            VerifyFailure::BlockChecksum => &self.block_checksum_failures,
            VerifyFailure::ChainedChecksum => &self.chained_checksum_failures,
            VerifyFailure::Validation => &self.validation_failures,
        }
        .inc();
    }

    /// A segment's tail was torn (a partial last block was cut off).
    #[inline]
    pub fn on_torn_tail(&self) {
        self.torn_tails.inc();
    }

    /// A segment close finished.
    #[inline]
    pub fn on_close_segment(&self, start_ns: u64, ok: bool) {
        self.close_segment.record_since(start_ns, ok);
    }

    /// A sparse-index build finished (always successful).
    #[inline]
    pub fn on_build_index(&self, start_ns: u64) {
        self.build_index.record_since(start_ns, true);
    }

    /// An in-segment seek finished; `ok == false` when the id is not in the segment.
    #[inline]
    pub fn on_seek_event(&self, start_ns: u64, ok: bool) {
        self.seek_event.record_since(start_ns, ok);
    }

    /// Copies the current values into `out`.
    pub fn copy_to(&self, out: &mut SegmentReaderSnapshot) {
        self.open_segment.copy_to(&mut out.open_segment);
        self.close_segment.copy_to(&mut out.close_segment);
        self.verify_segment.copy_to(&mut out.verify_segment);
        self.build_index.copy_to(&mut out.build_index);
        self.seek_event.copy_to(&mut out.seek_event);
        out.header_checksum_failures = self.header_checksum_failures.get();
        out.block_header_checksum_failures = self.block_header_checksum_failures.get();
        out.block_checksum_failures = self.block_checksum_failures.get();
        out.chained_checksum_failures = self.chained_checksum_failures.get();
        out.validation_failures = self.validation_failures.get();
        out.open_failures = self.open_failures.get();
        out.torn_tails = self.torn_tails.get();
        out.bytes_verified = self.bytes_verified.get();
    }
}

super::snapshot_accessors!(SegmentReader, SegmentReaderSnapshot);

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    type T = SegmentReader;
    assert!(align_of::<T>() == 64);
    assert!(size_of::<T>().is_multiple_of(64));
    assert!(size_of::<T>() == 13 * 64);
    assert!(offset_of!(T, open_segment) % 64 == 0);
    assert!(offset_of!(T, close_segment) % 64 == 0);
    assert!(offset_of!(T, verify_segment) % 64 == 0);
    assert!(offset_of!(T, build_index) % 64 == 0);
    assert!(offset_of!(T, seek_event) % 64 == 0);
    assert!(offset_of!(T, header_checksum_failures) % 64 == 0);
    assert!(offset_of!(T, block_header_checksum_failures) % 64 == 0);
    assert!(offset_of!(T, block_checksum_failures) % 64 == 0);
    assert!(offset_of!(T, chained_checksum_failures) % 64 == 0);
    assert!(offset_of!(T, validation_failures) % 64 == 0);
    assert!(offset_of!(T, open_failures) % 64 == 0);
    assert!(offset_of!(T, torn_tails) % 64 == 0);
    assert!(offset_of!(T, bytes_verified) % 64 == 0);
};

#[cfg(test)]
mod tests {
    use super::super::clock::now_ns;
    use super::*;

    #[test]
    fn hooks_update_the_right_metrics() {
        let r = SegmentReader::new();
        let t = now_ns();
        r.on_open_segment(t, true);
        r.on_open_segment(t, false);
        r.on_verify_segment(t, true, 4096);
        r.on_verify_segment(t, false, 100);
        r.on_verify_failure(VerifyFailure::HeaderChecksum);
        r.on_verify_failure(VerifyFailure::BlockHeaderChecksum);
        r.on_verify_failure(VerifyFailure::BlockHeaderChecksum);
        r.on_verify_failure(VerifyFailure::BlockChecksum);
        r.on_verify_failure(VerifyFailure::BlockChecksum);
        r.on_verify_failure(VerifyFailure::BlockChecksum);
        r.on_verify_failure(VerifyFailure::ChainedChecksum);
        r.on_verify_failure(VerifyFailure::Validation);
        r.on_verify_failure(VerifyFailure::Validation);
        r.on_torn_tail();
        r.on_close_segment(t, true);
        r.on_build_index(t);
        r.on_seek_event(t, false);
        let s = r.snapshot();
        assert_eq!(
            (
                s.open_segment.samples,
                s.open_segment.ok,
                s.open_segment.fail
            ),
            (2, 1, 1)
        );
        assert_eq!(s.open_failures, 1);
        assert_eq!((s.verify_segment.ok, s.verify_segment.fail), (1, 1));
        assert_eq!(s.bytes_verified, 4196);
        assert_eq!(s.header_checksum_failures, 1);
        assert_eq!(s.block_header_checksum_failures, 2);
        assert_eq!(s.block_checksum_failures, 3);
        assert_eq!(s.chained_checksum_failures, 1);
        assert_eq!(s.validation_failures, 2);
        assert_eq!(s.torn_tails, 1);
        assert_eq!((s.close_segment.ok, s.close_segment.fail), (1, 0));
        assert_eq!((s.build_index.ok, s.build_index.fail), (1, 0));
        assert_eq!((s.seek_event.ok, s.seek_event.fail), (0, 1));
        assert!(s.verify_segment.max_ns >= s.verify_segment.min_ns);
        let mut c = SegmentReaderSnapshot::default();
        r.copy_to(&mut c);
        assert_eq!(c, s);
    }
}
