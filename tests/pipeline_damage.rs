//! Recovery pipeline, damaged logs: corrupt, missing, duplicate, overlapping and replaced
//! segments, torn tails and bad directories — in each recovery mode, with exact ids, exact
//! error variants and exact reports. FlashStrike §17.13–17.15 and §17.20–17.22 are the bugs these
//! guard against.

mod pipeline_support;

use std::fs;

use pipeline_support::*;
use wal_recovery::error::ContinuityKind;
use wal_recovery::recovery::report::{
    ContinuityReport, DuplicateReport, LostRange, SkippedSegment,
};
use wal_recovery::recovery::scan::FileStatus;
use wal_recovery::recovery::segment_reader::SegmentEnd;
use wal_recovery::{
    Corruption, CorruptionKind, Error, Manager, RecoveryMode, RecoveryOptions, Writer,
};

use RecoveryMode::{SkipCorrupted as Skip, StopAtCorruption as Stop, Strict};

fn open(log: &Log, mode: RecoveryMode) -> Manager {
    Manager::open(&log.dir, opts(mode, 0)).unwrap_or_else(|e| panic!("open in {mode:?}: {e}"))
}

/// Expects `Err(Error::Corrupt)` and returns the corruption.
#[track_caller]
fn corruption(e: &Error) -> Corruption {
    match e {
        Error::Corrupt(c) => (**c).clone(),
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
}

/// `next()` keeps failing with the same error after a strict failure.
#[track_caller]
fn assert_sticky(m: &mut Manager, first: &Error) {
    for _ in 0..3 {
        match m.next() {
            Err(e) => assert_eq!(e.to_string(), first.to_string()),
            Ok(Some(ev)) => panic!("event {} delivered after a strict error", ev.id),
            Ok(None) => panic!("Ok(None) after a strict error"),
        }
    }
}

/// `next()` keeps returning Ok(None).
#[track_caller]
fn assert_ended(m: &mut Manager) {
    for _ in 0..3 {
        assert!(m.next().expect("next after end").is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// Corrupt middle segment
// ---------------------------------------------------------------------------------------------

/// A payload byte flipped in block 2 of a sealed middle segment.
#[test]
fn corrupt_middle_segment_each_mode() {
    let tmp = tempdir("corrupt-mid");
    let log = write_log(tmp.path(), LogSpec::small());
    let m_idx = 5;
    let seg = log.segs[m_idx].clone();
    assert!(seg.blocks.len() >= 4);
    let bad = seg.blocks[2].clone();
    flip_byte(&seg.path, bad.payload_offset + 3);
    with_timeout("corrupt_middle_segment_each_mode", move || {
        // Strict: everything before the corrupt block, then the typed error, forever.
        let mut m = open(&log, Strict);
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(1, bad.first - 1));
        let c = corruption(d.err());
        assert_eq!(c.path, seg.path);
        assert_eq!(c.kind, CorruptionKind::PayloadChecksum);
        assert_eq!(c.offset, bad.offset);
        assert_eq!(c.block, Some(2));
        assert_sticky(&mut m, d.err());
        let r = m.report();
        assert_eq!(r.error.as_deref(), Some(d.err().to_string().as_str()));
        assert!(!r.complete && !r.is_clean());
        assert_eq!(r.events_delivered, bad.first - 1);
        assert_eq!(r.last_delivered, Some(bad.first - 1));
        // next_batch agrees.
        let mut m = open(&log, Strict);
        let mut n = 0u64;
        let e = loop {
            let mut out = Vec::new();
            match m.next_batch(&mut out, 9) {
                Ok(0) => panic!("batch replay ended cleanly over corruption"),
                Ok(k) => n += k as u64,
                Err(e) => break e,
            }
        };
        assert_eq!(n, bad.first - 1);
        assert_eq!(corruption(&e), c);

        // Stop: the same events, then Ok(None); the report says why.
        let mut m = open(&log, Stop);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, bad.first - 1));
        assert_ended(&mut m);
        let r = m.report();
        assert_eq!(
            r.stopped.as_deref(),
            Some(Error::Corrupt(Box::new(c.clone())).to_string().as_str())
        );
        assert!(r
            .stopped
            .as_ref()
            .unwrap()
            .contains(seg.path.to_str().unwrap()));
        assert_eq!(r.error, None);
        assert!(!r.complete && !r.is_clean());
        assert!(r.lost.is_empty());

        // Skip: exactly [first id of the corrupt block, last id of the segment] lost.
        let mut m = open(&log, Skip);
        let d = drain(&mut m);
        d.assert_ok();
        let want = ranges(&[(1, bad.first - 1), (seg.last + 1, log.last)]);
        assert_ids(&d.ids, &want);
        assert_ended(&mut m);
        let r = m.report();
        assert!(r.complete && !r.is_clean());
        assert_eq!(r.lost, lost_rest_of(&seg, bad.first, &c));
        assert_eq!(
            r.segments_skipped,
            vec![SkippedSegment {
                path: seg.path.clone(),
                reason: format!(
                    "rest of segment from offset {} skipped: block payload checksum mismatch",
                    bad.offset
                )
            }]
        );
        assert_eq!(
            r.continuity,
            vec![ContinuityReport {
                kind: "gap".into(),
                previous: seg.path.clone(),
                next: log.segs[m_idx + 1].path.clone(),
                first_id: bad.first,
                last_id: seg.last
            }]
        );
        assert!(r.duplicates.is_empty());
        assert_eq!(r.events_delivered, want.len() as u64);
        assert_eq!(r.bytes_delivered, bytes_of(want.iter().copied()));
        assert_eq!(r.segments_replayed, log.segs.len() as u64);

        // Resuming before the damage behaves the same in every mode; resuming at the first
        // damaged id positions at the end of the valid prefix.
        let mut m =
            Manager::open(&log.dir, opts(Strict, bad.first - 3)).expect("open before damage");
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(bad.first - 3, bad.first - 1));
        assert_eq!(corruption(d.err()), c);
        let mut m =
            Manager::open(&log.dir, opts(Strict, bad.first)).expect("open at first damaged id");
        let d = drain(&mut m);
        assert!(d.ids.is_empty());
        assert_eq!(corruption(d.err()), c);
        let mut m =
            Manager::open(&log.dir, opts(Skip, bad.first)).expect("skip: open at first damaged id");
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(seg.last + 1, log.last));
        // Strict resume inside the damaged range is the corruption itself.
        match Manager::open(&log.dir, opts(Strict, bad.first + 1)) {
            Err(Error::Corrupt(got)) => assert_eq!(*got, c),
            other => panic!("strict open inside damage: {:?}", other.map(|_| ())),
        }
    });
}

