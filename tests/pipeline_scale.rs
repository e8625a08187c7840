//! Recovery pipeline at scale: thousands of tiny segments (one event each), full replay and
//! resume into the middle, checked exactly.
//!
//! Timing (debug build, 2 cores, temp dirs on tmpfs): writing 10 000 segments ~0.6 s, a full
//! replay ~0.9–1.2 s (scan ~0.2–0.3 s of it), the whole 10 000-segment test ~4 s. On a disk-backed
//! temp dir the *writer* dominates (two fdatasyncs per sealed segment: ~40 s for 10 000), which is
//! why the helpers prefer /dev/shm; set `WAL_TEST_TMP` to choose another place.

mod pipeline_support;

use std::time::{Duration, Instant};

use pipeline_support::*;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions};

/// Smallest segments the writer accepts: every block (one event each, `block_bytes` 8) gets a
/// segment of its own.
fn tiny(count: u64) -> LogSpec {
    LogSpec {
        segment_bytes: 136,
        block_bytes: 8,
        first_id: 1,
        count,
        salt: 0,
    }
}

fn tiny_segments(n: u64) {
    let tmp = tempdir(&format!("tiny-{n}"));
    let t = Instant::now();
    let log = write_log(tmp.path(), tiny(n));
    let wrote = t.elapsed();
    assert_eq!(log.segs.len() as u64, n, "one segment per event");
    assert!(log
        .segs
        .iter()
        .all(|s| s.count() == 1 && s.blocks.len() == 1));
    let timings = with_timeout_of(
        &format!("tiny_segments_{n}"),
        Duration::from_secs(60),
        move || {
            let mut timings = Vec::new();
            for mode in [RecoveryMode::Strict, RecoveryMode::SkipCorrupted] {
                let t = Instant::now();
                let mut m = Manager::open(&log.dir, opts(mode, 0)).expect("open");
                let opened = t.elapsed();
                let d = drain(&mut m);
                d.assert_ok();
                assert_ids(&d.ids, &log.all_ids());
                let r = m.report();
                assert!(r.complete && r.is_clean());
                assert_eq!(r.segments_scanned, n);
                assert_eq!(r.segments_replayed, n);
                assert_eq!(r.events_delivered, n);
                assert_eq!(r.bytes_delivered, bytes_of(1..=n));
                assert_eq!((r.first_delivered, r.last_delivered), (Some(1), Some(n)));
                timings.push((format!("{mode:?} full replay"), opened, t.elapsed()));
            }
            // Resume into the middle, then jump around.
            let t = Instant::now();
            let mid = n / 2 + 7;
            let mut m = Manager::open(&log.dir, opts(RecoveryMode::Strict, mid)).expect("open mid");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(mid, n));
            for target in [3, n - 1, n / 3, n, n + 1] {
                m.resume(target).expect("resume");
                assert_ids(
                    &take(&mut m, (n + 1 - target).min(5) as usize),
                    &range(target, (target + 4).min(n)),
                );
            }
            m.resume(n / 4).expect("resume");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(n / 4, n));
            // next_batch: one event per batch, since batches never cross segments.
            let mut m = Manager::open(&log.dir, opts(RecoveryMode::Strict, n - 100)).expect("open");
            let mut batches = 0;
            loop {
                let mut out = Vec::new();
                let k = m.next_batch(&mut out, 10).expect("batch");
                if k == 0 {
                    break;
                }
                assert_eq!(k, 1);
                assert!(payload_matches(0, out[0].id, out[0].payload));
                batches += 1;
            }
            assert_eq!(batches, 101);
            timings.push(("resumes".into(), Duration::ZERO, t.elapsed()));
            timings
        },
    );
    eprintln!("tiny segments n={n}: wrote in {wrote:?}");
    for (what, opened, total) in timings {
        eprintln!("tiny segments n={n}: {what}: open {opened:?}, total {total:?}");
    }
}

/// 10 000 segments of one event each: exact full replay (strict and skip), resume into the
/// middle and around, `next_batch` one segment at a time.
#[test]
fn tiny_segments_10000() {
    tiny_segments(10_000);
}

/// Tiny segments with default options except a shallow preloader: the manager's own opens and
/// the worker share the work; nothing is lost or duplicated.
#[test]
fn tiny_segments_shallow_preloader() {
    let tmp = tempdir("tiny-shallow");
    let log = write_log(tmp.path(), tiny(500));
    with_timeout("tiny_segments_shallow_preloader", move || {
        for depth in [1, 2, 64] {
            let o = RecoveryOptions {
                preload_depth: depth,
                finished_capacity: 1,
                ..RecoveryOptions::default()
            };
            let mut m = Manager::open(&log.dir, o).expect("open");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &log.all_ids());
            let r = m.report();
            assert!(r.complete && r.is_clean());
            assert_eq!(r.segments_replayed, 500);
        }
    });
}
