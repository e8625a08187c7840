//! Recovery pipeline, intact logs: exact replay, resume anywhere, `next_batch`, the report and
//! its JSON.

mod pipeline_support;

use pipeline_support::*;
use wal_recovery::error::ContinuityKind;
use wal_recovery::{Error, Manager, RecoveryMode, RecoveryOptions};

const MODES: [RecoveryMode; 3] = [
    RecoveryMode::Strict,
    RecoveryMode::StopAtCorruption,
    RecoveryMode::SkipCorrupted,
];

/// Every id and payload of a ~100-segment log, in order, and an exact, clean, complete report.
#[test]
fn exact_multi_segment_replay() {
    let tmp = tempdir("exact");
    let log = write_log(tmp.path(), LogSpec::standard());
    assert!(
        log.segs.len() >= 50,
        "want many segments, got {}",
        log.segs.len()
    );
    assert!(
        log.segs.iter().all(|s| s.blocks.len() >= 3),
        "want several blocks per segment"
    );
    with_timeout("exact_multi_segment_replay", move || {
        for mode in MODES {
            let mut m = Manager::open(&log.dir, opts(mode, 0)).expect("open");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &log.all_ids());
            // The end is sticky.
            for _ in 0..3 {
                assert!(m.next().expect("next after end").is_none());
            }
            let r = m.report();
            assert_eq!(r.dir, log.dir);
            assert_eq!(r.mode, mode);
            assert!(r.complete, "complete");
            assert!(r.is_clean(), "clean: {r:?}");
            assert_eq!(r.events_delivered, 3000);
            assert_eq!(r.bytes_delivered, bytes_of(1..=3000));
            assert_eq!(r.first_delivered, Some(1));
            assert_eq!(r.last_delivered, Some(3000));
            assert_eq!(r.start_event_id, 1);
            assert_eq!(r.log_first_id, Some(1));
            assert_eq!(r.log_end_id, Some(3001));
            assert_eq!(r.segments_scanned, log.segs.len() as u64);
            assert_eq!(r.segments_replayed, log.segs.len() as u64);
            assert_eq!(r.ignored_files, 1, "the writer's LOCK file");
            assert_eq!(r.files.len(), log.segs.len());
            for (f, s) in r.files.iter().zip(&log.segs) {
                assert_eq!(f.path, s.path);
                assert_eq!(f.name_sequence, Some(s.name_seq));
                assert_eq!(f.len, s.len);
                assert!(f.status.usable());
                let h = f.header.expect("header");
                assert_eq!(
                    (h.first_event_id, h.last_event_id, h.sealed),
                    (s.first, s.last, true)
                );
            }
            assert!(r.lost.is_empty() && r.segments_skipped.is_empty());
            assert!(r.duplicates.is_empty() && r.continuity.is_empty());
            assert_eq!(r.torn_tail, None);
            assert_eq!(
                (
                    r.stopped.as_deref(),
                    r.error.as_deref(),
                    r.worker_panic.as_deref()
                ),
                (None, None, None)
            );
        }
    });
}

/// Opens at `start` and checks the replay delivers exactly `start..=last` then ends.
/// `fresh`: the manager was just opened (no earlier resume), so `first_delivered` is checked too
/// (after a resume it is unreliable: see `first_delivered_after_resume_is_consistent`).
fn check_from(log: &Log, start: u64, m: &mut Manager, fresh: bool) {
    let d = drain(m);
    d.assert_ok();
    let want = range(start, log.last);
    assert_ids(&d.ids, &want);
    let r = m.report();
    assert!(r.complete && r.is_clean(), "start {start}: {r:?}");
    assert_eq!(r.start_event_id, start);
    if start <= log.last {
        if fresh {
            assert_eq!(r.first_delivered, Some(start), "start {start}");
        }
        assert_eq!(r.last_delivered, Some(log.last), "start {start}");
    }
}

