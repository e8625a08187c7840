//! Lock-free scalar metrics: [`Counter`], [`Gauge`] and [`OpStat`].
//!
//! The original C++ telemetry used plain (non-atomic) integers although the
//! segment-reader metrics are written by two threads (the replay thread opens
//! the resume segment, the preloader opens and closes the others) and read by
//! a monitoring thread. Here every field is an `AtomicU64` updated with
//! `Relaxed` ordering: each individual value is race-free and never torn, and
//! no ordering between different metrics is promised (a snapshot may see an
//! operation's `ok` count before its `total_ns`; monitoring tolerates that).
//!
//! Each type is `#[repr(C, align(64))]`, i.e. exactly one cache line, so a
//! component that embeds them puts every metric on its own line and two
//! threads updating different metrics never false-share.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::clock::now_ns;
use super::snapshot::OpSnapshot;

/// Monotonically increasing `u64` counter on its own cache line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    /// Adds `n` (wrapping on overflow, which takes centuries at any real rate).
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// Overwrites the counter with an absolute running total kept by its
    /// single writer (a plain store: no locked read-modify-write). Only for
    /// counters with exactly one writing thread that passes non-decreasing
    /// totals; mixing this with `inc`/`add` from other threads loses updates.
    #[inline]
    pub fn store_total(&self, total: u64) {
        self.0.store(total, Relaxed);
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Last-value `u64` gauge on its own cache line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// A gauge at zero.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Overwrites the value.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    /// Subtracts one, saturating at zero.
    #[inline]
    pub fn dec_saturating(&self) {
        let _ = self
            .0
            .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Statistics of a timed operation that succeeds or fails: number of
/// samples split into ok/fail, total, min and max nanoseconds.
///
/// `samples` is not stored; it is derived as `ok + fail` so a snapshot can
/// never report `ok > samples`.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct OpStat {
    ok: AtomicU64,
    fail: AtomicU64,
    total_ns: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Default for OpStat {
    fn default() -> Self {
        Self::new()
    }
}

impl OpStat {
    /// An empty stat (min starts at `u64::MAX`, reported as 0 while empty).
    pub const fn new() -> Self {
        Self {
            ok: AtomicU64::new(0),
            fail: AtomicU64::new(0),
            total_ns: AtomicU64::new(0),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: AtomicU64::new(0),
        }
    }

    /// Records one operation that took `elapsed_ns`.
    #[inline]
    pub fn record(&self, elapsed_ns: u64, ok: bool) {
        if ok {
            self.ok.fetch_add(1, Relaxed);
        } else {
            self.fail.fetch_add(1, Relaxed);
        }
        self.total_ns.fetch_add(elapsed_ns, Relaxed);
        self.min_ns.fetch_min(elapsed_ns, Relaxed);
        self.max_ns.fetch_max(elapsed_ns, Relaxed);
    }

    /// Records one operation that started at `start_ns` (from
    /// [`super::clock::now_ns`]) and ends now. Returns the elapsed time.
    #[inline]
    pub fn record_since(&self, start_ns: u64, ok: bool) -> u64 {
        let elapsed = now_ns().saturating_sub(start_ns);
        self.record(elapsed, ok);
        elapsed
    }

    /// Copies the current values into `out`.
    pub fn copy_to(&self, out: &mut OpSnapshot) {
        let ok = self.ok.load(Relaxed);
        let fail = self.fail.load(Relaxed);
        let samples = ok + fail;
        let total_ns = self.total_ns.load(Relaxed);
        let min = self.min_ns.load(Relaxed);
        *out = OpSnapshot {
            samples,
            ok,
            fail,
            total_ns,
            min_ns: if min == u64::MAX { 0 } else { min },
            max_ns: self.max_ns.load(Relaxed),
            avg_ns: total_ns.checked_div(samples).unwrap_or(0),
        };
    }

    /// Plain-data copy of the current values.
    pub fn snapshot(&self) -> OpSnapshot {
        let mut s = OpSnapshot::default();
        self.copy_to(&mut s);
        s
    }
}

const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<Counter>() == 64 && align_of::<Counter>() == 64);
    assert!(size_of::<Gauge>() == 64 && align_of::<Gauge>() == 64);
    assert!(size_of::<OpStat>() == 64 && align_of::<OpStat>() == 64);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_and_gauge() {
        let c = Counter::new();
        c.inc();
        c.add(41);
        assert_eq!(c.get(), 42);
        c.store_total(100);
        assert_eq!(c.get(), 100);
        let g = Gauge::new();
        g.set(3);
        assert_eq!(g.get(), 3);
        g.dec_saturating();
        g.dec_saturating();
        g.dec_saturating();
        g.dec_saturating();
        assert_eq!(g.get(), 0);
    }

    #[test]
    fn op_stat_counts_ok_fail_min_max_avg() {
        let s = OpStat::new();
        assert_eq!(s.snapshot(), OpSnapshot::default());
        s.record(100, true);
        s.record(300, false);
        s.record(200, true);
        let snap = s.snapshot();
        assert_eq!(
            snap,
            OpSnapshot {
                samples: 3,
                ok: 2,
                fail: 1,
                total_ns: 600,
                min_ns: 100,
                max_ns: 300,
                avg_ns: 200,
            }
        );
    }

    #[test]
    fn op_stat_record_since_measures_elapsed_time() {
        let s = OpStat::new();
        let start = now_ns();
        std::thread::sleep(std::time::Duration::from_millis(1));
        let e = s.record_since(start, true);
        assert!(e >= 1_000_000);
        let snap = s.snapshot();
        assert_eq!((snap.samples, snap.ok, snap.fail), (1, 1, 0));
        assert_eq!(snap.total_ns, e);
        assert_eq!(snap.min_ns, e);
        assert_eq!(snap.max_ns, e);
    }
}
