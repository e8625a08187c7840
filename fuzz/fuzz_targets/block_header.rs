//! `BlockHeader::decode` + `chain_extends` on any 64 bytes (and a previous chain value taken from
//! the input): never panics; what decodes re-encodes to the same bytes; a header built for a
//! payload extends the chain it was built from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::MAX_BLOCK_PAYLOAD;

fuzz_target!(|data: &[u8]| {
    let mut b = [0u8; 64];
    let n = data.len().min(64);
    b[..n].copy_from_slice(&data[..n]);
    let rest = data.get(64..).unwrap_or(&[]);
    let prev = rest
        .get(..4)
        .map_or(0, |p| u32::from_le_bytes(p.try_into().expect("4 bytes")));
    if rest.get(4).is_some_and(|f| f & 1 == 1) {
        // Make the header CRC right so decode reaches its field checks.
        let crc = crc32c::crc32c_append(crc32c::crc32c(&b[0..32]), &b[36..64]);
        b[32..36].copy_from_slice(&crc.to_le_bytes());
    }
    if let Ok(h) = BlockHeader::decode(&b) {
        assert_eq!(h.encode(), b, "decode/encode round trip");
        let _ = h.chain_extends(prev);
        assert!(h.end_id().is_some());
        assert!(h.payload_len as usize <= MAX_BLOCK_PAYLOAD);
    }
    // A header built for a payload extends its chain and decodes (when its counts are valid).
    let payload = rest.get(5..).unwrap_or(&[]);
    let payload = &payload[..payload.len() / 8 * 8];
    let count = (payload.len() / 8).max(1) as u32;
    let first = u64::from(prev).max(1);
    let built = BlockHeader::for_payload(u32::from(b[0]), first, count, payload, prev);
    assert!(built.chain_extends(prev));
    if !payload.is_empty() {
        let d = BlockHeader::decode(&built.encode()).expect("a built header decodes");
        assert_eq!(d, built);
    }
});
