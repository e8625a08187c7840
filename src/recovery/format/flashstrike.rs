//! FlashStrike v1, reader side: what a segment's header says, every check on a block, and how a
//! segment ends — stricter than FlashStrike's own recovery (`docs/FORMAT.md`, "FlashStrike v1").
//!
//! The byte layout is [`crate::flashstrike`]. What is checked here beyond FlashStrike:
//!
//! * the block-header self-checksum (FlashStrike writes it and never reads it);
//! * `block_index` equal to the block's position, ids +1 contiguous inside a block, across
//!   blocks (and, by the manager, across segments), each record's first 8 bytes equal to its id;
//! * a finalized header's first/last ids, event count, block count and `last_chained_checksum`
//!   against the blocks;
//! * zero bytes in the unused slots of a partial block and in the preallocated space after the
//!   last block.
//!
//! **One hash per payload byte.** A block header stores two XXH64 values of the payload: the
//! local one (seed 0) and the chained one (seeded with the previous block's chained value).
//! FlashStrike computes both, hashing every byte twice. Here the chained value is recomputed
//! and the local one is not: the block-header self-checksum covers the stored local value (so
//! a damaged local field is caught there), and a payload that matches its chained value is the
//! payload the writer hashed. Recomputing the local value too would find only a writer that
//! stored a wrong one, at twice the cost.
//!
//! **Unfinalized segments** (the active segment at a crash, segments rotated but not yet
//! finalized, pre-created ones) have a header with checksum 0 and no totals; it may have its
//! low magic byte zeroed by the recorder's pre-creation. They are not damage: their blocks are
//! salvaged from offset 64 while each passes every check, the chain starting from seed 0, and
//! the first id comes from the first block's header. One whose first block is all zeros is
//! empty (never data, never lost).

use super::{
    corruption_at, BlockFailure, BlockOk, Cursor, Decoded, Format, HeaderError, IndexEntry,
    PayloadBlock, SegmentEnd, SegmentFacts,
};
use crate::error::CorruptionKind;
use crate::flashstrike::block::{block_header_checksum, RawBlockHeader};
use crate::flashstrike::header::{header_checksum, RawHeader};
use crate::flashstrike::xxh64_x4::{xxh64_x4, xxh64_x4_records};
use crate::flashstrike::{
    xxh64, BLOCK_BYTES, BLOCK_EVENTS, BLOCK_HEADER_BYTES, EVENT_BYTES, HEADER_BYTES, MAGIC,
    MAX_BLOCKS,
};
use crate::segment::bytes::header_at;
use crate::segment::header::SegmentHeader;

fn bad(kind: CorruptionKind, detail: impl Into<String>) -> HeaderError {
    HeaderError {
        kind,
        detail: detail.into(),
    }
}

/// Decodes a FlashStrike header from the file's first bytes (the segment header, and the first
/// block header for an unfinalized segment).
pub fn decode_header(prefix: &[u8]) -> Result<Decoded, HeaderError> {
    let raw = header_at(prefix, 0).ok_or_else(|| {
        bad(
            CorruptionKind::TooShort,
            format!("{} bytes, a segment header needs 64", prefix.len()),
        )
    })?;
    let h = RawHeader::decode(&raw);
    let computed = header_checksum(&raw);
    let no_totals = h.block_count == 0
        && h.event_count == 0
        && h.first_event_id == 0
        && h.last_event_id == 0
        && h.closed_ts_ns == 0
        && h.last_chained_checksum == 0;
    if h.checksum == 0 && computed != 0 {
        if !no_totals {
            return Err(bad(
                CorruptionKind::HeaderChecksum,
                "checksum 0 (unfinalized) but totals are set: not a header the recorder leaves",
            ));
        }
        return Ok(unfinalized(&h, prefix));
    }
    if h.checksum != computed {
        return Err(bad(
            CorruptionKind::HeaderChecksum,
            format!("stored {:#018x}, computed {computed:#018x}", h.checksum),
        ));
    }
    if h.magic != MAGIC {
        return Err(bad(
            CorruptionKind::HeaderMagic,
            format!("finalized header with magic {:#06x}", h.magic),
        ));
    }
    if h.event_count == 0 {
        if !no_totals {
            return Err(bad(
                CorruptionKind::HeaderField,
                "finalized with 0 events but other totals set",
            ));
        }
        return Ok(Decoded::Empty {
            format: Format::FlashStrikeV1,
            detail: "finalized with no events".into(),
        });
    }
    let count = u64::from(h.event_count);
    let blocks_needed = count.div_ceil(BLOCK_EVENTS as u64);
    if h.first_event_id == 0
        || h.first_event_id.checked_add(count - 1) != Some(h.last_event_id)
        || h.last_event_id == u64::MAX
    {
        return Err(bad(
            CorruptionKind::HeaderField,
            format!(
                "first id {} + {} events does not end at last id {}",
                h.first_event_id, h.event_count, h.last_event_id
            ),
        ));
    }
    if u64::from(h.block_count) != blocks_needed || h.block_count > MAX_BLOCKS {
        return Err(bad(
            CorruptionKind::HeaderField,
            format!("{} events in {} blocks", h.event_count, h.block_count),
        ));
    }
    Ok(Decoded::Segment {
        header: SegmentHeader {
            version: crate::segment::header::FORMAT_VERSION_1,
            log_id: 0,
            sealed: true,
            block_count: h.block_count,
            sequence: u64::from(h.segment_index),
            first_event_id: h.first_event_id,
            last_event_id: h.last_event_id,
            event_count: count,
            created_unix_ns: h.created_ts_ns,
            prev_chain: 0,
            last_chain: 0,
        },
        format: Format::FlashStrikeV1,
        first_chain: 0,
        last_chain: h.last_chained_checksum,
    })
}