/// In SkipCorrupted mode a resume target inside a damaged or missing range should continue with
/// the next valid data (recording what was lost), as a replay passing through the same range
/// does; StopAtCorruption should end there with `stopped` set. Today resume fails hard in every
/// mode, while resume at the *first* damaged id succeeds and follows the mode.
#[test]
fn resume_inside_damage_follows_the_mode() {
    let tmp = tempdir("resume-damage");
    let log = write_log(tmp.path(), LogSpec::small());
    let seg = log.segs[5].clone();
    let bad = seg.blocks[2].clone();
    flip_byte(&seg.path, bad.payload_offset + 3);
    let gone = log.segs[9].clone();
    fs::remove_file(&gone.path).expect("delete");
    with_timeout("resume_inside_damage_follows_the_mode", move || {
        // Inside the corrupt range.
        let target = bad.first + 1;
        let mut m =
            Manager::open(&log.dir, opts(Skip, target)).expect("skip: open inside corrupt range");
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(
            &d.ids,
            &ranges(&[(seg.last + 1, gone.first - 1), (gone.last + 1, log.last)]),
        );
        let r = m.report();
        assert_eq!(r.lost.len(), 2);
        assert_eq!(
            (r.lost[0].first_id, r.lost[0].last_id),
            (target, Some(seg.last))
        );
        assert_eq!(
            (r.lost[1].first_id, r.lost[1].last_id),
            (gone.first, Some(gone.last))
        );
        let mut m =
            Manager::open(&log.dir, opts(Stop, target)).expect("stop: open inside corrupt range");
        let d = drain(&mut m);
        d.assert_ok();
        assert!(d.ids.is_empty());
        assert!(m.report().stopped.is_some());
        // Inside the missing segment.
        let target = gone.first + 2;
        let mut m = Manager::open(&log.dir, opts(Skip, target)).expect("skip: open inside gap");
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(gone.last + 1, log.last));
        let r = m.report();
        assert_eq!(r.lost.len(), 1);
        assert_eq!(
            (r.lost[0].first_id, r.lost[0].last_id),
            (target, Some(gone.last))
        );
    });
}

/// When the replay starts at lost ids (SkipCorrupted), `first_delivered` must be the first id
/// actually delivered, not the requested start.
#[test]
fn skip_first_delivered_is_the_first_id_delivered() {
    let tmp = tempdir("skip-first");
    let log = write_log(tmp.path(), LogSpec::small());
    let s0 = log.segs[0].clone();
    flip_byte(&s0.path, s0.blocks[0].payload_offset + 1);
    with_timeout(
        "skip_first_delivered_is_the_first_id_delivered",
        move || {
            let mut m = open(&log, Skip);
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(s0.last + 1, log.last));
            let r = m.report();
            assert_eq!(r.lost.len(), 1);
            assert_eq!((r.lost[0].first_id, r.lost[0].last_id), (1, Some(s0.last)));
            assert_eq!(r.last_delivered, Some(log.last));
            assert_eq!(
                r.first_delivered,
                Some(s0.last + 1),
                "first_delivered claims an id that was lost"
            );
        },
    );
}

// ---------------------------------------------------------------------------------------------
// All remaining segments corrupt (FlashStrike §17.21)
// ---------------------------------------------------------------------------------------------

/// The first block of every segment from the 8th on is corrupt: nothing after the 7th segment
/// can be delivered. Never hangs; strict errors, stop stops, skip accounts for every id.
#[test]
fn all_remaining_segments_corrupt_blocks() {
    let tmp = tempdir("all-corrupt");
    let log = write_log(tmp.path(), LogSpec::small());
    let k = 7;
    for s in &log.segs[k..] {
        flip_byte(&s.path, s.blocks[0].payload_offset + 2);
    }
    assert!(log.segs.len() - k >= 5);
    with_timeout("all_remaining_segments_corrupt_blocks", move || {
        let good_last = log.segs[k - 1].last;
        for start in [0, 3, log.segs[k - 1].first, log.segs[k].first] {
            let expect_ids = if start <= good_last {
                range(start.max(1), good_last)
            } else {
                vec![]
            };
            let mut m = Manager::open(&log.dir, opts(Strict, start)).expect("open");
            let d = drain(&mut m);
            assert_ids(&d.ids, &expect_ids);
            let c = corruption(d.err());
            assert_eq!(
                (c.path.clone(), c.offset, c.block, c.kind),
                (
                    log.segs[k].path.clone(),
                    64,
                    Some(0),
                    CorruptionKind::PayloadChecksum
                )
            );
            assert_sticky(&mut m, d.err());

            let mut m = Manager::open(&log.dir, opts(Stop, start)).expect("open");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &expect_ids);
            assert_ended(&mut m);
            let r = m.report();
            assert_eq!(
                r.stopped,
                Some(Error::Corrupt(Box::new(c.clone())).to_string())
            );

            let mut m = Manager::open(&log.dir, opts(Skip, start)).expect("open");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &expect_ids);
            assert_ended(&mut m);
            let r = m.report();
            assert!(r.complete);
            // One lost range per corrupt segment, exactly its ids; together every id after the
            // last good one.
            let want: Vec<(u64, Option<u64>, Option<std::path::PathBuf>)> = log.segs[k..]
                .iter()
                .map(|s| (s.first, Some(s.last), Some(s.path.clone())))
                .collect();
            let got: Vec<_> = r
                .lost
                .iter()
                .map(|l| (l.first_id, l.last_id, l.path.clone()))
                .collect();
            assert_eq!(got, want);
            for (l, s) in r.lost.iter().zip(&log.segs[k..]) {
                assert!(
                    l.path.as_deref() == Some(s.path.as_path())
                        && l.reason.contains("block payload checksum mismatch"),
                    "{}",
                    l.reason
                );
            }
            assert_eq!(r.segments_skipped.len(), log.segs.len() - k);
            assert_eq!(
                r.continuity.len(),
                log.segs.len() - k - 1,
                "a gap between each pair of corrupt segments"
            );
            assert!(r.continuity.iter().all(|c| c.kind == "gap"));
        }
    });
}

