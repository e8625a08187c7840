//! FlashStrike's own logs (`tests/data/flashstrike/`, written by its C++ recorder; provenance in
//! the README there) replayed through the Rust API with default options: exactly the ids the
//! issue expects, every payload byte-equal to the event the recorder was given, and the
//! crash states reported as they are — the unfinalized tail, the empty pre-created segments,
//! the restart gap.

use std::path::PathBuf;

use wal_recovery::error::ContinuityKind;
use wal_recovery::flashstrike::event::{sample_event, RequestEvent};
use wal_recovery::recovery::format::{Format, FormatChoice};
use wal_recovery::recovery::scan::FileStatus;
use wal_recovery::{Error, Manager, RecoveryMode, RecoveryOptions, RecoveryReport};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/flashstrike")
        .join(name)
}

/// Replays `dir` to its end: the delivered ids as inclusive ranges, the error that ended it
/// (if any), and the report. Every payload is checked against the sample's event formula.
fn replay(dir: &str, mode: RecoveryMode) -> (Vec<(u64, u64)>, Option<Error>, RecoveryReport) {
    let opts = RecoveryOptions {
        mode,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(sample(dir), opts).expect("open");
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let err = loop {
        match m.next() {
            Ok(Some(ev)) => {
                assert_eq!(ev.payload.len(), 64, "raw 64-byte RequestEvent");
                let want = sample_event(ev.id).encode();
                assert_eq!(ev.payload, &want[..], "payload of event {}", ev.id);
                assert_eq!(
                    RequestEvent::decode(ev.payload).map(|r| r.event_id),
                    Some(ev.id)
                );
                match ranges.last_mut() {
                    Some((_, hi)) if *hi + 1 == ev.id => *hi = ev.id,
                    _ => ranges.push((ev.id, ev.id)),
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    (ranges, err, m.report())
}

fn assert_clean_end(dir: &str, want: &[(u64, u64)]) -> RecoveryReport {
    for mode in [
        RecoveryMode::Strict,
        RecoveryMode::StopAtCorruption,
        RecoveryMode::SkipCorrupted,
    ] {
        let (ranges, err, report) = replay(dir, mode);
        assert!(err.is_none(), "{dir} {mode:?}: {err:?}");
        assert_eq!(ranges, want, "{dir} {mode:?}");
        assert!(report.is_clean(), "{dir} {mode:?}: {}", report.to_json());
        assert_eq!(report.format, Some(Format::FlashStrikeV1));
        assert!(report.lost.is_empty());
    }
    replay(dir, RecoveryMode::Strict).2
}

#[test]
fn clean_log_replays_every_event() {
    let r = assert_clean_end("clean", &[(1, 20_000)]);
    assert!(r.torn_tail.is_none());
    assert_eq!(r.segments_replayed, 5);
    // wal_meta.dat is ignored (counted), never trusted.
    assert_eq!(r.ignored_files, 1);
}

#[test]
fn crash_salvages_the_unfinalized_active_segment_and_reports_its_tail() {
    let r = assert_clean_end("crash", &[(1, 17_920)]);
    let t = r
        .torn_tail
        .as_ref()
        .expect("the unfinalized tail is reported");
    assert_eq!(t.path, sample("crash").join("FS.00000004.wal"));
    // Six valid blocks after the 64-byte header; the rest of the preallocated file is zeros.
    assert_eq!(t.offset, 64 + 6 * 16_448);
    assert_eq!(t.bytes, 263_232 - (64 + 6 * 16_448));
    assert_eq!(t.reason, "zero-filled block");
    // The three pre-created segments are empty, not lost.
    let empty: Vec<_> = r
        .files
        .iter()
        .filter(|f| matches!(f.status, FileStatus::Empty { .. }))
        .map(|f| f.path.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        empty,
        ["FS.00000005.wal", "FS.00000006.wal", "FS.00000007.wal"]
    );
}

#[test]
fn crash_right_after_rotation_recovers_the_rotated_unfinalized_segments() {
    let r = assert_clean_end("crash_rotation", &[(1, 16_384)]);
    assert_eq!(r.segments_replayed, 4);
    let unsealed = r
        .files
        .iter()
        .filter(|f| f.header.is_some_and(|h| !h.sealed))
        .count();
    assert_eq!(unsealed, 4, "00..03 are written but never finalized");
    assert_eq!(
        r.files
            .iter()
            .filter(|f| matches!(f.status, FileStatus::Empty { .. }))
            .count(),
        3
    );
}

#[test]
fn cold_segments_are_replayed_in_their_place() {
    let r = assert_clean_end("cold", &[(1, 20_000)]);
    assert_eq!(r.segments_replayed, 5);
}

#[test]
fn restart_gap_is_a_typed_error_in_strict_mode() {
    let (ranges, err, report) = replay("restart", RecoveryMode::Strict);
    assert_eq!(ranges, [(1, 16_384)]);
    match err {
        Some(Error::Continuity {
            kind: ContinuityKind::Gap,
            first_id: 16_385,
            last_id: 18_000,
            ..
        }) => {}
        other => panic!("expected the gap 16385..=18000, got {other:?}"),
    }
    assert!(!report.is_clean());
}

#[test]
fn restart_gap_is_skipped_and_reported_lost_in_skip_mode() {
    let (ranges, err, report) = replay("restart", RecoveryMode::SkipCorrupted);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(ranges, [(1, 16_384), (18_001, 20_000)]);
    assert_eq!(report.lost.len(), 1);
    assert_eq!(report.lost[0].first_id, 16_385);
    assert_eq!(report.lost[0].last_id, Some(18_000));
    assert!(!report.is_clean());
}

#[test]
fn restart_gap_ends_the_replay_in_stop_mode() {
    let (ranges, err, report) = replay("restart", RecoveryMode::StopAtCorruption);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(ranges, [(1, 16_384)]);
    assert!(report
        .stopped
        .as_deref()
        .is_some_and(|s| s.contains("16385")));
}

#[test]
fn forcing_the_other_format_is_a_typed_error() {
    let opts = RecoveryOptions {
        format: FormatChoice::Native,
        ..RecoveryOptions::default()
    };
    match Manager::open(sample("clean"), opts) {
        Err(Error::SegmentUnusable { path, reason }) => {
            assert_eq!(path, sample("clean").join("FS.00000000.wal"));
            assert!(reason.contains("format is set to native"), "{reason}");
        }
        other => panic!(
            "expected SegmentUnusable, got {:?}",
            other.map(|m| m.report())
        ),
    }
}

#[test]
fn resume_from_the_middle_of_a_cold_segment() {
    let opts = RecoveryOptions {
        start_event_id: 3_000,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(sample("cold"), opts).expect("open");
    let mut want = 3_000;
    while let Some(ev) = m.next().expect("next") {
        assert_eq!(ev.id, want);
        want += 1;
    }
    assert_eq!(want, 20_001);
}

#[test]
fn a_directory_of_both_formats_is_refused_naming_a_file_of_each() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = wal_recovery::Writer::open(tmp.path(), wal_recovery::WriterOptions::default())
        .expect("writer");
    w.append(b"native").unwrap();
    w.close().unwrap();
    let fs_file = tmp.path().join("FS.00000000.wal");
    std::fs::copy(sample("clean").join("FS.00000000.wal"), &fs_file).unwrap();
    match Manager::open(tmp.path(), RecoveryOptions::default()) {
        Err(Error::MixedFormats {
            native,
            flashstrike,
        }) => {
            assert_eq!(native, tmp.path().join("00000000000000000001.wal"));
            assert_eq!(flashstrike, fs_file);
        }
        other => panic!("expected MixedFormats, got {:?}", other.map(|m| m.report())),
    }
    // Forcing one format reads it; the other format's file is damage of that log: Strict
    // refuses, SkipCorrupted delivers the log and reports the file skipped.
    let forced = |mode| RecoveryOptions {
        format: FormatChoice::Native,
        mode,
        ..RecoveryOptions::default()
    };
    match Manager::open(tmp.path(), forced(RecoveryMode::Strict)) {
        Err(Error::SegmentUnusable { path, reason }) => {
            assert_eq!(path, fs_file);
            assert!(reason.contains("format is set to native"), "{reason}");
        }
        other => panic!(
            "expected SegmentUnusable, got {:?}",
            other.map(|m| m.report())
        ),
    }
    let mut m = Manager::open(tmp.path(), forced(RecoveryMode::SkipCorrupted)).expect("skip");
    assert_eq!(m.next().expect("next").map(|e| e.id), Some(1));
    assert_eq!(m.next().expect("next").map(|e| e.id), None);
    assert_eq!(m.report().segments_skipped[0].path, fs_file);
}
