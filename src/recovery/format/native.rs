//! wal_recovery's own format, reader side: header decoding, block checks, payload CRC32C and
//! the end of a segment (`docs/FORMAT.md`). The byte layout itself is [`crate::segment`],
//! shared with the writer.

use std::path::Path;

use super::{
    corruption_at, BlockFailure, BlockOk, Cursor, Decoded, Format, HeaderError, IndexEntry,
    PayloadBlock, SegmentEnd,
};
use crate::error::CorruptionKind;
use crate::segment::block::{BlockHeader, BLOCK_MAGIC};
use crate::segment::bytes::{header_at, u64_at};
use crate::segment::checksum;
use crate::segment::header::{SegmentHeader, FORMAT_VERSION_1};
use crate::segment::{BLOCK_ALIGN, HEADER_BYTES};

/// Decodes a native segment header (the first 64 bytes of `prefix`).
pub fn decode_header(prefix: &[u8]) -> Result<Decoded, HeaderError> {
    let raw = header_at(prefix, 0).ok_or_else(|| HeaderError {
        kind: CorruptionKind::TooShort,
        detail: format!("{} bytes, a segment header needs 64", prefix.len()),
    })?;
    let header = SegmentHeader::decode(&raw).map_err(|e| HeaderError {
        kind: e.kind,
        detail: e.detail,
    })?;
    Ok(Decoded::Segment {
        header,
        format: Format::Native,
        first_chain: u64::from(header.prev_chain),
        last_chain: u64::from(header.last_chain),
    })
}

/// Checks the native block at `c`: header, position, ids, chain and bounds (not the payload
/// CRC and the padding after it: [`check_payload`]).
#[inline(always)]
pub fn check_block(data: &[u8], c: &Cursor) -> Result<BlockOk, BlockFailure> {
    let off = c.off;
    let raw = super::block_header_at(data, off)?;
    let bh = BlockHeader::decode(&raw).map_err(|e| BlockFailure::new(e.kind, e.detail))?;
    check_identity(c.log_id, &bh)?;
    super::check_place(u64::from(bh.index), bh.first_event_id, c)?;
    // Native chain values are CRC32C: they fit in the low 32 bits.
    let chain = c.chain as u32;
    if !bh.chain_extends(chain) {
        return Err(BlockFailure::new(
            CorruptionKind::ChainMismatch,
            format!("chain {:#010x} does not extend {chain:#010x}", bh.chain),
        ));
    }
    let start = off + HEADER_BYTES;
    let end = start + bh.payload_len as usize; // payload_len <= 16 MiB: no overflow
    if data.get(start..end).is_none() {
        return Err(BlockFailure::new(
            CorruptionKind::Truncated,
            format!(
                "payload of {} bytes runs past the end of the file",
                bh.payload_len
            ),
        ));
    }
    let next = end.next_multiple_of(BLOCK_ALIGN);
    if next > data.len() {
        return Err(BlockFailure::new(
            CorruptionKind::Truncated,
            "block padding runs past the end of the file",
        ));
    }
    let entry = IndexEntry {
        first_event_id: bh.first_event_id,
        event_count: bh.event_count,
        payload_offset: start,
        payload_end: end,
    };
    Ok(BlockOk {
        entry,
        chain: u64::from(bh.chain),
        next_off: next,
        payload: PayloadBlock {
            start,
            end,
            slots_end: next,
            first_id: bh.first_event_id,
            seed: 0,
            expect: u64::from(bh.payload_crc),
        },
    })
}

/// The log id the blocks of the segment in `data` carry: the header's (format 2), or `None`
/// (format 1, whose blocks have zeros there). The header was validated when the segment was
/// opened; its bytes are part of `data`.
fn segment_log_id(data: &[u8]) -> Option<u64> {
    let raw = header_at(data, 0)?;
    (raw[4] != FORMAT_VERSION_1).then(|| u64_at(&raw, 32))
}

/// A format-2 block must carry its segment's log id `log_id` (else a block of another log is
/// spliced in); a format-1 block (`log_id` `None`) has zeros where format 2 keeps the synced
/// offset and the log id.
fn check_identity(log_id: Option<u64>, bh: &BlockHeader) -> Result<(), BlockFailure> {
    match log_id {
        Some(id) if bh.log_id != id => Err(BlockFailure::new(
            CorruptionKind::ChainMismatch,
            format!(
                "block of another log: log id {:#018x}, the segment's {id:#018x}",
                bh.log_id
            ),
        )),
        None if bh.log_id != 0 || bh.synced_offset != 0 => Err(BlockFailure::new(
            CorruptionKind::Padding,
            "reserved block header bytes are not zero (format 1)",
        )),
        _ => Ok(()),
    }
}

/// Format 2: a later valid block of the segment (after the failed block `block_no` at `off`)
/// whose recorded synced offset lies beyond `off` — proof that a sync which returned covered
/// the failed block, so its failure is damage. Returns that block's offset and synced offset.
pub fn sync_proof(data: &[u8], off: usize, block_no: u64) -> Option<(usize, u64)> {
    let id = segment_log_id(data)?;
    let mut probe = off + BLOCK_ALIGN;
    while let Some(raw) = header_at(data, probe) {
        if raw[0..4] == BLOCK_MAGIC {
            if let Ok(bh) = BlockHeader::decode(&raw) {
                if u64::from(bh.index) > block_no
                    && bh.log_id == id
                    && bh.synced_offset > off as u64
                {
                    return Some((probe, bh.synced_offset));
                }
            }
        }
        probe += BLOCK_ALIGN;
    }
    None
}