/// The headers of every segment from the 8th on are corrupt: the scan cannot use them at all.
#[test]
fn all_remaining_segments_bad_headers() {
    let tmp = tempdir("all-bad-headers");
    let log = write_log(tmp.path(), LogSpec::small());
    let k = 7;
    for s in &log.segs[k..] {
        flip_byte(&s.path, 20); // inside the sequence number: header checksum fails
    }
    let n_bad = log.segs.len() - k;
    with_timeout("all_remaining_segments_bad_headers", move || {
        let good_last = log.segs[k - 1].last;
        let mut m = open(&log, Strict);
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(1, good_last));
        match d.err() {
            Error::SegmentUnusable { path, reason } => {
                assert_eq!(path, &log.segs[k].path);
                assert!(
                    reason.starts_with("bad header: segment header checksum mismatch"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_sticky(&mut m, d.err());
        let r = m.report();
        assert_eq!(r.files.len(), log.segs.len());
        for (f, s) in r.files[k..].iter().zip(&log.segs[k..]) {
            assert_eq!(f.path, s.path);
            assert!(matches!(
                f.status,
                FileStatus::BadHeader {
                    kind: CorruptionKind::HeaderChecksum,
                    ..
                }
            ));
            assert_eq!(f.header, None);
        }

        let mut m = open(&log, Stop);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, good_last));
        let stopped = m.report().stopped.expect("stopped");
        assert!(
            stopped.starts_with(&format!("segment unusable: {}", log.segs[k].path.display())),
            "{stopped}"
        );

        let mut m = open(&log, Skip);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, good_last));
        let r = m.report();
        assert!(r.complete && !r.is_clean());
        assert_eq!(r.lost.len(), n_bad);
        for (l, s) in r.lost.iter().zip(&log.segs[k..]) {
            // The extent of an unreadable segment is unknown: open-ended from the first missing id.
            assert_eq!(
                (l.first_id, l.last_id, l.path.as_ref()),
                (good_last + 1, None, Some(&s.path))
            );
        }
        let skipped: Vec<_> = r.segments_skipped.iter().map(|s| s.path.clone()).collect();
        assert_eq!(
            skipped,
            log.segs[k..]
                .iter()
                .map(|s| s.path.clone())
                .collect::<Vec<_>>()
        );
    });
}

/// A corrupt header in the middle: the scan drops the file and replay sees the gap it leaves.
#[test]
fn bad_header_middle_segment_is_a_gap() {
    let tmp = tempdir("bad-header-mid");
    let log = write_log(tmp.path(), LogSpec::small());
    let gone = log.segs[4].clone();
    flip_byte(&gone.path, 0); // magic
    with_timeout("bad_header_middle_segment_is_a_gap", move || {
        let mut m = open(&log, Strict);
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(1, gone.first - 1));
        match d.err() {
            Error::Continuity {
                kind: ContinuityKind::Gap,
                previous,
                next,
                first_id,
                last_id,
            } => {
                assert_eq!((previous, next), (&log.segs[3].path, &log.segs[5].path));
                assert_eq!((*first_id, *last_id), (gone.first, gone.last));
            }
            other => panic!("{other:?}"),
        }
        let mut m = open(&log, Skip);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(
            &d.ids,
            &ranges(&[(1, gone.first - 1), (gone.last + 1, log.last)]),
        );
        let r = m.report();
        assert_eq!(r.lost.len(), 1);
        assert_eq!(
            (r.lost[0].first_id, r.lost[0].last_id),
            (gone.first, Some(gone.last))
        );
        assert!(matches!(
            r.files.last().unwrap().status,
            FileStatus::BadHeader {
                kind: CorruptionKind::HeaderMagic,
                ..
            }
        ));
    });
}

/// The first segment's header is corrupt (the file is still there, with sequence 1): that is
/// damage, not retention. Strict must not replay from segment 2 as if nothing happened, and
/// SkipCorrupted must record the loss.
#[test]
fn bad_header_first_segment_is_not_silent() {
    let tmp = tempdir("bad-header-first");
    let log = write_log(tmp.path(), LogSpec::small());
    let s0 = log.segs[0].clone();
    flip_byte(&s0.path, 20);
    with_timeout("bad_header_first_segment_is_not_silent", move || {
        let strict = Manager::open(&log.dir, opts(Strict, 0)).map(|mut m| {
            let d = drain(&mut m);
            (d, m.report())
        });
        match strict {
            Err(Error::SegmentUnusable { path, .. }) => assert_eq!(path, s0.path),
            Ok((d, _)) => match &d.end {
                Err(Error::SegmentUnusable { path, .. }) => assert_eq!(path, &s0.path),
                other => panic!("strict replay of a log whose first segment is unreadable ended with {other:?} after {} events", d.ids.len()),
            },
            Err(other) => panic!("{other:?}"),
        }
        let mut m = open(&log, Skip);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(s0.last + 1, log.last));
        let r = m.report();
        assert!(
            r.lost.iter().any(|l| l.path.as_ref() == Some(&s0.path)),
            "no lost range for {}: {:?}",
            s0.path.display(),
            r.lost
        );
        assert!(r.segments_skipped.iter().any(|s| s.path == s0.path));
    });
}

// ---------------------------------------------------------------------------------------------
// Missing / vanished segments
// ---------------------------------------------------------------------------------------------

/// A middle segment file deleted before the scan.
#[test]
fn missing_middle_segment_is_a_gap() {
    let tmp = tempdir("missing-mid");
    let log = write_log(tmp.path(), LogSpec::small());
    let gone = log.segs[6].clone();
    fs::remove_file(&gone.path).expect("delete");
    with_timeout("missing_middle_segment_is_a_gap", move || {
        let (prev, next) = (log.segs[5].path.clone(), log.segs[7].path.clone());
        let mut m = open(&log, Strict);
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(1, gone.first - 1));
        match d.err() {
            Error::Continuity {
                kind,
                previous,
                next: n,
                first_id,
                last_id,
            } => {
                assert_eq!(*kind, ContinuityKind::Gap);
                assert_eq!((previous, n), (&prev, &next));
                assert_eq!((*first_id, *last_id), (gone.first, gone.last));
            }
            other => panic!("{other:?}"),
        }
        assert_sticky(&mut m, d.err());

        let mut m = open(&log, Stop);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, gone.first - 1));
        assert_eq!(
            m.report().stopped,
            Some(format!(
                "gap between {} and {}: event ids {}..={}",
                prev.display(),
                next.display(),
                gone.first,
                gone.last
            ))
        );

        let mut m = open(&log, Skip);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(
            &d.ids,
            &ranges(&[(1, gone.first - 1), (gone.last + 1, log.last)]),
        );
        let r = m.report();
        assert!(r.complete);
        assert_eq!(
            r.lost,
            vec![LostRange {
                first_id: gone.first,
                last_id: Some(gone.last),
                reason: format!(
                    "missing segment between {} and {}",
                    prev.display(),
                    next.display()
                ),
                path: Some(prev.clone()),
            }]
        );
        assert_eq!(
            r.continuity,
            vec![ContinuityReport {
                kind: "gap".into(),
                previous: prev,
                next,
                first_id: gone.first,
                last_id: gone.last
            }]
        );
        assert!(r.segments_skipped.is_empty());

        // Resume exactly at the first missing id: positioned at the end of the previous segment.
        let mut m = Manager::open(&log.dir, opts(Strict, gone.first)).expect("open at gap start");
        let d = drain(&mut m);
        assert!(d.ids.is_empty());
        assert!(matches!(
            d.err(),
            Error::Continuity {
                kind: ContinuityKind::Gap,
                ..
            }
        ));
        // Resume inside the gap: strict error naming the gap.
        match Manager::open(&log.dir, opts(Strict, gone.first + 1)) {
            Err(Error::Continuity {
                kind: ContinuityKind::Gap,
                first_id,
                last_id,
                ..
            }) => {
                assert_eq!((first_id, last_id), (gone.first, gone.last))
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    });
}

