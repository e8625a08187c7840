//! `SegmentReader`: one segment file, memory-mapped, fully verified, indexed and read zero-copy.
//!
//! `open` maps the file read-only and decodes its header. `verify` walks every block once —
//! block-header CRC, block index, id contiguity, chain, payload CRC, padding, bounds — and builds
//! the sparse index (first id and offset of every block) in the same pass. Verification stops at
//! the first block that fails; what precedes it is the *valid prefix*, always usable, and how the
//! segment ends is recorded as a [`SegmentEnd`]:
//!
//! * `Clean` — every byte accounted for (a sealed segment also matches its header totals);
//! * `TornTail` — an unsealed segment (the one being written at a crash) ends in a partial or
//!   zero-filled block and nothing valid follows: the normal crash state, not an error;
//! * `Corrupt` — a check failed and the data cannot be a torn write (the segment is sealed, or a
//!   valid block follows the damage).
//!
//! Offsets and lengths read from disk are never trusted: every slice is taken with checked
//! bounds, nothing is allocated from a header field, and arithmetic cannot wrap.
//!
//! **mmap caveat.** The mapping is `MAP_SHARED` read-only. If another process truncates the file
//! while it is mapped, touching the lost pages raises SIGBUS; if it rewrites bytes, reads see the
//! new bytes unverified. Segments are immutable once written, so this only happens under outside
//! interference; `docs/ARCHITECTURE.md` explains what the library does about it.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::event::Event;
use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::segment::block::BlockHeader;
use crate::segment::bytes::header_at;
use crate::segment::header::SegmentHeader;
use crate::segment::{record, record_size, BLOCK_ALIGN, HEADER_BYTES};

/// Where an unsealed segment's valid data stops because its last write was torn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// File offset of the first byte not part of the valid prefix.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file (dropped).
    pub bytes: u64,
    /// What was found there.
    pub reason: String,
}

/// How a verified segment's data ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentEnd {
    /// Every byte verified.
    Clean,
    /// An unsealed segment ending in a torn write.
    TornTail(TornTail),
    /// Verification failed; only the prefix before `offset` is valid.
    Corrupt(Corruption),
}

/// One entry of the sparse index: a verified block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Id of the block's first event.
    pub first_event_id: u64,
    /// Number of events in the block.
    pub event_count: u32,
    /// File offset of the block's first record (just past its header).
    pub payload_offset: usize,
    /// File offset one past its last payload byte.
    pub payload_end: usize,
}

/// A memory-mapped, verified segment with a read cursor.
#[derive(Debug)]
pub struct SegmentReader {
    path: PathBuf,
    map: Mmap,
    header: SegmentHeader,
    verified: bool,
    index: Vec<IndexEntry>,
    end: SegmentEnd,
    valid_len: u64,
    last_chain: u32,
    /// Set when a read-time check failed: the valid prefix ends at this id.
    end_override: Option<u64>,
    // cursor
    pos: usize,
    block_end: usize,
    remaining: u32,
    next_id: u64,
    next_block: usize,
}

