//! The 64-byte block header that precedes each block's payload.
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 4 | magic `WALB` |
//! | 4 | 4 | block index within the segment |
//! | 8 | 8 | first event id |
//! | 16 | 4 | event count (≥ 1) |
//! | 20 | 4 | payload length (multiple of 8, ≤ 16 MiB) |
//! | 24 | 4 | CRC32C of the payload |
//! | 28 | 4 | chain = CRC32C(bytes 0..28), seeded with the previous chain value |
//! | 32 | 4 | CRC32C of bytes 0..32 and 36..64 |
//! | 36 | 8 | v2: synced offset — how far the writer's last completed `fdatasync` of this segment reached when the block was built; v1: zero |
//! | 44 | 8 | v2: log id (the segment header's); v1: zero |
//! | 52 | 12 | reserved, zero |
//!
//! The synced offset makes a damaged block followed by a valid one decidable (version 2 only):
//! if a later valid block records a synced offset beyond the damaged block, a sync that
//! returned covered it, so it is damage; otherwise it may be an un-synced write that a power
//! loss dropped while a later one persisted, and it is the torn tail (`docs/FORMAT.md`,
//! "Torn tail or damage").

use super::bytes::{put, u32_at, u64_at};
use super::checksum;
use super::{MAX_BLOCK_PAYLOAD, RECORD_ALIGN};
use crate::error::CorruptionKind;

/// `WALB` — wal_recovery block.
pub const BLOCK_MAGIC: [u8; 4] = *b"WALB";

/// Decoded block header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Position of the block in its segment (0, 1, 2, …).
    pub index: u32,
    /// Id of the block's first record.
    pub first_event_id: u64,
    /// Number of records (≥ 1).
    pub event_count: u32,
    /// Bytes of payload following the header.
    pub payload_len: u32,
    /// CRC32C of the payload.
    pub payload_crc: u32,
    /// Chain value after this block.
    pub chain: u32,
    /// v2: the segment length the writer's last completed sync covered when the block was
    /// built (0 in version 1).
    pub synced_offset: u64,
    /// v2: the log id (0 in version 1).
    pub log_id: u64,
}

/// A block header that failed a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockError {
    /// Which check failed.
    pub kind: CorruptionKind,
    /// Specifics.
    pub detail: String,
}

fn header_crc(b: &[u8; 64]) -> u32 {
    checksum::crc32c_append(checksum::crc32c(&b[0..32]), &b[36..64])
}

/// Chain value of a block whose identifying bytes (0..28) are `b`, after `prev`.
fn chain_of(prev: u32, b: &[u8; 64]) -> u32 {
    checksum::crc32c_append(prev, &b[0..28])
}

impl BlockHeader {
    /// Builds a header for a payload, computing the payload CRC and the chain from `prev_chain`.
    pub fn for_payload(
        index: u32,
        first_event_id: u64,
        event_count: u32,
        payload: &[u8],
        prev_chain: u32,
    ) -> Self {
        let mut h = BlockHeader {
            index,
            first_event_id,
            event_count,
            payload_len: payload.len() as u32,
            payload_crc: checksum::crc32c(payload),
            chain: 0,
            synced_offset: 0,
            log_id: 0,
        };
        h.chain = chain_of(prev_chain, &h.encode_without_chain());
        h
    }

    /// The same header with the version-2 fields set (they are outside the chained bytes, so
    /// the chain value does not change).
    pub fn with_identity(self, log_id: u64, synced_offset: u64) -> Self {
        BlockHeader {
            log_id,
            synced_offset,
            ..self
        }
    }

    /// Id one past the block's last record.
    pub fn end_id(&self) -> Option<u64> {
        self.first_event_id.checked_add(u64::from(self.event_count))
    }

    fn encode_without_chain(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        put(&mut b, 0, &BLOCK_MAGIC);
        put(&mut b, 4, &self.index.to_le_bytes());
        put(&mut b, 8, &self.first_event_id.to_le_bytes());
        put(&mut b, 16, &self.event_count.to_le_bytes());
        put(&mut b, 20, &self.payload_len.to_le_bytes());
        put(&mut b, 24, &self.payload_crc.to_le_bytes());
        b
    }

    /// Encodes the header with its chain value and self-checksum.
    pub fn encode(&self) -> [u8; 64] {
        let mut b = self.encode_without_chain();
        put(&mut b, 28, &self.chain.to_le_bytes());
        put(&mut b, 36, &self.synced_offset.to_le_bytes());
        put(&mut b, 44, &self.log_id.to_le_bytes());
        let crc = header_crc(&b);
        put(&mut b, 32, &crc.to_le_bytes());
        b
    }

    /// Decodes a block header, checking magic, self-checksum, reserved bytes, and that count and
    /// length are within the format's bounds. Does not check the payload or the chain.
    pub fn decode(b: &[u8; 64]) -> Result<Self, BlockError> {
        let err = |kind, detail: String| Err(BlockError { kind, detail });
        if b[0..4] != BLOCK_MAGIC {
            return err(
                CorruptionKind::BlockMagic,
                format!("found {:02x?}", &b[0..4]),
            );
        }
        let stored = u32_at(b, 32);
        let computed = header_crc(b);
        if stored != computed {
            return err(
                CorruptionKind::BlockHeaderChecksum,
                format!("stored {stored:#010x}, computed {computed:#010x}"),
            );
        }
        if b[52..64].iter().any(|&x| x != 0) {
            return err(
                CorruptionKind::Padding,
                "reserved block header bytes are not zero".into(),
            );
        }
        let h = BlockHeader {
            index: u32_at(b, 4),
            first_event_id: u64_at(b, 8),
            event_count: u32_at(b, 16),
            payload_len: u32_at(b, 20),
            payload_crc: u32_at(b, 24),
            chain: u32_at(b, 28),
            synced_offset: u64_at(b, 36),
            log_id: u64_at(b, 44),
        };
        let len = h.payload_len as usize;
        if h.event_count == 0
            || len > MAX_BLOCK_PAYLOAD
            || len & (RECORD_ALIGN - 1) != 0 // RECORD_ALIGN is a power of two
            // every record takes at least 8 bytes
            || (h.event_count as usize).saturating_mul(RECORD_ALIGN) > len
        {
            return err(
                CorruptionKind::BlockLength,
                format!(
                    "{} events in {} payload bytes",
                    h.event_count, h.payload_len
                ),
            );
        }
        if h.first_event_id == 0 || h.end_id().is_none() {
            return err(
                CorruptionKind::BlockIds,
                format!("first event id {}", h.first_event_id),
            );
        }
        Ok(h)
    }

    /// Whether this header's chain value extends `prev`.
    pub fn chain_extends(&self, prev: u32) -> bool {
        chain_of(prev, &self.encode_without_chain()) == self.chain
    }
}
