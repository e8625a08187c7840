//! Pure, in-memory checks of the FlashStrike decoders, small enough for Miri
//! (`scripts/miri.sh`): header decoding (finalized, unfinalized, pre-created, every single-bit
//! flip), block checks and payload checks on a generated segment (every single-bit flip of a
//! block header, flips in the events, the unused slots and the preallocated tail), record
//! framing, `RequestEvent` round trips and (natively only) LZ4 frame decoding of cut and garbled
//! frames. No files, no mmap, no threads. Also part of the normal test run.

use wal_recovery::flashstrike::cold;
use wal_recovery::flashstrike::event::{sample_event, RequestEvent};
use wal_recovery::flashstrike::generate::{compress_cold, segment_bytes, SegmentState};
use wal_recovery::flashstrike::{BLOCK_BYTES, HEADER_BYTES};
use wal_recovery::recovery::format::{
    check_block, decode_header, Cursor, Decoded, Format, FormatChoice, RecordFraming,
};

/// Fewer iterations under Miri (it interprets every instruction).
const fn scale(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

/// A segment of 2 block slots holding `count` events from id 1.
fn segment(count: u64, state: SegmentState) -> Vec<u8> {
    segment_bytes(7, 2, 1, count, 100, 200, state, &sample_event)
}

fn cursor(first_id: u64) -> Cursor {
    Cursor {
        off: HEADER_BYTES,
        chain: 0,
        expect_id: first_id,
        block_no: 0,
        log_id: None,
    }
}

/// Every block of `data` as the reader walks it, with payloads: ids delivered, or the first
/// failure's kind.
fn walk(data: &[u8], first_id: u64) -> Result<Vec<u64>, String> {
    let mut c = cursor(first_id);
    let mut ids = Vec::new();
    while c.off < data.len() {
        if data[c.off..c.off + 64].iter().all(|&b| b == 0) {
            break;
        }
        let ok = check_block(Format::FlashStrikeV1, data, &c, true)
            .map_err(|f| f.kind.as_str().to_string())?;
        let framing = RecordFraming::of(Format::FlashStrikeV1);
        let block = &data[..ok.entry.payload_end];
        let mut pos = ok.entry.payload_offset;
        for k in 0..u64::from(ok.entry.event_count) {
            let (s, e, next) = framing.decode_at(block, pos).expect("framed");
            let ev = RequestEvent::decode(&block[s..e]).expect("64 bytes");
            assert_eq!(
                ev,
                sample_event(ok.entry.first_event_id + k),
                "wrong payload"
            );
            ids.push(ev.event_id);
            pos = next;
        }
        c.chain = ok.chain;
        c.expect_id += u64::from(ok.entry.event_count);
        c.off = ok.next_off;
        c.block_no += 1;
    }
    Ok(ids)
}

#[test]
fn headers_of_every_state() {
    let fin = segment(300, SegmentState::Finalized);
    match decode_header(&fin[..128], FormatChoice::Auto) {
        Ok(Decoded::Segment { header, format, .. }) => {
            assert_eq!(format, Format::FlashStrikeV1);
            assert!(header.sealed);
            assert_eq!((header.first_event_id, header.last_event_id), (1, 300));
            assert_eq!(
                (header.event_count, header.block_count, header.sequence),
                (300, 2, 7)
            );
        }
        other => panic!("{other:?}"),
    }
    let open = segment(512, SegmentState::Unfinalized { zero_magic: true });
    assert_eq!(open[0], 0, "pre-created: low magic byte zeroed");
    match decode_header(&open[..128], FormatChoice::Auto) {
        Ok(Decoded::Segment { header, .. }) => {
            assert!(!header.sealed);
            assert_eq!(header.first_event_id, 1, "from the first block header");
        }
        other => panic!("{other:?}"),
    }
    let empty = segment(0, SegmentState::Unfinalized { zero_magic: true });
    assert!(matches!(
        decode_header(&empty[..128], FormatChoice::Auto),
        Ok(Decoded::Empty { .. })
    ));
    assert!(decode_header(&fin[..128], FormatChoice::Native).is_err());
    assert!(decode_header(&fin[..10], FormatChoice::Auto).is_err());
}

#[test]
fn every_header_bit_flip_is_refused() {
    let fin = segment(300, SegmentState::Finalized);
    for bit in 0..64 * 8 {
        let mut b = fin[..128].to_vec();
        b[bit / 8] ^= 1 << (bit % 8);
        match decode_header(&b, FormatChoice::Auto) {
            Err(_) => {}
            // Bytes 32..48 (timestamps) are covered by the checksum too, so nothing passes.
            Ok(d) => panic!("bit {bit}: decoded {d:?}"),
        }
    }
}

#[test]
fn clean_segments_walk_to_their_events() {
    assert_eq!(
        walk(&segment(300, SegmentState::Finalized), 1),
        Ok((1..=300).collect())
    );
    // An unfinalized segment holds only its full blocks.
    let open = segment(300, SegmentState::Unfinalized { zero_magic: false });
    assert_eq!(walk(&open, 1), Ok((1..=256).collect()));
}

#[test]
fn every_block_header_bit_flip_fails_its_block() {
    let fin = segment(300, SegmentState::Finalized);
    for bit in (0..64 * 8).step_by(scale(1, 13)) {
        let mut b = fin.clone();
        b[HEADER_BYTES + bit / 8] ^= 1 << (bit % 8);
        assert!(
            walk(&b, 1).is_err(),
            "bit {bit} of block 0's header went unnoticed"
        );
    }
}

#[test]
fn flips_in_events_slots_and_tail_are_found() {
    let fin = segment(300, SegmentState::Finalized);
    let block1 = HEADER_BYTES + BLOCK_BYTES;
    let step = scale(61, 997);
    // Events of block 0, events and unused slots of the partial block 1.
    let mut off = HEADER_BYTES + 64;
    while off < fin.len() {
        if off < block1 || off >= block1 + 64 {
            let mut b = fin.clone();
            b[off] ^= 0x10;
            assert!(walk(&b, 1).is_err(), "flip at {off} went unnoticed");
        }
        off += step;
    }
}

#[test]
fn fixed_framing_never_overruns() {
    let f = RecordFraming::Fixed(64);
    let block = [0u8; 130];
    assert_eq!(f.decode_at(&block, 0), Some((0, 64, 64)));
    assert_eq!(f.decode_at(&block, 64), Some((64, 128, 128)));
    assert_eq!(f.decode_at(&block, 128), None);
    assert_eq!(f.decode_at(&block, usize::MAX - 3), None);
}

#[test]
fn request_events_round_trip() {
    for id in [1u64, 2, 997, u64::from(u32::MAX) + 5] {
        let e = sample_event(id);
        assert_eq!(RequestEvent::decode(&e.encode()), Some(e));
    }
    assert_eq!(RequestEvent::decode(&[0u8; 63]), None);
    assert_eq!(RequestEvent::decode(&[0u8; 65]), None);
}

// LZ4 frames use 4 MiB block buffers whatever the input: far too slow to interpret under Miri
// (minutes per frame). The frame decoder is safe Rust (`lz4_flex`'s safe decoder) and is
// exercised natively here and by the fuzz target.
#[test]
#[cfg_attr(miri, ignore = "4 MiB LZ4 block buffers are too slow under Miri")]
fn cut_and_garbled_frames_are_errors() {
    let fin = segment(300, SegmentState::Finalized);
    let lz4 = compress_cold(&fin);
    assert_eq!(cold::decompress(&lz4, u64::MAX).unwrap(), fin);
    let step = scale(97, lz4.len() / 4);
    let mut cut = 0;
    while cut < lz4.len() {
        assert!(
            cold::decompress(&lz4[..cut], u64::MAX).is_err(),
            "cut at {cut}"
        );
        cut += step.max(1);
    }
    let mut bad = lz4.clone();
    bad[0] ^= 1;
    assert!(cold::decompress(&bad, u64::MAX).is_err());
    assert!(cold::decompress(&lz4, 100).is_err(), "over the limit");
}
