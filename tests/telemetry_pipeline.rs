//! Telemetry recorded by real replays: every metric is checked against what the pipeline did.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wal_recovery::recovery::telemetry::{render_prometheus, Telemetry};

#[path = "common/files.rs"]
mod files;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, Writer, WriterOptions};

/// Writes `n` events of 40 bytes into segments of ~16 KiB; returns the sorted segment paths.
fn write_log(dir: &std::path::Path, n: u64) -> Vec<std::path::PathBuf> {
    let opts = WriterOptions {
        segment_bytes: 16 << 10,
        block_bytes: 2048,
        first_event_id: 1,
    };
    let mut w = Writer::open(dir, opts).unwrap();
    for i in 1..=n {
        let mut p = [0u8; 40];
        p[..8].copy_from_slice(&i.to_le_bytes());
        w.append(&p).unwrap();
    }
    w.close().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    files
}

fn drain(m: &mut Manager) -> u64 {
    let mut n = 0;
    while let Some(ev) = m.next().unwrap() {
        assert_eq!(
            u64::from_le_bytes(ev.payload[..8].try_into().unwrap()),
            ev.id
        );
        n += 1;
    }
    n
}

#[test]
fn clean_replay_records_every_metric_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_log(dir.path(), 5_000);
    let segs = files.len() as u64;
    assert!(segs >= 10, "want a multi-segment log, got {segs}");
    let file_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let opts = RecoveryOptions {
        next_event_sample_every: 1,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir.path(), opts).unwrap();
    assert_eq!(drain(&mut m), 5_000);
    let s = m.telemetry().snapshot();

    let mg = &s.manager;
    assert_eq!(mg.read_segment_header.samples, segs);
    assert_eq!(mg.read_segment_header.ok, segs);
    assert_eq!(mg.resume_from_event.samples, 1);
    assert_eq!(mg.resume_from_event.ok, 1);
    assert_eq!(
        mg.seek_event.samples, 1,
        "the manager's seek metric is recorded (it was dead in the original)"
    );
    assert_eq!(
        mg.next_event.samples, 5_000,
        "N = 1 times every delivered event"
    );
    assert_eq!(mg.next_event_histogram.count, 5_000);
    assert!(mg.next_event_histogram.p50 <= mg.next_event_histogram.p99);
    assert!(mg.next_event_histogram.p99 <= mg.next_event_histogram.max);
    assert_eq!(
        mg.segment_handoff_histogram.count,
        segs - 1,
        "one handoff per segment switch"
    );
    assert_eq!(mg.events_delivered, 5_000);
    assert_eq!(mg.bytes_delivered, 5_000 * 40);
    assert_eq!(mg.segments_total, segs);
    assert_eq!(mg.segments_remaining, 0);
    assert_eq!(mg.next_event_sample_every, 1);
    assert_eq!(mg.fallback_opens, m.report().fallback_opens);

    let r = &s.segment_reader;
    assert_eq!(
        r.open_segment.samples, segs,
        "each segment opened exactly once"
    );
    assert_eq!(r.open_segment.fail, 0);
    assert_eq!(r.verify_segment.samples, segs);
    assert_eq!(r.verify_segment.ok, segs);
    assert_eq!(
        r.bytes_verified, file_bytes,
        "every byte of every file verified"
    );
    assert_eq!(r.seek_event.samples, 1);
    assert_eq!(
        r.header_checksum_failures
            + r.block_header_checksum_failures
            + r.block_checksum_failures
            + r.chained_checksum_failures
            + r.validation_failures
            + r.torn_tails,
        0
    );
    let p = &s.segment_preloader;
    assert_eq!(
        p.preload_segment.samples + mg.fallback_opens,
        segs - 1,
        "every segment after the first was preloaded or opened by the manager"
    );
    assert_eq!(p.segments_skipped, 0);
}

#[test]
fn corrupt_payload_increments_the_block_checksum_counter() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_log(dir.path(), 3_000);
    // Flip one payload byte of the first block of the third segment (offset 64 + 64 + 12).
    let victim = &files[2];
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[64 + 64 + 12] ^= 0x10;
    std::fs::write(victim, bytes).unwrap();
    let opts = RecoveryOptions {
        mode: RecoveryMode::SkipCorrupted,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir.path(), opts).unwrap();
    drain(&mut m);
    let s = m.telemetry().snapshot();
    assert_eq!(s.segment_reader.block_checksum_failures, 1);
    assert_eq!(s.segment_reader.verify_segment.fail, 1);
    assert_eq!(s.segment_reader.header_checksum_failures, 0);
    assert_eq!(s.segment_reader.chained_checksum_failures, 0);
}