/// A segment deleted after the scan (the preloader, or the manager, fails to open it): a typed
/// I/O error in strict mode, a recorded skip otherwise — never a silent jump (§17.13).
#[test]
fn segment_vanishing_after_scan() {
    let tmp = tempdir("vanish");
    let log = write_log(tmp.path(), LogSpec::small());
    let gone = log.segs[12].clone();
    with_timeout("segment_vanishing_after_scan", move || {
        for mode in [Strict, Stop, Skip] {
            // Restore the file for each mode.
            let backup = log.dir.join("backup.bin");
            fs::copy(&gone.path, &backup).expect("backup");
            let o = RecoveryOptions {
                mode,
                preload_depth: 1,
                ..RecoveryOptions::default()
            };
            let mut m = Manager::open(&log.dir, o).expect("open");
            fs::remove_file(&gone.path).expect("delete after scan");
            let d = drain(&mut m);
            fs::rename(&backup, &gone.path).expect("restore");
            let before = range(1, gone.first - 1);
            match mode {
                Strict => {
                    assert_ids(&d.ids, &before);
                    match d.err() {
                        Error::Io { op, path, source } => {
                            assert_eq!((*op, path), ("open", &gone.path));
                            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
                        }
                        other => panic!("{other:?}"),
                    }
                    assert_sticky(&mut m, d.err());
                }
                Stop => {
                    d.assert_ok();
                    assert_ids(&d.ids, &before);
                    assert!(m
                        .report()
                        .stopped
                        .unwrap()
                        .contains(gone.path.to_str().unwrap()));
                }
                Skip => {
                    d.assert_ok();
                    assert_ids(
                        &d.ids,
                        &ranges(&[(1, gone.first - 1), (gone.last + 1, log.last)]),
                    );
                    let r = m.report();
                    assert_eq!(r.segments_skipped.len(), 1);
                    assert_eq!(r.segments_skipped[0].path, gone.path);
                    assert_eq!(r.lost.len(), 1);
                    assert_eq!(
                        (r.lost[0].first_id, r.lost[0].last_id),
                        (gone.first, Some(gone.last))
                    );
                    assert!(
                        r.lost[0]
                            .reason
                            .starts_with("segment skipped: I/O error: open"),
                        "{}",
                        r.lost[0].reason
                    );
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Duplicates, overlaps, replaced segments (FlashStrike §17.15)
// ---------------------------------------------------------------------------------------------

/// A byte-identical copy of a sealed segment under another canonical name: replayed once.
#[test]
fn identical_duplicate_is_replayed_once() {
    let tmp = tempdir("dup-identical");
    let log = write_log(tmp.path(), LogSpec::small());
    let orig = log.segs[4].clone();
    let copy = seg_path(&log.dir, 999);
    fs::copy(&orig.path, &copy).expect("copy");
    with_timeout("identical_duplicate_is_replayed_once", move || {
        for mode in [Strict, Stop, Skip] {
            let mut m = open(&log, mode);
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &log.all_ids());
            let r = m.report();
            assert!(r.complete && r.is_clean(), "{r:?}");
            assert_eq!(
                r.duplicates,
                vec![DuplicateReport {
                    kept: orig.path.clone(),
                    other: copy.clone(),
                    first_id: orig.first,
                    last_id: orig.last,
                    identical: true
                }]
            );
            assert_eq!(r.segments_scanned, log.segs.len() as u64 + 1);
            assert_eq!(r.segments_replayed, log.segs.len() as u64);
            let f = r
                .files
                .iter()
                .find(|f| f.path == copy)
                .expect("copy listed");
            assert_eq!(f.status, FileStatus::NameMismatch { name_sequence: 999 });
            assert_eq!(r.events_delivered, log.last);
            // Resuming inside the duplicated range works too.
            m.resume(orig.first + 1)
                .expect("resume into duplicated segment");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(orig.first + 1, log.last));
        }
    });
}

/// Writes a second log ("B") with the same layout and ids but different payload bytes (salt 1).
fn write_b(tag: &str, spec: LogSpec) -> (tempfile::TempDir, Log) {
    let tmp = tempdir(tag);
    let log = write_log(tmp.path(), LogSpec { salt: 1, ..spec });
    // Format 1: format 2 refuses two logs' segments in one directory (`Error::MixedLogs`)
    // before any of the checks these tests are about.
    to_format_1(tmp.path());
    (tmp, log)
}

/// Segment M of another log (same ids, same layout, different payloads) copied in under another
/// name: a conflicting duplicate. Strict fails with ConflictingDuplicate after delivering the
/// original; skip delivers every id exactly once, from the original.
#[test]
fn conflicting_duplicate_each_mode() {
    let tmp = tempdir("dup-conflict");
    let log = write_log(tmp.path(), LogSpec::small());
    to_format_1(tmp.path()); // both logs in format 1 (see `write_b`)
    let (_tb, b) = write_b("dup-conflict-b", LogSpec::small());
    let mi = 4;
    assert_eq!(
        (b.segs[mi].first, b.segs[mi].last),
        (log.segs[mi].first, log.segs[mi].last)
    );
    let orig = log.segs[mi].clone();
    let copy = seg_path(&log.dir, 999);
    fs::copy(&b.segs[mi].path, &copy).expect("copy");
    with_timeout("conflicting_duplicate_each_mode", move || {
        let mut m = open(&log, Strict);
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(1, orig.last));
        match d.err() {
            Error::Continuity {
                kind,
                previous,
                next,
                first_id,
                last_id,
            } => {
                assert_eq!(*kind, ContinuityKind::ConflictingDuplicate);
                assert_eq!((previous, next), (&orig.path, &copy));
                assert_eq!((*first_id, *last_id), (orig.first, orig.last));
            }
            other => panic!("{other:?}"),
        }
        assert_sticky(&mut m, d.err());

        let mut m = open(&log, Stop);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, orig.last));
        assert_eq!(
            m.report().stopped,
            Some(format!(
                "conflicting duplicate between {} and {}: event ids {}..={}",
                orig.path.display(),
                copy.display(),
                orig.first,
                orig.last
            ))
        );

        let mut m = open(&log, Skip);
        let d = drain(&mut m); // every payload checked against log A (salt 0)
        d.assert_ok();
        assert_ids(&d.ids, &log.all_ids());
        let r = m.report();
        assert!(r.complete && !r.is_clean());
        assert!(r.lost.is_empty());
        assert_eq!(
            r.duplicates,
            vec![DuplicateReport {
                kept: orig.path.clone(),
                other: copy.clone(),
                first_id: orig.first,
                last_id: orig.last,
                identical: false
            }]
        );
        assert_eq!(
            r.continuity,
            vec![ContinuityReport {
                kind: "conflicting duplicate".into(),
                previous: orig.path.clone(),
                next: copy.clone(),
                first_id: orig.first,
                last_id: orig.last
            }]
        );
        assert_eq!(
            r.segments_skipped,
            vec![SkippedSegment {
                path: copy.clone(),
                reason: format!(
                    "holds only ids {}..{} already replayed",
                    orig.first,
                    orig.end()
                )
            }]
        );
        assert_eq!(r.segments_replayed, log.segs.len() as u64);
    });
}

/// Resuming inside a segment that has a conflicting duplicate must pick the same copy a replay
/// from the start keeps (the original), not the later duplicate: the payload of an id must not
/// depend on where the replay started.
#[test]
fn resume_into_conflicting_duplicate_uses_the_kept_copy() {
    let tmp = tempdir("dup-resume");
    let log = write_log(tmp.path(), LogSpec::small());
    to_format_1(tmp.path()); // both logs in format 1 (see `write_b`)
    let (_tb, b) = write_b("dup-resume-b", LogSpec::small());
    let mi = 4;
    let orig = log.segs[mi].clone();
    let copy = seg_path(&log.dir, 999);
    fs::copy(&b.segs[mi].path, &copy).expect("copy");
    with_timeout(
        "resume_into_conflicting_duplicate_uses_the_kept_copy",
        move || {
            // Skip mode from the start: ids of segment M come from the original (salt 0).
            let start = orig.first + 2;
            let mut m =
                Manager::open(&log.dir, opts(Skip, start)).expect("open inside duplicated segment");
            let d = drain(&mut m); // panics if a payload is log B's
            d.assert_ok();
            assert_ids(&d.ids, &range(start, log.last));
            // Strict: the original's events, then the same error as a replay from the start.
            let mut m = Manager::open(&log.dir, opts(Strict, start)).expect("open");
            let d = drain(&mut m);
            assert_ids(&d.ids, &range(start, orig.last));
            assert!(
                matches!(
                    d.err(),
                    Error::Continuity {
                        kind: ContinuityKind::ConflictingDuplicate,
                        ..
                    }
                ),
                "{:?}",
                d.err()
            );
        },
    );
}

/// A middle segment replaced by the same-numbered segment of another log (same ids and layout,
/// different payloads): ids are contiguous but the cross-segment chain breaks on both sides.
#[test]
fn replaced_segment_breaks_the_chain() {
    let tmp = tempdir("replaced");
    let log = write_log(tmp.path(), LogSpec::small());
    to_format_1(tmp.path()); // both logs in format 1 (see `write_b`)
    let (_tb, b) = write_b("replaced-b", LogSpec::small());
    let mi = 6;
    let seg = log.segs[mi].clone();
    fs::copy(&b.segs[mi].path, &seg.path).expect("replace");
    with_timeout("replaced_segment_breaks_the_chain", move || {
        let (prev, next) = (log.segs[mi - 1].path.clone(), log.segs[mi + 1].path.clone());
        // Strict: the sealed headers already show two logs' segments (the chain from the first
        // segment breaks into M), and the files cannot tell which side is genuine: nothing is
        // delivered, open fails naming the break.
        match Manager::open(&log.dir, opts(Strict, 0)) {
            Err(Error::Continuity {
                kind,
                previous,
                next: n,
                first_id,
                last_id,
            }) => {
                assert_eq!(kind, ContinuityKind::ChainBreak);
                assert_eq!((&previous, &n), (&prev, &seg.path));
                assert_eq!((first_id, last_id), (seg.first, seg.last));
            }
            other => panic!("strict open must refuse, got {:?}", other.map(|_| ())),
        }
        let mut m = open(&log, Stop);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, seg.first - 1));
        assert!(m
            .report()
            .stopped
            .unwrap()
            .starts_with("broken chain between"));
        // Skip: segment M chains with neither neighbour — another log's data — so it is never
        // delivered: its ids are lost (reported once, with the reason), everything else arrives.
        let mut m = open(&log, Skip);
        let d = drain(&mut m);
        d.assert_ok();
        let mut want = range(1, seg.first - 1);
        want.extend(range(seg.last + 1, log.last));
        assert_ids(&d.ids, &want);
        let r = m.report();
        assert!(!r.is_clean());
        assert_eq!(r.lost.len(), 1, "{:?}", r.lost);
        assert_eq!(
            (r.lost[0].first_id, r.lost[0].last_id),
            (seg.first, Some(seg.last))
        );
        assert!(
            r.lost[0].reason.contains("does not chain"),
            "{}",
            r.lost[0].reason
        );
        assert_eq!(r.segments_skipped.len(), 1);
        assert_eq!(r.segments_skipped[0].path, seg.path);
        assert_eq!(
            r.continuity,
            vec![
                ContinuityReport {
                    kind: "broken chain".into(),
                    previous: prev.clone(),
                    next: seg.path.clone(),
                    first_id: seg.first,
                    last_id: seg.last
                },
                ContinuityReport {
                    kind: "gap".into(),
                    previous: prev,
                    next,
                    first_id: seg.first,
                    last_id: seg.last
                },
            ]
        );
    });
}