/// Resume at the first id, the last id and last + 1 of every segment (fresh `open` each time),
/// then at 200 seeded random ids (one manager, `resume` each time): the first event delivered is
/// the requested one and the replay is contiguous to the end.
#[test]
fn resume_at_every_boundary_and_random_ids() {
    let tmp = tempdir("resume-all");
    let spec = LogSpec {
        count: 1500,
        ..LogSpec::standard()
    };
    let log = write_log(tmp.path(), spec);
    assert!(log.segs.len() >= 30);
    with_timeout("resume_at_every_boundary_and_random_ids", move || {
        let mut targets: Vec<u64> = log
            .segs
            .iter()
            .flat_map(|s| [s.first, s.last, s.last + 1])
            .collect();
        // Block boundaries inside a segment too (a few segments are enough).
        for s in log.segs.iter().take(3) {
            targets.extend(s.blocks.iter().flat_map(|b| [b.first, b.last()]));
        }
        targets.sort_unstable();
        targets.dedup();
        for &t in &targets {
            let mut m = Manager::open(&log.dir, opts(RecoveryMode::Strict, t)).expect("open at id");
            check_from(&log, t, &mut m, true);
        }
        let mut rng = Rng::new(0x5eed_1234);
        let mut m = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        for _ in 0..200 {
            let t = rng.range(1, log.last + 1);
            m.resume(t).unwrap_or_else(|e| panic!("resume({t}): {e}"));
            check_from(&log, t, &mut m, false);
        }
    });
}

/// resume(0) = oldest; resume(last + 1) = end (Ok(None) at once); beyond = EventBeyondEnd.
#[test]
fn resume_zero_end_and_beyond_end() {
    let tmp = tempdir("resume-edges");
    let log = write_log(tmp.path(), LogSpec::small());
    with_timeout("resume_zero_end_and_beyond_end", move || {
        let end = log.end();
        // 0 = oldest.
        let mut m = Manager::open(&log.dir, opts(RecoveryMode::Strict, 0)).expect("open");
        assert_eq!(m.report().start_event_id, log.first);
        assert_eq!(take(&mut m, 3), vec![1, 2, 3]);
        m.resume(0).expect("resume(0)");
        assert_eq!(m.report().start_event_id, 1);
        assert_eq!(take(&mut m, 2), vec![1, 2]);
        // last + 1: positioned at the end.
        m.resume(end).expect("resume(last + 1)");
        assert!(m.next().expect("next at end").is_none());
        assert!(m.next().expect("next at end, again").is_none());
        let r = m.report();
        assert!(r.complete);
        assert_eq!(r.start_event_id, end);
        let mut m2 =
            Manager::open(&log.dir, opts(RecoveryMode::Strict, end)).expect("open at last + 1");
        assert!(m2.next().expect("next").is_none());
        // Beyond: typed error from open and from resume, in every mode.
        for mode in MODES {
            for beyond in [end + 1, end + 1000, u64::MAX] {
                match Manager::open(&log.dir, opts(mode, beyond)) {
                    Err(Error::EventBeyondEnd { requested, end: e }) => {
                        assert_eq!((requested, e), (beyond, end))
                    }
                    other => panic!("open({beyond}) in {mode:?}: {other:?}"),
                }
                let mut m = Manager::open(&log.dir, opts(mode, 0)).expect("open");
                match m.resume(beyond) {
                    Err(Error::EventBeyondEnd { requested, end: e }) => {
                        assert_eq!((requested, e), (beyond, end))
                    }
                    other => panic!("resume({beyond}): {other:?}"),
                }
                // A failed resume leaves the manager failed, not half-positioned.
                match m.next() {
                    Err(Error::EventBeyondEnd { requested, end: e }) => {
                        assert_eq!((requested, e), (beyond, end))
                    }
                    other => panic!(
                        "next() after failed resume: {:?}",
                        other.map(|o| o.map(|e| e.id))
                    ),
                }
                // And a good resume recovers.
                m.resume(end - 1).expect("resume(last)");
                assert_eq!(take(&mut m, 1), vec![end - 1]);
                assert!(m.next().expect("end").is_none());
            }
        }
    });
}

