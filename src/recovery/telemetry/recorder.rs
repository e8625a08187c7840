//! [`HistogramRecorder`]: the lock-free recording half of a histogram.
//!
//! A recorder is owned by exactly one thread (it needs `&mut self`). It
//! records into a private `hdrhistogram::Histogram<u64>` (~5-6 ns, no
//! atomics, no lock) and merges that into the shared histogram of its
//! [`HistogramSlot`] when
//!
//! * `flush_every` records ([`DEFAULT_FLUSH_EVERY`]) have accumulated, or
//! * with [`HistogramRecorder::record_at`], [`DEFAULT_MAX_STALENESS_NS`] have
//!   passed since the last merge (so rare events such as segment handoffs
//!   still show up in snapshots), or
//! * [`HistogramRecorder::flush`] is called, or the recorder is dropped.
//!
//! The periodic merge uses `Mutex::try_lock`: if a snapshot holds the shared
//! histogram at that moment, the recorder keeps accumulating and retries on
//! its next record, so **recording never blocks**. Only
//! [`HistogramRecorder::flush_blocking`] (used by `Drop`, off the hot path, so
//! no samples are lost at shutdown) waits, and only for the duration of a
//! reader's percentile computation.
//!
//! A merge walks and then clears the 216 KiB counts array (10-20 µs measured),
//! so it is amortised over at least 1024 records, or one per 100 ms.

use std::sync::{Arc, Mutex, TryLockError};

use super::clock::now_ns;
use super::histogram::{lock, Accum, HistogramSlot};

/// Records a recorder accumulates before it tries to merge.
pub const DEFAULT_FLUSH_EVERY: u32 = 1024;
/// With `record_at`, the longest a recorded value stays unmerged while
/// values keep arriving (100 ms).
pub const DEFAULT_MAX_STALENESS_NS: u64 = 100_000_000;

/// The thread-owned recording half of a histogram metric. See module docs.
/// Deliberately not `Clone`.
pub struct HistogramRecorder {
    local: Accum,
    pending: u32,
    flush_every: u32,
    last_flush_ns: u64,
    shared: Arc<Mutex<Accum>>,
}

impl std::fmt::Debug for HistogramRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistogramRecorder")
            .field("pending", &self.pending)
            .field("flush_every", &self.flush_every)
            .finish()
    }
}

impl HistogramRecorder {
    pub(super) fn new(shared: Arc<Mutex<Accum>>) -> Self {
        Self {
            local: Accum::new(),
            pending: 0,
            flush_every: DEFAULT_FLUSH_EVERY,
            last_flush_ns: 0,
            shared,
        }
    }

    /// Changes the merge period (`0` is treated as 1: try on every record).
    pub fn with_flush_every(mut self, flush_every: u32) -> Self {
        self.flush_every = flush_every.max(1);
        self
    }

    /// Records one value (saturating into 1 ns .. 60 s). Never blocks; every
    /// `flush_every` records it attempts a non-blocking merge.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.local.record(ns);
        self.pending += 1;
        if self.pending >= self.flush_every {
            self.flush();
        }
    }

    /// Like [`Self::record`], and also attempts a merge when `now_ns` is at
    /// least [`DEFAULT_MAX_STALENESS_NS`] after the last successful merge.
    #[inline]
    pub fn record_at(&mut self, ns: u64, now_ns: u64) {
        self.local.record(ns);
        self.pending += 1;
        if self.pending >= self.flush_every
            || now_ns.saturating_sub(self.last_flush_ns) >= DEFAULT_MAX_STALENESS_NS
        {
            self.flush();
        }
    }

    /// Tries to merge the pending records into the shared histogram without
    /// blocking. Returns `true` if nothing is pending afterwards, `false` if
    /// a reader held the shared histogram (the records stay local and the
    /// next `record`/`flush` retries).
    pub fn flush(&mut self) -> bool {
        if self.pending == 0 {
            return true;
        }
        let mut shared = match self.shared.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        shared.merge_from(&self.local);
        drop(shared);
        self.after_merge();
        true
    }

    /// Merges the pending records, waiting for the lock if a reader holds
    /// it. For shutdown paths (also run by `Drop`), never for the hot path.
    pub fn flush_blocking(&mut self) {
        if self.pending == 0 {
            return;
        }
        lock(&self.shared).merge_from(&self.local);
        self.after_merge();
    }

    fn after_merge(&mut self) {
        self.local.clear();
        self.pending = 0;
        self.last_flush_ns = now_ns();
    }

    /// Records made since the last successful merge.
    pub fn pending(&self) -> u32 {
        self.pending
    }

    /// Whether this recorder feeds `slot`.
    pub fn feeds(&self, slot: &HistogramSlot) -> bool {
        slot.owns_shared(&self.shared)
    }
}

