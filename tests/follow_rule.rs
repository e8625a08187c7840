//! Follow mode's visibility rule (docs/ARCHITECTURE.md, "Follow mode"), both sides of it, on
//! segments written by hand so that each shape is exact:
//!
//! - a block that does not verify *yet* — a write in flight — is "nothing yet": never
//!   delivered, never reported, delivered once complete;
//! - the same bytes become damage, handled per recovery mode, once the writer has provably moved
//!   past them: the segment is sealed, a later block exists, or the next segment exists;
//! - a sealed segment followed by the next one is crossed on the very next poll (no stall);
//! - a restarted writer's replaced empty segment is followed; a start id beyond the end waits.

mod follow_support;

use std::fs;
use std::time::Duration;

use follow_support::*;
use wal_recovery::{CorruptionKind, Error, Manager, Next, RecoveryMode};

const LIMIT: Duration = Duration::from_secs(30);

fn expect_event(m: &mut Manager, id: u64, ctx: &str) {
    match m.poll() {
        Ok(Next::Event(e)) => {
            assert_eq!(e.id, id, "{ctx}");
            assert_eq!(e.payload, payload(id).as_slice(), "{ctx}: payload");
        }
        other => panic!("{ctx}: expected event {id}, got {other:?}"),
    }
}

fn expect_corrupt(m: &mut Manager, kind: CorruptionKind, ctx: &str) {
    match m.next_timeout(Duration::from_secs(5)) {
        Err(Error::Corrupt(c)) => assert_eq!(c.kind, kind, "{ctx}: {c}"),
        other => panic!("{ctx}: expected a {kind:?} error, got {other:?}"),
    }
    // Strict failures repeat.
    assert!(
        matches!(m.poll(), Err(Error::Corrupt(_))),
        "{ctx}: error repeats"
    );
}

/// A live log: segment 1 with one block of `events` events, unsealed, and a follower opened
/// on it in `mode` (the temporary directory lives as long as the returned guard).
fn live_log(
    events: u32,
    mode: RecoveryMode,
) -> (tempfile::TempDir, std::path::PathBuf, RawSegment, Manager) {
    let tmp = tempdir_with_prefix("follow-rule");
    let dir = tmp.path().join("log");
    let mut s = RawSegment::create(&dir, 1, 1, 0);
    let b0 = s.next_block(events);
    s.append(&b0);
    let m = Manager::open(&dir, follow_opts(mode)).expect("open");
    (tmp, dir, s, m)
}
#[test]
fn a_block_in_flight_is_pending_until_it_verifies() {
    let (_tmp, _dir, mut s, mut m) = live_log(3, RecoveryMode::Strict);
    let mut next = 1;
    follow_to(&mut m, &mut next, 3, LIMIT, "first block");
    // Block 1 arrives in pieces: part of its header, then the header and half its payload.
    let b1 = s.next_block(5);
    s.append(&b1[..40]);
    assert_pending_for(&mut m, Duration::from_millis(100), "partial header");
    s.append(&b1[40..64 + (b1.len() - 64) / 2]);
    assert_pending_for(&mut m, Duration::from_millis(100), "half a payload");
    assert!(matches!(
        m.next_timeout(Duration::from_millis(20)),
        Ok(Next::Pending)
    ));
    assert!(m.report().is_clean(), "a write in flight is not damage");
    s.append(&b1[64 + (b1.len() - 64) / 2..]);
    for id in 4..=8 {
        expect_event(&mut m, id, "completed block");
    }
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    assert!(m.is_following());
    let r = m.report();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.events_delivered, 8);
    assert_eq!(r.last_delivered, Some(8));
}

/// A block whose payload is damaged, in the live segment: pending while the writer may still be
/// writing it; once `prove` shows the writer moved on, Strict fails naming the check.
fn damaged_block_then(prove: impl FnOnce(&mut RawSegment), ctx: &str) {
    let (_tmp, _dir, mut s, mut m) = live_log(2, RecoveryMode::Strict);
    let mut next = 1;
    follow_to(&mut m, &mut next, 2, LIMIT, ctx);
    let mut b1 = s.next_block(4);
    b1[64] ^= 0x40; // the first record's length: the payload CRC fails
    s.append(&b1);
    assert_pending_for(&mut m, Duration::from_millis(100), ctx);
    assert!(m.report().is_clean(), "{ctx}: not damage before the proof");
    prove(&mut s);
    expect_corrupt(&mut m, CorruptionKind::PayloadChecksum, ctx);
    let r = m.report();
    assert_eq!(
        r.events_delivered, 2,
        "{ctx}: nothing of the damaged block delivered"
    );
    assert!(r.error.is_some(), "{ctx}");
}