/// Retention: with the first segment deleted, older ids are EventTooOld with the right oldest.
#[test]
fn resume_older_than_oldest_is_event_too_old() {
    let tmp = tempdir("too-old");
    let log = write_log(tmp.path(), LogSpec::small());
    std::fs::remove_file(&log.segs[0].path).expect("delete first segment");
    let oldest = log.segs[1].first;
    with_timeout("resume_older_than_oldest_is_event_too_old", move || {
        for mode in MODES {
            for requested in [1, oldest - 1] {
                match Manager::open(&log.dir, opts(mode, requested)) {
                    Err(Error::EventTooOld {
                        requested: r,
                        oldest: o,
                    }) => assert_eq!((r, o), (requested, oldest)),
                    other => panic!("open({requested}): {other:?}"),
                }
                let mut m = Manager::open(&log.dir, opts(mode, 0)).expect("open at oldest");
                assert_eq!(m.report().start_event_id, oldest);
                assert_eq!(m.report().log_first_id, Some(oldest));
                match m.resume(requested) {
                    Err(Error::EventTooOld {
                        requested: r,
                        oldest: o,
                    }) => assert_eq!((r, o), (requested, oldest)),
                    other => panic!("resume({requested}): {other:?}"),
                }
                assert!(
                    matches!(m.next(), Err(Error::EventTooOld { .. })),
                    "sticky after a failed resume"
                );
            }
            // 0 still means "oldest retained", and the replay from there is clean.
            let mut m = Manager::open(&log.dir, opts(mode, 0)).expect("open");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(oldest, log.last));
            assert!(m.report().is_clean());
        }
    });
}

/// FlashStrike §17.20: when the resume segment is the last one (no preloader needed), the replay
/// ends with Ok(None) promptly instead of spinning.
#[test]
fn resume_in_last_segment_ends_promptly() {
    let tmp = tempdir("last-seg");
    let log = write_log(tmp.path(), LogSpec::small());
    let single = tempdir("single-seg");
    let one = write_log(
        single.path(),
        LogSpec {
            count: 5,
            ..LogSpec::small()
        },
    );
    assert_eq!(one.segs.len(), 1);
    with_timeout("resume_in_last_segment_ends_promptly", move || {
        let last = log.segs.last().unwrap().clone();
        for mode in MODES {
            for start in [last.first, last.first + 1, last.last, last.last + 1] {
                let t = std::time::Instant::now();
                let mut m =
                    Manager::open(&log.dir, opts(mode, start)).expect("open in last segment");
                let d = drain(&mut m);
                d.assert_ok();
                assert_ids(&d.ids, &range(start, log.last));
                assert!(m.next().expect("again").is_none());
                assert!(
                    t.elapsed() < std::time::Duration::from_secs(2),
                    "took {:?}",
                    t.elapsed()
                );
                assert!(m.report().complete);
            }
            // Resume into the last segment from the middle of a replay, too.
            let mut m = Manager::open(&log.dir, opts(mode, 0)).expect("open");
            take(&mut m, 10);
            m.resume(last.last).expect("resume to last id");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &[last.last]);
            // A one-segment log.
            let mut m = Manager::open(&one.dir, opts(mode, 0)).expect("open single");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &[1, 2, 3, 4, 5]);
        }
    });
}

/// FlashStrike §17.24: a second resume reopened the old segment. Resume backward and forward
/// several times mid-replay (also mid-segment, with the preloader running ahead).
#[test]
fn resume_twice_backward_and_forward() {
    let tmp = tempdir("resume-twice");
    let log = write_log(tmp.path(), LogSpec::standard());
    with_timeout("resume_twice_backward_and_forward", move || {
        let mut m = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        assert_ids(&take(&mut m, 700), &range(1, 700));
        // Backward, into an earlier segment.
        m.resume(42).expect("resume backward");
        assert_ids(&take(&mut m, 100), &range(42, 141));
        // Forward, far ahead.
        m.resume(2500).expect("resume forward");
        assert_ids(&take(&mut m, 20), &range(2500, 2519));
        // Backward again, into the very segment we were in before the first resume.
        let s = &log.segs[log.seg_of(700)];
        m.resume(s.first).expect("resume to a segment start");
        assert_ids(&take(&mut m, 5), &range(s.first, s.first + 4));
        // Forward within the same segment.
        m.resume(s.last).expect("resume within segment");
        assert_ids(&take(&mut m, 2), &[s.last, s.last + 1]);
        // Twice in a row without reading.
        m.resume(10).expect("resume");
        m.resume(2999).expect("resume again");
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &[2999, 3000]);
        // After the end, back to the start: a full replay again.
        m.resume(0).expect("resume after end");
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &log.all_ids());
        let r = m.report();
        assert!(r.complete && r.is_clean());
        assert_eq!(r.start_event_id, 1);
        assert_eq!(r.last_delivered, Some(3000));
    });
}

