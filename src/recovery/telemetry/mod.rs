//! WAL-recovery telemetry: lock-free metrics for the segment reader, the
//! background segment preloader and the recovery manager.
//!
//! # Structure
//!
//! ```text
//! Telemetry (Arc-shared by the replay thread, the worker and monitors)
//! ├── segment_reader:    SegmentReader    open/close/verify/index/seek, integrity counters
//! ├── segment_preloader: SegmentPreloader preload/finish, skips, ring-full wait
//! └── manager:           Manager          scan/resume/seek, sampled next-event, handoff,
//!                                         delivery counters, segment gauges, replay clock
//! ```
//!
//! # Threading model
//!
//! * Counters, gauges and operation stats are `AtomicU64`s updated with
//!   `Relaxed` ordering through `&self` hooks, so any thread may update any of
//!   them and monitors may snapshot at any time without data races.
//! * Each component is `#[repr(C, align(64))]` with every metric on its own
//!   cache line (compile-time checked), so no two metrics false-share.
//! * HDR histograms are recorded into a private histogram
//!   ([`HistogramRecorder`]) that merges into the shared one with `try_lock`;
//!   recording never blocks, only snapshots wait (see [`histogram`],
//!   [`recorder`]).
//! * The replay thread times one event in [`DEFAULT_NEXT_EVENT_SAMPLE_EVERY`]
//!   ([`Sampler`]) and publishes its delivered-events/bytes totals in batches
//!   ([`Manager::publish_progress`]); see [`manager`] for the hot-path contract.
//!
//! # Reading
//!
//! [`Telemetry::snapshot`] gives plain data ([`TelemetrySnapshot`]);
//! [`Telemetry::dump`] a human-readable report; [`Telemetry::collect`] feeds
//! any [`Collector`]; [`render_prometheus`] renders Prometheus text format.

/// The `snapshot`, `dump` and `collect` methods every telemetry level has, defined once over
/// its `copy_to` (a plain-data snapshot is what gets rendered, so a render never holds a lock
/// or reads a counter twice).
macro_rules! snapshot_accessors {
    ($ty:ty, $snap:ty) => {
        impl $ty {
            /// Plain-data copy of the current values.
            pub fn snapshot(&self) -> $snap {
                let mut s = <$snap>::default();
                self.copy_to(&mut s);
                s
            }

            /// Writes the human-readable dump (format in [`crate::recovery::telemetry::dump`]).
            pub fn dump<W: std::fmt::Write + ?Sized>(
                &self,
                label: &str,
                out: &mut W,
            ) -> std::fmt::Result {
                self.snapshot().dump(label, out)
            }

            /// Emits every metric as `<prefix>_<component>_<metric>` (see
            /// [`crate::recovery::telemetry::collect`]).
            pub fn collect(
                &self,
                prefix: &str,
                collector: &mut dyn $crate::recovery::telemetry::Collector,
            ) {
                self.snapshot().collect(prefix, collector)
            }
        }
    };
}
pub(crate) use snapshot_accessors;

pub mod clock;
pub mod collect;
pub mod dump;
pub mod histogram;
pub mod manager;
pub mod prometheus;
pub mod recorder;
pub mod segment_preloader;
pub mod segment_reader;
pub mod snapshot;
pub mod stats;
pub mod ticks;

#[cfg(test)]
mod tests;

pub use self::clock::{elapsed_ns, now_ns, unix_now_ns, Sampler, DEFAULT_NEXT_EVENT_SAMPLE_EVERY};
pub use self::collect::{sanitize_prefix, validate_prefix, Collector, PrefixError};
pub use self::histogram::{
    HistogramSlot, HISTOGRAM_HIGHEST_NS, HISTOGRAM_LOWEST_NS, HISTOGRAM_SIGFIG,
};
pub use self::manager::Manager;
pub use self::prometheus::{render_prometheus, try_render_prometheus, PrometheusRenderer};
pub use self::recorder::{HistogramRecorder, DEFAULT_FLUSH_EVERY, DEFAULT_MAX_STALENESS_NS};
pub use self::segment_preloader::{SegmentPreloader, SkipReason};
pub use self::segment_reader::{SegmentReader, VerifyFailure};
pub use self::snapshot::{
    HistogramSummary, ManagerSnapshot, OpSnapshot, SegmentPreloaderSnapshot, SegmentReaderSnapshot,
    TelemetrySnapshot,
};
pub use self::stats::{Counter, Gauge, OpStat};
pub use self::ticks::TickClock;

/// Root of the WAL-recovery telemetry tree. Create once with
/// [`Telemetry::new`] and share as `Arc<Telemetry>`.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct Telemetry {
    /// Segment reader metrics (written by the replay thread and the worker).
    pub segment_reader: SegmentReader,
    /// Background preloader metrics (written by the worker).
    pub segment_preloader: SegmentPreloader,
    /// Manager metrics (written by the replay thread).
    pub manager: Manager,
}

impl Telemetry {
    /// Empty telemetry. Also pins the process-wide clock epoch.
    pub fn new() -> Self {
        let _ = clock::epoch();
        Self::default()
    }

    /// Copies every component into `out`.
    pub fn copy_to(&self, out: &mut TelemetrySnapshot) {
        self.segment_reader.copy_to(&mut out.segment_reader);
        self.segment_preloader.copy_to(&mut out.segment_preloader);
        self.manager.copy_to(&mut out.manager);
    }
}

snapshot_accessors!(Telemetry, TelemetrySnapshot);
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    type T = Telemetry;
    assert!(align_of::<T>() == 64);
    assert!(size_of::<T>().is_multiple_of(64));
    assert!(offset_of!(T, segment_reader) % 64 == 0);
    assert!(offset_of!(T, segment_preloader) % 64 == 0);
    assert!(offset_of!(T, manager) % 64 == 0);
    assert!(
        size_of::<T>()
            == size_of::<SegmentReader>() + size_of::<SegmentPreloader>() + size_of::<Manager>()
    );
};