#[test]
fn damage_once_the_segment_is_sealed() {
    damaged_block_then(|s| s.seal(), "sealed");
}

#[test]
fn damage_once_a_later_block_exists() {
    damaged_block_then(
        |s| {
            let b2 = s.next_block(1);
            s.append(&b2);
        },
        "later block",
    );
}

#[test]
fn damage_once_the_next_segment_exists() {
    damaged_block_then(
        |s| {
            let dir = s.path.parent().expect("dir").to_path_buf();
            RawSegment::create(&dir, 2, s.next_id, s.chain);
        },
        "next segment",
    );
}

#[test]
fn an_unsealed_segment_left_behind_is_damage_a_few_idle_polls_after_the_next_one_appears() {
    // Nothing written after segment 1's last block, segment 1 never sealed, segment 2 created:
    // the writer left segment 1 unfinished. An idle poll looks for the next segment only every
    // few polls (the header is read every time), so the damage is reported within a few polls
    // rather than at the first — but it is reported.
    let (_tmp, dir, s, mut m) = live_log(2, RecoveryMode::Strict);
    let mut next = 1;
    follow_to(&mut m, &mut next, 2, LIMIT, "unsealed");
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    RawSegment::create(&dir, 2, s.next_id, s.chain);
    let mut pending = 0;
    let err = loop {
        match m.poll() {
            Ok(Next::Pending) if pending < 16 => pending += 1,
            Err(e) => break e,
            other => panic!("after {pending} pending polls: {other:?}"),
        }
    };
    match err {
        Error::Corrupt(c) => assert_eq!(c.kind, CorruptionKind::Truncated, "{c}"),
        e => panic!("expected a typed corruption, got {e}"),
    }
    assert!(pending < 8, "reported after {pending} pending polls");
}

#[test]
fn skip_corrupted_continues_in_the_next_segment_and_accounts_the_loss() {
    let (_tmp, dir, mut s, mut m) = live_log(2, RecoveryMode::SkipCorrupted);
    let mut next = 1;
    follow_to(&mut m, &mut next, 2, LIMIT, "skip");
    let mut b1 = s.next_block(4); // ids 3..=6, damaged
    b1[70] ^= 1;
    s.append(&b1);
    assert_pending_for(&mut m, Duration::from_millis(50), "skip: before the proof");
    s.seal();
    let mut s2 = RawSegment::create(&dir, 2, s.next_id, s.chain);
    let b = s2.next_block(3); // ids 7..=9
    s2.append(&b);
    let mut next = 7;
    follow_to(&mut m, &mut next, 9, LIMIT, "skip: after the damage");
    let r = m.report();
    assert!(!r.is_clean());
    assert_eq!(r.lost.len(), 1, "{:?}", r.lost);
    assert_eq!((r.lost[0].first_id, r.lost[0].last_id), (3, Some(6)));
    assert!(
        r.segments_skipped.iter().any(|k| k.path == s.path),
        "{:?}",
        r.segments_skipped
    );
    assert_eq!(r.events_delivered, 5);
}

#[test]
fn a_roll_is_crossed_on_the_next_poll() {
    let (_tmp, dir, s, mut m) = live_log(2, RecoveryMode::Strict);
    let mut next = 1;
    follow_to(&mut m, &mut next, 2, LIMIT, "roll");
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    // The writer's roll: seal, then create the next segment and write to it.
    s.seal();
    let mut s2 = RawSegment::create(&dir, 2, s.next_id, s.chain);
    let b = s2.next_block(1);
    s2.append(&b);
    expect_event(&mut m, 3, "first poll after the roll");
    assert_eq!(m.current_segment(), Some(s2.path.as_path()));
    // And again, with the new segment still empty when the follower first looks.
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    s2.seal();
    let mut s3 = RawSegment::create(&dir, 3, s2.next_id, s2.chain);
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    let b = s3.next_block(2);
    s3.append(&b);
    expect_event(&mut m, 4, "first block of segment 3");
    expect_event(&mut m, 5, "first block of segment 3");
    assert!(m.report().is_clean());
}