/// events_delivered / bytes_delivered count every delivery over the manager's life (resumes
/// included), and never go down.
#[test]
fn events_delivered_counts_across_resumes() {
    let tmp = tempdir("count-resume");
    let log = write_log(tmp.path(), LogSpec::standard());
    with_timeout("events_delivered_counts_across_resumes", move || {
        let mut m = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        let mut delivered: Vec<u64> = Vec::new();
        let step = |m: &mut Manager, ids: Vec<u64>, delivered: &mut Vec<u64>| {
            let ids_empty = ids.is_empty();
            delivered.extend(ids);
            let r = m.report();
            assert_eq!(
                r.events_delivered,
                delivered.len() as u64,
                "after {} deliveries",
                delivered.len()
            );
            assert_eq!(r.bytes_delivered, bytes_of(delivered.iter().copied()));
            if !ids_empty {
                assert_eq!(r.last_delivered, delivered.last().copied());
            }
        };
        let ids = take(&mut m, 700);
        step(&mut m, ids, &mut delivered);
        m.resume(42).expect("resume backward");
        step(&mut m, vec![], &mut delivered);
        let ids = take(&mut m, 100);
        step(&mut m, ids, &mut delivered);
        m.resume(2500).expect("resume forward");
        step(&mut m, vec![], &mut delivered);
        let ids = take(&mut m, 20);
        step(&mut m, ids, &mut delivered);
        m.resume(0).expect("resume to start");
        let d = drain(&mut m);
        d.assert_ok();
        step(&mut m, d.ids, &mut delivered);
        assert_eq!(delivered.len(), 700 + 100 + 20 + 3000);
    });
}

/// `report().first_delivered` after a resume must not depend on whether a segment boundary
/// happened to be crossed before the resume (it is only published at segment switches and
/// samples).
#[test]
fn first_delivered_after_resume_is_consistent() {
    let tmp = tempdir("first-delivered");
    let log = write_log(tmp.path(), LogSpec::standard());
    with_timeout("first_delivered_after_resume_is_consistent", move || {
        let s0 = log.segs[0].clone();
        // (a) nothing published before the resume: a few events inside the first segment.
        let mut a = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        take(&mut a, 3);
        a.resume(2000).expect("resume");
        take(&mut a, 1);
        // (b) progress published before the resume: crossed a segment boundary.
        let mut b = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        take(&mut b, (s0.count() + 3) as usize);
        b.resume(2000).expect("resume");
        take(&mut b, 1);
        let (ra, rb) = (a.report(), b.report());
        assert_eq!(ra.start_event_id, 2000);
        assert_eq!(rb.start_event_id, 2000);
        assert_eq!(ra.last_delivered, Some(2000));
        assert_eq!(rb.last_delivered, Some(2000));
        assert_eq!(
            ra.first_delivered, rb.first_delivered,
            "same history of resumes, different first_delivered depending on publication timing"
        );
        // start_event_id, complete, stopped and error describe the replay since the last resume;
        // first_delivered should too.
        assert_eq!(rb.first_delivered, Some(2000));
    });
}