#[test]
fn bad_header_is_counted_at_scan_and_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_log(dir.path(), 3_000);
    let mut bytes = std::fs::read(&files[1]).unwrap();
    bytes[20] ^= 1; // sequence number field: header CRC no longer matches
    std::fs::write(&files[1], bytes).unwrap();
    let opts = RecoveryOptions {
        mode: RecoveryMode::SkipCorrupted,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir.path(), opts).unwrap();
    drain(&mut m);
    let s = m.telemetry().snapshot();
    assert_eq!(s.manager.read_segment_header.fail, 1);
    assert_eq!(s.manager.read_segment_header.ok, files.len() as u64 - 1);
    // The unusable file is not in the plan, so no reader opens it.
    assert_eq!(
        s.segment_reader.open_segment.samples,
        files.len() as u64 - 1
    );
}

#[test]
fn slowed_preloader_forces_counted_fallback_opens() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 2_000);
    let opts = RecoveryOptions {
        preload_delay: Duration::from_millis(30),
        fallback_after: Duration::ZERO,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir.path(), opts).unwrap();
    assert_eq!(drain(&mut m), 2_000);
    let fallbacks = m.telemetry().snapshot().manager.fallback_opens;
    assert!(
        fallbacks > 0,
        "the manager must have opened segments itself"
    );
    assert_eq!(fallbacks, m.report().fallback_opens);
}

#[test]
fn snapshots_from_another_thread_during_replay_are_monotonic() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 60_000);
    let telemetry = Arc::new(Telemetry::new());
    let opts = RecoveryOptions {
        next_event_sample_every: 16,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open_with_telemetry(dir.path(), opts, Arc::clone(&telemetry)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (t, done) = (Arc::clone(&telemetry), Arc::clone(&done));
        std::thread::spawn(move || {
            let (mut last_events, mut last_hist, mut snaps) = (0, 0, 0u64);
            while !done.load(Ordering::Acquire) {
                let s = t.snapshot();
                assert!(s.manager.events_delivered >= last_events);
                assert!(s.manager.next_event_histogram.count >= last_hist);
                last_events = s.manager.events_delivered;
                last_hist = s.manager.next_event_histogram.count;
                let mut text = String::new();
                t.dump("monitor", &mut text).unwrap();
                assert!(text.contains("WAL Recovery Telemetry"));
                snaps += 1;
            }
            snaps
        })
    };
    assert_eq!(drain(&mut m), 60_000);
    done.store(true, Ordering::Release);
    assert!(monitor.join().unwrap() > 0);
    let s = telemetry.snapshot();
    assert_eq!(s.manager.events_delivered, 60_000);
    assert_eq!(s.manager.next_event.samples, 60_000 / 16);
}

#[test]
fn dump_and_prometheus_show_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1_234);
    let mut m = Manager::open(dir.path(), RecoveryOptions::default()).unwrap();
    drain(&mut m);
    let mut text = String::new();
    m.telemetry().dump("test", &mut text).unwrap();
    for label in [
        "[test] WAL Recovery Telemetry:",
        "[Segment Reader Metrics] Snapshot:",
        "[Segment Preloader Metrics] Snapshot:",
        "[Manager Metrics] Snapshot:",
        " -> ",
    ] {
        assert!(text.contains(label), "dump lacks {label:?}:\n{text}");
    }
    let prom = render_prometheus(m.telemetry(), "wal_recovery");
    let line = prom
        .lines()
        .find(|l| l.starts_with("wal_recovery_manager_events_delivered_total{"))
        .unwrap_or_else(|| panic!("no events_delivered series in:\n{prom}"));
    assert!(line.ends_with(" 1234"), "{line}");
    assert!(
        !prom.contains("__"),
        "no double underscores in metric names"
    );
}

/// The manager records a switch's handoff time a little after the switch (at the next segment's
/// second block, off the crossing `next()`); segments of a single block reach their next switch
/// before that, and no switch may be lost or counted twice — also through `next_batch`.
#[test]
fn handoffs_of_single_block_segments_are_all_counted() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        segment_bytes: 200, // one 48-byte record block (64 + 48 = 112 bytes) per segment
        block_bytes: 48,
        first_event_id: 1,
    };
    let mut w = Writer::open(dir.path(), opts).unwrap();
    for i in 1..=300u64 {
        let mut p = [0u8; 40];
        p[..8].copy_from_slice(&i.to_le_bytes());
        w.append(&p).unwrap();
    }
    w.close().unwrap();
    let segs = files::wal_files(dir.path()).len() as u64;
    assert_eq!(segs, 300, "one event, one block, one segment each");

    let mut m = Manager::open(dir.path(), RecoveryOptions::default()).unwrap();
    assert_eq!(drain(&mut m), 300);
    let s = m.telemetry().snapshot();
    assert_eq!(s.manager.segment_handoff_histogram.count, segs - 1);

    let mut m = Manager::open(dir.path(), RecoveryOptions::default()).unwrap();
    let mut n = 0u64;
    loop {
        let mut out = Vec::new();
        match m.next_batch(&mut out, 7).unwrap() {
            0 => break,
            k => n += k as u64,
        }
    }
    assert_eq!(n, 300);
    let s = m.telemetry().snapshot();
    assert_eq!(s.manager.segment_handoff_histogram.count, segs - 1);
}
