//! The on-disk segment format, v1 — shared by the writer ([`crate::recorder`]) and the reader
//! ([`crate::recovery::segment_reader`]) so both sides encode and check the same bytes.
//!
//! A segment file is a 64-byte [`header::SegmentHeader`] followed by blocks. Each block is a
//! 64-byte [`block::BlockHeader`] and a payload of 8-byte-aligned records
//! ([`record`]), and starts at a 64-byte-aligned offset. Everything is little-endian and every
//! checksum is CRC32C. `docs/FORMAT.md` describes every byte; keep it true when this changes.
//!
//! Integrity is layered so that each failure has its own name:
//! * the segment header and each block header carry a CRC32C of their own bytes;
//! * each block carries the CRC32C of its payload;
//! * each block's *chain* value extends the previous block's chain over the block header's
//!   identifying bytes (which include the payload CRC), and a segment's first block extends the
//!   chain value stored in the segment header as `prev_chain` — the previous segment's last
//!   chain. A missing, replaced or reordered block or segment is therefore detectable without
//!   hashing any payload byte twice.

pub mod block;
pub mod bytes;
pub mod checksum;
pub mod header;
pub mod naming;
pub mod record;

/// Size of the segment header, and of every block header.
pub const HEADER_BYTES: usize = 64;
/// Blocks start at offsets that are multiples of this.
pub const BLOCK_ALIGN: usize = 64;
/// Records start at payload offsets that are multiples of this.
pub const RECORD_ALIGN: usize = 8;
/// Largest payload area of one block (16 MiB).
pub const MAX_BLOCK_PAYLOAD: usize = 16 * 1024 * 1024;
/// Largest event payload: one record (`u32` length + payload, padded to 8) filling a block.
pub const MAX_EVENT_BYTES: usize = MAX_BLOCK_PAYLOAD - 4;
/// Chain value a log's very first segment starts from.
pub const CHAIN_SEED: u32 = 0;
/// Not part of the format: the huge-page size (one PMD on x86-64 and arm64). The writer writes
/// segments in chunks ending at multiples of it, so the page cache holds them in folios of this
/// size, and the reader asks for such folios when it maps a segment; one page-table entry then
/// maps 2 MiB (see `docs/ARCHITECTURE.md`, "Page-cache folios").
pub const HUGE_PAGE_BYTES: usize = 2 << 20;

/// Rounds `n` up to a multiple of `align` (a power of two); `None` on overflow.
#[inline]
pub const fn align_up(n: u64, align: u64) -> Option<u64> {
    match n.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Size a record of `len` payload bytes occupies in a block (length prefix + padding).
#[inline]
pub const fn record_size(len: usize) -> usize {
    (4 + len + (RECORD_ALIGN - 1)) & !(RECORD_ALIGN - 1)
}
