//! Pure, in-memory checks of the format code, small enough for Miri (`scripts/miri.sh`): segment
//! and block header encode/decode (round trips, every single-bit flip, field checks behind a
//! valid CRC), record framing (encode, decode, overruns), and the report's JSON string escaping.
//! No files, no mmap, no threads. Also part of the normal test run.

use wal_recovery::recovery::report::escape_into;
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::header::SegmentHeader;
use wal_recovery::segment::{record, record_size, CHAIN_SEED, MAX_BLOCK_PAYLOAD};

/// Fewer iterations under Miri (it interprets every instruction).
const fn scale(native: u64, miri: u64) -> u64 {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

fn segment_header(r: &mut Rng, sealed: bool) -> SegmentHeader {
    let first = 1 + r.next_u64() % (1 << 40);
    let count = if sealed { r.next_u64() % 1000 } else { 0 };
    // Both format versions: 1 (no log id) and 2 (a non-zero log id where 1 has the last id).
    let version = if r.next_u64().is_multiple_of(2) { 1 } else { 2 };
    SegmentHeader {
        version,
        log_id: if version == 2 { r.next_u64() | 1 } else { 0 },
        sealed,
        block_count: if sealed && count > 0 {
            1 + (r.next_u64() % 50) as u32
        } else {
            0
        },
        sequence: r.next_u64(),
        first_event_id: first,
        last_event_id: if sealed { first + count - 1 } else { 0 },
        event_count: count,
        created_unix_ns: r.next_u64(),
        prev_chain: r.next_u64() as u32,
        last_chain: if sealed { r.next_u64() as u32 } else { 0 },
    }
}

#[test]
fn segment_header_round_trip_and_bit_flips() {
    let mut r = Rng::new(1);
    for k in 0..scale(200, 4) {
        let h = segment_header(&mut r, k % 2 == 0);
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        // Every single-bit flip is rejected (CRC or magic), never decoded into another header.
        let bits: Vec<usize> = if cfg!(miri) {
            (0..512).step_by(37).collect()
        } else {
            (0..512).collect()
        };
        for bit in bits {
            let mut m = b;
            m[bit / 8] ^= 1 << (bit % 8);
            assert!(
                SegmentHeader::decode(&m).is_err(),
                "bit {bit} flip accepted"
            );
        }
    }
}

#[test]
fn segment_header_field_checks_behind_valid_crc() {
    let mut r = Rng::new(2);
    let h = segment_header(&mut r, true);
    let fix = |mut b: [u8; 64]| {
        let crc = crc32c::crc32c_append(crc32c::crc32c(&b[0..8]), &b[12..64]);
        b[8..12].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let mut bad = h.encode();
    bad[4] = 3; // version (1 and 2 are read)
    assert!(SegmentHeader::decode(&fix(bad)).is_err());
    let mut bad = h.encode();
    bad[6] = 0x81; // unknown flag
    assert!(SegmentHeader::decode(&fix(bad)).is_err());
    let mut bad = h.encode();
    bad[24..32].copy_from_slice(&0u64.to_le_bytes()); // first id 0
    assert!(SegmentHeader::decode(&fix(bad)).is_err());
    let mut bad = h.encode();
    bad[40..48].copy_from_slice(&u64::MAX.to_le_bytes()); // count overflows
    assert!(SegmentHeader::decode(&fix(bad)).is_err());
    let open = SegmentHeader { sealed: false, ..h };
    assert!(
        SegmentHeader::decode(&fix(open.encode())).is_err(),
        "unsealed with sealed-only fields"
    );
}

#[test]
fn block_header_round_trip_chain_and_bit_flips() {
    let mut r = Rng::new(3);
    let mut chain = CHAIN_SEED;
    let mut first = 1u64;
    for index in 0..scale(100, 3) as u32 {
        let mut payload = Vec::new();
        let count = 1 + (r.next_u64() % 5) as u32;
        for _ in 0..count {
            let len = (r.next_u64() % 40) as usize;
            let p: Vec<u8> = (0..len).map(|_| r.next_u64() as u8).collect();
            record::encode_into(&mut payload, &p);
        }
        let h = BlockHeader::for_payload(index, first, count, &payload, chain);
        assert!(h.chain_extends(chain));
        assert!(!h.chain_extends(chain ^ 1));
        let b = h.encode();
        assert_eq!(BlockHeader::decode(&b), Ok(h));
        let bits: Vec<usize> = if cfg!(miri) {
            (0..512).step_by(41).collect()
        } else {
            (0..512).collect()
        };
        for bit in bits {
            let mut m = b;
            m[bit / 8] ^= 1 << (bit % 8);
            match BlockHeader::decode(&m) {
                Err(_) => {}
                Ok(d) => panic!("bit {bit} flip decoded as {d:?}"),
            }
        }
        chain = h.chain;
        first += u64::from(count);
    }
}

#[test]
fn block_header_bounds_behind_valid_crc() {
    let fix = |mut b: [u8; 64]| {
        let crc = crc32c::crc32c_append(crc32c::crc32c(&b[0..32]), &b[36..64]);
        b[32..36].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let h = BlockHeader::for_payload(0, 1, 1, &[0u8; 8], CHAIN_SEED);
    for (what, edit) in [
        ("zero count", (16usize, 0u32)),
        ("unaligned length", (20, 12)),
        ("length over 16 MiB", (20, (MAX_BLOCK_PAYLOAD + 8) as u32)),
        ("count exceeds length / 8", (16, 2)),
    ] {
        let mut b = h.encode();
        b[edit.0..edit.0 + 4].copy_from_slice(&edit.1.to_le_bytes());
        assert!(BlockHeader::decode(&fix(b)).is_err(), "{what}");
    }
    let mut b = h.encode();
    b[8..16].copy_from_slice(&u64::MAX.to_le_bytes()); // first + count overflows
    assert!(BlockHeader::decode(&fix(b)).is_err());
    let mut b = h.encode();
    b[56] = 1; // reserved byte (52..64; 36..52 hold format 2's synced offset and log id)
    assert!(BlockHeader::decode(&fix(b)).is_err());
}

#[test]
fn record_framing_round_trip_and_overruns() {
    let mut r = Rng::new(4);
    let mut buf = Vec::new();
    let mut payloads = Vec::new();
    for _ in 0..scale(300, 12) {
        let len = (r.next_u64() % 70) as usize;
        let p: Vec<u8> = (0..len).map(|_| r.next_u64() as u8).collect();
        record::encode_into(&mut buf, &p);
        payloads.push(p);
    }
    assert_eq!(
        buf.len(),
        payloads.iter().map(|p| record_size(p.len())).sum::<usize>()
    );
    let mut pos = 0;
    for p in &payloads {
        let (s, e, next) = record::decode_at(&buf, pos).expect("record");
        assert_eq!(&buf[s..e], &p[..]);
        assert_eq!(next % 8, 0);
        pos = next;
    }
    assert_eq!(pos, buf.len());
    assert_eq!(record::decode_at(&buf, buf.len()), None);
    // Overruns: a length past the block, a length prefix cut short, offsets past the end.
    let mut bad = Vec::new();
    record::encode_into(&mut bad, b"abc");
    bad[0..4].copy_from_slice(&100u32.to_le_bytes());
    assert_eq!(record::decode_at(&bad, 0), None);
    bad[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(record::decode_at(&bad, 0), None);
    assert_eq!(record::decode_at(&bad[..3], 0), None);
    assert_eq!(record::decode_at(&bad, usize::MAX - 2), None);
    assert_eq!(record::decode_at(&[], 0), None);
}

#[test]
fn json_escaping() {
    let cases: &[(&str, &str)] = &[
        ("", r#""""#),
        ("plain", r#""plain""#),
        ("quote \" backslash \\", r#""quote \" backslash \\""#),
        ("\n\r\t", r#""\n\r\t""#),
        ("\u{0}\u{1f}\u{7f}", "\"\\u0000\\u001f\u{7f}\""),
        ("ünïcødé ✓ 𝄞", "\"ünïcødé ✓ 𝄞\""),
        ("/path/with spaces/x.wal", r#""/path/with spaces/x.wal""#),
    ];
    for (input, want) in cases {
        let mut out = String::from("prefix:");
        escape_into(&mut out, input);
        assert_eq!(&out["prefix:".len()..], *want, "escaping {input:?}");
    }
    // Every control character is escaped; the output never holds a raw one.
    let all: String = (0u32..0x80).filter_map(char::from_u32).collect();
    let mut out = String::new();
    escape_into(&mut out, &all);
    assert!(!out.chars().any(|c| (c as u32) < 0x20));
    assert!(out.starts_with('"') && out.ends_with('"'));
}
