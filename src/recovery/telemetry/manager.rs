//! Metrics of the recovery manager (scan, resume, seek, replay loop, handoff).
//!
//! Scalar metrics are atomics with `&self` hooks, like the other components.
//! The two histograms (`next_event_histogram`, `segment_handoff_histogram`)
//! are [`HistogramSlot`]s recorded through their built-in writer, which never
//! blocks (see [`super::histogram`]); they are meant to be fed by the replay
//! thread only.
//!
//! Hot-path contract (the replay loop costs ~3-5 ns per event): the replay
//! thread keeps a [`super::Sampler`] and running totals of delivered
//! events/bytes in its own fields, reads the clock and calls
//! [`Manager::on_next_event`] only on sampled events, and calls
//! [`Manager::publish_progress`] on sampled events and after each segment
//! switch.
//!
//! Unlike the original, `seek_event` is recorded (by [`Manager::on_seek_event`],
//! which the resume path must call), and `next_event` counts only *sampled*
//! events: `events_delivered` is the exact event count, and
//! `next_event_sample_every` records the sampling period N.

use super::clock::{now_ns, unix_now_ns};
use super::histogram::HistogramSlot;
use super::snapshot::ManagerSnapshot;
use super::stats::{Counter, Gauge, OpStat};

/// Manager metrics. Shared via `Arc<Telemetry>`.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct Manager {
    /// Per-file header read during the directory scan.
    pub read_segment_header: OpStat,
    /// Whole `resume_from_event` call.
    pub resume_from_event: OpStat,
    /// The manager's seek to the resume event.
    pub seek_event: OpStat,
    /// Sampled `next()` calls (count and total ns of sampled events only).
    pub next_event: OpStat,
    /// HDR latency of sampled `next()` calls.
    pub next_event_histogram: HistogramSlot,
    /// HDR latency of segment handoffs.
    pub segment_handoff_histogram: HistogramSlot,
    /// Synchronous opens because nothing was preloaded.
    pub fallback_opens: Counter,
    /// Events handed to the caller.
    pub events_delivered: Counter,
    /// Event bytes handed to the caller.
    pub bytes_delivered: Counter,
    /// Finished segments closed synchronously because the finished ring was full.
    pub finished_ring_full_sync_closes: Counter,
    /// Segments selected for replay.
    pub segments_total: Gauge,
    /// Segments not yet started.
    pub segments_remaining: Gauge,
    /// Sampling period N of `next_event` (0 = not configured).
    pub next_event_sample_every: Gauge,
    /// Wall-clock replay start (Unix ns; 0 = not started).
    pub replay_start_unix_ns: Gauge,
    /// Monotonic replay start ([`now_ns`], stored as at least 1; 0 = not started).
    pub replay_start_mono_ns: Gauge,
    /// Monotonic replay end (0 = still running).
    pub replay_end_mono_ns: Gauge,
}

impl Manager {
    /// All metrics at zero, empty histograms.
    pub fn new() -> Self {
        Self::default()
    }

    /// A header read during the scan finished.
    #[inline]
    pub fn on_read_segment_header(&self, start_ns: u64, ok: bool) {
        self.read_segment_header.record_since(start_ns, ok);
    }

    /// A `resume_from_event` call finished (record every outcome, including
    /// "event not found").
    #[inline]
    pub fn on_resume_from_event(&self, start_ns: u64, ok: bool) {
        self.resume_from_event.record_since(start_ns, ok);
    }

    /// The manager's seek to the resume event finished.
    #[inline]
    pub fn on_seek_event(&self, start_ns: u64, ok: bool) {
        self.seek_event.record_since(start_ns, ok);
    }

    /// A *sampled* `next()` that started at `start_ns` delivered its event:
    /// records the `next_event` op stat and histogram. Call only on sampled
    /// events (see [`super::Sampler`]). Returns the elapsed ns.
    #[inline]
    pub fn on_next_event(&self, start_ns: u64) -> u64 {
        let end = now_ns();
        let elapsed = end.saturating_sub(start_ns);
        self.record_next_event(elapsed, end);
        elapsed
    }

    /// [`Self::on_next_event`] measured by the caller: `elapsed_ns`, ending at `end_ns` (a
    /// [`now_ns`] time; the replay thread times in [`super::TickClock`] ticks).
    #[inline]
    pub fn record_next_event(&self, elapsed_ns: u64, end_ns: u64) {
        self.next_event.record(elapsed_ns, true);
        self.next_event_histogram.record_at(elapsed_ns, end_ns);
    }

