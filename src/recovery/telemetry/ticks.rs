//! Short intervals on the replay thread, timed with the CPU's time-stamp counter.
//!
//! The segment switch times itself for the handoff histogram, and it runs once per segment,
//! after 64 MiB of streaming. A `clock_gettime` there is not the 28 ns of a warm read: the vDSO
//! reads the kernel's clock data, a cache line the timer tick rewrites, so the read misses.
//! Measured (crossing `next()` timed with rdtsc, 3 x 992 crossings, alternated with the same
//! build reading the clock twice): taking the two clock reads out of the switch lowered the p50
//! by 100–300 ns and the p99 by 150–470 ns (BENCHMARKS.md). `RDTSC` reads no memory.
//!
//! Ticks are converted to nanoseconds off the hot path, at the rate the counter has advanced
//! against the monotonic clock since the first tick clock of the process was made: the
//! longer the process runs, the finer the rate. The sampled `next()` (one event in 1024) is
//! timed in ticks too and converted at the last rate measured, with no clock read at all
//! ([`TickClock::to_ns_cached`]): its two clock reads cost the replay 2–3 %, and most of the
//! ~30 ns they measured was their own. The counter is used only where the CPU declares
//! it invariant (constant rate in every power state: CPUID leaf 8000_0007h, EDX bit 8, what the
//! kernel's `constant_tsc`/`nonstop_tsc` come from); elsewhere, and on other architectures,
//! a tick is a nanosecond of [`now_ns`].
//!
//! A crate like `quanta` does this more generally; the library keeps to its design-card
//! dependencies, and this is the one interval it needs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use super::clock::now_ns;

/// The counter and the clock read together once per process: the base of every conversion.
static BASE: OnceLock<(u64, u64)> = OnceLock::new();

/// Nanoseconds per tick (32.32 fixed point) as the last [`TickClock::to_ns`] measured them
/// over at least [`RATE_SPAN_NS`]; 0 before that. [`TickClock::to_ns_cached`] converts at it.
static RATE: AtomicU64 = AtomicU64::new(0);

/// How long the counter must have run against the clock before its rate is kept: over 10 ms,
/// a clock read's ~30 ns of jitter is a few parts per million.
const RATE_SPAN_NS: u64 = 10_000_000;

/// Reads interval timestamps and converts intervals to nanoseconds. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct TickClock {
    tsc: bool,
}

impl TickClock {
    /// A tick clock on the time-stamp counter if it is invariant, on [`now_ns`] otherwise.
    pub fn new() -> Self {
        let tsc = invariant_tsc();
        if tsc {
            BASE.get_or_init(|| (rdtsc(), now_ns()));
        }
        TickClock { tsc }
    }

    /// Whether ticks are time-stamp counter cycles (false: nanoseconds of [`now_ns`]).
    pub fn uses_tsc(&self) -> bool {
        self.tsc
    }

    /// A timestamp in ticks; only differences of two are meaningful.
    #[inline]
    pub fn now(&self) -> u64 {
        if self.tsc {
            rdtsc()
        } else {
            clock_ns()
        }
    }

    /// The nanoseconds `ticks` (a difference of two [`Self::now`]) stand for, and the current
    /// [`now_ns`] (read for the conversion, returned so callers need not read it again).
    pub fn to_ns(&self, ticks: u64) -> (u64, u64) {
        let now = now_ns();
        if !self.tsc {
            return (ticks, now);
        }
        let Some(&(t0, ns0)) = BASE.get() else {
            return (ticks, now); // set by `new` whenever `tsc` is true
        };
        let (dt, dns) = (rdtsc().saturating_sub(t0), now.saturating_sub(ns0));
        if dt == 0 {
            return (0, now);
        }
        let rate = u64::try_from((u128::from(dns) << 32) / u128::from(dt)).unwrap_or(u64::MAX);
        if dns >= RATE_SPAN_NS {
            RATE.store(rate, Relaxed);
        }
        (scaled(ticks, rate), now)
    }