/// A short segment of another log whose ids lie inside an earlier segment's range.
#[test]
fn overlapping_segment_inside_an_earlier_one() {
    let tmp = tempdir("overlap-in");
    let log = write_log(tmp.path(), LogSpec::small());
    to_format_1(tmp.path()); // both logs in format 1 (see `write_b`)
    let host = log.segs[5].clone();
    let first = host.first + 3;
    let tb = tempdir("overlap-in-b");
    let b = write_log(
        tb.path(),
        LogSpec {
            first_id: first,
            count: 5,
            salt: 1,
            segment_bytes: 1 << 20,
            block_bytes: 256,
        },
    );
    to_format_1(tb.path());
    assert_eq!(b.segs.len(), 1);
    assert!(first + 4 < host.last);
    let stray = seg_path(&log.dir, 998);
    fs::copy(&b.segs[0].path, &stray).expect("copy");
    with_timeout("overlapping_segment_inside_an_earlier_one", move || {
        let mut m = open(&log, Strict);
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(1, host.last));
        match d.err() {
            Error::Continuity {
                kind,
                previous,
                next,
                first_id,
                last_id,
            } => {
                assert_eq!(*kind, ContinuityKind::Overlap);
                assert_eq!((previous, next), (&host.path, &stray));
                assert_eq!((*first_id, *last_id), (first, first + 4));
            }
            other => panic!("{other:?}"),
        }
        let mut m = open(&log, Stop);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, host.last));
        assert!(m.report().stopped.unwrap().starts_with("overlap between"));
        let mut m = open(&log, Skip);
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &log.all_ids());
        let r = m.report();
        assert!(r.lost.is_empty());
        assert_eq!(
            r.duplicates,
            vec![DuplicateReport {
                kept: host.path.clone(),
                other: stray.clone(),
                first_id: first,
                last_id: first + 4,
                identical: false
            }]
        );
        assert_eq!(
            r.segments_skipped,
            vec![SkippedSegment {
                path: stray.clone(),
                reason: format!("holds only ids {}..{} already replayed", first, first + 5)
            }]
        );
        assert_eq!(r.continuity.len(), 1);
        assert_eq!(r.continuity[0].kind, "overlap");
    });
}

