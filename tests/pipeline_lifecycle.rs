//! Recovery pipeline lifecycle: the preloader thread is joined and every mapping released on
//! drop, end, error and resume (FlashStrike §17.22–17.23 left the thread running), and a slow
//! preloader is compensated by the manager's own opens (the fallback path).
//!
//! The tests of this binary count process-wide things (threads named `wal-preloader`), so they
//! run one at a time under [`SERIAL`]; mappings and descriptors are counted per temp dir.

mod pipeline_support;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pipeline_support::*;
use wal_recovery::{Error, Manager, RecoveryMode, RecoveryOptions};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const PRELOADER: &str = "wal-preloader";

/// Preloader threads alive, after giving an exiting thread `grace` to disappear from /proc
/// (a joined thread can linger there for a few microseconds).
fn preloaders_after(grace: Duration) -> usize {
    preloaders_settle(0, grace)
}

/// Preloader threads alive, polling up to `grace` for the count to become `want`.
fn preloaders_settle(want: usize, grace: Duration) -> usize {
    let until = Instant::now() + grace;
    loop {
        let n = threads_named(PRELOADER);
        if n == want || Instant::now() >= until {
            return n;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Dropping a manager mid-replay joins the preloader and unmaps every segment (the current one,
/// the preloaded ones and the finished ones awaiting close).
#[test]
fn drop_mid_replay_joins_the_worker_and_unmaps_everything() {
    let _g = serial();
    let tmp = tempdir("drop");
    let log = write_log(tmp.path(), LogSpec::standard());
    with_timeout(
        "drop_mid_replay_joins_the_worker_and_unmaps_everything",
        move || {
            let dir = log.dir.clone();
            let fds_before = fds_into(&dir);
            assert_eq!(maps_into(&dir), 0);
            assert_eq!(
                preloaders_after(Duration::from_millis(200)),
                0,
                "a preloader from elsewhere is alive"
            );
            for depth in [1, 3, 8] {
                let o = RecoveryOptions {
                    preload_depth: depth,
                    ..RecoveryOptions::default()
                };
                let mut m = Manager::open(&dir, o).expect("open");
                assert_ids(&take(&mut m, 1000), &range(1, 1000));
                // Let the worker fill its ring.
                std::thread::sleep(Duration::from_millis(20));
                let mapped = maps_into(&dir);
                assert!(mapped >= 1, "the current segment is mapped");
                // At most preload_depth + 2 segments are mapped (+1 stash), plus readers awaiting
                // close in the finished ring.
                assert_eq!(preloaders_settle(1, Duration::from_millis(500)), 1);
                drop(m);
                assert_eq!(
                    preloaders_after(Duration::from_millis(200)),
                    0,
                    "depth {depth}: preloader still alive after drop"
                );
                assert_eq!(
                    maps_into(&dir),
                    0,
                    "depth {depth}: segment mappings left after drop"
                );
                assert_eq!(
                    fds_into(&dir),
                    fds_before,
                    "depth {depth}: descriptors left after drop"
                );
            }
            // Many open/partial-read/drop cycles leak nothing.
            for i in 0..40u64 {
                let mut m =
                    Manager::open(&dir, opts(RecoveryMode::Strict, 1 + i * 70)).expect("open");
                take(&mut m, (i % 7 * 30) as usize);
            }
            assert_eq!(preloaders_after(Duration::from_millis(200)), 0);
            assert_eq!(maps_into(&dir), 0);
            assert_eq!(fds_into(&dir), fds_before);
        },
    );
}

/// Dropping while the worker is busy opening a segment (slowed by the test hook) waits for it:
/// the thread is gone right after drop returns, not some time later.
#[test]
fn drop_while_worker_is_busy_joins_it() {
    let _g = serial();
    let tmp = tempdir("drop-busy");
    let log = write_log(tmp.path(), LogSpec::small());
    with_timeout("drop_while_worker_is_busy_joins_it", move || {
        let delay = Duration::from_millis(300);
        let o = RecoveryOptions {
            preload_delay: delay,
            ..RecoveryOptions::default()
        };
        let m = Manager::open(&log.dir, o).expect("open");
        std::thread::sleep(Duration::from_millis(30)); // the worker is now inside its delay
        assert_eq!(preloaders_settle(1, Duration::from_millis(500)), 1);
        let t = Instant::now();
        drop(m);
        let took = t.elapsed();
        // A detached worker would still be sleeping for ~270 ms.
        assert_eq!(
            preloaders_after(Duration::from_millis(20)),
            0,
            "worker not joined by drop (drop took {took:?})"
        );
        assert_eq!(maps_into(&log.dir), 0);
    });
}

/// The preloader runs under `SCHED_BATCH` (its wakeups never preempt the replay thread;
/// `yield_to_the_replay_on_wakeup`), and the thread that opened the manager keeps its policy.
#[test]
fn the_preloader_never_preempts_on_wakeup() {
    let _g = serial();
    let tmp = tempdir("sched");
    let log = write_log(tmp.path(), LogSpec::small());
    with_timeout("the_preloader_never_preempts_on_wakeup", move || {
        const SCHED_BATCH: u32 = 3;
        let o = RecoveryOptions {
            preload_delay: Duration::from_millis(300),
            ..RecoveryOptions::default()
        };
        let m = Manager::open(&log.dir, o).expect("open");
        // The worker names itself and sets its policy as it starts: poll briefly.
        let until = Instant::now() + Duration::from_millis(500);
        let mut seen = thread_policies(PRELOADER);
        while seen != [SCHED_BATCH] && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
            seen = thread_policies(PRELOADER);
        }
        assert_eq!(seen, [SCHED_BATCH], "policy of the preloader thread(s)");
        let me = std::fs::read_to_string("/proc/thread-self/stat").expect("own stat");
        let mine = me[me.rfind(')').expect("stat") + 1..]
            .split_whitespace()
            .nth(41 - 3)
            .map(str::to_string);
        assert_eq!(
            mine.as_deref(),
            Some("0"),
            "the caller's own policy changed"
        );
        drop(m);
    });
}

/// The worker stops at the end of the log, at a strict error and across resumes, without the
/// manager being dropped; the mappings go with it.
#[test]
fn worker_stopped_at_end_error_and_resume() {
    let _g = serial();
    let tmp = tempdir("stop-paths");
    let log = write_log(tmp.path(), LogSpec::standard());
    let bad = log.segs[40].clone();
    let dtmp = tempdir("stop-paths-damaged");
    let damaged = write_log(dtmp.path(), LogSpec::standard());
    flip_byte(
        &damaged.segs[40].path,
        damaged.segs[40].blocks[1].payload_offset,
    );
    with_timeout("worker_stopped_at_end_error_and_resume", move || {
        // End of log.
        let mut m = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        drain(&mut m).assert_ok();
        assert_eq!(
            preloaders_after(Duration::from_millis(200)),
            0,
            "worker alive after the end"
        );
        assert_eq!(maps_into(&log.dir), 0, "mappings alive after the end");
        // Resume after the end: a new worker, stopped again at the end.
        m.resume(100).expect("resume");
        take(&mut m, 10);
        // (A new thread names itself once it runs: poll briefly.)
        assert_eq!(preloaders_settle(1, Duration::from_millis(500)), 1);
        // Resume mid-replay, repeatedly: still exactly one worker.
        for t in [2000, 5, 2999, 1500] {
            m.resume(t).expect("resume");
            take(&mut m, 1);
            // No worker when the resume segment is the last one.
            let want = usize::from(log.seg_of(t) + 1 < log.segs.len());
            assert_eq!(
                preloaders_settle(want, Duration::from_millis(500)),
                want,
                "resume({t})"
            );
        }
        drain(&mut m).assert_ok();
        assert_eq!(preloaders_after(Duration::from_millis(200)), 0);
        drop(m);
        // Strict error.
        let mut m = Manager::open(&damaged.dir, RecoveryOptions::default()).expect("open damaged");
        let d = drain(&mut m);
        assert!(matches!(d.end, Err(Error::Corrupt(_))));
        assert_eq!(d.ids.last().copied(), Some(bad.blocks[1].first - 1));
        assert_eq!(
            preloaders_after(Duration::from_millis(200)),
            0,
            "worker alive after a strict error"
        );
        assert_eq!(
            maps_into(&damaged.dir),
            0,
            "mappings alive after a strict error"
        );
        // Failed resume: no worker left behind (§17.22).
        assert!(matches!(
            m.resume(1 << 40),
            Err(Error::EventBeyondEnd { .. })
        ));
        assert_eq!(preloaders_after(Duration::from_millis(200)), 0);
        assert!(Manager::open(&log.dir, opts(RecoveryMode::Strict, 1 << 40)).is_err());
        assert_eq!(
            preloaders_after(Duration::from_millis(200)),
            0,
            "worker left by a failed open"
        );
        assert_eq!(maps_into(&log.dir), 0);
    });
}

/// A preloader slowed by the test hook: the manager opens segments itself (fallback), every
/// event is delivered exactly.
#[test]
fn slow_worker_fallback_delivers_everything() {
    let _g = serial();
    let tmp = tempdir("fallback");
    let spec = LogSpec {
        count: 500,
        ..LogSpec::small()
    };
    let log = write_log(tmp.path(), spec);
    let n_after_first = log.segs.len() as u64 - 1;
    assert!(n_after_first >= 15, "{n_after_first}");
    with_timeout("slow_worker_fallback_delivers_everything", move || {
        let delay = Duration::from_millis(50);
        for mode in [RecoveryMode::Strict, RecoveryMode::SkipCorrupted] {
            let o = RecoveryOptions {
                mode,
                preload_delay: delay,
                fallback_after: Duration::from_millis(1),
                ..RecoveryOptions::default()
            };
            let t = Instant::now();
            let mut m = Manager::open(&log.dir, o).expect("open");
            let d = drain(&mut m);
            let took = t.elapsed();
            d.assert_ok();
            assert_ids(&d.ids, &log.all_ids());
            let r = m.report();
            assert!(r.complete && r.is_clean());
            assert_eq!(r.worker_panic, None);
            assert!(r.fallback_opens > 0, "no fallback opens");
            // Steady state: the worker claims segment j and sleeps 50 ms; after
            // `fallback_after` the manager claims and verifies j + 1 itself (stash), takes j
            // from the worker, replays j and j + 1, and meets the worker sleeping on j + 2.
            // So the manager typically opens every other segment (measured: 9 of 19, run after
            // run), but who wins each claim depends on scheduling (16 of 19 was seen once under
            // load), so only the bounds are asserted: some, and never more than exist (the
            // claim counter lets nobody open a segment twice).
            assert!(
                r.fallback_opens <= n_after_first,
                "{} fallback opens for {n_after_first} segments",
                r.fallback_opens
            );
            // (Timing is only printed: the worker alone would need n × 50 ms; with the manager's
            // help it is about half that.)
            eprintln!("fallback: {mode:?}: {} of {n_after_first} segments opened by the manager, {took:?}", r.fallback_opens);
        }
        // next_batch takes the same path.
        let o = RecoveryOptions {
            preload_delay: delay,
            fallback_after: Duration::ZERO,
            ..RecoveryOptions::default()
        };
        let mut m = Manager::open(&log.dir, o).expect("open");
        let mut ids = Vec::new();
        loop {
            let mut out = Vec::new();
            if m.next_batch(&mut out, 100).expect("batch") == 0 {
                break;
            }
            assert!(out.iter().all(|e| payload_matches(0, e.id, e.payload)));
            ids.extend(out.iter().map(|e| e.id));
        }
        assert_ids(&ids, &log.all_ids());
        assert!(m.report().fallback_opens > 0);
    });
}

/// While it replays, a manager never has more than `preload_depth + 5` segments mapped
/// (`RecoveryOptions::preload_depth`), whatever the log's length: finished segments are unmapped
/// as the replay goes, and so are copies the fallback superseded. The preloader used to keep
/// the payload checks — and so the mapping — of every segment it had prepared until its ring
/// was full, which a preloader no faster than the replay never saw: the first case here failed
/// with `delay 2 ms, fallback after 1000 ms: 120 of 121 segments mapped at once (bound 8)`.
/// The second covers the bound under fallback opens (a superseded copy's checks are released
/// with its reader; with these 2 KiB segments the old code passed it too).
#[test]
fn mappings_stay_bounded_while_replaying() {
    let _g = serial();
    let tmp = tempdir("bounded-maps");
    let log = write_log(tmp.path(), LogSpec::standard());
    let segments = log.segs.len();
    assert!(segments >= 40, "{segments} segments");
    with_timeout("mappings_stay_bounded_while_replaying", move || {
        // A slow preloader the manager waits for; a slow one it overtakes with fallback opens.
        for (delay, fallback) in [(2, 1000), (5, 1)] {
            let o = RecoveryOptions {
                preload_delay: Duration::from_millis(delay),
                fallback_after: Duration::from_millis(fallback),
                ..RecoveryOptions::default()
            };
            let bound = o.preload_depth + 5;
            let mut m = Manager::open(&log.dir, o).expect("open");
            let (mut n, mut most) = (0u64, 0usize);
            loop {
                match m.next() {
                    Ok(Some(ev)) => assert_eq!(ev.id, n + 1),
                    Ok(None) => break,
                    Err(e) => panic!("delay {delay} ms: {e}"),
                }
                n += 1;
                if n % 25 == 0 {
                    most = most.max(maps_into(&log.dir));
                }
            }
            assert_eq!(n, log.all_ids().len() as u64);
            assert!(
                most <= bound,
                "delay {delay} ms, fallback after {fallback} ms: {most} of {segments} segments \
                 mapped at once (bound {bound})"
            );
            drop(m);
        }
    });
}
