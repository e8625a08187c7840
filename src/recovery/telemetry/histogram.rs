//! HDR latency histograms: the shared half ([`HistogramSlot`]) and its summary.
//!
//! A histogram metric lives in a component as a [`HistogramSlot`] and has
//! two parts, each on its own cache line(s):
//!
//! * the **shared** histogram, an `Arc<Mutex<..>>` that snapshots lock to
//!   compute a [`HistogramSummary`];
//! * a built-in **writer** [`HistogramRecorder`] behind its own `Mutex`, used
//!   by the `&self` hooks ([`HistogramSlot::record_at`]). Only the recording
//!   thread ever takes that mutex (snapshots never touch it), so its
//!   `try_lock` is an uncontended compare-and-swap (a few ns, paid on sampled
//!   events only). Should a second thread record at the very same instant,
//!   the loser does not wait: its sample is counted in [`HistogramSlot::dropped`].
//!
//! Recording itself never blocks: the recorder adds to a private histogram
//! and merges into the shared one with `try_lock` (see [`super::recorder`]).
//! Readers may wait briefly (a merge or percentile computation, ~10-50 µs);
//! the hot path never does.
//!
//! Histograms cover 1 ns .. 60 s with 3 significant digits (~216 KiB each).
//! Recording is saturating: values above 60 s count as 60 s in the
//! percentiles (exact `min`/`max`/`sum` are kept beside the histogram), and
//! nothing ever panics on out-of-range values.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use hdrhistogram::Histogram;

use super::recorder::HistogramRecorder;
use super::snapshot::HistogramSummary;

/// Lowest discernible value of every histogram (ns).
pub const HISTOGRAM_LOWEST_NS: u64 = 1;
/// Highest trackable value of every histogram (60 s in ns).
pub const HISTOGRAM_HIGHEST_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept by every histogram.
pub const HISTOGRAM_SIGFIG: u8 = 3;

/// A histogram plus the exact aggregates HDR only approximates.
#[derive(Debug)]
pub(super) struct Accum {
    pub(super) hist: Histogram<u64>,
    sum: u64,
    min: u64,
    max: u64,
}

