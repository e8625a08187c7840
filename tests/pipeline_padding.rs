//! Recovery pipeline: a non-zero byte in a native block's padding (between its payload and the
//! next 64-byte boundary — covered by no checksum) is found by shared verification at its
//! block, in each mode, whether the block is checked by the preloader or by the replay thread.
//! The padding is checked with the payload's CRC (whose last cache line it shares), not by the
//! preloader's header walk.
//!
//! Can it fail? With the padding check removed from `native::check_payload`
//! (`src/recovery/format/native.rs`, the file here untouched), Strict delivered every event:
//! `delivered ids differ: got 600 ids, want 108`.

mod pipeline_support;

use pipeline_support::*;
use wal_recovery::{CorruptionKind, Error, Manager, RecoveryMode};

use RecoveryMode::{SkipCorrupted as Skip, StopAtCorruption as Stop, Strict};

#[test]
fn padding_damage_in_a_middle_segment_is_found_at_its_block_in_each_mode() {
    let tmp = tempdir("padding-mid");
    let log = write_log(tmp.path(), LogSpec::small());
    // A middle segment's block whose payload does not end on a 64-byte boundary.
    let (seg, k, bad) = log.segs[4..]
        .iter()
        .flat_map(|s| s.blocks.iter().enumerate().map(move |(k, b)| (s, k, b)))
        .find(|(_, _, b)| b.payload_end % 64 != 0)
        .map(|(s, k, b)| (s.clone(), k, b.clone()))
        .expect("a block with padding");
    flip_byte(&seg.path, bad.payload_end);
    with_timeout("padding damage", move || {
        let mut m = Manager::open(&log.dir, opts(Strict, 0)).expect("open");
        let d = drain(&mut m);
        assert_ids(&d.ids, &range(1, bad.first - 1));
        let c = match d.err() {
            Error::Corrupt(c) => (**c).clone(),
            other => panic!("expected Error::Corrupt, got {other:?}"),
        };
        assert_eq!(
            (c.path.as_path(), c.kind, c.offset, c.block),
            (
                seg.path.as_path(),
                CorruptionKind::Padding,
                bad.offset,
                Some(k as u64)
            )
        );
        assert!(!m.report().is_clean());

        let mut m = Manager::open(&log.dir, opts(Stop, 0)).expect("open");
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(&d.ids, &range(1, bad.first - 1));
        assert!(!m.report().is_clean());

        let mut m = Manager::open(&log.dir, opts(Skip, 0)).expect("open");
        let d = drain(&mut m);
        d.assert_ok();
        assert_ids(
            &d.ids,
            &ranges(&[(1, bad.first - 1), (seg.last + 1, log.last)]),
        );
        let r = m.report();
        assert!(r.complete && !r.is_clean());
        assert_eq!(r.lost, lost_rest_of(&seg, bad.first, &c));
    });
}
