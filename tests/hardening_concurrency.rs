//! Concurrency of the recovery pipeline — the tests `scripts/tsan.sh` runs under
//! ThreadSanitizer: multi-segment replay with the preloader, resume mid-replay, drop
//! mid-replay, monitoring threads taking telemetry snapshots during replay, a slowed preloader
//! (`preload_delay`) so that the manager's synchronous fallback runs and supersedes late
//! preloader copies, the shared payload checks (replay thread from the front, preloader from the
//! back), tiny rings (synchronous closes), and SkipCorrupted over a damaged segment.
//!
//! Sizes are small on purpose: under TSan everything runs 5–15× slower.

mod hardening_support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use hardening_support::*;
use wal_recovery::recovery::telemetry::render_prometheus;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions};

const EVENTS: u64 = 1500;

struct Fixture {
    dir: PathBuf,
    layout: Layout,
}

/// ~60 small segments, shared by the tests (read-only).
fn log() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = remove_at_exit(tempdir("conc")).join("log");
        write_log(&dir, wopts(2048, 256), EVENTS, 0, Ending::Sealed);
        let layout = Layout::of(&dir);
        assert!(
            layout.segs.len() >= 40,
            "want many segments, got {}",
            layout.segs.len()
        );
        Fixture { dir, layout }
    })
}

fn next_checked(m: &mut Manager) -> Option<u64> {
    let ev = m.next().expect("next")?;
    assert!(
        payload_matches(ev.id, ev.payload),
        "payload of event {} differs",
        ev.id
    );
    Some(ev.id)
}

fn drain_ids(m: &mut Manager) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Some(id) = next_checked(m) {
        ids.push(id);
    }
    ids
}

/// Replays with monitoring threads taking telemetry snapshots (and rendering Prometheus text)
/// concurrently; counters seen by a monitor never go backwards.
fn replay_monitored(
    dir: &Path,
    opts: RecoveryOptions,
    monitors: usize,
) -> (Vec<u64>, wal_recovery::RecoveryReport, u64) {
    let mut m = Manager::open(dir, opts).expect("open");
    let t = Arc::clone(m.telemetry());
    let stop = Arc::new(AtomicBool::new(false));
    // Monitors that have taken a snapshot: the replay starts once all have, so that they
    // overlap it however fast it runs or however late they are scheduled.
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..monitors)
        .map(|k| {
            let (t, stop, started) = (Arc::clone(&t), Arc::clone(&stop), Arc::clone(&started));
            thread::spawn(move || {
                let mut snapshots = 0u64;
                let mut last_events = 0;
                while !stop.load(Ordering::Acquire) {
                    let s = t.snapshot();
                    assert!(
                        s.manager.events_delivered >= last_events,
                        "events_delivered went backwards"
                    );
                    last_events = s.manager.events_delivered;
                    if k == 0 && snapshots.is_multiple_of(16) {
                        let text = render_prometheus(&t, "walh");
                        assert!(!text.is_empty());
                    }
                    snapshots += 1;
                    if snapshots == 1 {
                        started.fetch_add(1, Ordering::AcqRel);
                    }
                    thread::sleep(Duration::from_micros(50));
                }
                snapshots
            })
        })
        .collect();
    // (A monitor that ended already panicked: its join below reports it.)
    while started.load(Ordering::Acquire) < monitors && !handles.iter().any(|h| h.is_finished()) {
        thread::yield_now();
    }
    let ids = drain_ids(&mut m);
    let report = m.report();
    drop(m); // joins the preloader while the monitors still read
    stop.store(true, Ordering::Release);
    let snapshots = handles
        .into_iter()
        .map(|h| h.join().expect("monitor panicked"))
        .sum();
    (ids, report, snapshots)
}

fn all_ids() -> Vec<u64> {
    let l = &log().layout;
    (l.first..l.end).collect()
}

