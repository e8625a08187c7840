//! `SegmentReader`: one segment file, memory-mapped, verified, indexed and read zero-copy.
//!
//! `open` maps the file read-only (a cold FlashStrike `.wal.lz4` segment is decompressed into
//! memory instead) and decodes its header in the format its first bytes announce
//! ([`crate::recovery::format`]); everything below is the same for every format. Verification walks every block —
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

mod batch;
mod hot;
pub use hot::HotRun;
mod run;
mod verify;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::event::Event;
use super::format::{self, Cursor, Decoded, Format, FormatChoice, RecordFraming};
pub use super::format::{IndexEntry, SegmentEnd, TornTail};
use super::payload_checks::{Checked, PayloadChecks};
use super::segment_bytes;
use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::segment::header::SegmentHeader;
use memmap2::Mmap;
use run::Run;
use verify::Progress;

/// A memory-mapped segment with a read cursor. See the module docs.
#[derive(Debug)]
pub struct SegmentReader {
    path: PathBuf,
    bytes: Arc<Mmap>,
    header: SegmentHeader,
    format: Format,
    framing: RecordFraming,
    /// Chain value the first block continues.
    first_chain: u64,
    /// Chain value a sealed segment's last block must end with.
    sealed_last_chain: u64,
    /// Where the file's trailing hole starts ([`segment_bytes::trailing_hole`]; the length
    /// when it has none): the bytes from there on read as zeros and are never looked at.
    zeros_from: usize,
    /// Verification is complete: `end` is final.
    verified: bool,
    /// Verified incrementally, and that verification is not yet reported to telemetry.
    lazy: bool,
    index: Vec<IndexEntry>,
    end: SegmentEnd,
    progress: Progress,
    /// Set when a read-time check failed: the valid prefix ends at this id.
    end_override: Option<u64>,
    /// Shared verification ([`Self::walk_headers`]): block headers are verified, payload
    /// checksums are checked by whichever thread claims them first.
    shared: Option<Arc<PayloadChecks>>,
    /// Shared verification: how the segment ends according to its block headers.
    header_end: SegmentEnd,
    /// Shared verification: chain value after each indexed block.
    chains: Vec<u64>,
    // cursor
    pos: usize,
    block_end: usize,
    /// One past the last id of the block the cursor is in: the block has `block_end_id -
    /// next_id` events left (kept as an id rather than a count, so that reading an event
    /// updates one field less).
    block_end_id: u64,
    /// Where the hot path stops: `block_end_id`, or `sample_at` if it comes first
    /// ([`hot`]).
    stop_id: u64,
    /// The next event the manager times (`u64::MAX`: none).
    sample_at: u64,
    next_id: u64,
    next_block: usize,
    /// Length-prefixed framing: the last record's length and size, which predict the next.
    run: Run,
    /// Payload bytes delivered before `fold_id`; every event from `fold_id` to the cursor was
    /// delivered with the run's length ([`Self::delivered_bytes`]), so reading an event adds
    /// to no counter.
    bytes_folded: u64,
    fold_id: u64,
}

/// The cursor at the start of block `e`: its first record's position, the end of its payload,
/// its first id and one past its last id (`pos`, `block_end`, `next_id`, `block_end_id`). A free
/// function, so that `next_batch_with` can set the cursor while it holds the mapping borrowed.
fn cursor_at(e: &IndexEntry) -> (usize, usize, u64, u64) {
    (
        e.payload_offset,
        e.payload_end,
        e.first_event_id,
        e.first_event_id + u64::from(e.event_count),
    )
}

/// Largest file a cold segment may decompress to: a FlashStrike segment of the most blocks its
/// recorder allows.
fn cold_limit() -> u64 {
    crate::flashstrike::segment_file_len(crate::flashstrike::MAX_BLOCKS)
}

