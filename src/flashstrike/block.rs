//! FlashStrike's 64-byte block header (`wal::segment::BlockHeader`) and the block checksums.
//!
//! Block `k` of a segment sits at `64 + k × 16 448`: this header, then 256 event slots, of which
//! the first `event_count` are valid (the rest are zeros in a partial last block). Three XXH64
//! values protect it:
//!
//! * the **local** checksum, `xxh64(payload, 0)`, over the `event_count × 64` valid event bytes;
//! * the **chained** checksum, `xxh64(payload, previous block's chained value)`, seeded with 0 at
//!   the first block of *every* segment (the chain never crosses segments);
//! * the header's **self** checksum, `xxh64(raw[40..64], xxh64(raw[0..32], 0))`, which FlashStrike
//!   writes but never verifies. Checking it is how a reader notices damaged ids, index or count.
//!
//! [`RawBlockHeader::decode`] validates nothing; [`encode_block_header`] builds a header exactly as
//! the recorder's `Block::finalize(index, prev)` does.
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 8 | first event id |
//! | 8 | 8 | last event id |
//! | 16 | 8 | local checksum |
//! | 24 | 8 | chained checksum |
//! | 32 | 8 | self checksum |
//! | 40 | 4 | block index within the segment |
//! | 44 | 2 | event count (1..=256) |
//! | 46 | 18 | zero padding |

use super::{xxh64, BLOCK_EVENTS, BLOCK_HEADER_BYTES, EVENT_BYTES};
use crate::segment::bytes::{put, u16_at, u32_at, u64_at};

/// Every field of a block header, exactly as stored (no validation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawBlockHeader {
    /// Id of the block's first event, as the writer recorded it.
    pub first_event_id: u64,
    /// Id of the block's last valid event.
    pub last_event_id: u64,
    /// Local checksum: `xxh64(payload, 0)`.
    pub block_checksum: u64,
    /// Chained checksum: `xxh64(payload, previous chained value)`.
    pub chained_checksum: u64,
    /// Stored self checksum; compare with [`block_header_checksum`].
    pub checksum: u64,
    /// Position the writer gave the block (0, 1, 2, … within the segment).
    pub block_index: u32,
    /// Valid events in the block (1..=256 when written by FlashStrike).
    pub event_count: u16,
    /// Whether the 18 pad bytes 46..64 are all zero (the writer always zeroes them).
    pub pad_is_zero: bool,
}

impl RawBlockHeader {
    /// Splits 64 block-header bytes into fields. Performs no check at all.
    pub fn decode(raw: &[u8; 64]) -> Self {
        RawBlockHeader {
            first_event_id: u64_at(raw, 0),
            last_event_id: u64_at(raw, 8),
            block_checksum: u64_at(raw, 16),
            chained_checksum: u64_at(raw, 24),
            checksum: u64_at(raw, 32),
            block_index: u32_at(raw, 40),
            event_count: u16_at(raw, 44),
            pad_is_zero: raw[46..64].iter().all(|&b| b == 0),
        }
    }
}

/// The block header's self checksum: `h1 = xxh64(raw[0..32], 0)`, then `xxh64(raw[40..64], h1)`.
/// It covers ids, both payload checksums, index, count and the pad; not itself.
pub fn block_header_checksum(raw: &[u8; 64]) -> u64 {
    xxh64(&raw[40..64], xxh64(&raw[0..32], 0))
}

