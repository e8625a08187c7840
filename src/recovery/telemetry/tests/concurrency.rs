//! Replay thread + worker thread record while a monitor snapshots in a loop:
//! snapshots must be monotonic and the final counts exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use super::super::{now_ns, Sampler, SkipReason, Telemetry, TelemetrySnapshot, VerifyFailure};

const REPLAY_EVENTS: u64 = 300_000;
const WORKER_SEGMENTS: u64 = 20_000;

/// Every monotonic quantity of a snapshot, in a fixed order.
fn monotonic_fields(s: &TelemetrySnapshot) -> Vec<(&'static str, u64)> {
    let r = &s.segment_reader;
    let p = &s.segment_preloader;
    let m = &s.manager;
    vec![
        ("reader.open.samples", r.open_segment.samples),
        ("reader.open.ok", r.open_segment.ok),
        ("reader.open.fail", r.open_segment.fail),
        ("reader.open.total_ns", r.open_segment.total_ns),
        ("reader.verify.samples", r.verify_segment.samples),
        ("reader.bytes_verified", r.bytes_verified),
        ("reader.block_checksum_failures", r.block_checksum_failures),
        ("reader.open_failures", r.open_failures),
        ("preloader.preload.samples", p.preload_segment.samples),
        ("preloader.skipped", p.segments_skipped),
        ("preloader.skipped_corrupt", p.skipped_corrupt),
        ("manager.next_event.samples", m.next_event.samples),
        ("manager.next_event.total_ns", m.next_event.total_ns),
        (
            "manager.next_event_histogram.count",
            m.next_event_histogram.count,
        ),
        (
            "manager.next_event_histogram.sum",
            m.next_event_histogram.sum,
        ),
        ("manager.events_delivered", m.events_delivered),
        ("manager.bytes_delivered", m.bytes_delivered),
        ("manager.handoff.count", m.segment_handoff_histogram.count),
    ]
}

#[test]
fn concurrent_recording_and_snapshots_are_monotonic_and_exact() {
    let tel = Arc::new(Telemetry::new());
    let done = Arc::new(AtomicBool::new(false));

    // Replay thread: samples every 2nd event, keeps local delivery totals,
    // and also opens segments through the shared reader metrics.
    let replay = {
        let tel = Arc::clone(&tel);
        thread::spawn(move || {
            let m = &tel.manager;
            let mut sampler = Sampler::new(2);
            let (mut events, mut bytes) = (0u64, 0u64);
            for i in 0..REPLAY_EVENTS {
                let start = if sampler.tick() { Some(now_ns()) } else { None };
                events += 1;
                bytes += 64;
                if let Some(s) = start {
                    m.on_next_event(s);
                    m.publish_progress(events, bytes);
                }
                if i % 1000 == 0 {
                    let t = now_ns();
                    tel.segment_reader.on_open_segment(t, true);
                    tel.segment_reader.on_verify_segment(t, true, 1 << 20);
                    m.on_handoff(t);
                }
            }
            m.publish_progress(events, bytes);
            m.on_replay_finished(); // flushes the histograms
        })
    };
    // Worker thread: shares the reader metrics with the replay thread.
    let worker = {
        let tel = Arc::clone(&tel);
        thread::spawn(move || {
            for i in 0..WORKER_SEGMENTS {
                let t = now_ns();
                let ok = i % 4 != 0;
                tel.segment_reader.on_open_segment(t, ok);
                tel.segment_reader.on_verify_segment(t, ok, 4096);
                tel.segment_preloader.on_preload_segment(t, ok);
                if !ok {
                    tel.segment_reader
                        .on_verify_failure(VerifyFailure::BlockChecksum);
                    tel.segment_preloader
                        .on_segment_skipped(SkipReason::Corrupt);
                }
            }
        })
    };
    // Monitor thread: snapshots in a loop until both writers are done.
    let monitor = {
        let tel = Arc::clone(&tel);
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut prev = monotonic_fields(&TelemetrySnapshot::default());
            let mut snapshots = 0u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                let s = tel.snapshot();
                let cur = monotonic_fields(&s);
                for ((name, before), (_, after)) in prev.iter().zip(&cur) {
                    assert!(
                        after >= before,
                        "{name} went backwards: {before} -> {after}"
                    );
                }
                let o = &s.segment_reader.open_segment;
                assert_eq!(o.samples, o.ok + o.fail);
                prev = cur;
                snapshots += 1;
                if finished {
                    return snapshots;
                }
            }
        })
    };

    replay.join().unwrap();
    worker.join().unwrap();
    done.store(true, Ordering::Release);
    let snapshots = monitor.join().unwrap();
    assert!(snapshots >= 2, "monitor took only {snapshots} snapshots");

    let s = tel.snapshot();
    let replay_opens = REPLAY_EVENTS / 1000;
    let worker_fail = WORKER_SEGMENTS / 4;
    let r = &s.segment_reader;
    assert_eq!(r.open_segment.samples, replay_opens + WORKER_SEGMENTS);
    assert_eq!(r.open_segment.fail, worker_fail);
    assert_eq!(r.open_failures, worker_fail);
    assert_eq!(r.verify_segment.samples, replay_opens + WORKER_SEGMENTS);
    assert_eq!(
        r.bytes_verified,
        replay_opens * (1 << 20) + WORKER_SEGMENTS * 4096
    );
    assert_eq!(r.block_checksum_failures, worker_fail);
    let p = &s.segment_preloader;
    assert_eq!(
        (p.preload_segment.samples, p.preload_segment.fail),
        (WORKER_SEGMENTS, worker_fail)
    );
    assert_eq!(
        (p.segments_skipped, p.skipped_corrupt),
        (worker_fail, worker_fail)
    );
    let m = &s.manager;
    assert_eq!(m.next_event.samples, REPLAY_EVENTS / 2);
    assert_eq!(m.next_event_histogram.count, REPLAY_EVENTS / 2);
    assert_eq!(m.histogram_samples_dropped, 0);
    assert_eq!(m.next_event_histogram.sum, m.next_event.total_ns);
    assert_eq!(m.events_delivered, REPLAY_EVENTS);
    assert_eq!(m.bytes_delivered, REPLAY_EVENTS * 64);
    assert_eq!(m.segment_handoff_histogram.count, replay_opens);
}