impl SegmentReader {
    /// Opens, stats and maps `path` read-only (decompresses a cold `.wal.lz4` segment), and
    /// decodes its header in the format its first bytes announce. Does not verify blocks.
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
        if usize::try_from(meta.len()).is_err() {
            return Err(Error::InvalidArgument(format!(
                "{} is too large to map",
                path.display()
            )));
        }
        let cold = format::is_cold_name(&path).then(|| read_cold(&file, &path));
        let len = match &cold {
            Some(Ok(inflated)) => inflated.len() as u64,
            Some(Err(_)) => 0,
            None => meta.len(),
        };
        if let Some(Err(e)) = cold {
            return Err(e);
        }
        if len < crate::segment::HEADER_BYTES as u64 {
            return Err(Error::corrupt(
                &path,
                0,
                None,
                CorruptionKind::TooShort,
                format!("{len} bytes, a segment header needs 64"),
            ));
        }
        let (bytes, zeros_from) = match cold {
            Some(Ok(inflated)) => (segment_bytes::in_memory(&inflated, &path)?, inflated.len()),
            _ => {
                let map = segment_bytes::map_file(&file, &path)?;
                let hole = segment_bytes::trailing_hole(&file, map.len() as u64);
                // No larger than the mapping, which has a usize length.
                let zeros_from = usize::try_from(hole).map_or(map.len(), |h| h.min(map.len()));
                (map, zeros_from)
            }
        };
        drop(file); // the mapping keeps the pages; free the descriptor now (low ulimit -n)
        let prefix = bytes.get(..bytes.len().min(format::HEADER_PREFIX_BYTES));
        let data: &[u8] = &bytes;
        let mut read_at = |off: u64, buf: &mut [u8]| {
            let src = usize::try_from(off)
                .ok()
                .and_then(|o| data.get(o..o.checked_add(buf.len())?));
            src.map(|s| buf.copy_from_slice(s)).is_some()
        };
        let decoded = format::decode_header_probing(
            prefix.unwrap_or(&[]),
            FormatChoice::Auto,
            data.len() as u64,
            &mut || zeros_from as u64,
            &mut read_at,
        )
        .map_err(|e| Error::corrupt(&path, 0, None, e.kind, e.detail))?;
        let (header, format, first_chain, sealed_last_chain) = match decoded {
            Decoded::Segment {
                header,
                format,
                first_chain,
                last_chain,
            } => (header, format, first_chain, last_chain),
            Decoded::Empty { format, detail } => {
                return Err(Error::SegmentUnusable {
                    path,
                    reason: format!("{} segment holds no events: {detail}", format.as_str()),
                })
            }
        };
        Ok(SegmentReader {
            path,
            bytes: Arc::new(bytes),
            header,
            format,
            framing: RecordFraming::of(format),
            first_chain,
            sealed_last_chain,
            zeros_from,
            verified: false,
            lazy: false,
            index: Vec::new(),
            end: SegmentEnd::Clean,
            progress: Progress {
                at: Cursor {
                    off: crate::segment::HEADER_BYTES,
                    chain: first_chain,
                    expect_id: header.first_event_id,
                    block_no: 0,
                    log_id: format::log_identity(format, &header),
                },
                ns: 0,
            },
            end_override: None,
            shared: None,
            header_end: SegmentEnd::Clean,
            chains: Vec::new(),
            pos: 0,
            block_end: 0,
            block_end_id: header.first_event_id,
            stop_id: header.first_event_id,
            sample_at: u64::MAX,
            next_id: header.first_event_id,
            next_block: 0,
            run: Run::of(RecordFraming::of(format)),
            bytes_folded: 0,
            fold_id: header.first_event_id,
        })
    }

    /// The segment's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// `docs/ARCHITECTURE.md`, "Page-cache folios").
    pub fn prefault(&self) {
        segment_bytes::prefault(&self.bytes, self.zeros_from);
    }

    fn corruption(
        &self,
        offset: u64,
        block: Option<u64>,
        kind: CorruptionKind,
        detail: String,
    ) -> Corruption {
        format::corruption_at(&self.path, offset, block, kind, detail)
    }

    /// Puts the cursor on the first event of the valid prefix.
    pub fn rewind(&mut self) {
        self.fold();
        self.next_block = 0;
        self.pos = 0;
        self.block_end = 0;
        self.next_id = self.header.first_event_id;
        self.block_end_id = self.next_id;
        self.set_stop();
        self.fold_id = self.next_id;
    }

    /// Positions the cursor so that the next event returned is `event_id`. `event_id` may be
    /// one past the last valid event (positioned at the end). Anything else outside the
    /// segment's valid range is an error naming the range. Verifies as far as needed.
    pub fn seek(&mut self, event_id: u64) -> Result<()> {
        self.fold();
        let r = self.seek_inner(event_id);
        // The events skipped over were not delivered.
        self.fold_id = self.next_id;
        r
    }

    fn seek_inner(&mut self, event_id: u64) -> Result<()> {
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
        self.block_end_id = self.next_id;
        self.set_stop();
        if event_id == end {
            self.next_block = self.index.len();
            self.next_id = end;
            self.block_end_id = end;
            self.set_stop();
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
        let (_, _, next) = self
            .framing
            .decode_at(&self.bytes[..self.block_end], self.pos)
            .ok_or_else(|| self.framing_error())?;
        self.step_to(next);
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
            self.progress.at.block_no = self.progress.at.block_no.max(b as u64 + 1);
            // Blocks are checked in order (seek checks those before its target), so with the
            // last one checked the verification is complete: say so now, while entering the
            // last block, rather than in the `next()` that finds the segment's end — that one
            // should only switch segments ([`Self::exhausted_cleanly`]).
            if self.progress.at.block_no as usize == self.index.len() {
                self.finish_shared();
            }
        } else if self.next_block == self.index.len() && !self.step() {
            return Ok(false);
        }
        let Some(e) = self.index.get(self.next_block).copied() else {
            return Ok(false);
        };
        (self.pos, self.block_end, self.next_id, self.block_end_id) = cursor_at(&e);
        self.set_stop();
        self.next_block += 1;
        Ok(true)
    }

    /// The next event of the valid prefix, or `None` at its end. Zero-copy: the payload borrows
    /// the mapping.
    // Not `Iterator::next`: each event borrows the reader, which a lending API needs.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Event<'_>>> {
        if self.hot_ready() {
            return Ok(Some(self.take_hot()));
        }
        match self.next_slow()? {
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
    /// Every length read from the file is checked against the verified block bounds; a record
    /// as long as the previous one takes the predicted path of [`run`].
    #[inline(always)]
    pub fn next_fast(&mut self) -> Option<(u64, usize, usize)> {
        if self.next_id >= self.stop_id {
            return None;
        }
        self.decode_next()
    }

    /// [`Self::next_fast`] without the stop: the next record of the block, decoded in full if
    /// the prediction does not cover it.
    #[inline(always)]
    fn decode_next(&mut self) -> Option<(u64, usize, usize)> {
        let before = self.run;
        let block = self.bytes.get(..self.block_end)?;
        let (start, end, next) = self.run.decode(self.framing, block, self.pos)?;
        if self.run.predicted().0 != before.predicted().0 {
            self.fold_with(before);
        }
        Some((self.step_to(next), start, end))
    }

    /// Payload bytes of the events this reader has delivered (seeks skip without counting).
    pub fn delivered_bytes(&self) -> u64 {
        self.bytes_with(self.run)
    }

    /// `bytes_folded` plus the events since `fold_id`, each of `run`'s length.
    fn bytes_with(&self, run: Run) -> u64 {
        let since = self.next_id.saturating_sub(self.fold_id);
        self.bytes_folded
            .saturating_add(since.saturating_mul(u64::from(run.predicted().0)))
    }

    /// Folds the events since `fold_id`, all of `run`'s length, into `bytes_folded`.
    fn fold_with(&mut self, run: Run) {
        self.bytes_folded = self.bytes_with(run);
        self.fold_id = self.next_id;
    }

    /// [`Self::fold_with`] the current run: before the cursor jumps.
    pub(super) fn fold(&mut self) {
        self.fold_with(self.run);
    }

    /// Moves the cursor past the record just decoded, to `next`; returns that record's id.
    #[inline(always)]
    fn step_to(&mut self, next: usize) -> u64 {
        self.pos = next;
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The cold side of [`Self::next_fast`]: a block switch, a record the prediction does not
    /// cover, the manager's sample point, or a framing error.
    #[inline(never)]
    pub fn next_slow(&mut self) -> Result<Option<(u64, usize, usize)>> {
        if self.next_id != self.block_end_id {
            return self
                .decode_next()
                .map(Some)
                .ok_or_else(|| self.framing_error());
        }
        if !self.enter_next_block()? {
            return Ok(None);
        }
        match self.decode_next() {
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
        self.next_id == self.block_end_id
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
        if self.next_block != 0 || self.next_id != self.block_end_id {
            return false;
        }
        matches!(self.enter_next_block(), Ok(true))
    }

    /// The payload bytes at a range returned by [`Self::next_position`].
    #[inline]
    pub fn payload(&self, start: usize, end: usize) -> &[u8] {
        &self.bytes[start..end]
    }

    /// Whether another event can be read: enters (and, if incremental, verifies) the next block
    /// if needed and checks the next record's framing. A framing failure ends the valid prefix
    /// here ([`Self::cut_at_cursor`]).
    pub fn peek_ok(&mut self) -> bool {
        if self.next_id == self.block_end_id {
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
        if self
            .framing
            .decode_at(&self.bytes[..self.block_end], self.pos)
            .is_some()
        {
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
        let Some(bytes) = self.bytes.get(e.payload_offset..) else {
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

    /// Ends the valid prefix at the cursor after a read-time check (record framing) failed:
    /// nothing at or after the cursor is returned, and [`Self::end`] reports `c`.
    pub fn cut_at_cursor(&mut self, c: Corruption) {
        self.end_override = Some(self.next_id);
        self.end = SegmentEnd::Corrupt(c);
        self.verified = true;
        self.block_end_id = self.next_id;
        self.set_stop();
        self.pos = 0;
        self.block_end = 0;
        self.next_block = self.index.len();
    }

    /// Events left in the block the cursor is in (the ones [`Self::next_fast`] delivers).
    #[inline]
    pub fn block_remaining(&self) -> u32 {
        // At most a block's event count (a u32): the difference fits.
        (self.block_end_id - self.next_id) as u32
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
        self.progress.at.off as u64
    }

    /// Length of the file as mapped.
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The value the next segment's header links to: the chain value after the last verified
    /// block (the next segment's `prev_chain`). FlashStrike segments are not linked (each chain
    /// restarts at seed 0), so their link value is 0, as their headers' `prev_chain` is.
    pub fn last_chain(&self) -> u32 {
        match self.format {
            // Native chain values are CRC32C: the low 32 bits hold all of it.
            Format::Native => self.progress.at.chain as u32,
            Format::FlashStrikeV1 => 0,
        }
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

/// Reads and decompresses a cold segment. A truncated or garbled frame is damage of this
/// segment, reported like a header that does not decode.
fn read_cold(mut file: &File, path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut compressed = Vec::new();
    file.read_to_end(&mut compressed)
        .map_err(|e| Error::io("read", path, e))?;
    crate::flashstrike::cold::decompress(&compressed, cold_limit()).map_err(|e| {
        Error::corrupt(
            path,
            0,
            None,
            CorruptionKind::ColdFrame,
            format!("LZ4 frame: {e}"),
        )
    })
}