/// An unfinalized header: the first id is the first block's, when that block header is whole.
fn unfinalized(h: &RawHeader, prefix: &[u8]) -> Decoded {
    let empty = |detail: String| Decoded::Empty {
        format: Format::FlashStrikeV1,
        detail,
    };
    let Some(b0) = header_at(prefix, HEADER_BYTES) else {
        return empty("unfinalized, shorter than one block header".into());
    };
    if b0.iter().all(|&b| b == 0) {
        return empty("unfinalized and empty (pre-created, first block all zeros)".into());
    }
    let bh = RawBlockHeader::decode(&b0);
    if block_header_checksum(&b0) != bh.checksum || bh.first_event_id == 0 {
        return empty(format!(
            "unfinalized, first block header torn (block-header checksum {:#018x}, computed {:#018x}): nothing recoverable",
            bh.checksum,
            block_header_checksum(&b0)
        ));
    }
    unfinalized_segment(h, bh.first_event_id)
}

/// The neutral header of an unfinalized segment starting at `first_event_id`.
fn unfinalized_segment(h: &RawHeader, first_event_id: u64) -> Decoded {
    Decoded::Segment {
        header: SegmentHeader {
            version: crate::segment::header::FORMAT_VERSION_1,
            log_id: 0,
            sealed: false,
            block_count: 0,
            sequence: u64::from(h.segment_index),
            first_event_id,
            last_event_id: 0,
            event_count: 0,
            created_unix_ns: h.created_ts_ns,
            prev_chain: 0,
            last_chain: 0,
        },
        format: Format::FlashStrikeV1,
        first_chain: 0,
        last_chain: 0,
    }
}

/// Checks the FlashStrike block at `c`: block-header checksum, padding, count, ids, position
/// and bounds (not the payload: [`check_payload`]).
pub fn check_block(data: &[u8], c: &Cursor) -> Result<BlockOk, BlockFailure> {
    let off = c.off;
    let raw = super::block_header_at(data, off)?;
    let bh = RawBlockHeader::decode(&raw);
    let computed = block_header_checksum(&raw);
    if computed != bh.checksum {
        return Err(BlockFailure::new(
            CorruptionKind::BlockHeaderChecksum,
            format!("stored {:#018x}, computed {computed:#018x}", bh.checksum),
        ));
    }
    if !bh.pad_is_zero {
        return Err(BlockFailure::new(
            CorruptionKind::Padding,
            "block header pad bytes are not zero",
        ));
    }
    let count = usize::from(bh.event_count);
    if count == 0 || count > BLOCK_EVENTS {
        return Err(BlockFailure::new(
            CorruptionKind::BlockLength,
            format!("event count {} (1..=256)", bh.event_count),
        ));
    }
    if bh.first_event_id == 0
        || bh.first_event_id.checked_add(count as u64 - 1) != Some(bh.last_event_id)
        || bh.last_event_id == u64::MAX
    {
        return Err(BlockFailure::new(
            CorruptionKind::BlockIds,
            format!(
                "ids {}..={} for {count} events",
                bh.first_event_id, bh.last_event_id
            ),
        ));
    }
    super::check_place(u64::from(bh.block_index), bh.first_event_id, c)?;
    let start = off + BLOCK_HEADER_BYTES;
    let next = off.checked_add(BLOCK_BYTES).filter(|&n| n <= data.len());
    let Some(next) = next else {
        return Err(BlockFailure::new(
            CorruptionKind::Truncated,
            format!(
                "block of {BLOCK_BYTES} bytes runs past the end of the file ({} bytes left)",
                data.len() - off
            ),
        ));
    };
    let end = start + count * EVENT_BYTES;
    Ok(BlockOk {
        entry: IndexEntry {
            first_event_id: bh.first_event_id,
            event_count: count as u32,
            payload_offset: start,
            payload_end: end,
        },
        chain: bh.chained_checksum,
        next_off: next,
        payload: PayloadBlock {
            start,
            end,
            slots_end: next,
            first_id: bh.first_event_id,
            seed: c.chain,
            expect: bh.chained_checksum,
        },
    })
}