impl Drop for HistogramRecorder {
    fn drop(&mut self) {
        self.flush_blocking();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn merges_every_k_records_on_flush_and_on_drop() {
        let slot = HistogramSlot::new();
        let mut rec = slot.recorder().with_flush_every(4);
        assert!(rec.feeds(&slot));
        assert!(!HistogramSlot::new().recorder().feeds(&slot));
        for v in 1..=3 {
            rec.record(v);
        }
        assert_eq!(slot.summary().count, 0, "merged before K records");
        assert_eq!(rec.pending(), 3);
        rec.record(4);
        assert_eq!(rec.pending(), 0);
        assert_eq!(slot.summary().count, 4, "not merged after K records");
        rec.record(5);
        assert_eq!(slot.summary().count, 4);
        assert!(rec.flush());
        assert_eq!(slot.summary().count, 5, "explicit flush did not merge");
        rec.record(6);
        rec.record(7);
        drop(rec);
        let s = slot.summary();
        assert_eq!(
            (s.count, s.sum, s.min, s.max),
            (7, 28, 1, 7),
            "drop lost data"
        );
    }

    #[test]
    fn record_at_merges_when_stale() {
        let slot = HistogramSlot::new();
        let mut rec = slot.recorder();
        let t = now_ns();
        rec.record(1); // establishes nothing: below K, no time given
        assert_eq!(slot.summary().count, 0);
        rec.record_at(2, t.saturating_add(DEFAULT_MAX_STALENESS_NS)); // last merge "never": stale
        assert_eq!(slot.summary().count, 2);
        let t = now_ns();
        rec.record_at(3, t + 1_000);
        assert_eq!(slot.summary().count, 2, "merged although fresh");
        rec.record_at(4, t + 2 * DEFAULT_MAX_STALENESS_NS);
        assert_eq!(slot.summary().count, 4);
    }

    #[test]
    fn never_blocks_while_a_reader_holds_the_lock() {
        let slot = HistogramSlot::new();
        let rec = slot.recorder().with_flush_every(8);
        let guard = lock(slot.shared());
        let (tx, rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            let mut rec = rec;
            for v in 1..=1000u64 {
                rec.record(v); // crosses the K threshold many times
            }
            rec.record_at(1001, u64::MAX); // stale: tries to merge too
            let merged = rec.flush();
            tx.send(()).unwrap();
            (rec, merged)
        });
        // If record/flush blocked on the lock we hold, this would time out.
        rx.recv_timeout(Duration::from_secs(10))
            .expect("recorder blocked while the shared histogram was locked");
        assert_eq!(guard.hist.len(), 0, "merged while the lock was held");
        drop(guard);
        let (mut rec, merged) = t.join().unwrap();
        assert!(!merged, "flush reported success under contention");
        assert_eq!(rec.pending(), 1001);
        assert!(rec.flush());
        let s = slot.summary();
        assert_eq!((s.count, s.min, s.max), (1001, 1, 1001));
    }
}
