//! `SegmentHeader::decode` on any 64 bytes: never panics; whatever decodes re-encodes to the
//! same bytes (the decoder accepts nothing the encoder would not write).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wal_recovery::segment::header::SegmentHeader;

fuzz_target!(|data: &[u8]| {
    let mut b = [0u8; 64];
    let n = data.len().min(64);
    b[..n].copy_from_slice(&data[..n]);
    if data.len() > 64 && data[64] & 1 == 1 {
        walfuzz::fixup(&mut b, walfuzz::FIX_SEGMENT_HEADER);
    }
    if let Ok(h) = SegmentHeader::decode(&b) {
        assert_eq!(h.encode(), b, "decode/encode round trip");
        let _ = h.end_id();
        if h.sealed {
            assert_eq!(h.end_id(), Some(h.last_event_id + 1));
        }
    }
});