    /// [`Self::to_ns`] without reading the clock, for the sampled `next()` (one in 1024
    /// events; two clock reads there cost the replay 2–3 %): `ticks` and the current time
    /// converted at the rate the last [`Self::to_ns`] measured, the current time counted from
    /// the base. [`Self::to_ns`] itself until a rate is known.
    pub fn to_ns_cached(&self, ticks: u64) -> (u64, u64) {
        let rate = RATE.load(Relaxed);
        match BASE.get() {
            Some(&(t0, ns0)) if self.tsc && rate != 0 => {
                let now = ns0.saturating_add(scaled(rdtsc().saturating_sub(t0), rate));
                (scaled(ticks, rate), now)
            }
            _ => self.to_ns(ticks),
        }
    }
}

impl Default for TickClock {
    fn default() -> Self {
        Self::new()
    }
}

/// `ticks` in nanoseconds at `rate` (nanoseconds per tick, 32.32 fixed point).
fn scaled(ticks: u64, rate: u64) -> u64 {
    u64::try_from((u128::from(ticks) * u128::from(rate)) >> 32).unwrap_or(u64::MAX)
}

/// [`now_ns`] out of line, so that the counter's branch stays a few bytes of the caller's code.
#[cold]
#[inline(never)]
fn clock_ns() -> u64 {
    now_ns()
}

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    use std::arch::x86_64::__cpuid;
    const LEAF: u32 = 0x8000_0007;
    // `__cpuid` is a safe function since Rust 1.9x and an unsafe one in 1.88, the MSRV.
    #[allow(unused_unsafe)]
    // SAFETY: CPUID is part of the x86_64 baseline and only reads CPU identification; the leaf
    // is read only if the CPU reports it.
    unsafe {
        __cpuid(0x8000_0000).eax >= LEAF && __cpuid(LEAF).edx & (1 << 8) != 0
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn rdtsc() -> u64 {
    // SAFETY: RDTSC is part of the x86_64 baseline; it reads the counter and nothing else.
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn rdtsc() -> u64 {
    now_ns()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn an_interval_converts_to_the_nanoseconds_the_clock_saw() {
        let c = TickClock::new();
        let (t, i) = (c.now(), Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let (ticks, real) = (c.now() - t, i.elapsed().as_nanos() as f64);
        let (ns, now) = c.to_ns(ticks);
        // The rate comes from the same clock over at least these 30 ms: within 2 %.
        let err = (ns as f64 - real).abs() / real;
        assert!(
            err < 0.02,
            "{ns} ns for {real} ns measured (tsc: {})",
            c.uses_tsc()
        );
        assert!(now >= ns);
    }

    #[test]
    fn without_the_counter_ticks_are_clock_nanoseconds() {
        let c = TickClock { tsc: false };
        let before = now_ns();
        let t = c.now();
        assert!(t >= before && t <= now_ns());
        let (ns, now) = c.to_ns(12_345);
        assert_eq!(ns, 12_345);
        assert!(now >= t);
    }

    #[test]
    fn the_cached_rate_converts_as_the_clock_does() {
        let c = TickClock::new();
        let (t, i) = (c.now(), Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let ticks = c.now() - t;
        let real = i.elapsed().as_nanos() as f64;
        // The base is at least 30 ms old now: this conversion keeps its rate.
        let _ = c.to_ns(1);
        let (ns, now) = c.to_ns_cached(ticks);
        let err = (ns as f64 - real).abs() / real;
        assert!(err < 0.02, "{ns} ns for {real} ns measured");
        // Its current time is the clock's, counted from the base.
        let clock = now_ns();
        assert!(now.abs_diff(clock) < 1_000_000, "{now} against {clock}");
        if c.uses_tsc() {
            assert_ne!(RATE.load(Relaxed), 0, "a rate was kept");
        }
    }

    #[test]
    fn without_the_counter_cached_conversion_is_the_clock() {
        let c = TickClock { tsc: false };
        let before = now_ns();
        let (ns, now) = c.to_ns_cached(12_345);
        assert_eq!(ns, 12_345);
        assert!(now >= before && now <= now_ns());
    }

    #[test]
    fn no_ticks_is_no_time() {
        assert_eq!(TickClock::new().to_ns(0).0, 0);
    }
}