/// The payload against its block header: chained XXH64, each record's id, zero unused slots.
pub fn check_payload(data: &[u8], b: &PayloadBlock) -> Result<(), BlockFailure> {
    let (records, unused) = block_areas(data, b)?;
    check_hashed(records, unused, b, xxh64(records, b.seed))
}

/// [`check_payload`] of four blocks at once (`ok` per block): their chained XXH64s computed
/// together ([`xxh64_x4`]; the seeds are the previous blocks' stored values, so the four are
/// independent), the rest block by block.
pub fn check_payloads_x4(data: &[u8], blocks: &[PayloadBlock; 4]) -> [bool; 4] {
    let areas = blocks.each_ref().map(|b| block_areas(data, b));
    let [Ok(a0), Ok(a1), Ok(a2), Ok(a3)] = &areas else {
        return blocks.each_ref().map(|b| check_payload(data, b).is_ok());
    };
    let parts = [a0, a1, a2, a3];
    let (records, seeds) = (parts.map(|a| a.0), blocks.each_ref().map(|b| b.seed));
    // Four full blocks (the common case): the record ids are checked in the hashing pass, and
    // checked again one by one only if some id is wrong (to name the record).
    let (hashes, ids_ok) = xxh64_x4_records(records, seeds, blocks.each_ref().map(|b| b.first_id))
        .unwrap_or_else(|| (xxh64_x4(records, seeds), false));
    std::array::from_fn(|k| {
        let (records, unused, b) = (parts[k].0, parts[k].1, &blocks[k]);
        if ids_ok {
            check_chain(b, hashes[k])
                .and_then(|()| check_unused(unused, b))
                .is_ok()
        } else {
            check_hashed(records, unused, b, hashes[k]).is_ok()
        }
    })
}

/// A block's records and its unused slots.
fn block_areas<'a>(data: &'a [u8], b: &PayloadBlock) -> Result<(&'a [u8], &'a [u8]), BlockFailure> {
    match (data.get(b.start..b.end), data.get(b.end..b.slots_end)) {
        (Some(records), Some(unused)) => Ok((records, unused)),
        _ => Err(BlockFailure::new(
            CorruptionKind::Truncated,
            "block runs past the end of the file",
        )),
    }
}

/// Everything [`check_payload`] checks, given the records' chained XXH64: the hash, each
/// record's id, the unused slots.
fn check_hashed(
    records: &[u8],
    unused: &[u8],
    b: &PayloadBlock,
    chained: u64,
) -> Result<(), BlockFailure> {
    check_chain(b, chained)?;
    check_ids(records, b)?;
    check_unused(unused, b)
}

/// The block's chained XXH64 against the one its header stores.
fn check_chain(b: &PayloadBlock, chained: u64) -> Result<(), BlockFailure> {
    if chained != b.expect {
        return Err(BlockFailure::new(
            CorruptionKind::ChainMismatch,
            format!(
                "chained XXH64 stored {:#018x}, computed {chained:#018x} (seed {:#018x})",
                b.expect, b.seed
            ),
        ));
    }
    Ok(())
}

