//! `SegmentReader`: one segment file, memory-mapped, verified, indexed and read zero-copy.
//!
//! `open` maps the file read-only and decodes its header. Verification walks every block —
//! block-header CRC, block index, id contiguity, chain, payload CRC, padding, bounds — and builds
//! the sparse index (first id and offset of every block) in the same pass. It runs in one of
//! three ways, with the same checks and the same outcome:
//!
//! * all at once — [`SegmentReader::verify`] (tools, the writer's reopen, tests);
//! * incrementally — [`SegmentReader::verify_lazily`]: each block is verified when the cursor
//!   first reaches it, fused with the replay over cache-hot bytes (the resume segment, and
//!   segments the manager maps itself);
//! * shared — [`SegmentReader::walk_headers`]: the preloader verifies every block header ahead,
//!   and the payload CRCs are split between the replay thread and the preloader
//!   ([`super::payload_checks`]).
//!
//! No event is ever returned from a block before that block has verified, and damage is found
//! at the same block whichever way runs.
//!
//! Verification stops at the first block that fails; what precedes it is the *valid prefix*,
//! always usable, and how the segment ends is recorded as a [`SegmentEnd`]:
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
//! new bytes. Segments are immutable once written, so this only happens under outside
//! interference; `docs/ARCHITECTURE.md` explains what the library does about it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{Advice, Mmap};

use super::event::Event;
use super::payload_checks::{Checked, PayloadBlock, PayloadChecks};
use super::telemetry::now_ns;
use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::segment::block::BlockHeader;
use crate::segment::bytes::header_at;
use crate::segment::header::SegmentHeader;
use crate::segment::{record, BLOCK_ALIGN, HEADER_BYTES, HUGE_PAGE_BYTES};

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

/// How far verification has got: where the next unverified block starts and what it must
/// continue.
#[derive(Clone, Copy, Debug)]
struct Progress {
    off: usize,
    chain: u32,
    expect_id: u64,
    block_no: u64,
    ns: u64,
}

/// A memory-mapped segment with a read cursor. See the module docs.
#[derive(Debug)]
pub struct SegmentReader {
    path: PathBuf,
    map: Arc<Mmap>,
    header: SegmentHeader,
    /// Verification is complete: `end` is final.
    verified: bool,
    /// Verified incrementally, and that verification is not yet reported to telemetry.
    lazy: bool,
    index: Vec<IndexEntry>,
    end: SegmentEnd,
    progress: Progress,
    /// Set when a read-time check failed: the valid prefix ends at this id.
    end_override: Option<u64>,
    /// Shared verification ([`Self::walk_headers`]): block headers are verified, payload CRCs
    /// are checked by whichever thread claims them first.
    shared: Option<Arc<PayloadChecks>>,
    /// Shared verification: how the segment ends according to its block headers.
    header_end: SegmentEnd,
    /// Shared verification: chain value after each indexed block.
    chains: Vec<u32>,
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
        let map = Arc::new(unsafe { Mmap::map(&file) }.map_err(|e| Error::io("mmap", &path, e))?);
        drop(file); // the mapping keeps the pages; free the descriptor now (low ulimit -n)
        if map.len() >= HUGE_PAGE_BYTES {
            // Advice only, so a refusal (no THP in this kernel) changes nothing: reads that
            // fault pages in from disk then allocate 2 MiB page-cache folios, which are mapped
            // with one page-table entry each (fewer faults, TLB misses and a cheaper munmap).
            let _ = map.advise(Advice::HugePage);
        }
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
            lazy: false,
            index: Vec::new(),
            end: SegmentEnd::Clean,
            progress: Progress {
                off: HEADER_BYTES,
                chain: header.prev_chain,
                expect_id: header.first_event_id,
                block_no: 0,
                ns: 0,
            },
            end_override: None,
            shared: None,
            header_end: SegmentEnd::Clean,
            chains: Vec::new(),
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

    /// Verifies every (remaining) block, builds the sparse index, records how the segment ends
    /// and positions the cursor on the first event. Damage does not make this fail: it shortens
    /// the valid prefix and is reported by [`Self::end`].
    pub fn verify(&mut self) {
        self.lazy = false;
        self.verify_remaining();
        self.rewind();
    }