/// Log A with a segment of another log (salt 1) that starts inside segment `mi` and runs 7 ids
/// past its end, copied in as sequence 998. Returns (A, host segment, next segment, stray path,
/// stray's last id).
fn overlap_past_fixture(
    tag: &str,
) -> (
    Vec<tempfile::TempDir>,
    Log,
    SegInfo,
    SegInfo,
    std::path::PathBuf,
    u64,
) {
    let tmp = tempdir(tag);
    let log = write_log(tmp.path(), LogSpec::small());
    to_format_1(tmp.path()); // both logs in format 1 (see `write_b`)
    let mi = 5;
    let host = log.segs[mi].clone();
    let next = log.segs[mi + 1].clone();
    let first = host.last - 2;
    let tb = tempdir(&format!("{tag}-b"));
    let b = write_log(
        tb.path(),
        LogSpec {
            first_id: first,
            count: 10,
            salt: 1,
            segment_bytes: 1 << 20,
            block_bytes: 256,
        },
    );
    to_format_1(tb.path());
    let b_last = first + 9;
    assert!(b_last < next.last);
    let stray = seg_path(&log.dir, 998);
    fs::copy(&b.segs[0].path, &stray).expect("copy");
    (vec![tmp, tb], log, host, next, stray, b_last)
}

/// A segment of another log that starts inside segment M and runs past its end. Strict fails
/// at the overlap; stop stops there; skip (checked with `next_batch`) delivers every id exactly
/// once. Current policy in skip mode: the stray segment is replayed past the overlap (its ids
/// M.last+1.. come from the other log) and the genuine next segment is then replayed only past
/// the stray's end — both overlaps reported.
#[test]
fn overlapping_segment_running_past_the_earlier_one() {
    let (_dirs, log, host, next, stray, b_last) = overlap_past_fixture("overlap-past");
    with_timeout(
        "overlapping_segment_running_past_the_earlier_one",
        move || {
            let first = host.last - 2;
            let mut m = open(&log, Strict);
            let d = drain(&mut m);
            assert_ids(&d.ids, &range(1, host.last));
            match d.err() {
                Error::Continuity {
                    kind,
                    previous,
                    next: n,
                    first_id,
                    last_id,
                } => {
                    assert_eq!(*kind, ContinuityKind::Overlap);
                    assert_eq!((previous, n), (&host.path, &stray));
                    assert_eq!((*first_id, *last_id), (first, host.last));
                }
                other => panic!("{other:?}"),
            }
            let mut m = open(&log, Stop);
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(1, host.last));
            assert!(m.report().stopped.unwrap().starts_with("overlap between"));
            let mut m = open(&log, Skip);
            let mut ids = Vec::new();
            loop {
                let mut out = Vec::new();
                if m.next_batch(&mut out, 16).expect("next_batch") == 0 {
                    break;
                }
                for ev in &out {
                    let salt = u64::from((host.last + 1..=b_last).contains(&ev.id));
                    assert!(
                        payload_matches(salt, ev.id, ev.payload),
                        "payload of {}",
                        ev.id
                    );
                }
                ids.extend(out.iter().map(|e| e.id));
            }
            assert_ids(&ids, &log.all_ids());
            let r = m.report();
            assert!(r.lost.is_empty() && r.complete);
            assert_eq!(
                r.duplicates,
                vec![
                    DuplicateReport {
                        kept: host.path.clone(),
                        other: stray.clone(),
                        first_id: first,
                        last_id: host.last,
                        identical: false
                    },
                    DuplicateReport {
                        kept: stray.clone(),
                        other: next.path.clone(),
                        first_id: next.first,
                        last_id: b_last,
                        identical: false
                    },
                ]
            );
            let kinds: Vec<_> = r.continuity.iter().map(|c| c.kind.as_str()).collect();
            assert_eq!(kinds, ["overlap", "overlap"]);
        },
    );
}