/// Every record's first 8 bytes against its id.
fn check_ids(records: &[u8], b: &PayloadBlock) -> Result<(), BlockFailure> {
    // Every record's id against its position, without a branch per record (a block holds
    // up to 256); the first mismatch is looked for only when there is one.
    let ids = || {
        records
            .chunks_exact(EVENT_BYTES)
            .map(|rec| rec.first_chunk::<8>().map_or(0, |a| u64::from_le_bytes(*a)))
            .zip(b.first_id..)
    };
    if ids().fold(0u64, |diff, (id, want)| diff | (id ^ want)) != 0 {
        if let Some((k, (id, want))) = ids().enumerate().find(|(_, (id, want))| id != want) {
            return Err(BlockFailure::new(
                CorruptionKind::BlockIds,
                format!("record {k} holds event id {id}, its position says {want}"),
            ));
        }
    }
    Ok(())
}

/// The unused record slots of a partial block are zero.
fn check_unused(unused: &[u8], b: &PayloadBlock) -> Result<(), BlockFailure> {
    if let Some(p) = super::first_nonzero(unused) {
        return Err(BlockFailure::new(
            CorruptionKind::Padding,
            format!(
                "non-zero byte in an unused event slot at offset {}",
                b.end + p
            ),
        ));
    }
    Ok(())
}

/// After a finalized segment's last block, the rest of the preallocated file must be zero. The
/// file's trailing hole is zeros by definition and is not read (a finalized segment is never
/// written again).
pub fn after_last_block(data: &[u8], s: &SegmentFacts<'_>, c: &Cursor) -> SegmentEnd {
    let rest = data.get(c.off..).unwrap_or(&[]);
    let stored = data
        .get(c.off..s.stored_end(data.len(), c.off))
        .unwrap_or(rest);
    match super::first_nonzero(stored) {
        None => SegmentEnd::Clean,
        Some(p) => SegmentEnd::Corrupt(corruption_at(
            s.path,
            (c.off + p) as u64,
            None,
            CorruptionKind::TrailingData,
            format!(
                "non-zero byte in the preallocated space after the last block ({} bytes from offset {})",
                rest.len(),
                c.off
            ),
        )),
    }
}

/// A later block whose header verifies on its own (blocks sit at fixed offsets).
pub fn find_later_block(data: &[u8], off: usize, block_no: u64, stored: usize) -> Option<usize> {
    let mut k = block_no + 1;
    let mut probe = off.checked_add(BLOCK_BYTES)?;
    // A header that starts in the trailing hole is zeros (no event count, no match): not read.
    while let Some(raw) = (probe < stored).then(|| header_at(data, probe)).flatten() {
        let bh = RawBlockHeader::decode(&raw);
        if bh.event_count != 0
            && block_header_checksum(&raw) == bh.checksum
            && u64::from(bh.block_index) == k
        {
            return Some(probe);
        }
        k += 1;
        probe = probe.checked_add(BLOCK_BYTES)?;
    }
    None
}