    /// Switches to incremental verification: each block is verified when the cursor first
    /// reaches it, fused with the replay over cache-hot bytes. Nothing is returned from a block
    /// before it has verified, and damage is reported exactly where [`Self::verify`] finds it.
    pub fn verify_lazily(&mut self) {
        self.lazy = !self.verified;
    }

    /// Completes verification without moving the cursor.
    pub fn verify_remaining(&mut self) {
        while self.step() {}
    }

    /// Verifies blocks until `event_id` is inside the verified prefix or verification is
    /// complete.
    pub fn verify_through(&mut self, event_id: u64) {
        if self.shared.is_some() {
            // Every block is indexed already; check payloads in order up to the block holding
            // `event_id` (the blocks after it are shared with the preloader).
            while !self.verified {
                let b = self.progress.block_no as usize;
                match self.index.get(b) {
                    Some(e) if e.first_event_id <= event_id => {
                        if !self.step() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            return;
        }
        while !self.verified && self.end_event_id() <= event_id {
            self.step();
        }
    }

    /// Verifies the next block; false once verification is complete.
    fn step(&mut self) -> bool {
        if self.shared.is_some() {
            // Every block with a valid header is indexed already; what remains is their
            // payload checks, in order.
            let b = self.progress.block_no as usize;
            if self.verified || b >= self.index.len() {
                self.finish_shared();
                return false;
            }
            if self.payload_check(b) == Checked::Bad {
                self.fail_payload_at(b);
                return false;
            }
            self.progress.block_no += 1;
            return true;
        }
        step_parts(
            &self.map,
            &self.path,
            &self.header,
            &mut self.progress,
            &mut self.index,
            &mut self.end,
            &mut self.verified,
        )
    }

    /// Prepares shared verification: walks every block header now (header CRC, index, ids,
    /// chain, lengths, padding, sealed totals — everything but the payload CRCs), building the
    /// whole index, and returns the payload checks to share. The replay thread then checks each
    /// block's payload when it reaches it unless the other thread got there first
    /// ([`PayloadChecks`]); no event is read from a block before its payload has verified.
    pub fn walk_headers(&mut self) -> Arc<PayloadChecks> {
        let start = now_ns();
        let h = self.header;
        let map: &[u8] = &self.map;
        let mut p = self.progress;
        let mut blocks = Vec::new();
        let end = loop {
            if h.sealed && p.block_no == u64::from(h.block_count) {
                break sealed_totals(map, &self.path, &h, &p);
            }
            if p.off == map.len() {
                break end_of_file(&self.path, &h, &p);
            }
            match check_block_header(map, p.off, p.block_no, p.expect_id, p.chain) {
                Ok((bh, entry, next_off)) => {
                    self.index.push(entry);
                    self.chains.push(bh.chain);
                    blocks.push(PayloadBlock {
                        start: entry.payload_offset,
                        end: entry.payload_end,
                        crc: bh.payload_crc,
                    });
                    p.chain = bh.chain;
                    p.expect_id += u64::from(bh.event_count);
                    p.off = next_off;
                    p.block_no += 1;
                }
                Err(fail) => break classify(map, &self.path, &h, p.off, p.block_no, fail),
            }
        };
        // `progress` now describes the header walk's end; `block_no` counts payload checks.
        p.block_no = 0;
        p.ns += now_ns().saturating_sub(start);
        self.progress = p;
        self.header_end = end;
        self.lazy = true;
        let checks = Arc::new(PayloadChecks::new(Arc::clone(&self.map), blocks));
        self.shared = Some(Arc::clone(&checks));
        checks
    }

    /// Shared verification: block `b`'s payload check (done here unless the preloader has it).
    fn payload_check(&self, b: usize) -> Checked {
        self.shared.as_ref().map_or(Checked::Bad, |sh| sh.ensure(b))
    }

    fn finish_shared(&mut self) {
        if !self.verified {
            self.end = std::mem::replace(&mut self.header_end, SegmentEnd::Clean);
            self.verified = true;
        }
    }

    /// Shared verification found block `b`'s payload damaged: the valid prefix ends there.
    fn fail_payload_at(&mut self, b: usize) {
        let Some(entry) = self.index.get(b).copied() else {
            self.finish_shared();
            return;
        };
        let off = entry.payload_offset - HEADER_BYTES;
        let stored = self.shared.as_ref().map_or(0, |sh| sh.stored_crc(b));
        let computed = self
            .map
            .get(entry.payload_offset..entry.payload_end)
            .map_or(0, crc32c::crc32c);
        let fail = BlockFailure {
            kind: CorruptionKind::PayloadChecksum,
            detail: format!("stored {stored:#010x}, computed {computed:#010x}"),
            zero_filled: false,
        };
        self.end = classify(&self.map, &self.path, &self.header, off, b as u64, fail);
        self.index.truncate(b);
        self.chains.truncate(b);
        self.progress.off = off;
        self.progress.chain = match b.checked_sub(1) {
            Some(prev) => self.chains[prev],
            None => self.header.prev_chain,
        };
        self.progress.expect_id = entry.first_event_id;
        self.verified = true;
        if self.next_block > b {
            self.next_block = b;
        }
    }

    /// True once for a reader verified incrementally to completion: its verification is then
    /// reported (by whoever retires the reader) and the flag cleared.
    pub fn take_lazy_record(&mut self) -> bool {
        self.verified && std::mem::take(&mut self.lazy)
    }

    /// Nanoseconds spent verifying this segment so far (on every thread).
    pub fn verify_ns(&self) -> u64 {
        self.progress.ns + self.shared.as_ref().map_or(0, |sh| sh.ns())
    }

    /// Fills the mapping's page tables now, so that page faults (and, on a cold cache, disk
    /// reads) happen on the calling thread rather than during replay.
    ///
    /// One `madvise(MADV_POPULATE_READ)` (Linux ≥ 5.14) does it inside the kernel; where that
    /// is refused, one byte of every page is touched instead. With the huge-page hint given at
    /// [`Self::open`], page-cache folios of 2 MiB are mapped with one entry each: measured on a
    /// 64 MiB segment, 0.05–0.17 ms against 2.5–3.1 ms for 4 KiB–64 KiB folios (see
    /// `docs/ARCHITECTURE.md`, "Page-cache folios").
    pub fn prefault(&self) {
        if self.map.advise(Advice::PopulateRead).is_ok() {
            return;
        }
        let mut acc = 0u8;
        for b in self.map.iter().step_by(4096) {
            acc ^= *b;
        }
        std::hint::black_box(acc);
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
    /// segment's valid range is an error naming the range. Verifies as far as needed.
    pub fn seek(&mut self, event_id: u64) -> Result<()> {
        self.verify_through(event_id);
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
        self.pos = 0;
        self.block_end = 0;
        self.remaining = 0;
        if event_id == end {
            self.next_block = self.index.len();
            self.next_id = end;
            return Ok(());
        }
        // First block whose first id is > event_id, minus one: the block holding event_id.
        let b = self.index.partition_point(|e| e.first_event_id <= event_id) - 1;
        self.next_block = b;
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

    /// Moves the cursor into the next block, verifying it first if verification is incremental.
    /// Checks the previous block was consumed exactly (framing consistent with the count).
    #[inline(never)]
    fn enter_next_block(&mut self) -> Result<bool> {
        // The records of the block just finished must fill its payload exactly.
        if self.pos != self.block_end {
            return Err(self.framing_error());
        }
        if self.shared.is_some() {
            let b = self.next_block;
            if b >= self.index.len() {
                self.finish_shared();
                return Ok(false);
            }
            if self.payload_check(b) == Checked::Bad {
                self.fail_payload_at(b);
                return Ok(false);
            }
            self.progress.block_no = self.progress.block_no.max(b as u64 + 1);
            // Blocks are checked in order (seek checks those before its target), so with the
            // last one checked the verification is complete: say so now, while entering the
            // last block, rather than in the `next()` that finds the segment's end — that one
            // should only switch segments ([`Self::exhausted_cleanly`]).
            if self.progress.block_no as usize == self.index.len() {
                self.finish_shared();
            }
        } else if self.next_block == self.index.len() && !self.step() {
            return Ok(false);
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
        let (start, end, next) = record::decode_at(self.map.get(..self.block_end)?, self.pos)?;
        self.pos = next;
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

    /// Whether the cursor has read the whole segment and the segment ended cleanly: every
    /// block verified, the last one consumed exactly, nothing cut. The manager's segment switch
    /// asks this instead of calling [`Self::next_position`] once more, whose end-of-segment
    /// branch would be code run once per segment, cold.
    #[inline]
    pub fn exhausted_cleanly(&self) -> bool {
        self.remaining == 0
            && self.pos == self.block_end
            && self.next_block >= self.index.len()
            && self.verified
            && self.end_override.is_none()
            && matches!(self.end, SegmentEnd::Clean)
    }

    /// Enters the first block of a reader whose cursor is at the start, so that the first
    /// [`Self::next_fast`] returns its first event: checks the block's payload (for a reader
    /// prepared by the preloader, reads the outcome it already published) and sets the cursor
    /// from the index, without reading any mapped byte. True when the reader is then ready to
    /// deliver its first event; false when it has none or its first block failed (its end then
    /// says why, as entering it through `next` would have). For the manager's look-ahead.
    pub fn enter_first_block(&mut self) -> bool {
        if self.next_block != 0 || self.remaining != 0 {
            return false;
        }
        matches!(self.enter_next_block(), Ok(true))
    }

    /// The payload bytes at a range returned by [`Self::next_position`].
    #[inline]
    pub fn payload(&self, start: usize, end: usize) -> &[u8] {
        &self.map[start..end]
    }

    /// Whether another event can be read: enters (and, if incremental, verifies) the next block
    /// if needed and checks the next record's framing. A framing failure ends the valid prefix
    /// here ([`Self::cut_at_cursor`]).
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
        if let Error::Corrupt(c) = self.framing_error() {
            self.cut_at_cursor(*c);
        }
        false
    }

    /// Asks the CPU to bring this reader's first record into cache, and its page translation
    /// into the TLB, without reading it: a prefetch never faults, so a mapping whose file was
    /// truncated under us raises no SIGBUS here. For the manager's look-ahead.
    pub fn prefetch_first_record(&self) {
        let Some(e) = self.index.first() else {
            return;
        };
        let Some(bytes) = self.map.get(e.payload_offset..) else {
            return;
        };
        super::prefetch::data(bytes.as_ptr() as usize);
    }

    /// How many blocks the cursor has entered since the last seek or rewind.
    #[inline]
    pub fn blocks_entered(&self) -> usize {
        self.next_block
    }

    /// The cursor is in the last block indexed so far (for a reader verified ahead, the last
    /// block of the segment).
    #[inline]
    pub fn in_last_block(&self) -> bool {
        self.next_block >= self.index.len()
    }

    /// Calls `f` for up to `max` events of the valid prefix, crossing blocks (verifying them
    /// first if verification is incremental) but never the segment, in one pass and without
    /// allocating. Returns the number of events and their payload bytes. An inconsistent record
    /// ends the batch early; [`Self::peek_ok`] then reports it.
    pub fn next_batch_with<'a>(
        &'a mut self,
        max: usize,
        mut f: impl FnMut(Event<'a>),
    ) -> (usize, u64) {
        // Only `map` is borrowed for 'a; the other fields are updated alongside it.
        let map: &'a [u8] = &self.map;
        let (mut n, mut bytes) = (0usize, 0u64);
        while n < max {
            if self.remaining == 0 {
                if self.pos != self.block_end {
                    break;
                }
                if let Some(sh) = &self.shared {
                    // Shared verification: stop at the end or at a bad payload; `peek_ok`
                    // then records how the segment ends.
                    let b = self.next_block;
                    if b >= self.index.len() || sh.ensure(b) != Checked::Ok {
                        break;
                    }
                    self.progress.block_no = self.progress.block_no.max(b as u64 + 1);
                } else if self.next_block == self.index.len()
                    && !step_parts(
                        map,
                        &self.path,
                        &self.header,
                        &mut self.progress,
                        &mut self.index,
                        &mut self.end,
                        &mut self.verified,
                    )
                {
                    break;
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
            // The records of this block, with the cursor in locals (registers) so that the
            // callback cannot force it through memory; written back once per block.
            let take = (self.remaining as usize).min(max - n);
            let Some(block) = map.get(..self.block_end) else {
                break;
            };
            let (mut pos, mut id) = (self.pos, self.next_id);
            let mut done = 0usize;
            while done < take {
                let Some((start, end, next)) = record::decode_at(block, pos) else {
                    break;
                };
                f(Event {
                    id,
                    payload: &block[start..end],
                });
                pos = next;
                id += 1;
                done += 1;
                bytes += (end - start) as u64;
            }
            self.pos = pos;
            self.next_id = id;
            self.remaining -= done as u32;
            n += done;
            if done < take {
                break; // inconsistent framing: left for peek_ok / next to report
            }
        }
        (n, bytes)
    }

    /// Ends the valid prefix at the cursor after a read-time check (record framing) failed:
    /// nothing at or after the cursor is returned, and [`Self::end`] reports `c`.
    pub fn cut_at_cursor(&mut self, c: Corruption) {
        self.end_override = Some(self.next_id);
        self.end = SegmentEnd::Corrupt(c);
        self.verified = true;
        self.remaining = 0;
        self.pos = 0;
        self.block_end = 0;
        self.next_block = self.index.len();
    }

    /// Events of the verified prefix not yet read.
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

    /// One past the last verified event id (once verification is complete: the end of the
    /// valid prefix, the first id of the next segment if contiguous).
    pub fn end_event_id(&self) -> u64 {
        if let Some(end) = self.end_override {
            return end;
        }
        match self.index.last() {
            Some(e) => e.first_event_id + u64::from(e.event_count),
            None => self.header.first_event_id,
        }
    }

    /// Number of events in the verified prefix.
    pub fn event_count(&self) -> u64 {
        self.end_event_id() - self.header.first_event_id
    }

    /// How the segment ends (final once [`Self::is_verified`]).
    pub fn end(&self) -> &SegmentEnd {
        &self.end
    }

    /// Whether verification is complete.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// Bytes of the verified prefix (header included).
    pub fn valid_len(&self) -> u64 {
        self.progress.off as u64
    }

    /// Length of the file as mapped.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Chain value after the last verified block (the next segment's `prev_chain`).
    pub fn last_chain(&self) -> u32 {
        self.progress.chain
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

/// Verifies the block at `p`, extending `index` and `p` — or, when there is no further valid
/// block, records how the segment ends and marks verification complete. Returns whether a
/// block was added. Works on the reader's fields separately so that a batch can verify while
/// it holds the mapping borrowed.
fn step_parts(
    map: &[u8],
    path: &Path,
    h: &SegmentHeader,
    p: &mut Progress,
    index: &mut Vec<IndexEntry>,
    end: &mut SegmentEnd,
    verified: &mut bool,
) -> bool {
    if *verified {
        return false;
    }
    let start = now_ns();
    let outcome = if h.sealed && p.block_no == u64::from(h.block_count) {
        Some(sealed_totals(map, path, h, p))
    } else if p.off == map.len() {
        Some(end_of_file(path, h, p))
    } else {
        match check_block(map, p.off, p.block_no, p.expect_id, p.chain) {
            Ok((bh, entry, next_off)) => {
                index.push(entry);
                p.chain = bh.chain;
                p.expect_id += u64::from(bh.event_count);
                p.off = next_off;
                p.block_no += 1;
                None
            }
            Err(fail) => Some(classify(map, path, h, p.off, p.block_no, fail)),
        }
    };
    p.ns += now_ns().saturating_sub(start);
    match outcome {
        None => true,
        Some(e) => {
            *end = e;
            *verified = true;
            false
        }
    }
}

fn corruption_at(
    path: &Path,
    offset: u64,
    block: Option<u64>,
    kind: CorruptionKind,
    detail: String,
) -> Corruption {
    Corruption {
        path: path.to_path_buf(),
        offset,
        block,
        kind,
        detail,
    }
}

/// A sealed segment after its last counted block: totals and length must match the header.
fn sealed_totals(map: &[u8], path: &Path, h: &SegmentHeader, p: &Progress) -> SegmentEnd {
    let count = p.expect_id - h.first_event_id;
    if count != h.event_count || p.chain != h.last_chain {
        SegmentEnd::Corrupt(corruption_at(
            path,
            0,
            None,
            CorruptionKind::SealedMismatch,
            format!(
                "header says {} events, chain {:#010x}; blocks hold {count} events, chain {:#010x}",
                h.event_count, h.last_chain, p.chain
            ),
        ))
    } else if p.off != map.len() {
        SegmentEnd::Corrupt(corruption_at(
            path,
            p.off as u64,
            None,
            CorruptionKind::TrailingData,
            format!("{} bytes after the last block", map.len() - p.off),
        ))
    } else {
        SegmentEnd::Clean
    }
}

/// The file ends exactly at a block boundary: clean for an unsealed segment, truncation for a
/// sealed one that promised more blocks.
fn end_of_file(path: &Path, h: &SegmentHeader, p: &Progress) -> SegmentEnd {
    if h.sealed {
        SegmentEnd::Corrupt(corruption_at(
            path,
            p.off as u64,
            Some(p.block_no),
            CorruptionKind::Truncated,
            format!("file ends after {} of {} blocks", p.block_no, h.block_count),
        ))
    } else {
        SegmentEnd::Clean
    }
}

/// How a segment whose block `block_no` at `off` failed ends: corruption if the segment is
/// sealed or a valid block follows the damage, otherwise the torn tail of the last write.
fn classify(
    map: &[u8],
    path: &Path,
    h: &SegmentHeader,
    off: usize,
    block_no: u64,
    fail: BlockFailure,
) -> SegmentEnd {
    let c = corruption_at(
        path,
        off as u64,
        Some(block_no),
        fail.kind,
        fail.detail.clone(),
    );
    if h.sealed {
        return SegmentEnd::Corrupt(c);
    }
    if let Some(later) = find_later_block(map, off, block_no) {
        let mut c = c;
        c.detail = format!(
            "{}; a valid block follows at offset {later}, so this is not a torn write",
            c.detail
        );
        return SegmentEnd::Corrupt(c);
    }
    SegmentEnd::TornTail(TornTail {
        offset: off as u64,
        bytes: (map.len() - off) as u64,
        reason: if fail.zero_filled {
            "zero-filled block".into()
        } else {
            fail.kind.as_str().into()
        },
    })
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

type BlockCheck = std::result::Result<(BlockHeader, IndexEntry, usize), BlockFailure>;

/// Checks the block at `off`: header, position, ids, chain, payload CRC and padding.
fn check_block(data: &[u8], off: usize, block_no: u64, expect_id: u64, chain: u32) -> BlockCheck {
    check_block_with(data, off, block_no, expect_id, chain, true)
}

/// Checks everything about the block at `off` except its payload CRC (shared verification
/// checks that separately; see [`PayloadChecks`]).
fn check_block_header(
    data: &[u8],
    off: usize,
    block_no: u64,
    expect_id: u64,
    chain: u32,
) -> BlockCheck {
    check_block_with(data, off, block_no, expect_id, chain, false)
}

fn check_block_with(
    data: &[u8],
    off: usize,
    block_no: u64,
    expect_id: u64,
    chain: u32,
    check_payload: bool,
) -> BlockCheck {
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
    if check_payload {
        let crc = crc32c::crc32c(payload);
        if crc != bh.payload_crc {
            return Err(fail(
                CorruptionKind::PayloadChecksum,
                format!("stored {:#010x}, computed {crc:#010x}", bh.payload_crc),
            ));
        }
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