    /// A segment handoff (end of one segment until the next one delivers)
    /// that started at `start_ns` finished. Returns the elapsed ns.
    #[inline]
    pub fn on_handoff(&self, start_ns: u64) -> u64 {
        let end = now_ns();
        let elapsed = end.saturating_sub(start_ns);
        self.record_handoff(elapsed, end);
        elapsed
    }

    /// Records a segment handoff measured by the caller (`elapsed_ns`, ending at `end_ns`);
    /// the manager measures at the switch (in [`super::TickClock`] ticks, no clock read) and
    /// converts and records at the next block entry, off the crossing call.
    #[inline]
    pub fn record_handoff(&self, elapsed_ns: u64, end_ns: u64) {
        self.segment_handoff_histogram.record_at(elapsed_ns, end_ns);
    }

    /// Publishes the replay thread's running totals of delivered events and
    /// bytes (absolute values, plain stores). Keep the totals in local
    /// variables on the hot path and publish them on sampled events and
    /// handoffs: one atomic add per event would cost ~5-10 ns. Only the
    /// replay thread may call this, with non-decreasing totals.
    #[inline]
    pub fn publish_progress(&self, events_total: u64, bytes_total: u64) {
        self.events_delivered.store_total(events_total);
        self.bytes_delivered.store_total(bytes_total);
    }

    /// The manager had to open a segment synchronously.
    #[inline]
    pub fn on_fallback_open(&self) {
        self.fallback_opens.inc();
    }

    /// The finished ring was full, so the manager closed a segment itself.
    #[inline]
    pub fn on_finished_ring_full_sync_close(&self) {
        self.finished_ring_full_sync_closes.inc();
    }

    /// Sets the number of segments selected for replay and how many of them
    /// have not been started yet.
    pub fn set_segments(&self, total: u64, remaining: u64) {
        self.segments_total.set(total);
        self.segments_remaining.set(remaining);
    }

    /// Records the sampling period used for `next_event`.
    pub fn set_next_event_sample_every(&self, every: u32) {
        self.next_event_sample_every.set(u64::from(every));
    }

    /// Marks the start of a replay (wall-clock and monotonic) and clears the end.
    pub fn on_replay_start(&self) {
        self.replay_end_mono_ns.set(0);
        self.replay_start_unix_ns.set(unix_now_ns());
        self.replay_start_mono_ns.set(now_ns().max(1));
    }

    /// Marks the end of a replay (`replay_elapsed_ns` freezes) and flushes
    /// both histograms so snapshots see every recorded value.
    pub fn on_replay_finished(&self) {
        self.replay_end_mono_ns.set(now_ns().max(1));
        self.flush();
    }

    /// Merges everything the histograms' built-in writers still hold into
    /// the shared histograms (may wait briefly for a snapshot; call from the
    /// replay thread at the end of a replay or before a final report).
    pub fn flush(&self) {
        self.next_event_histogram.flush();
        self.segment_handoff_histogram.flush();
    }

    /// Monotonic time since `on_replay_start` (until `on_replay_finished`
    /// if called); 0 if the replay has not started.
    pub fn replay_elapsed_ns(&self) -> u64 {
        let start = self.replay_start_mono_ns.get();
        if start == 0 {
            return 0;
        }
        let end = match self.replay_end_mono_ns.get() {
            0 => now_ns(),
            end => end,
        };
        end.saturating_sub(start)
    }

    /// Copies the current values into `out` (locks each histogram briefly).
    pub fn copy_to(&self, out: &mut ManagerSnapshot) {
        self.read_segment_header
            .copy_to(&mut out.read_segment_header);
        self.resume_from_event.copy_to(&mut out.resume_from_event);
        self.seek_event.copy_to(&mut out.seek_event);
        self.next_event.copy_to(&mut out.next_event);
        out.next_event_histogram = self.next_event_histogram.summary();
        out.segment_handoff_histogram = self.segment_handoff_histogram.summary();
        out.histogram_samples_dropped =
            self.next_event_histogram.dropped() + self.segment_handoff_histogram.dropped();
        out.fallback_opens = self.fallback_opens.get();
        out.events_delivered = self.events_delivered.get();
        out.bytes_delivered = self.bytes_delivered.get();
        out.finished_ring_full_sync_closes = self.finished_ring_full_sync_closes.get();
        out.segments_total = self.segments_total.get();
        out.segments_remaining = self.segments_remaining.get();
        out.next_event_sample_every = self.next_event_sample_every.get();
        out.replay_start_unix_ns = self.replay_start_unix_ns.get();
        out.replay_elapsed_ns = self.replay_elapsed_ns();
    }
}

