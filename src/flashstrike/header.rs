//! FlashStrike's 64-byte segment header (`wal::segment::Header`), at offset 0 of every segment.
//!
//! The recorder writes it twice: once at creation (identity fields only: magic, version, size,
//! index, created timestamp; **checksum 0**) and once at close, when it is finalized (counts, ids,
//! closed timestamp, the last block's chained checksum, then the checksum over all of that). A
//! segment that was never closed therefore carries checksum 0, and one pre-created by the
//! recorder's `SegmentPreparer` also has its low magic byte zeroed by `touch()`.
//!
//! This module only converts bytes and fields: [`RawHeader::decode`] checks nothing, so that a
//! reader can tell *which* field is wrong (and accept FlashStrike's unfinalized headers on
//! purpose) instead of getting a single yes/no.
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 2 | magic `0x4653` (`53 46`) |
//! | 2 | 1 | version (1) |
//! | 3 | 1 | header size (64) |
//! | 4 | 4 | segment index |
//! | 8 | 4 | block count (a trailing partial block included) |
//! | 12 | 4 | event count |
//! | 16 | 8 | first event id |
//! | 24 | 8 | last event id |
//! | 32 | 8 | created, Unix ns |
//! | 40 | 8 | closed, Unix ns (0 until finalized) |
//! | 48 | 8 | checksum: `xxh64(raw[56..64], xxh64(raw[0..48], 0))` |
//! | 56 | 8 | chained checksum of this segment's last block (0 without blocks) |

use super::{xxh64, HEADER_BYTES};
use crate::segment::bytes::{put, u16_at, u32_at, u64_at};

/// Every field of a segment header, exactly as stored (no validation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawHeader {
    /// Bytes 0..2; `0x4653` when intact, `0x4600` after the preparer's `touch()`.
    pub magic: u16,
    /// Byte 2; FlashStrike writes 1.
    pub version: u8,
    /// Byte 3; FlashStrike writes 64.
    pub header_size: u8,
    /// The recorder's segment sequence number (also in the file name, which readers ignore).
    pub segment_index: u32,
    /// Blocks written, counting a trailing partial block (0 while unfinalized).
    pub block_count: u32,
    /// Events in the segment (0 while unfinalized).
    pub event_count: u32,
    /// First event id (0 while unfinalized or empty).
    pub first_event_id: u64,
    /// Last event id (0 while unfinalized or empty).
    pub last_event_id: u64,
    /// Creation time, Unix-epoch nanoseconds.
    pub created_ts_ns: u64,
    /// Finalization time, Unix-epoch nanoseconds (0 while unfinalized).
    pub closed_ts_ns: u64,
    /// Stored header checksum (0 while unfinalized); compare with [`header_checksum`].
    pub checksum: u64,
    /// Chained checksum of the segment's last block (0 while unfinalized or without blocks).
    pub last_chained_checksum: u64,
}

impl RawHeader {
    /// Splits 64 header bytes into fields. Performs no check at all.
    pub fn decode(raw: &[u8; 64]) -> RawHeader {
        RawHeader {
            magic: u16_at(raw, 0),
            version: raw[2],
            header_size: raw[3],
            segment_index: u32_at(raw, 4),
            block_count: u32_at(raw, 8),
            event_count: u32_at(raw, 12),
            first_event_id: u64_at(raw, 16),
            last_event_id: u64_at(raw, 24),
            created_ts_ns: u64_at(raw, 32),
            closed_ts_ns: u64_at(raw, 40),
            checksum: u64_at(raw, 48),
            last_chained_checksum: u64_at(raw, 56),
        }
    }

    /// Writes every field as stored, `checksum` included (it is not recomputed: set it from
    /// [`header_checksum`] of the encoded bytes to finalize, or leave it 0 for an unfinalized one).
    pub fn encode(&self) -> [u8; 64] {
        let mut raw = [0u8; HEADER_BYTES];
        put(&mut raw, 0, &self.magic.to_le_bytes());
        raw[2] = self.version;
        raw[3] = self.header_size;
        put(&mut raw, 4, &self.segment_index.to_le_bytes());
        put(&mut raw, 8, &self.block_count.to_le_bytes());
        put(&mut raw, 12, &self.event_count.to_le_bytes());
        put(&mut raw, 16, &self.first_event_id.to_le_bytes());
        put(&mut raw, 24, &self.last_event_id.to_le_bytes());
        put(&mut raw, 32, &self.created_ts_ns.to_le_bytes());
        put(&mut raw, 40, &self.closed_ts_ns.to_le_bytes());
        put(&mut raw, 48, &self.checksum.to_le_bytes());
        put(&mut raw, 56, &self.last_chained_checksum.to_le_bytes());
        raw
    }
}