impl SegmentReader {
    /// Opens, stats and maps `path` read-only, and decodes its header. Does not verify blocks.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let meta = file.metadata().map_err(|e| Error::io("fstat", &path, e))?;
        if !meta.is_file() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        if meta.len() < HEADER_BYTES as u64 {
            return Err(Error::corrupt(
                &path,
                0,
                None,
                CorruptionKind::TooShort,
                format!("{} bytes, a segment header needs 64", meta.len()),
            ));
        }
        if usize::try_from(meta.len()).is_err() {
            return Err(Error::InvalidArgument(format!(
                "{} is too large to map",
                path.display()
            )));
        }
        // SAFETY: the map is read-only and segment files are immutable once written; outside
        // modification while mapped is the documented mmap caveat (module docs). Every access
        // through the map is bounds-checked, so a changed length cannot cause out-of-bounds reads.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("mmap", &path, e))?;
        drop(file); // the mapping keeps the pages; free the descriptor now (low ulimit -n)
        let raw = header_at(&map, 0).ok_or_else(|| {
            Error::corrupt(
                &path,
                0,
                None,
                CorruptionKind::TooShort,
                "file shrank while opening",
            )
        })?;
        let header = SegmentHeader::decode(&raw)
            .map_err(|e| Error::corrupt(&path, 0, None, e.kind, e.detail))?;
        Ok(SegmentReader {
            path,
            map,
            header,
            verified: false,
            index: Vec::new(),
            end: SegmentEnd::Clean,
            valid_len: HEADER_BYTES as u64,
            last_chain: header.prev_chain,
            end_override: None,
            pos: 0,
            block_end: 0,
            remaining: 0,
            next_id: header.first_event_id,
            next_block: 0,
        })
    }

    /// Opens and verifies in one call.
    pub fn open_verified(path: impl AsRef<Path>) -> Result<Self> {
        let mut r = Self::open(path)?;
        r.verify();
        Ok(r)
    }

    /// Verifies every block once, builds the sparse index, records how the segment ends and
    /// positions the cursor on the first event. Damage does not make this fail: it shortens the
    /// valid prefix and is reported by [`Self::end`].
    pub fn verify(&mut self) {
        let data: &[u8] = &self.map;
        let h = self.header;
        let mut index = Vec::new();
        let mut off = HEADER_BYTES;
        let mut chain = h.prev_chain;
        let mut expect_id = h.first_event_id;
        let mut block_no: u64 = 0;
        let end = loop {
            if h.sealed && block_no == u64::from(h.block_count) {
                break self.check_sealed_totals(off, expect_id, chain);
            }
            if off == data.len() {
                break if h.sealed {
                    SegmentEnd::Corrupt(self.corruption(
                        off as u64,
                        Some(block_no),
                        CorruptionKind::Truncated,
                        format!("file ends after {block_no} of {} blocks", h.block_count),
                    ))
                } else {
                    SegmentEnd::Clean
                };
            }
            match check_block(data, off, block_no, expect_id, chain) {
                Ok((bh, entry, next_off)) => {
                    index.push(entry);
                    chain = bh.chain;
                    expect_id += u64::from(bh.event_count);
                    off = next_off;
                    block_no += 1;
                }
                Err(fail) => break self.classify_failure(data, off, block_no, fail),
            }
        };
        self.index = index;
        self.end = end;
        self.valid_len = off as u64;
        self.last_chain = chain;
        self.verified = true;
        self.rewind();
    }

    fn check_sealed_totals(&self, off: usize, end_id: u64, chain: u32) -> SegmentEnd {
        let h = &self.header;
        let count = end_id - h.first_event_id;
        if count != h.event_count || chain != h.last_chain {
            return SegmentEnd::Corrupt(self.corruption(
                0,
                None,
                CorruptionKind::SealedMismatch,
                format!(
                    "header says {} events, chain {:#010x}; blocks hold {count} events, chain {chain:#010x}",
                    h.event_count, h.last_chain
                ),
            ));
        }
        if off != self.map.len() {
            return SegmentEnd::Corrupt(self.corruption(
                off as u64,
                None,
                CorruptionKind::TrailingData,
                format!("{} bytes after the last block", self.map.len() - off),
            ));
        }
        SegmentEnd::Clean
    }

    /// Decides whether a failed block is a torn tail (unsealed, nothing valid after it) or
    /// corruption.
    fn classify_failure(
        &self,
        data: &[u8],
        off: usize,
        block_no: u64,
        fail: BlockFailure,
    ) -> SegmentEnd {
        let corrupt = self.corruption(off as u64, Some(block_no), fail.kind, fail.detail.clone());
        if self.header.sealed {
            return SegmentEnd::Corrupt(corrupt);
        }
        if let Some(later) = find_later_block(data, off, block_no) {
            let mut c = corrupt;
            c.detail = format!(
                "{}; a valid block follows at offset {later}, so this is not a torn write",
                c.detail
            );
            return SegmentEnd::Corrupt(c);
        }
        SegmentEnd::TornTail(TornTail {
            offset: off as u64,
            bytes: (data.len() - off) as u64,
            reason: if fail.zero_filled {
                "zero-filled block".into()
            } else {
                fail.kind.as_str().into()
            },
        })
    }

    fn corruption(
        &self,
        offset: u64,
        block: Option<u64>,
        kind: CorruptionKind,
        detail: String,
    ) -> Corruption {
        Corruption {
            path: self.path.clone(),
            offset,
            block,
            kind,
            detail,
        }
    }

    /// Puts the cursor on the first event of the valid prefix.
    pub fn rewind(&mut self) {
        self.next_block = 0;
        self.remaining = 0;
        self.pos = 0;
        self.block_end = 0;
        self.next_id = self.header.first_event_id;
    }

    /// Positions the cursor so that the next event returned is `event_id`. `event_id` may be
    /// one past the last valid event (positioned at the end). Anything else outside the
    /// segment's valid range is an error naming the range.
    pub fn seek(&mut self, event_id: u64) -> Result<()> {
        let first = self.header.first_event_id;
        let end = self.end_event_id();
        if event_id < first || event_id > end {
            return Err(Error::EventNotInSegment {
                requested: event_id,
                first,
                end,
                path: self.path.clone(),
            });
        }
        if event_id == end {
            self.next_block = self.index.len();
            self.remaining = 0;
            self.pos = 0;
            self.block_end = 0;
            self.next_id = end;
            return Ok(());
        }
        // First block whose first id is > event_id, minus one: the block holding event_id.
        let b = self.index.partition_point(|e| e.first_event_id <= event_id) - 1;
        self.next_block = b;
        self.pos = 0;
        self.block_end = 0;
        self.enter_next_block()?;
        while self.next_id < event_id {
            self.skip_one()?;
        }
        Ok(())
    }

    fn skip_one(&mut self) -> Result<()> {
        let (_, _, next) = record::decode_at(&self.map[..self.block_end], self.pos)
            .ok_or_else(|| self.framing_error())?;
        self.pos = next;
        self.remaining -= 1;
        self.next_id += 1;
        Ok(())
    }

    #[cold]
    fn framing_error(&self) -> Error {
        Error::Corrupt(Box::new(self.corruption(
            self.pos as u64,
            Some(self.next_block.saturating_sub(1) as u64),
            CorruptionKind::RecordFraming,
            format!("record for event {} overruns its block", self.next_id),
        )))
    }

    /// Moves the cursor into the next indexed block. Checks the previous block was consumed
    /// exactly (framing consistent with the count).
    #[inline(never)]
    fn enter_next_block(&mut self) -> Result<bool> {
        // The records of the block just finished must fill its payload exactly.
        if self.pos != self.block_end {
            return Err(self.framing_error());
        }
        let Some(e) = self.index.get(self.next_block).copied() else {
            return Ok(false);
        };
        self.pos = e.payload_offset;
        self.block_end = e.payload_end;
        self.remaining = e.event_count;
        self.next_id = e.first_event_id;
        self.next_block += 1;
        Ok(true)
    }

    /// The next event of the valid prefix, or `None` at its end. Zero-copy: the payload borrows
    /// the mapping.
    // Not `Iterator::next`: each event borrows the reader, which a lending API needs.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Event<'_>>> {
        match self.next_position()? {
            Some((id, start, end)) => Ok(Some(Event {
                id,
                payload: self.payload(start, end),
            })),
            None => Ok(None),
        }
    }

    /// Advances past the next event and returns its id and the file range of its payload, for
    /// callers that hold several payloads at once (see [`Self::payload`]).
    #[inline]
    pub fn next_position(&mut self) -> Result<Option<(u64, usize, usize)>> {
        if let Some(p) = self.next_fast() {
            return Ok(Some(p));
        }
        self.next_slow()
    }

    /// The hot path: the next record of the current block, or `None` when the block is
    /// exhausted *or* the record's framing is inconsistent — [`Self::next_slow`] tells which.
    /// Every length read from the file is checked against the verified block bounds.
    #[inline(always)]
    pub fn next_fast(&mut self) -> Option<(u64, usize, usize)> {
        if self.remaining == 0 {
            return None;
        }
        let p = self.pos;
        let len_bytes: [u8; 4] = self.map.get(p..p + 4)?.try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        let start = p + 4;
        let end = start.checked_add(len)?;
        if end > self.block_end {
            return None;
        }
        self.pos = p + record_size(len);
        self.remaining -= 1;
        let id = self.next_id;
        self.next_id += 1;
        Some((id, start, end))
    }

    /// Block switch or framing error: the cold side of [`Self::next_fast`].
    #[inline(never)]
    pub fn next_slow(&mut self) -> Result<Option<(u64, usize, usize)>> {
        if self.remaining != 0 {
            return Err(self.framing_error());
        }
        if !self.enter_next_block()? {
            return Ok(None);
        }
        match self.next_fast() {
            Some(p) => Ok(Some(p)),
            None => Err(self.framing_error()),
        }
    }

    /// The payload bytes at a range returned by [`Self::next_position`].
    #[inline]
    pub fn payload(&self, start: usize, end: usize) -> &[u8] {
        &self.map[start..end]
    }

    /// Whether another event can be read: enters the next block if needed and checks the next
    /// record's framing. A framing failure ends the valid prefix here ([`Self::cut_at_cursor`]).
    pub fn peek_ok(&mut self) -> bool {
        if self.remaining == 0 {
            match self.enter_next_block() {
                Ok(true) => {}
                Ok(false) => return false,
                Err(e) => {
                    if let Error::Corrupt(c) = e {
                        self.cut_at_cursor(*c);
                    }
                    return false;
                }
            }
        }
        if record::decode_at(&self.map[..self.block_end], self.pos).is_some() {
            return true;
        }
        let Error::Corrupt(c) = self.framing_error() else {
            return false;
        };
        self.cut_at_cursor(*c);
        false
    }

    /// Calls `f` for up to `max` events of the valid prefix, crossing blocks but never the
    /// segment, in one pass and without allocating. Returns the number of events and their
    /// payload bytes. A framing failure ends the batch early and ends the valid prefix there
    /// (reported by [`Self::end`]); the events before it are delivered.
    pub fn next_batch_with<'a>(
        &'a mut self,
        max: usize,
        mut f: impl FnMut(Event<'a>),
    ) -> (usize, u64) {
        // Only `map` is borrowed for 'a; the cursor fields are updated alongside it.
        let map: &'a [u8] = &self.map;
        let (mut n, mut bytes) = (0usize, 0u64);
        while n < max {
            if self.remaining == 0 {
                if self.pos != self.block_end {
                    break; // framing inconsistent: left for peek_ok / next to report
                }
                let Some(e) = self.index.get(self.next_block).copied() else {
                    break;
                };
                self.pos = e.payload_offset;
                self.block_end = e.payload_end;
                self.remaining = e.event_count;
                self.next_id = e.first_event_id;
                self.next_block += 1;
            }
            let p = self.pos;
            let Some(len_bytes) = map.get(p..p + 4) else {
                break;
            };
            let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]])
                as usize;
            let start = p + 4;
            let Some(end) = start.checked_add(len).filter(|&e| e <= self.block_end) else {
                break;
            };
            f(Event {
                id: self.next_id,
                payload: &map[start..end],
            });
            self.pos = p + record_size(len);
            self.remaining -= 1;
            self.next_id += 1;
            n += 1;
            bytes += len as u64;
        }
        (n, bytes)
    }

    /// Ends the valid prefix at the cursor after a read-time check (record framing) failed:
    /// nothing at or after the cursor is returned, and [`Self::end`] reports `c`.
    pub fn cut_at_cursor(&mut self, c: Corruption) {
        self.end_override = Some(self.next_id);
        self.end = SegmentEnd::Corrupt(c);
        self.remaining = 0;
        self.pos = 0;
        self.block_end = 0;
        self.next_block = self.index.len();
    }

    /// Events left before the end of the valid prefix.
    pub fn remaining_events(&self) -> u64 {
        self.end_event_id() - self.next_id
    }

    /// Id the next call to [`Self::next`] returns (or the end id when exhausted).
    pub fn position(&self) -> u64 {
        self.next_id
    }

    /// The decoded segment header.
    pub fn header(&self) -> &SegmentHeader {
        &self.header
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Id of the first event the segment holds.
    pub fn first_event_id(&self) -> u64 {
        self.header.first_event_id
    }

    /// One past the last valid event id (the first id of the next segment, if contiguous).
    pub fn end_event_id(&self) -> u64 {
        if let Some(end) = self.end_override {
            return end;
        }
        match self.index.last() {
            Some(e) => e.first_event_id + u64::from(e.event_count),
            None => self.header.first_event_id,
        }
    }

    /// Number of events in the valid prefix.
    pub fn event_count(&self) -> u64 {
        self.end_event_id() - self.header.first_event_id
    }

    /// How the segment ends (meaningful after [`Self::verify`]).
    pub fn end(&self) -> &SegmentEnd {
        &self.end
    }

    /// Whether [`Self::verify`] has run.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// Bytes of the valid prefix (header included).
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// Length of the file as mapped.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Chain value after the last valid block (the next segment's `prev_chain`).
    pub fn last_chain(&self) -> u32 {
        self.last_chain
    }

    /// The sparse index: one entry per verified block.
    pub fn index(&self) -> &[IndexEntry] {
        &self.index
    }

    /// Unmaps the segment. Dropping does the same; this makes the point explicit.
    pub fn close(self) {
        drop(self);
    }
}