super::snapshot_accessors!(Manager, ManagerSnapshot);

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    type T = Manager;
    assert!(align_of::<T>() == 64);
    assert!(size_of::<T>().is_multiple_of(64));
    assert!(size_of::<T>() == 14 * 64 + 2 * size_of::<HistogramSlot>());
    assert!(offset_of!(T, read_segment_header) % 64 == 0);
    assert!(offset_of!(T, resume_from_event) % 64 == 0);
    assert!(offset_of!(T, seek_event) % 64 == 0);
    assert!(offset_of!(T, next_event) % 64 == 0);
    assert!(offset_of!(T, next_event_histogram) % 64 == 0);
    assert!(offset_of!(T, segment_handoff_histogram) % 64 == 0);
    assert!(offset_of!(T, fallback_opens) % 64 == 0);
    assert!(offset_of!(T, events_delivered) % 64 == 0);
    assert!(offset_of!(T, bytes_delivered) % 64 == 0);
    assert!(offset_of!(T, finished_ring_full_sync_closes) % 64 == 0);
    assert!(offset_of!(T, segments_total) % 64 == 0);
    assert!(offset_of!(T, segments_remaining) % 64 == 0);
    assert!(offset_of!(T, next_event_sample_every) % 64 == 0);
    assert!(offset_of!(T, replay_start_unix_ns) % 64 == 0);
    assert!(offset_of!(T, replay_start_mono_ns) % 64 == 0);
    assert!(offset_of!(T, replay_end_mono_ns) % 64 == 0);
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn op_hooks_counters_and_gauges() {
        let m = Manager::new();
        let t = now_ns();
        m.on_read_segment_header(t, true);
        m.on_read_segment_header(t, false);
        m.on_resume_from_event(t, true);
        m.on_seek_event(t, true);
        m.on_seek_event(t, false);
        m.on_fallback_open();
        m.on_finished_ring_full_sync_close();
        m.on_finished_ring_full_sync_close();
        m.publish_progress(4, 256);
        m.publish_progress(10, 640);
        m.set_segments(5, 3);
        m.set_next_event_sample_every(64);
        let s = m.snapshot();
        assert_eq!(
            (s.read_segment_header.ok, s.read_segment_header.fail),
            (1, 1)
        );
        assert_eq!(s.resume_from_event.samples, 1);
        assert_eq!(
            (s.seek_event.samples, s.seek_event.ok, s.seek_event.fail),
            (2, 1, 1)
        );
        assert_eq!(s.fallback_opens, 1);
        assert_eq!(s.finished_ring_full_sync_closes, 2);
        assert_eq!((s.events_delivered, s.bytes_delivered), (10, 640));
        assert_eq!((s.segments_total, s.segments_remaining), (5, 3));
        assert_eq!(s.next_event_sample_every, 64);
        assert_eq!((s.replay_start_unix_ns, s.replay_elapsed_ns), (0, 0));
    }

    #[test]
    fn next_event_and_handoff_feed_their_histograms() {
        let m = Manager::new();
        for _ in 0..3 {
            let e = m.on_next_event(now_ns());
            assert!(e < 1_000_000_000);
        }
        let t = now_ns();
        std::thread::sleep(Duration::from_millis(1));
        let h = m.on_handoff(t);
        assert!(h >= 1_000_000);
        m.flush();
        let s = m.snapshot();
        assert_eq!((s.next_event.samples, s.next_event.ok), (3, 3));
        assert_eq!(s.next_event_histogram.count, 3);
        assert_eq!(s.next_event_histogram.sum, s.next_event.total_ns);
        assert_eq!(s.next_event_histogram.max, s.next_event.max_ns);
        assert_eq!(s.next_event_histogram.min, s.next_event.min_ns);
        assert_eq!(s.segment_handoff_histogram.count, 1);
        assert_eq!(s.segment_handoff_histogram.max, h);
        assert_eq!(s.histogram_samples_dropped, 0);
    }

    #[test]
    fn replay_finished_flushes_histograms() {
        let m = Manager::new();
        m.on_replay_start();
        m.on_next_event(now_ns());
        m.on_replay_finished();
        assert_eq!(m.snapshot().next_event_histogram.count, 1);
    }

    #[test]
    fn replay_elapsed_runs_then_freezes() {
        let m = Manager::new();
        m.on_replay_start();
        assert!(m.replay_start_unix_ns.get() > 0);
        std::thread::sleep(Duration::from_millis(2));
        let running = m.replay_elapsed_ns();
        assert!(running >= 2_000_000);
        m.on_replay_finished();
        let frozen = m.replay_elapsed_ns();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(m.replay_elapsed_ns(), frozen);
        assert!(frozen >= running);
        assert_eq!(m.snapshot().replay_elapsed_ns, frozen);
    }
}