/// Bytes of a sector, the unit a disk writes atomically.
const SECTOR: usize = 512;

/// Whether the block header of zeros at `off` is what a lost write leaves: the rest of the
/// header's 512-byte sector reads as zeros too. A disk writes a sector whole, so a zeroed header
/// beside non-zero bytes of its own sector is damage. Bytes from `stored` on are a hole (zeros).
pub fn header_sector_lost(data: &[u8], off: usize, stored: usize) -> bool {
    let sector_end = (off - off % SECTOR + SECTOR).min(stored);
    let after_header = data.get(off + HEADER_BYTES..sector_end).unwrap_or(&[]);
    after_header.iter().all(|&b| b == 0)
}

/// Format 2, the failed block at `off` being the last data: whether a whole 512-byte sector
/// (aligned in the file, and within it) that overlaps the block reads as zeros — a sector of an
/// un-synced write that never reached the disk while later ones did (a file size updated at
/// I/O completion, as on XFS). The sector may run past the block into where the next block's
/// header was.
pub fn lost_sector(data: &[u8], off: usize) -> bool {
    let end = match header_at(data, off).map(|raw| BlockHeader::decode(&raw)) {
        Some(Ok(bh)) => (off + HEADER_BYTES + bh.payload_len as usize).min(data.len()),
        _ => data.len(),
    };
    let mut s = off - off % SECTOR;
    while s < end {
        match data.get(s..s + SECTOR) {
            Some(b) if b.iter().all(|&x| x == 0) => return true,
            Some(_) => s += SECTOR,
            None => return false,
        }
    }
    false
}

/// The payload's CRC32C against its block header's, then the zero padding after it (in the
/// payload's last cache line, which the CRC has just read).
#[inline(always)]
pub fn check_payload(data: &[u8], b: &PayloadBlock) -> Result<(), BlockFailure> {
    let (Some(payload), Some(pad)) = (data.get(b.start..b.end), data.get(b.end..b.slots_end))
    else {
        return Err(BlockFailure::new(
            CorruptionKind::Truncated,
            "payload runs past the end of the file",
        ));
    };
    let crc = checksum::crc32c(payload);
    if u64::from(crc) != b.expect {
        return Err(BlockFailure::new(
            CorruptionKind::PayloadChecksum,
            format!("stored {:#010x}, computed {crc:#010x}", b.expect),
        ));
    }
    if pad.iter().any(|&x| x != 0) {
        return Err(BlockFailure::new(
            CorruptionKind::Padding,
            "block padding is not zero",
        ));
    }
    Ok(())
}

/// A sealed native segment ends right after its last block.
pub fn after_last_block(data: &[u8], path: &Path, c: &Cursor) -> SegmentEnd {
    if c.off != data.len() {
        SegmentEnd::Corrupt(corruption_at(
            path,
            c.off as u64,
            None,
            CorruptionKind::TrailingData,
            format!("{} bytes after the last block", data.len() - c.off),
        ))
    } else {
        SegmentEnd::Clean
    }
}

/// A later block header that verifies on its own (any 64-aligned offset after `off`).
pub fn find_later_block(data: &[u8], off: usize, block_no: u64, stored: usize) -> Option<usize> {
    let mut probe = off + BLOCK_ALIGN;
    // A header that starts in the trailing hole is zeros (no magic): not read.
    while let Some(raw) = (probe < stored).then(|| header_at(data, probe)).flatten() {
        if raw[0..4] == BLOCK_MAGIC {
            if let Ok(bh) = BlockHeader::decode(&raw) {
                if u64::from(bh.index) > block_no {
                    return Some(probe);
                }
            }
        }
        probe += BLOCK_ALIGN;
    }
    None
}

/// Whether the failure of the native block at `off` (the last data of an unsealed segment) has
/// the shape an interrupted append leaves: the file ends inside the block; or the block header
/// is all zeros and so is the rest of its 512-byte sector (its sector never reached the disk:
/// a disk writes a sector whole, so a zeroed header beside non-zero bytes of the same sector is
/// damage); or everything from inside the header, or from inside a record (its length or its
/// bytes), to the end of the file is zero — the rest of the write never reached the disk.
/// Zeros that start only in the padding after the last record's bytes are the block's own, so
/// a changed byte before them — a bit flip — is damage. (A block whose last payload bytes are
/// themselves zeros cannot be told from one cut there.)
pub fn torn_shape(data: &[u8], off: usize, fail: &BlockFailure, stored: usize) -> bool {
    if fail.kind == CorruptionKind::Truncated {
        return true;
    }
    if fail.zero_filled {
        return header_sector_lost(data, off, stored);
    }
    // The bytes after `stored` (a trailing hole) are zeros: the zero suffix of the stored
    // bytes is the file's.
    let zeros_from = super::zero_suffix_start(data.get(..stored).unwrap_or(data));
    if zeros_from <= off + HEADER_BYTES {
        return true;
    }
    let Some(Ok(bh)) = header_at(data, off).map(|raw| BlockHeader::decode(&raw)) else {
        return false;
    };
    let start = off + HEADER_BYTES;
    let Some(payload) = data.get(start..start + bh.payload_len as usize) else {
        return true; // runs past the end of the file
    };
    let mut pos = 0usize;
    for _ in 0..bh.event_count {
        match crate::segment::record::decode_at(payload, pos) {
            Some((_, end, next)) => {
                if zeros_from < start + end {
                    return true;
                }
                pos = next;
            }
            None => return false,
        }
    }
    false
}