/// The index a FlashStrike segment file name encodes: `FS.<8 digits>.wal`, or the cold
/// `FS.<8 digits>.wal.lz4`. (FlashStrike's recovery never reads names; the scan uses them only
/// to order files whose header is unusable, and to report a name that disagrees with its
/// header.)
pub fn parse_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".lz4").unwrap_or(name);
    let digits = stem.strip_prefix("FS.")?.strip_suffix(".wal")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether the failure of the FlashStrike block at `off` (the last data of an unfinalized
/// segment) has the shape a crash of the recorder leaves. The recorder preallocates the file and
/// copies whole blocks into a shared mapping, which the kernel writes back page by page in any
/// order; so after a crash the file has its preallocated length, nothing but zeros follows the
/// block being written, and that block has some pages and not others: its header is all zeros,
/// or its header verifies and one of the 4 KiB pages holding its records is all zeros (a
/// record's first 8 bytes are its id, never 0). Anything else — a changed byte, a zeroed range
/// inside a page, a file of another length — is damage.
pub fn torn_shape(data: &[u8], off: usize, _fail: &BlockFailure, stored: usize) -> bool {
    if !is_preallocated_len(data.len() as u64) {
        return false;
    }
    let block_end = off.saturating_add(BLOCK_BYTES).min(data.len());
    // Only the stored bytes: the trailing hole reads as zeros.
    if data
        .get(block_end..stored.max(block_end))
        .is_some_and(|rest| !super::all_zero(rest))
    {
        return false;
    }
    // A header in the hole is zeros: not read.
    if off >= stored {
        return off.saturating_add(BLOCK_HEADER_BYTES) <= data.len();
    }
    let Some(raw) = header_at(data, off) else {
        return false;
    };
    if raw.iter().all(|&b| b == 0) {
        return true;
    }
    let bh = RawBlockHeader::decode(&raw);
    if block_header_checksum(&raw) != bh.checksum {
        return false;
    }
    // A page of the block's records that never reached the disk: from a 4 KiB boundary inside
    // the records to the next boundary or the block's end, all zeros. (Zeros that start
    // elsewhere — a zeroed range inside a page — are damage.)
    let records = off + BLOCK_HEADER_BYTES;
    let mut page = records.next_multiple_of(PAGE_BYTES);
    while page < block_end {
        let end = (page + PAGE_BYTES).min(block_end);
        if data.get(page..end).is_some_and(super::all_zero) {
            return true;
        }
        page += PAGE_BYTES;
    }
    false
}

/// The page size the kernel writes a shared mapping back in.
const PAGE_BYTES: usize = 4096;

/// Whether the header in `prefix` is an unfinalized FlashStrike one whose first block header
/// is all zeros or does not verify: such a file looks empty from its first 128 bytes, and only
/// [`probe_first_id`] can tell whether it holds data after all.
pub fn needs_probe(prefix: &[u8]) -> bool {
    let (Some(raw), Some(b0)) = (header_at(prefix, 0), header_at(prefix, HEADER_BYTES)) else {
        return false;
    };
    let h = RawHeader::decode(&raw);
    let unfinalized = h.checksum == 0
        && h.block_count == 0
        && h.event_count == 0
        && h.first_event_id == 0
        && h.last_event_id == 0;
    let bh = RawBlockHeader::decode(&b0);
    unfinalized && (block_header_checksum(&b0) != bh.checksum || bh.first_event_id == 0)
}

/// The first event id of an unfinalized segment whose first block header is missing or
/// damaged, from what else the file holds: a later block header that verifies on its own (its
/// first id minus 256 per block before it), else a record of the first block (its id minus its
/// slot). `None` when there is no such evidence — the file is empty. `read_at(offset, buf)`
/// fills `buf` from the file and returns false past its end. Reads the first block and one
/// 64-byte header per block slot.
pub fn probe_first_id(len: u64, read_at: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Option<u64> {
    let mut raw = [0u8; 64];
    let mut k = 1u64;
    loop {
        let off = (HEADER_BYTES as u64).checked_add(k.checked_mul(BLOCK_BYTES as u64)?)?;
        if off.checked_add(64)? > len || !read_at(off, &mut raw) {
            break;
        }
        let bh = RawBlockHeader::decode(&raw);
        if bh.event_count != 0
            && u64::from(bh.block_index) == k
            && block_header_checksum(&raw) == bh.checksum
        {
            return bh
                .first_event_id
                .checked_sub(k * BLOCK_EVENTS as u64)
                .filter(|&f| f != 0);
        }
        k += 1;
    }
    let mut block = vec![0u8; BLOCK_BYTES - BLOCK_HEADER_BYTES];
    let records = (HEADER_BYTES + BLOCK_HEADER_BYTES) as u64;
    let n = usize::try_from(len.saturating_sub(records))
        .unwrap_or(usize::MAX)
        .min(block.len());
    if !read_at(records, &mut block[..n]) {
        return None;
    }
    block[..n]
        .chunks_exact(EVENT_BYTES)
        .enumerate()
        .find_map(|(slot, rec)| {
            let id = rec.first_chunk::<8>().map_or(0, |a| u64::from_le_bytes(*a));
            (id != 0).then(|| id.checked_sub(slot as u64)).flatten()
        })
        .filter(|&f| f != 0)
}

/// The neutral header of an unfinalized segment whose first id [`probe_first_id`] found.
pub fn unfinalized_from(prefix: &[u8], first_event_id: u64) -> Option<Decoded> {
    let raw = header_at(prefix, 0)?;
    Some(unfinalized_segment(
        &RawHeader::decode(&raw),
        first_event_id,
    ))
}

/// Whether `prefix` starts with an unfinalized FlashStrike header (checksum 0, no totals).
pub fn is_unfinalized(prefix: &[u8]) -> bool {
    header_at(prefix, 0).is_some_and(|raw| {
        let h = RawHeader::decode(&raw);
        h.checksum == 0
            && h.block_count == 0
            && h.event_count == 0
            && h.first_event_id == 0
            && h.last_event_id == 0
    })
}

/// Whether `len` is a length the recorder gives a segment file: it preallocates the header and
/// a whole number of blocks (at least one) before writing anything.
pub fn is_preallocated_len(len: u64) -> bool {
    len.checked_sub(HEADER_BYTES as u64)
        .is_some_and(|n| n > 0 && n % BLOCK_BYTES as u64 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of `n` records whose ids run from `first`, and its payload description.
    fn block(first: u64, n: usize) -> (Vec<u8>, PayloadBlock) {
        let mut records = vec![0u8; n * EVENT_BYTES];
        for (k, rec) in records.chunks_exact_mut(EVENT_BYTES).enumerate() {
            rec[..8].copy_from_slice(&(first + k as u64).to_le_bytes());
            rec[8] = 0x5a;
        }
        let b = PayloadBlock {
            start: 0,
            end: records.len(),
            slots_end: records.len(),
            first_id: first,
            seed: 7,
            expect: 0,
        };
        (records, b)
    }

    #[test]
    fn after_the_last_block_only_a_hole_past_the_blocks_is_left_unread() {
        let header = SegmentHeader::new_open(0, 1, 0, 0);
        let path = std::path::Path::new("FS.00000000.wal");
        let facts = |zeros_from| SegmentFacts {
            path,
            format: Format::FlashStrikeV1,
            header: &header,
            last_chain: 0,
            zeros_from,
        };
        let c = Cursor {
            off: 1000,
            chain: 0,
            expect_id: 1,
            block_no: 1,
            log_id: None,
        };
        let mut data = vec![0u8; 4096];
        data[3000] = 1;
        let at = |end: SegmentEnd| match end {
            SegmentEnd::Corrupt(c) => Some((c.kind, c.offset)),
            _ => None,
        };
        // No hole, and a hole that starts after the byte: found.
        for zeros_from in [4096, 3001] {
            assert_eq!(
                at(after_last_block(&data, &facts(zeros_from), &c)),
                Some((CorruptionKind::TrailingData, 3000)),
                "hole from {zeros_from}"
            );
        }
        // The byte inside the hole (a hole reads as zeros: the bytes cannot differ there).
        assert_eq!(at(after_last_block(&data, &facts(3000), &c)), None);
        // A hole said to start before the blocks end is stale: every byte after them is read.
        assert_eq!(
            at(after_last_block(&data, &facts(500), &c)),
            Some((CorruptionKind::TrailingData, 3000))
        );
    }

    #[test]
    fn a_wrong_id_behind_a_matching_hash_fails_only_its_block_of_four() {
        let (data, mut blocks) = {
            let mut data = Vec::new();
            let mut blocks = Vec::new();
            for k in 0..4u64 {
                let (records, mut b) = block(1 + 256 * k, 256);
                b.start = data.len();
                b.end = b.start + records.len();
                b.slots_end = b.end;
                data.extend_from_slice(&records);
                blocks.push(b);
            }
            (data, blocks)
        };
        let mut data = data;
        // Record 100 of block 2 holds another id; every stored hash matches its bytes (a crafted
        // or mis-written block: only the id check can tell).
        data[blocks[2].start + 100 * EVENT_BYTES] ^= 0x04;
        for b in &mut blocks {
            b.expect = crate::flashstrike::xxh64(&data[b.start..b.end], b.seed);
        }
        let four: &[PayloadBlock; 4] = blocks.as_slice().try_into().unwrap();
        assert_eq!(check_payloads_x4(&data, four), [true, true, false, true]);
        let fail = check_payload(&data, &blocks[2]).unwrap_err();
        assert_eq!(fail.kind, CorruptionKind::BlockIds, "{}", fail.detail);
    }

    #[test]
    fn record_ids_must_follow_their_positions() {
        let (mut records, mut b) = block(1000, 256);
        b.expect = crate::flashstrike::xxh64(&records, b.seed);
        assert!(check_hashed(&records, &[], &b, b.expect).is_ok());
        for k in [0usize, 1, 137, 255] {
            let saved = records[k * EVENT_BYTES];
            records[k * EVENT_BYTES] ^= 0x10;
            // The stored hash is taken to match (a crafted or mis-written block): only the id
            // check can tell.
            let e = check_hashed(&records, &[], &b, b.expect).unwrap_err();
            assert_eq!(e.kind, CorruptionKind::BlockIds, "record {k}");
            let id = u64::from_le_bytes(records[k * EVENT_BYTES..][..8].try_into().unwrap());
            assert_eq!(
                e.detail,
                format!(
                    "record {k} holds event id {id}, its position says {}",
                    1000 + k as u64
                )
            );
            records[k * EVENT_BYTES] = saved;
        }
    }
}