struct BlockFailure {
    kind: CorruptionKind,
    detail: String,
    zero_filled: bool,
}

fn fail(kind: CorruptionKind, detail: impl Into<String>) -> BlockFailure {
    BlockFailure {
        kind,
        detail: detail.into(),
        zero_filled: false,
    }
}

/// Checks the block at `off`: header, position, ids, chain, payload CRC and padding.
fn check_block(
    data: &[u8],
    off: usize,
    block_no: u64,
    expect_id: u64,
    chain: u32,
) -> std::result::Result<(BlockHeader, IndexEntry, usize), BlockFailure> {
    let Some(raw) = header_at(data, off) else {
        let rest = data.get(off..).unwrap_or(&[]);
        let mut f = fail(
            CorruptionKind::Truncated,
            format!("{} bytes left, a block header needs 64", rest.len()),
        );
        f.zero_filled = rest.iter().all(|&b| b == 0);
        return Err(f);
    };
    if raw.iter().all(|&b| b == 0) {
        let mut f = fail(CorruptionKind::BlockMagic, "zero-filled block header");
        f.zero_filled = true;
        return Err(f);
    }
    let bh = BlockHeader::decode(&raw).map_err(|e| fail(e.kind, e.detail))?;
    if u64::from(bh.index) != block_no {
        return Err(fail(
            CorruptionKind::BlockIndex,
            format!("index {} at position {block_no}", bh.index),
        ));
    }
    if bh.first_event_id != expect_id {
        return Err(fail(
            CorruptionKind::BlockIds,
            format!(
                "first event id {} where {expect_id} was expected",
                bh.first_event_id
            ),
        ));
    }
    if !bh.chain_extends(chain) {
        return Err(fail(
            CorruptionKind::ChainMismatch,
            format!("chain {:#010x} does not extend {chain:#010x}", bh.chain),
        ));
    }
    let start = off + HEADER_BYTES;
    let end = start + bh.payload_len as usize; // payload_len <= 16 MiB: no overflow
    let Some(payload) = data.get(start..end) else {
        return Err(fail(
            CorruptionKind::Truncated,
            format!(
                "payload of {} bytes runs past the end of the file",
                bh.payload_len
            ),
        ));
    };
    let crc = crc32c::crc32c(payload);
    if crc != bh.payload_crc {
        return Err(fail(
            CorruptionKind::PayloadChecksum,
            format!("stored {:#010x}, computed {crc:#010x}", bh.payload_crc),
        ));
    }
    let next = end.next_multiple_of(BLOCK_ALIGN);
    let Some(pad) = data.get(end..next) else {
        return Err(fail(
            CorruptionKind::Truncated,
            "block padding runs past the end of the file",
        ));
    };
    if pad.iter().any(|&b| b != 0) {
        return Err(fail(CorruptionKind::Padding, "block padding is not zero"));
    }
    let entry = IndexEntry {
        first_event_id: bh.first_event_id,
        event_count: bh.event_count,
        payload_offset: start,
        payload_end: end,
    };
    Ok((bh, entry, next))
}

/// Looks for a block header that verifies on its own after a failed block at `off`: if one
/// exists, the failure is damage in the middle of data, not a torn final write.
fn find_later_block(data: &[u8], off: usize, block_no: u64) -> Option<usize> {
    let mut probe = off + BLOCK_ALIGN;
    while let Some(raw) = header_at(data, probe) {
        if raw[0..4] == crate::segment::block::BLOCK_MAGIC {
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