#[test]
fn preloaded_replay_with_monitors() {
    let f = log();
    for depth in [1, 3, 8] {
        let opts = RecoveryOptions {
            preload_depth: depth,
            next_event_sample_every: 7,
            ..RecoveryOptions::default()
        };
        let (ids, r, snaps) = replay_monitored(&f.dir, opts, 2);
        assert_eq!(ids, all_ids(), "depth {depth}");
        assert!(r.is_clean() && r.complete, "depth {depth}: {}", r.to_json());
        assert!(snaps > 0);
    }
}

#[test]
fn slowed_preloader_takes_the_fallback_path() {
    let f = log();
    let opts = RecoveryOptions {
        preload_delay: Duration::from_millis(2),
        fallback_after: Duration::from_micros(20),
        preload_depth: 2,
        ..RecoveryOptions::default()
    };
    let (ids, r, _) = replay_monitored(&f.dir, opts, 1);
    assert_eq!(ids, all_ids());
    assert!(r.is_clean(), "{}", r.to_json());
    assert!(
        r.fallback_opens > 0,
        "the slowed preloader must make the manager open segments itself"
    );
}

#[test]
fn tiny_rings_close_synchronously() {
    let f = log();
    let opts = RecoveryOptions {
        preload_depth: 1,
        finished_capacity: 1,
        ..RecoveryOptions::default()
    };
    let (ids, r, _) = replay_monitored(&f.dir, opts, 1);
    assert_eq!(ids, all_ids());
    assert!(r.is_clean(), "{}", r.to_json());
}

#[test]
fn resume_mid_replay_backward_and_forward() {
    let f = log();
    let l = &f.layout;
    let mut m = Manager::open(&f.dir, RecoveryOptions::default()).expect("open");
    let mut rng = Rng::new(0xC0C0);
    for _ in 0..12 {
        let n = rng.range(1, 200);
        for _ in 0..n {
            if next_checked(&mut m).is_none() {
                break;
            }
        }
        let target = rng.range(l.first, l.end - 1);
        m.resume(target).expect("resume");
        assert_eq!(next_checked(&mut m), Some(target));
    }
    m.resume(l.first).expect("resume to the start");
    assert_eq!(drain_ids(&mut m), all_ids());
}

#[test]
fn drop_mid_replay_joins_the_preloader() {
    let f = log();
    let mut rng = Rng::new(0xD0D0);
    for k in 0..20 {
        let opts = RecoveryOptions {
            preload_depth: 1 + (k % 4),
            preload_delay: if k % 3 == 0 {
                Duration::from_micros(300)
            } else {
                Duration::ZERO
            },
            ..RecoveryOptions::default()
        };
        let mut m = Manager::open(&f.dir, opts).expect("open");
        let n = rng.below(EVENTS);
        for _ in 0..n {
            next_checked(&mut m).expect("an event");
        }
        drop(m);
    }
}

#[test]
fn skip_corrupted_segment_crosses_the_ring() {
    let f = log();
    let tmp = tempdir("conc-skip");
    let dir = tmp.path().join("log");
    copy_wal_files(&f.dir, &dir);
    // Damage the payload of a segment in the middle: the preloader reports it as it verifies.
    let seg = &f.layout.segs[f.layout.segs.len() / 2];
    let path = dir.join(&seg.name);
    let mut bytes = std::fs::read(&path).expect("read");
    let off = seg.block_offsets[0] as usize + 64 + 5;
    bytes[off] ^= 0x20;
    std::fs::write(&path, &bytes).expect("write");
    let opts = RecoveryOptions {
        mode: RecoveryMode::SkipCorrupted,
        ..RecoveryOptions::default()
    };
    let (ids, r, _) = replay_monitored(&dir, opts, 1);
    let missing: Vec<u64> = all_ids().into_iter().filter(|i| !ids.contains(i)).collect();
    assert!(!missing.is_empty());
    for id in &missing {
        assert!(
            r.lost
                .iter()
                .any(|l| l.first_id <= *id && l.last_id.is_none_or(|b| *id <= b)),
            "id {id} neither delivered nor lost: {}",
            r.to_json()
        );
    }
}