/// `next_batch` delivers the same sequence as `next()`, never crossing a segment boundary, and
/// every payload of a batch is valid at the same time.
#[test]
fn next_batch_matches_next_and_stays_in_one_segment() {
    let tmp = tempdir("batch");
    let log = write_log(tmp.path(), LogSpec::standard());
    with_timeout(
        "next_batch_matches_next_and_stays_in_one_segment",
        move || {
            for (max, start) in [(1usize, 0u64), (7, 0), (64, 0), (10_000, 0), (5, 1234)] {
                let mut m =
                    Manager::open(&log.dir, opts(RecoveryMode::Strict, start)).expect("open");
                let mut ids = Vec::new();
                let mut batches = 0usize;
                loop {
                    let mut out = Vec::new();
                    let n = m.next_batch(&mut out, max).expect("next_batch");
                    assert_eq!(n, out.len());
                    if n == 0 {
                        break;
                    }
                    assert!(n <= max);
                    batches += 1;
                    // All payloads of the batch are readable together, byte-exact.
                    for ev in &out {
                        assert!(
                            payload_matches(0, ev.id, ev.payload),
                            "batch payload of {}",
                            ev.id
                        );
                    }
                    let seg = log.seg_of(out[0].id);
                    assert!(
                        out.iter().all(|e| log.seg_of(e.id) == seg),
                        "batch crosses a segment boundary: {:?}..{:?}",
                        out[0].id,
                        out[n - 1].id
                    );
                    // A batch stops short of max only at the end of a segment.
                    if n < max {
                        assert_eq!(
                            out[n - 1].id,
                            log.segs[seg].last,
                            "short batch not at a segment end"
                        );
                    }
                    ids.extend(out.iter().map(|e| e.id));
                    assert!(ids.len() <= MAX_EVENTS);
                }
                let start = start.max(1);
                assert_ids(&ids, &range(start, log.last));
                // Ended: stays ended, and next() agrees.
                let mut out = Vec::new();
                assert_eq!(m.next_batch(&mut out, max).expect("after end"), 0);
                drop(out);
                assert!(m.next().expect("next after end").is_none());
                let r = m.report();
                assert!(r.complete && r.is_clean());
                assert_eq!(r.events_delivered, ids.len() as u64);
                assert_eq!(r.bytes_delivered, bytes_of(ids.iter().copied()));
                assert_eq!(
                    (r.first_delivered, r.last_delivered),
                    (Some(start), Some(log.last))
                );
                if max >= 10_000 {
                    assert_eq!(batches, log.segs.len(), "one batch per segment");
                }
            }
            // Mixed with next(): the two interleave into one sequence.
            let mut m = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
            let mut ids = Vec::new();
            let mut single = false;
            loop {
                single = !single;
                if single {
                    match m.next().expect("next") {
                        Some(ev) => ids.push(ev.id),
                        None => break,
                    }
                } else {
                    let mut out = Vec::new();
                    if m.next_batch(&mut out, 13).expect("batch") == 0 {
                        break;
                    }
                    ids.extend(out.iter().map(|e| e.id));
                }
            }
            assert_ids(&ids, &log.all_ids());
        },
    );
}

/// next_batch in strict mode over a gap: delivers up to the gap, then the typed error, sticky.
#[test]
fn next_batch_reports_strict_errors() {
    let tmp = tempdir("batch-gap");
    let log = write_log(tmp.path(), LogSpec::small());
    let gone = log.segs[4].clone();
    std::fs::remove_file(&gone.path).expect("delete");
    with_timeout("next_batch_reports_strict_errors", move || {
        let mut m = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        let mut ids = Vec::new();
        let err = loop {
            let mut out = Vec::new();
            match m.next_batch(&mut out, 50) {
                Ok(0) => panic!("ended cleanly over a gap"),
                Ok(_) => ids.extend(out.iter().map(|e| e.id)),
                Err(e) => break e,
            }
        };
        assert_ids(&ids, &range(1, gone.first - 1));
        match err {
            Error::Continuity {
                kind: ContinuityKind::Gap,
                previous,
                next,
                first_id,
                last_id,
            } => {
                assert_eq!((first_id, last_id), (gone.first, gone.last));
                assert_eq!(previous, log.segs[3].path);
                assert_eq!(next, log.segs[5].path);
            }
            other => panic!("{other:?}"),
        }
        let mut out = Vec::new();
        assert!(matches!(
            m.next_batch(&mut out, 50),
            Err(Error::Continuity {
                kind: ContinuityKind::Gap,
                ..
            })
        ));
    });
}

fn json_u64(v: &serde_json::Value) -> Option<u64> {
    if v.is_null() {
        None
    } else {
        Some(v.as_u64().expect("number"))
    }
}

fn json_str(v: &serde_json::Value) -> Option<&str> {
    if v.is_null() {
        None
    } else {
        Some(v.as_str().expect("string"))
    }
}

