//! A crash in the middle of FlashStrike's freeze leaves a segment twice: `X.wal` and the
//! `X.wal.lz4` compressed from it (the maintainer writes the compressed copy, then deletes the
//! original). The copy that verifies is replayed; the other is reported as an identical
//! duplicate when both verify, as a conflict otherwise — and a Strict replay then ends in that
//! typed error, after every event.

use std::fs;
use std::path::{Path, PathBuf};

use wal_recovery::error::ContinuityKind;
use wal_recovery::flashstrike::event::sample_event;
use wal_recovery::{Error, Manager, RecoveryMode, RecoveryOptions, RecoveryReport};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/flashstrike")
        .join(name)
}

/// A copy of the clean sample plus the cold copy of its segment 1.
fn both_copies() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    for e in fs::read_dir(sample("clean")).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    let cold = tmp.path().join("FS.00000001.wal.lz4");
    fs::copy(sample("cold").join("FS.00000001.wal.lz4"), &cold).unwrap();
    (tmp, cold)
}

fn replay(dir: &Path, mode: RecoveryMode) -> (u64, Option<Error>, RecoveryReport) {
    let opts = RecoveryOptions {
        mode,
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(dir, opts).expect("open");
    let mut next_id = 1;
    let err = loop {
        match m.next() {
            Ok(Some(ev)) => {
                assert_eq!(ev.id, next_id);
                assert_eq!(ev.payload, &sample_event(ev.id).encode()[..]);
                next_id += 1;
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    (next_id - 1, err, m.report())
}

#[test]
fn both_copies_verify_one_is_replayed_the_other_is_an_identical_duplicate() {
    let (tmp, cold) = both_copies();
    let (last, err, r) = replay(tmp.path(), RecoveryMode::Strict);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(last, 20_000);
    assert_eq!(r.duplicates.len(), 1);
    let d = &r.duplicates[0];
    assert!(d.identical);
    assert_eq!(d.kept, tmp.path().join("FS.00000001.wal"));
    assert_eq!(d.other, cold);
    assert_eq!((d.first_id, d.last_id), (4_097, 8_192));
    assert!(r.is_clean());
}

#[test]
fn a_damaged_original_gives_way_to_the_cold_copy_and_is_a_conflict() {
    let (tmp, cold) = both_copies();
    // One payload byte of the original's block 3 (event 4097 + 3*256 + 10, field `price`).
    let wal = tmp.path().join("FS.00000001.wal");
    let mut bytes = fs::read(&wal).unwrap();
    bytes[64 + 3 * 16_448 + 64 + 10 * 64 + 16] ^= 0x01;
    fs::write(&wal, bytes).unwrap();
    for mode in [RecoveryMode::Strict, RecoveryMode::SkipCorrupted] {
        let (last, err, r) = replay(tmp.path(), mode);
        // Every event is delivered, from the copy that verifies.
        assert_eq!(last, 20_000, "{mode:?}");
        let d = &r.duplicates[0];
        assert!(!d.identical);
        assert_eq!(d.kept, cold);
        assert_eq!(d.other, wal);
        assert!(!r.is_clean());
        match (mode, err) {
            (RecoveryMode::Strict, Some(Error::Continuity { kind, next, .. })) => {
                assert_eq!(kind, ContinuityKind::ConflictingDuplicate);
                assert_eq!(next, wal);
            }
            (RecoveryMode::SkipCorrupted, None) => {}
            (m, e) => panic!("{m:?}: unexpected end {e:?}"),
        }
    }
}

#[test]
fn a_truncated_cold_copy_is_reported_and_strict_does_not_end_clean() {
    let (tmp, cold) = both_copies();
    let bytes = fs::read(&cold).unwrap();
    fs::write(&cold, &bytes[..bytes.len() / 2]).unwrap();
    let (last, err, r) = replay(tmp.path(), RecoveryMode::Strict);
    assert_eq!(last, 20_000);
    match err {
        Some(Error::SegmentUnusable { path, reason }) => {
            assert_eq!(path, cold);
            assert!(reason.contains("LZ4 frame"), "{reason}");
        }
        e => panic!("expected the truncated frame as the error, got {e:?}"),
    }
    assert!(!r.is_clean());
    let (last, err, _) = replay(tmp.path(), RecoveryMode::SkipCorrupted);
    assert_eq!(last, 20_000);
    assert!(err.is_none());
}

/// Opening a cold segment means decompressing it: the replay thread waits for the preloader
/// instead of doing it itself (the synchronous fallback still serves the `.wal` segments).
#[test]
fn a_slow_preloader_is_waited_for_on_cold_segments() {
    let opts = RecoveryOptions {
        preload_delay: std::time::Duration::from_millis(40),
        fallback_after: std::time::Duration::from_millis(1),
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open(sample("cold"), opts).expect("open");
    let mut next_id = 1;
    while let Some(ev) = m.next().expect("next") {
        assert_eq!(ev.id, next_id);
        next_id += 1;
    }
    assert_eq!(next_id, 20_001);
    // FS.00000000.wal.lz4 is opened by `open` (the resume segment), FS.00000001.wal.lz4 comes
    // from the preloader however slow it is, FS.00000002..04.wal are opened here.
    assert_eq!(m.report().fallback_opens, 3);
}
