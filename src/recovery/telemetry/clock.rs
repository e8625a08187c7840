//! Monotonic nanosecond clock and the event sampler.
//!
//! Every hook takes a `start_ns` obtained from [`now_ns`] and reads the clock
//! again itself, so all durations in this module share one time base: a
//! process-wide [`Instant`] epoch fixed on first use. `u64` nanoseconds since
//! that epoch cover ~584 years, so the value never wraps in practice.
//!
//! Reading the clock costs ~28 ns on the reference machine (`Instant::now`,
//! vDSO `clock_gettime`), while replaying one event costs ~3–5 ns. Timing every
//! event would therefore cost 10–20x the work being measured. [`Sampler`]
//! lets the replay loop decide, with one decrement and one branch, whether the
//! current event is timed at all, so the clock is only read on sampled events.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Default sampling period of the per-event `next_event` timing: one event in
/// this many is timed.
///
/// Cost model (reference machine, see `limits.md`): a sampled event costs two
/// clock reads (2 x ~28 ns), the `next_event` op stat (four relaxed atomic
/// RMWs), one HDR `record` (~6 ns) and an uncontended `try_lock`: ~80 ns
/// measured (`examples/cost.rs`, N = 1). With an event budget of ~3 ns,
/// keeping the overhead under 5 % needs `80 / N <= 0.15`, i.e. `N >= ~530`.
/// 1024 is the next power of two: ~0.08 ns/event, measured +3 % on a 2.5 ns
/// loop, while still giving ~1000 latency samples per million events, plenty
/// for a p99.9. Use `1` for exact (every event timed) measurements.
pub const DEFAULT_NEXT_EVENT_SAMPLE_EVERY: u32 = 1024;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The process-wide epoch all `*_ns` timestamps of this module are relative
/// to. Initialised on first use (also by [`super::Telemetry::new`]).
#[inline]
pub fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Monotonic nanoseconds since [`epoch`]. Never decreases within a process.
#[inline]
pub fn now_ns() -> u64 {
    let epoch = epoch();
    let ns = Instant::now().saturating_duration_since(epoch).as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Nanoseconds elapsed since `start_ns` (a value returned by [`now_ns`]);
/// saturates at 0 if `start_ns` lies in the future.
#[inline]
pub fn elapsed_ns(start_ns: u64) -> u64 {
    now_ns().saturating_sub(start_ns)
}

/// Wall-clock nanoseconds since the Unix epoch (0 if the system clock is set
/// before 1970). Only used to label when a replay started; never for durations.
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Decides which events get timed: one in `every`.
///
/// The very first tick is sampled, then every `every`-th after it (ticks
/// 1, 1+N, 1+2N, ...), so even a short replay yields at least one sample.
/// `every == 1` samples every event (exact mode); `every == 0` is treated as 1.
///
/// ```text
/// let start = if sampler.tick() { Some(now_ns()) } else { None };
/// // ... replay one event ...
/// if let Some(start) = start { /* record now_ns() - start */ }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampler {
    every: u32,
    countdown: u32,
}

impl Sampler {
    /// A sampler that fires on the first tick and then once every `every` ticks.
    pub const fn new(every: u32) -> Self {
        let every = if every == 0 { 1 } else { every };
        Self {
            every,
            countdown: 1,
        }
    }

    /// The sampling period N.
    pub const fn every(&self) -> u32 {
        self.every
    }

    /// Advances by one event; returns `true` if this event should be timed.
    #[inline(always)]
    pub fn tick(&mut self) -> bool {
        self.countdown -= 1;
        if self.countdown == 0 {
            self.countdown = self.every;
            true
        } else {
            false
        }
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new(DEFAULT_NEXT_EVENT_SAMPLE_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_ns_is_monotonic_and_advances() {
        let a = now_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = now_ns();
        assert!(b >= a + 1_000_000, "clock advanced only {} ns", b - a);
        assert!(elapsed_ns(a) >= b - a);
        assert_eq!(elapsed_ns(u64::MAX), 0);
    }

    #[test]
    fn unix_clock_is_after_2020() {
        assert!(unix_now_ns() > 1_577_836_800_000_000_000);
    }

    #[test]
    fn sampler_every_one_samples_every_event() {
        let mut s = Sampler::new(1);
        assert!((0..10_000).all(|_| s.tick()));
        let mut z = Sampler::new(0);
        assert_eq!(z.every(), 1);
        assert!((0..100).all(|_| z.tick()));
    }

    #[test]
    fn sampler_every_four_samples_exactly_one_in_four() {
        let mut s = Sampler::new(4);
        let positions: Vec<usize> = (0..400usize).filter(|_| s.tick()).collect();
        assert_eq!(positions.len(), 100);
        // First tick is sampled, then every 4th: 0, 4, 8, ...
        assert!(positions.iter().enumerate().all(|(k, &p)| p == 4 * k));
    }

    #[test]
    fn sampler_default_period() {
        let mut s = Sampler::default();
        assert_eq!(s.every(), DEFAULT_NEXT_EVENT_SAMPLE_EVERY);
        let n = (0..(DEFAULT_NEXT_EVENT_SAMPLE_EVERY as usize * 10))
            .filter(|_| s.tick())
            .count();
        assert_eq!(n, 10);
    }
}