/// Builds the finalized header of a block whose valid events are `payload` (`event_count × 64`
/// bytes, 1..=256 events), as FlashStrike's `Block::finalize(block_index, prev_chained)` does:
/// ids from the first 8 bytes (LE) of the first and last records, local checksum
/// `xxh64(payload, 0)`, chained checksum `xxh64(payload, prev_chained)`, index, count, zero pad,
/// then the self checksum. Returns the 64 header bytes and the chained value (the next block's
/// `prev_chained`; pass 0 for a segment's first block).
///
/// # Panics
///
/// If `payload` is empty, longer than 256 events, or not a whole number of 64-byte events. This
/// is an encoder for data the caller produced, never a decoder of disk bytes.
pub fn encode_block_header(payload: &[u8], block_index: u32, prev_chained: u64) -> ([u8; 64], u64) {
    let count = payload.len() / EVENT_BYTES;
    assert!(
        payload.len().is_multiple_of(EVENT_BYTES) && (1..=BLOCK_EVENTS).contains(&count),
        "block payload must hold 1..=256 whole 64-byte events, got {} bytes",
        payload.len()
    );
    let id_at = |record: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&payload[record * EVENT_BYTES..record * EVENT_BYTES + 8]);
        u64::from_le_bytes(b)
    };
    let chained = xxh64(payload, prev_chained);
    let mut raw = [0u8; BLOCK_HEADER_BYTES];
    put(&mut raw, 0, &id_at(0).to_le_bytes());
    put(&mut raw, 8, &id_at(count - 1).to_le_bytes());
    put(&mut raw, 16, &xxh64(payload, 0).to_le_bytes());
    put(&mut raw, 24, &chained.to_le_bytes());
    put(&mut raw, 40, &block_index.to_le_bytes());
    // `count` is at most 256 (asserted above), so it always fits the u16 field.
    put(&mut raw, 44, &(count as u16).to_le_bytes());
    let self_checksum = block_header_checksum(&raw);
    put(&mut raw, 32, &self_checksum.to_le_bytes());
    (raw, chained)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flashstrike::event::sample_event;

    fn payload(ids: std::ops::RangeInclusive<u64>) -> Vec<u8> {
        ids.flat_map(|i| sample_event(i).encode()).collect()
    }

    #[test]
    fn encodes_and_decodes_a_full_block() {
        let p = payload(1..=256);
        let (raw, chained) = encode_block_header(&p, 0, 0);
        let h = RawBlockHeader::decode(&raw);
        assert_eq!(h.first_event_id, 1);
        assert_eq!(h.last_event_id, 256);
        assert_eq!(h.block_checksum, xxh64(&p, 0));
        // Seed 0 at a segment's first block: local and chained values coincide.
        assert_eq!(h.chained_checksum, h.block_checksum);
        assert_eq!(chained, h.chained_checksum);
        assert_eq!(h.checksum, block_header_checksum(&raw));
        assert_eq!(h.block_index, 0);
        assert_eq!(h.event_count, 256);
        assert!(h.pad_is_zero);
    }

    #[test]
    fn chain_is_seeded_by_the_previous_block() {
        let (_, c0) = encode_block_header(&payload(1..=256), 0, 0);
        let p1 = payload(257..=300);
        let (raw, c1) = encode_block_header(&p1, 1, c0);
        let h = RawBlockHeader::decode(&raw);
        assert_eq!(c1, xxh64(&p1, c0));
        assert_ne!(c1, h.block_checksum);
        assert_eq!((h.first_event_id, h.last_event_id), (257, 300));
        assert_eq!((h.block_index, h.event_count), (1, 44));
    }

    #[test]
    fn self_checksum_covers_everything_but_itself() {
        let (raw, _) = encode_block_header(&payload(5..=5), 3, 9);
        let mut moved = raw;
        moved[32..40].fill(0);
        assert_eq!(block_header_checksum(&moved), block_header_checksum(&raw));
        for at in (0..32).chain(40..64) {
            let mut bad = raw;
            bad[at] ^= 0x80;
            assert_ne!(
                block_header_checksum(&bad),
                block_header_checksum(&raw),
                "byte {at}"
            );
        }
    }

    #[test]
    fn decode_reports_a_dirty_pad() {
        let (mut raw, _) = encode_block_header(&payload(1..=2), 0, 0);
        raw[63] = 1;
        assert!(!RawBlockHeader::decode(&raw).pad_is_zero);
    }

    #[test]
    #[should_panic(expected = "1..=256 whole 64-byte events")]
    fn rejects_an_empty_payload() {
        let _ = encode_block_header(&[], 0, 0);
    }

    #[test]
    #[should_panic(expected = "1..=256 whole 64-byte events")]
    fn rejects_a_ragged_payload() {
        let _ = encode_block_header(&[0u8; 65], 0, 0);
    }
}