#[test]
fn a_replaced_empty_segment_is_followed() {
    // A writer that crashed with an empty, unsealed segment removes it when it reopens, and
    // creates it again (same sequence, first id and chain) at its first write.
    let tmp = tempdir_with_prefix("follow-rule");
    let dir = tmp.path().join("log");
    let mut s = RawSegment::create(&dir, 1, 1, 0);
    let b0 = s.next_block(2);
    s.append(&b0);
    s.seal();
    let empty = RawSegment::create(&dir, 2, s.next_id, s.chain);
    let mut m = Manager::open(&dir, follow_opts(RecoveryMode::Strict)).expect("open");
    let mut next = 1;
    follow_to(&mut m, &mut next, 2, LIMIT, "replaced");
    assert_pending_for(&mut m, Duration::from_millis(50), "empty segment 2");
    fs::remove_file(&empty.path).expect("remove the empty segment");
    assert_pending_for(&mut m, Duration::from_millis(50), "segment 2 removed");
    let mut again = RawSegment::create(&dir, 2, s.next_id, s.chain);
    let b = again.next_block(3);
    again.append(&b);
    follow_to(&mut m, &mut next, 5, LIMIT, "segment 2 recreated");
    assert!(m.report().is_clean());
}

#[test]
fn a_start_id_beyond_the_end_waits_for_it() {
    let tmp = tempdir_with_prefix("follow-rule");
    let dir = tmp.path().join("log");
    let mut s = RawSegment::create(&dir, 1, 1, 0);
    let b0 = s.next_block(3);
    s.append(&b0);
    let mut opts = follow_opts(RecoveryMode::Strict);
    opts.start_event_id = 10;
    let mut m = Manager::open(&dir, opts).expect("open beyond the end");
    assert_pending_for(&mut m, Duration::from_millis(50), "beyond the end");
    let b1 = s.next_block(9); // ids 4..=12
    s.append(&b1);
    let mut next = 10;
    follow_to(&mut m, &mut next, 12, LIMIT, "from id 10");
    assert!(matches!(m.poll(), Ok(Next::Pending)));
    assert_eq!(m.report().first_delivered, Some(10));
}

#[test]
fn an_empty_directory_and_a_missing_one_wait_for_the_first_segment() {
    let tmp = tempdir_with_prefix("follow-rule");
    for dir in [tmp.path().join("missing"), tmp.path().join("empty")] {
        if dir.ends_with("empty") {
            fs::create_dir(&dir).expect("mkdir");
        }
        let mut m = Manager::open(&dir, follow_opts(RecoveryMode::Strict)).expect("open");
        assert_pending_for(&mut m, Duration::from_millis(30), "no log yet");
        let mut s = RawSegment::create(&dir, 1, 1, 0);
        let b = s.next_block(4);
        s.append(&b);
        let mut next = 1;
        follow_to(&mut m, &mut next, 4, LIMIT, "first segment");
        let mut batch = Vec::new();
        assert_eq!(
            m.next_batch(&mut batch, 10).expect("batch"),
            0,
            "nothing yet"
        );
    }
}

#[test]
fn batches_deliver_the_tail_block_by_block() {
    let tmp = tempdir_with_prefix("follow-rule");
    let dir = tmp.path().join("log");
    let mut s = RawSegment::create(&dir, 1, 1, 0);
    let mut m = Manager::open(&dir, follow_opts(RecoveryMode::Strict)).expect("open");
    for count in [5u32, 1, 7] {
        let b = s.next_block(count);
        s.append(&b);
    }
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + LIMIT;
    while got.len() < 13 {
        let mut batch = Vec::new();
        m.next_batch(&mut batch, 4).expect("batch");
        assert!(batch.len() <= 4);
        got.extend(batch.iter().map(|e| (e.id, e.payload.to_vec())));
        assert!(std::time::Instant::now() < deadline, "batches stalled");
    }
    let want: Vec<_> = (1..=13).map(|id| (id, payload(id))).collect();
    assert_eq!(got, want);
    assert_eq!(m.report().events_delivered, 13);
}

#[test]
fn follow_is_refused_for_flashstrike_and_bad_idle_settings() {
    let tmp = tempdir_with_prefix("follow-rule");
    let mut opts = follow_opts(RecoveryMode::Strict);
    opts.format = wal_recovery::recovery::options::FormatChoice::FlashStrikeV1;
    assert!(matches!(
        Manager::open(tmp.path(), opts),
        Err(Error::InvalidArgument(_))
    ));
    let mut opts = follow_opts(RecoveryMode::Strict);
    opts.idle = wal_recovery::IdleStrategy::Backoff {
        spins: 1,
        yields: 1,
        min_sleep: Duration::from_millis(2),
        max_sleep: Duration::from_millis(1),
    };
    assert!(matches!(
        Manager::open(tmp.path(), opts),
        Err(Error::InvalidArgument(_))
    ));
}