/// Checks every field of the JSON rendering against the struct.
fn check_json(r: &wal_recovery::RecoveryReport) {
    let text = r.to_json();
    let j: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"));
    let o = j.as_object().expect("object");
    assert_eq!(o["dir"].as_str(), Some(r.dir.to_str().unwrap()));
    assert_eq!(o["mode"].as_str(), Some(r.mode.as_str()));
    assert_eq!(o["clean"].as_bool(), Some(r.is_clean()));
    assert_eq!(o["complete"].as_bool(), Some(r.complete));
    assert_eq!(o["start_event_id"].as_u64(), Some(r.start_event_id));
    assert_eq!(json_u64(&o["log_first_id"]), r.log_first_id);
    assert_eq!(json_u64(&o["log_end_id"]), r.log_end_id);
    assert_eq!(o["events_delivered"].as_u64(), Some(r.events_delivered));
    assert_eq!(o["bytes_delivered"].as_u64(), Some(r.bytes_delivered));
    assert_eq!(json_u64(&o["first_delivered"]), r.first_delivered);
    assert_eq!(json_u64(&o["last_delivered"]), r.last_delivered);
    assert_eq!(o["segments_scanned"].as_u64(), Some(r.segments_scanned));
    assert_eq!(o["segments_replayed"].as_u64(), Some(r.segments_replayed));
    assert_eq!(o["ignored_files"].as_u64(), Some(r.ignored_files));
    assert_eq!(o["format"].as_str(), r.format.map(|f| f.as_str()));
    assert_eq!(o["fallback_opens"].as_u64(), Some(r.fallback_opens));
    assert_eq!(o["sync_closes"].as_u64(), Some(r.sync_closes));
    assert_eq!(json_str(&o["stopped"]), r.stopped.as_deref());
    assert_eq!(json_str(&o["error"]), r.error.as_deref());
    assert_eq!(json_str(&o["worker_panic"]), r.worker_panic.as_deref());
    match &r.torn_tail {
        None => assert!(o["torn_tail"].is_null()),
        Some(t) => {
            let jt = &o["torn_tail"];
            assert_eq!(jt["path"].as_str(), t.path.to_str());
            assert_eq!(jt["offset"].as_u64(), Some(t.offset));
            assert_eq!(jt["bytes"].as_u64(), Some(t.bytes));
            assert_eq!(jt["reason"].as_str(), Some(t.reason.as_str()));
        }
    }
    let arr = |k: &str| {
        o[k].as_array()
            .unwrap_or_else(|| panic!("{k} is not an array"))
            .clone()
    };
    let lost = arr("lost");
    assert_eq!(lost.len(), r.lost.len());
    for (jl, l) in lost.iter().zip(&r.lost) {
        assert_eq!(jl["first_id"].as_u64(), Some(l.first_id));
        assert_eq!(json_u64(&jl["last_id"]), l.last_id);
        assert_eq!(jl["reason"].as_str(), Some(l.reason.as_str()));
        assert_eq!(
            json_str(&jl["path"]),
            l.path.as_ref().map(|p| p.to_str().unwrap())
        );
    }
    let skipped = arr("segments_skipped");
    assert_eq!(skipped.len(), r.segments_skipped.len());
    for (js, s) in skipped.iter().zip(&r.segments_skipped) {
        assert_eq!(js["path"].as_str(), s.path.to_str());
        assert_eq!(js["reason"].as_str(), Some(s.reason.as_str()));
    }
    let dups = arr("duplicates");
    assert_eq!(dups.len(), r.duplicates.len());
    for (jd, d) in dups.iter().zip(&r.duplicates) {
        assert_eq!(jd["kept"].as_str(), d.kept.to_str());
        assert_eq!(jd["other"].as_str(), d.other.to_str());
        assert_eq!(jd["first_id"].as_u64(), Some(d.first_id));
        assert_eq!(jd["last_id"].as_u64(), Some(d.last_id));
        assert_eq!(jd["identical"].as_bool(), Some(d.identical));
    }
    let cont = arr("continuity");
    assert_eq!(cont.len(), r.continuity.len());
    for (jc, c) in cont.iter().zip(&r.continuity) {
        assert_eq!(jc["kind"].as_str(), Some(c.kind.as_str()));
        assert_eq!(jc["previous"].as_str(), c.previous.to_str());
        assert_eq!(jc["next"].as_str(), c.next.to_str());
        assert_eq!(jc["first_id"].as_u64(), Some(c.first_id));
        assert_eq!(jc["last_id"].as_u64(), Some(c.last_id));
    }
    let files = arr("files");
    assert_eq!(files.len(), r.files.len());
    for (jf, f) in files.iter().zip(&r.files) {
        assert_eq!(jf["path"].as_str(), f.path.to_str());
        assert_eq!(json_u64(&jf["name_sequence"]), f.name_sequence);
        assert_eq!(jf["bytes"].as_u64(), Some(f.len));
        assert_eq!(jf["status"].as_str(), Some(f.status.label()));
        assert_eq!(jf["detail"].as_str(), Some(f.status.describe().as_str()));
        assert_eq!(jf["format"].as_str(), f.format.map(|f| f.as_str()));
        match &f.header {
            Some(h) => {
                assert_eq!(jf["sequence"].as_u64(), Some(h.sequence));
                assert_eq!(jf["first_id"].as_u64(), Some(h.first_event_id));
                assert_eq!(jf["sealed"].as_bool(), Some(h.sealed));
                assert_eq!(
                    json_u64(&jf["last_id"]),
                    h.sealed.then_some(h.last_event_id)
                );
                assert_eq!(
                    json_u64(&jf["event_count"]),
                    h.sealed.then_some(h.event_count)
                );
            }
            None => {
                for k in ["sequence", "first_id", "sealed", "last_id", "event_count"] {
                    assert!(
                        jf[k].is_null(),
                        "{k} should be null for a file without header"
                    );
                }
            }
        }
    }
    let expected_keys = [
        "dir",
        "mode",
        "clean",
        "complete",
        "start_event_id",
        "log_first_id",
        "log_end_id",
        "events_delivered",
        "bytes_delivered",
        "first_delivered",
        "last_delivered",
        "segments_scanned",
        "segments_replayed",
        "ignored_files",
        "format",
        "fallback_opens",
        "sync_closes",
        "stopped",
        "error",
        "worker_panic",
        "torn_tail",
        "lost",
        "segments_skipped",
        "duplicates",
        "continuity",
        "files",
    ];
    let mut keys: Vec<&str> = o.keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    let mut want = expected_keys.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
}