/// The same as the skip part of `overlapping_segment_running_past_the_earlier_one`, with
/// `next()`: a segment installed after an overlap has been seek()ed into a block, and the first
/// read of it must not be mistaken for a framing error.
#[test]
fn overlapping_segment_running_past_skip_with_next() {
    let (_dirs, log, host, _next, _stray, b_last) = overlap_past_fixture("overlap-past-next");
    with_timeout(
        "overlapping_segment_running_past_skip_with_next",
        move || {
            let mut m = open(&log, Skip);
            let (lo, hi) = (host.last + 1, b_last);
            let d = drain_with(&mut m, &move |id| u64::from((lo..=hi).contains(&id)));
            d.assert_ok();
            assert_ids(&d.ids, &log.all_ids());
            assert!(m.report().lost.is_empty());
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Torn tail of the unsealed last segment
// ---------------------------------------------------------------------------------------------

/// A log as a crash leaves it: `count` synced events, last segment unsealed. Returns the copy
/// (taken while the writer was still open) and its segments.
fn crashed_log(tag: &str, count: u64) -> (tempfile::TempDir, Log) {
    let live = tempdir(&format!("{tag}-live"));
    let spec = LogSpec {
        count,
        ..LogSpec::small()
    };
    let mut w = Writer::open(live.path(), spec.writer_options()).expect("writer");
    append_events(&mut w, count, 0);
    w.sync().expect("sync");
    let snap = tempdir(tag);
    copy_wal_files(live.path(), snap.path());
    drop(w);
    let segs = segments(snap.path());
    let last = segs.last().unwrap();
    assert!(!last.sealed, "the snapshot's last segment is unsealed");
    assert_eq!(last.last, count);
    let log = Log {
        dir: snap.path().to_path_buf(),
        first: 1,
        last: count,
        segs,
    };
    (snap, log)
}

#[derive(Clone, Copy, Debug)]
enum Tear {
    /// 200 zero bytes appended (a preallocated or never-written block).
    Zeros,
    /// 40 zero bytes appended (less than a block header).
    FewZeros,
    /// The file cut in the middle of its last block's payload.
    Truncate,
    /// The writer had just created a new segment: header only, then zeros.
    HeaderOnly,
}

/// Garbage after the last block of an unsealed segment is not what an interrupted append
/// leaves (a prefix of its block, or zeros): it is corruption. Strict delivers every event, then
/// fails on it; the other modes end at it with the report unclean.
#[test]
fn garbage_after_the_last_block_is_corruption() {
    let (_snap, log) = crashed_log("torn-Garbage", 555);
    let last = log.segs.last().unwrap().clone();
    let junk: Vec<u8> = (0..150u32).map(|i| (i * 7 + 1) as u8).collect();
    append_bytes(&last.path, &junk);
    with_timeout("garbage_after_the_last_block_is_corruption", move || {
        for mode in [Strict, Stop, Skip] {
            let mut m = open(&log, mode);
            let d = drain(&mut m);
            assert_ids(&d.ids, &(1..=log.last).collect::<Vec<_>>());
            if mode == Strict {
                let e = d.err().to_string();
                assert!(e.contains("not a torn write"), "{e}");
            } else {
                d.assert_ok();
            }
            let r = m.report();
            assert!(r.torn_tail.is_none());
            assert!(!r.is_clean(), "{mode:?}");
        }
    });
}

/// Torn tails end the replay cleanly in every mode (strict too); the report records path,
/// offset and bytes, and stays clean.
#[test]
fn torn_tail_of_unsealed_last_segment() {
    for tear in [
        Tear::Zeros,
        Tear::FewZeros,
        Tear::Truncate,
        Tear::HeaderOnly,
    ] {
        let (_snap, log) = crashed_log(&format!("torn-{tear:?}"), 555);
        let last = log.segs.last().unwrap().clone();
        let lb = last.blocks.last().unwrap().clone();
        // What survives, and where the valid prefix ends.
        let (synced_last, offset, bytes, kind) = match tear {
            Tear::Zeros => {
                append_bytes(&last.path, &[0u8; 200]);
                (log.last, last.len, 200, "zero-filled")
            }
            Tear::FewZeros => {
                append_bytes(&last.path, &[0u8; 40]);
                (log.last, last.len, 40, "zero-filled")
            }
            Tear::Truncate => {
                assert!(last.blocks.len() >= 2, "need a block before the torn one");
                let cut = lb.payload_offset + 8;
                fs::OpenOptions::new()
                    .write(true)
                    .open(&last.path)
                    .unwrap()
                    .set_len(cut)
                    .unwrap();
                (lb.first - 1, lb.offset, cut - lb.offset, "truncated")
            }
            Tear::HeaderOnly => {
                let f = fs::OpenOptions::new().write(true).open(&last.path).unwrap();
                f.set_len(64).unwrap();
                f.set_len(64 + 128).unwrap();
                (last.first - 1, 64, 128, "zero-filled")
            }
        };
        // What the segment reader itself makes of the tail.
        let reader_reason = {
            let r =
                wal_recovery::SegmentReader::open_verified(&last.path).expect("open torn segment");
            match r.end() {
                SegmentEnd::TornTail(t) => {
                    assert_eq!((t.offset, t.bytes), (offset, bytes), "{tear:?}: reader");
                    t.reason.clone()
                }
                other => panic!("{tear:?}: the reader sees {other:?}, not a torn tail"),
            }
        };
        with_timeout("torn_tail_of_unsealed_last_segment", move || {
            for mode in [Strict, Stop, Skip] {
                let mut m = open(&log, mode);
                let d = drain(&mut m);
                d.assert_ok();
                assert_ids(&d.ids, &range(1, synced_last));
                assert_ended(&mut m);
                let r = m.report();
                let t = r
                    .torn_tail
                    .clone()
                    .unwrap_or_else(|| panic!("{tear:?} {mode:?}: no torn tail"));
                assert_eq!(t.path, last.path, "{tear:?}");
                assert_eq!((t.offset, t.bytes), (offset, bytes), "{tear:?}");
                // The reason is the reader's own account of the tail, passed through unchanged.
                assert_eq!(t.reason, reader_reason, "{tear:?}");
                assert!(!t.reason.is_empty());
                if kind == "zero-filled" {
                    assert!(t.reason.contains("zero"), "{tear:?}: {}", t.reason);
                }
                assert!(
                    r.is_clean(),
                    "{tear:?} {mode:?}: a torn tail alone is clean: {r:?}"
                );
                assert!(r.complete);
                assert_eq!(r.stopped, None);
                assert_eq!(r.events_delivered, synced_last);
                assert_eq!(r.last_delivered, Some(synced_last));
                // The end of the valid data is the end of the log for resume.
                m.resume(synced_last + 1).expect("resume at end");
                assert!(m.next().expect("end").is_none());
                match m.resume(synced_last + 2) {
                    Err(Error::EventBeyondEnd { requested, end }) => {
                        assert_eq!((requested, end), (synced_last + 2, synced_last + 1))
                    }
                    other => panic!("{other:?}"),
                }
                m.resume(synced_last).expect("resume at last");
                let d = drain(&mut m);
                d.assert_ok();
                assert_ids(&d.ids, &[synced_last]);
            }
        });
    }
}

/// A torn tail that is followed by a valid block is not torn: it is corruption.
#[test]
fn damage_before_a_valid_block_in_the_unsealed_segment_is_corruption() {
    let (_snap, log) = crashed_log("torn-mid", 555);
    let last = log.segs.last().unwrap().clone();
    assert!(last.blocks.len() >= 3);
    let bad = last.blocks[1].clone();
    flip_byte(&last.path, bad.payload_offset);
    with_timeout(
        "damage_before_a_valid_block_in_the_unsealed_segment_is_corruption",
        move || {
            let mut m = open(&log, Strict);
            let d = drain(&mut m);
            assert_ids(&d.ids, &range(1, bad.first - 1));
            let c = corruption(d.err());
            assert_eq!(
                (c.kind, c.offset, c.block),
                (CorruptionKind::PayloadChecksum, bad.offset, Some(1))
            );
            assert!(c.detail.contains("not a torn write"), "{}", c.detail);
            let mut m = open(&log, Skip);
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(1, bad.first - 1));
            let r = m.report();
            assert_eq!(r.torn_tail, None);
            // Unsealed: how far the damage extends is unknown.
            assert_eq!(
                r.lost,
                vec![LostRange {
                    first_id: bad.first,
                    last_id: None,
                    reason: c.what(),
                    path: Some(last.path.clone())
                }]
            );
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Directories
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_directory_and_file_instead_of_directory() {
    let tmp = tempdir("dirs");
    let missing = tmp.path().join("nope");
    let file = tmp.path().join("file");
    fs::write(&file, b"x").unwrap();
    with_timeout(
        "missing_directory_and_file_instead_of_directory",
        move || {
            for mode in [Strict, Stop, Skip] {
                match Manager::open(&missing, opts(mode, 0)) {
                    Err(Error::DirectoryNotFound(p)) => assert_eq!(p, missing),
                    other => panic!("{:?}", other.map(|_| ())),
                }
                match Manager::open(&file, opts(mode, 0)) {
                    Err(Error::NotADirectory(p)) => assert_eq!(p, file),
                    other => panic!("{:?}", other.map(|_| ())),
                }
            }
        },
    );
}

#[test]
fn empty_directory_ends_at_once() {
    let tmp = tempdir("empty");
    let dir = tmp.path().to_path_buf();
    fs::write(dir.join("README"), b"not a segment").unwrap();
    fs::create_dir(dir.join("sub.wal")).unwrap(); // a directory named like a segment
    with_timeout("empty_directory_ends_at_once", move || {
        for mode in [Strict, Stop, Skip] {
            let mut m = Manager::open(&dir, opts(mode, 0)).expect("open empty");
            assert!(m.next().expect("first next").is_none());
            assert!(m.next().expect("again").is_none());
            let mut out = Vec::new();
            assert_eq!(m.next_batch(&mut out, 10).expect("batch"), 0);
            drop(out);
            let r = m.report();
            assert!(r.complete && r.is_clean());
            assert_eq!((r.log_first_id, r.log_end_id), (None, None));
            assert_eq!(
                (r.events_delivered, r.first_delivered, r.last_delivered),
                (0, None, None)
            );
            assert_eq!(r.ignored_files, 2);
            assert!(r.files.is_empty());
            m.resume(0).expect("resume(0) on an empty log");
            assert!(m.next().expect("next").is_none());
        }
    });
}

/// error.rs: `EmptyLog` — "the log holds no events at all and a specific id was requested".
#[test]
fn specific_id_in_empty_log_is_empty_log_error() {
    let tmp = tempdir("empty-id");
    let dir = tmp.path().to_path_buf();
    with_timeout("specific_id_in_empty_log_is_empty_log_error", move || {
        assert!(matches!(
            Manager::open(&dir, opts(Strict, 5)),
            Err(Error::EmptyLog)
        ));
        let mut m = Manager::open(&dir, opts(Strict, 0)).expect("open");
        assert!(matches!(m.resume(5), Err(Error::EmptyLog)));
    });
}

/// Non-`.wal` files are counted and ignored; a junk `*.wal` with a non-canonical name is listed
/// with a bad-header status and does not affect the replay.
#[test]
fn ignored_and_junk_files() {
    let tmp = tempdir("junk");
    let log = write_log(tmp.path(), LogSpec::small());
    fs::write(log.dir.join("notes.txt"), b"hello").unwrap();
    fs::write(log.dir.join("00000000000000000001.wal.bak"), b"backup").unwrap();
    fs::create_dir(log.dir.join("subdir")).unwrap();
    let junk = log.dir.join("junk.wal");
    fs::write(&junk, vec![0xAB; 100]).unwrap();
    let tiny = log.dir.join("tiny.wal");
    fs::write(&tiny, b"WALS").unwrap();
    with_timeout("ignored_and_junk_files", move || {
        for mode in [Strict, Stop, Skip] {
            let mut m = open(&log, mode);
            let d = drain(&mut m);
            assert_ids(&d.ids, &log.all_ids());
            if mode == Strict {
                // Strict never ends clean on an unclean log: after every event, the first
                // damaged file that no id range places is the error.
                match d.err() {
                    Error::SegmentUnusable { path, reason } => {
                        assert_eq!(path, &junk);
                        assert!(reason.contains("bad segment header magic"), "{reason}");
                    }
                    e => panic!("expected SegmentUnusable for junk.wal, got {e}"),
                }
            } else {
                d.assert_ok();
            }
            let r = m.report();
            assert!(r.complete);
            assert!(r.lost.is_empty() && r.segments_skipped.is_empty() && r.continuity.is_empty());
            assert_eq!(r.stopped, None);
            assert_eq!(r.ignored_files, 4, "LOCK, notes.txt, .wal.bak, subdir");
            assert_eq!(r.segments_scanned, log.segs.len() as u64 + 2);
            let jf = r
                .files
                .iter()
                .find(|f| f.path == junk)
                .expect("junk.wal listed");
            assert_eq!(jf.name_sequence, None);
            assert_eq!(jf.len, 100);
            assert!(
                matches!(
                    jf.status,
                    FileStatus::BadHeader {
                        kind: CorruptionKind::HeaderMagic,
                        ..
                    }
                ),
                "{:?}",
                jf.status
            );
            assert_eq!(jf.status.label(), "bad header");
            let tf = r
                .files
                .iter()
                .find(|f| f.path == tiny)
                .expect("tiny.wal listed");
            assert!(
                matches!(
                    tf.status,
                    FileStatus::BadHeader {
                        kind: CorruptionKind::TooShort,
                        ..
                    }
                ),
                "{:?}",
                tf.status
            );
            // Unusable files make the report unclean (they are listed), nothing else does.
            assert!(!r.is_clean());
        }
    });
}

/// The segment a replay starts in is verified like the others — its payloads shared between the
/// replay and the preloader, whichever claims a block first — so damage in its last block,
/// checked by either thread, must stop the replay at exactly that block in every mode, as it
/// does elsewhere.
#[test]
fn damage_at_the_back_of_the_resume_segment() {
    let tmp = tempdir("resume-seg-back");
    let log = write_log(tmp.path(), LogSpec::small());
    let m_idx = 4;
    let seg = log.segs[m_idx].clone();
    assert!(seg.blocks.len() >= 3);
    let bad = seg.blocks.last().expect("blocks").clone();
    flip_byte(&seg.path, bad.payload_offset + 1);
    with_timeout("damage_at_the_back_of_the_resume_segment", move || {
        let start = seg.first + 1;
        for _ in 0..20 {
            // Strict: everything before the damaged block, then its typed error.
            let mut m = Manager::open(&log.dir, opts(Strict, start)).expect("strict open");
            let d = drain(&mut m);
            assert_ids(&d.ids, &range(start, bad.first - 1));
            let c = corruption(d.err());
            assert_eq!(c.path, seg.path);
            assert_eq!(c.kind, CorruptionKind::PayloadChecksum);
            assert_eq!(c.offset, bad.offset);
            assert_eq!(c.block, Some(seg.blocks.len() as u64 - 1));
            // Stop: the same events, then the end.
            let mut m = Manager::open(&log.dir, opts(Stop, start)).expect("stop open");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(&d.ids, &range(start, bad.first - 1));
            assert!(m.report().stopped.is_some());
            // Skip: the damaged block's ids lost, the rest of the log delivered.
            let mut m = Manager::open(&log.dir, opts(Skip, start)).expect("skip open");
            let d = drain(&mut m);
            d.assert_ok();
            assert_ids(
                &d.ids,
                &ranges(&[(start, bad.first - 1), (seg.last + 1, log.last)]),
            );
            let r = m.report();
            assert_eq!(
                r.lost
                    .iter()
                    .map(|l| (l.first_id, l.last_id))
                    .collect::<Vec<_>>(),
                vec![(bad.first, Some(seg.last))]
            );
        }
    });
}