impl Accum {
    pub(super) fn new() -> Self {
        Self {
            hist: Histogram::new_with_bounds(
                HISTOGRAM_LOWEST_NS,
                HISTOGRAM_HIGHEST_NS,
                HISTOGRAM_SIGFIG,
            )
            .expect("constant histogram bounds are valid"),
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    #[inline]
    pub(super) fn record(&mut self, v: u64) {
        self.hist.saturating_record(v);
        self.sum = self.sum.saturating_add(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub(super) fn merge_from(&mut self, other: &Accum) {
        if other.hist.is_empty() {
            return;
        }
        if self.hist.add(&other.hist).is_err() {
            // Unreachable with identically configured, saturating histograms;
            // fall back to a value-by-value copy rather than losing data.
            for v in other.hist.iter_recorded() {
                self.hist
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        self.sum = self.sum.saturating_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub(super) fn clear(&mut self) {
        self.hist.reset();
        self.sum = 0;
        self.min = u64::MAX;
        self.max = 0;
    }

    fn summary(&self) -> HistogramSummary {
        let count = self.hist.len();
        if count == 0 {
            return HistogramSummary::default();
        }
        let q = |q: f64| self.hist.value_at_quantile(q).clamp(self.min, self.max);
        HistogramSummary {
            count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            mean: self.sum / count,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
        }
    }
}

/// Locks `m`, recovering from poisoning (the data is plain counts; a panic
/// in the middle of a merge can at worst leave one batch partially merged).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The shared histogram, read by snapshots.
#[repr(C, align(64))]
struct SharedLine(Arc<Mutex<Accum>>);

/// The built-in writer, touched only by the recording thread.
#[repr(C, align(64))]
struct WriterCell {
    rec: Mutex<HistogramRecorder>,
    dropped: AtomicU64,
}

/// A histogram metric embedded in a component. See the module docs.
#[repr(C, align(64))]
pub struct HistogramSlot {
    shared: SharedLine,
    writer: WriterCell,
}

impl std::fmt::Debug for HistogramSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistogramSlot")
            .field("summary", &self.summary())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Default for HistogramSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl HistogramSlot {
    /// An empty histogram with its built-in writer.
    pub fn new() -> Self {
        let shared = Arc::new(Mutex::new(Accum::new()));
        let writer = HistogramRecorder::new(Arc::clone(&shared));
        Self {
            shared: SharedLine(shared),
            writer: WriterCell {
                rec: Mutex::new(writer),
                dropped: AtomicU64::new(0),
            },
        }
    }

    /// An extra recorder feeding this slot, for a thread that wants to own
    /// its recorder outright (no mutex at all on its hot path). Merges every
    /// [`super::DEFAULT_FLUSH_EVERY`] records, on `flush()` and on drop.
    pub fn recorder(&self) -> HistogramRecorder {
        HistogramRecorder::new(Arc::clone(&self.shared.0))
    }

    /// Records `ns` through the built-in writer; `now_ns` (the end time the
    /// caller already has) drives the time-based merge. Never blocks: if
    /// another thread is recording into this slot at this instant, the value
    /// is counted in [`Self::dropped`] instead.
    #[inline]
    pub fn record_at(&self, ns: u64, now_ns: u64) {
        match self.writer.rec.try_lock() {
            Ok(mut rec) => rec.record_at(ns, now_ns),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().record_at(ns, now_ns),
            Err(std::sync::TryLockError::WouldBlock) => {
                self.writer.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    /// Merges everything the built-in writer holds into the shared histogram,
    /// waiting for the locks if necessary (end of replay, shutdown, tests).
    pub fn flush(&self) {
        lock(&self.writer.rec).flush_blocking();
    }

    /// Values the built-in writer could not record because two threads
    /// recorded into this slot simultaneously (0 with a single writer).
    pub fn dropped(&self) -> u64 {
        self.writer.dropped.load(Relaxed)
    }

    /// Summary of everything merged so far. Locks only the shared histogram
    /// (may wait for an in-progress merge; never called on the hot path).
    pub fn summary(&self) -> HistogramSummary {
        lock(&self.shared.0).summary()
    }

    /// Whether `shared` is this slot's shared histogram.
    pub(super) fn owns_shared(&self, shared: &Arc<Mutex<Accum>>) -> bool {
        Arc::ptr_eq(&self.shared.0, shared)
    }

    #[cfg(test)]
    pub(super) fn shared(&self) -> &Arc<Mutex<Accum>> {
        &self.shared.0
    }
}

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(align_of::<HistogramSlot>() == 64);
    assert!(size_of::<HistogramSlot>().is_multiple_of(64));
    assert!(offset_of!(HistogramSlot, shared) == 0);
    assert!(offset_of!(HistogramSlot, writer) == 64);
};

#[cfg(test)]
mod tests {
    use super::*;

    fn within_hdr_precision(got: u64, want: u64) -> bool {
        // 3 significant digits: relative error below 1/1000 (+1 for rounding).
        got.abs_diff(want) <= want / 1000 + 1
    }

    fn summary_of(values: impl IntoIterator<Item = u64>) -> HistogramSummary {
        let slot = HistogramSlot::new();
        let mut rec = slot.recorder();
        for v in values {
            rec.record(v);
        }
        drop(rec);
        slot.summary()
    }

    #[test]
    fn percentiles_of_uniform_distribution_are_within_hdr_precision() {
        let s = summary_of(1..=100_000u64);
        assert_eq!(s.count, 100_000);
        assert_eq!(s.sum, 100_000 * 100_001 / 2);
        assert_eq!((s.min, s.max, s.mean), (1, 100_000, 50_000));
        for (got, want) in [
            (s.p50, 50_000),
            (s.p90, 90_000),
            (s.p99, 99_000),
            (s.p999, 99_900),
            (s.p9999, 99_990),
        ] {
            assert!(within_hdr_precision(got, want), "got {got}, want ~{want}");
        }
    }

    #[test]
    fn percentiles_are_real_quantiles_not_log2_buckets() {
        let s = summary_of((0..10_000u64).map(|i| if i % 100 == 99 { 1_000_000 } else { 100 }));
        // A log2-bucket histogram would report 64 and 524288 here.
        assert_eq!((s.p50, s.p90, s.p99), (100, 100, 100));
        assert_eq!((s.p999, s.p9999, s.max), (1_000_000, 1_000_000, 1_000_000));
        assert_eq!(s.min, 100);
    }

    #[test]
    fn out_of_range_values_saturate_without_panicking() {
        let s = summary_of([0, u64::MAX, HISTOGRAM_HIGHEST_NS * 10]);
        assert_eq!(s.count, 3);
        assert_eq!((s.min, s.max), (0, u64::MAX));
        assert_eq!(s.sum, u64::MAX);
        assert!(within_hdr_precision(s.p9999, HISTOGRAM_HIGHEST_NS));
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(HistogramSlot::new().summary(), HistogramSummary::default());
    }

    #[test]
    fn built_in_writer_records_and_flushes() {
        let slot = HistogramSlot::new();
        slot.record_at(10, 1_000);
        slot.record_at(30, 2_000);
        assert_eq!(
            slot.summary().count,
            0,
            "merged before K records / staleness"
        );
        slot.flush();
        let s = slot.summary();
        assert_eq!((s.count, s.sum, s.min, s.max), (2, 40, 10, 30));
        assert_eq!(slot.dropped(), 0);
    }

    #[test]
    fn built_in_writer_never_blocks_and_counts_collisions() {
        let slot = HistogramSlot::new();
        let held = lock(&slot.writer.rec); // simulate a concurrent writer
        slot.record_at(5, 0);
        assert_eq!(slot.dropped(), 1);
        drop(held);
        slot.record_at(5, 0);
        slot.flush();
        assert_eq!(slot.summary().count, 1);
    }

    #[test]
    fn two_recorders_feed_one_slot() {
        let slot = HistogramSlot::new();
        let mut a = slot.recorder();
        let mut b = slot.recorder();
        a.record(10);
        b.record(20);
        slot.record_at(30, 0);
        drop(a);
        drop(b);
        slot.flush();
        let s = slot.summary();
        assert_eq!((s.count, s.min, s.max, s.sum), (3, 10, 30, 60));
    }
}