/// The JSON report parses with a real JSON parser and every field matches the struct: for a
/// clean report, and for a busy one (lost range, skipped segment, duplicate, gap, bad files,
/// stop reason, error), in a directory whose name needs escaping.
#[test]
fn report_json_parses_and_matches_struct() {
    let tmp = tempdir("json \"quoted\" \\back\tslash\u{1}");
    let log = write_log(tmp.path(), LogSpec::small());
    with_timeout("report_json_parses_and_matches_struct", move || {
        let mut m = Manager::open(&log.dir, RecoveryOptions::default()).expect("open");
        check_json(&m.report());
        drain(&mut m).assert_ok();
        let r = m.report();
        assert!(r.is_clean());
        check_json(&r);
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["clean"], serde_json::Value::Bool(true));
        assert_eq!(j["events_delivered"].as_u64(), Some(600));

        // Now damage it in several ways at once.
        let segs = &log.segs;
        std::fs::copy(&segs[1].path, seg_path(&log.dir, 999)).expect("identical duplicate");
        std::fs::remove_file(&segs[3].path).expect("gap");
        flip_byte(&segs[6].path, segs[6].blocks[1].payload_offset + 1);
        std::fs::write(log.dir.join("junk \"x\".wal"), b"not a segment").expect("junk");
        std::fs::write(log.dir.join("notes.txt"), b"hello").expect("ignored");
        for mode in MODES {
            let mut m = Manager::open(&log.dir, opts(mode, 0)).expect("open damaged");
            let d = drain(&mut m);
            let r = m.report();
            match mode {
                RecoveryMode::Strict => assert!(d.end.is_err() && r.error.is_some()),
                RecoveryMode::StopAtCorruption => assert!(d.end.is_ok() && r.stopped.is_some()),
                RecoveryMode::SkipCorrupted => {
                    d.assert_ok();
                    assert_eq!(r.lost.len(), 2);
                    assert_eq!(r.duplicates.len(), 1);
                    assert!(!r.segments_skipped.is_empty());
                    assert_eq!(r.continuity.len(), 2);
                }
            }
            assert!(!r.is_clean());
            assert_eq!(r.ignored_files, 2);
            check_json(&r);
        }
    });
}