/// FlashStrike's split-range header checksum: `h1 = xxh64(raw[0..48], 0)`, then
/// `xxh64(raw[56..64], h1)`. It covers every byte except the checksum field itself.
pub fn header_checksum(raw: &[u8; 64]) -> u64 {
    xxh64(&raw[56..64], xxh64(&raw[0..48], 0))
}

/// True when `raw` starts like a FlashStrike v1 segment header: `[0x53 or 0x00, 0x46, 0x01, 0x40]`
/// (magic, version 1, header size 64; the low magic byte may be zeroed by the recorder's
/// pre-creation `touch()`). False when `raw` is shorter than 4 bytes.
pub fn looks_like(raw: &[u8]) -> bool {
    matches!(raw.get(..4), Some([0x53 | 0x00, 0x46, 0x01, 0x40]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header of `clean/FS.00000000.wal` from the FlashStrike samples.
    const CLEAN_0: [u8; 64] = [
        0x53, 0x46, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x23, 0x57, 0x58, 0x20, 0x61, 0x8b, 0xed, 0x18, 0xbd, 0xa7, 0x92, 0x21, 0x61,
        0x8b, 0xed, 0x18, 0x3d, 0x0a, 0x57, 0x48, 0x20, 0xe2, 0xcd, 0xa6, 0x5b, 0x1c, 0x72, 0xf3,
        0x88, 0xd9, 0x17, 0x78,
    ];

    #[test]
    fn decodes_a_real_finalized_header() {
        let h = RawHeader::decode(&CLEAN_0);
        assert_eq!(
            h,
            RawHeader {
                magic: 0x4653,
                version: 1,
                header_size: 64,
                segment_index: 0,
                block_count: 16,
                event_count: 4096,
                first_event_id: 1,
                last_event_id: 4096,
                created_ts_ns: 0x18ed_8b61_2058_5723,
                closed_ts_ns: 0x18ed_8b61_2192_a7bd,
                checksum: 0xa6cd_e220_4857_0a3d,
                last_chained_checksum: 0x7817_d988_f372_1c5b,
            }
        );
        assert_eq!(h.encode(), CLEAN_0);
        assert_eq!(header_checksum(&CLEAN_0), h.checksum);
    }

    #[test]
    fn checksum_ignores_its_own_field_and_covers_the_rest() {
        let mut raw = CLEAN_0;
        raw[48..56].fill(0xAA);
        assert_eq!(header_checksum(&raw), header_checksum(&CLEAN_0));
        for at in (0..48).chain(56..64) {
            let mut bad = CLEAN_0;
            bad[at] ^= 1;
            assert_ne!(
                header_checksum(&bad),
                header_checksum(&CLEAN_0),
                "byte {at}"
            );
        }
    }

    #[test]
    fn unfinalized_header_decodes_with_zero_checksum() {
        let mut raw = [0u8; 64];
        raw[..8].copy_from_slice(&[0x00, 0x46, 0x01, 0x40, 0x04, 0, 0, 0]);
        raw[32..40].copy_from_slice(&0x18ed_8b61_25af_dd31u64.to_le_bytes());
        let h = RawHeader::decode(&raw);
        assert_eq!(h.magic, 0x4600);
        assert_eq!(h.segment_index, 4);
        assert_eq!(h.checksum, 0);
        assert_eq!(h.created_ts_ns, 0x18ed_8b61_25af_dd31);
        assert_ne!(header_checksum(&raw), 0);
        assert_eq!(h.encode(), raw);
    }

    #[test]
    fn looks_like_accepts_both_magic_forms_only() {
        assert!(looks_like(&CLEAN_0));
        assert!(looks_like(&[0x53, 0x46, 0x01, 0x40]));
        assert!(looks_like(&[0x00, 0x46, 0x01, 0x40, 0xFF]));
        assert!(!looks_like(&[0x53, 0x46, 0x01]));
        assert!(!looks_like(&[]));
        assert!(!looks_like(&[0x54, 0x46, 0x01, 0x40]));
        assert!(!looks_like(&[0x53, 0x46, 0x02, 0x40]));
        assert!(!looks_like(&[0x53, 0x46, 0x01, 0x20]));
        assert!(!looks_like(b"WALS"));
    }
}
