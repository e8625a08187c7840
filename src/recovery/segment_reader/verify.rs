//! Verification of one segment, in the three ways the module docs of
//! [`super`] describe (all at once, incrementally, shared), with the same checks and the same
//! outcome. What a check *is* belongs to the segment's format ([`crate::recovery::format`]);
//! this module only walks the blocks in order, builds the sparse index and records how the
//! segment ends.

use std::path::Path;
use std::sync::Arc;

use super::SegmentReader;
use crate::error::Result;
use crate::recovery::format::{
    self, classify, end_of_file, sealed_totals, BlockFailure, Cursor, Format, IndexEntry,
    SegmentEnd, SegmentFacts,
};
use crate::recovery::payload_checks::{Checked, PayloadChecks};
use crate::recovery::telemetry::now_ns;
use crate::segment::header::SegmentHeader;
use crate::segment::HEADER_BYTES;

/// How far verification has got: where the next unverified block starts and what it must
/// continue, and the time spent so far.
#[derive(Clone, Copy, Debug)]
pub(super) struct Progress {
    pub(super) at: Cursor,
    pub(super) ns: u64,
}

/// The reader fields block-by-block verification reads and extends, borrowed separately from
/// the mapping so that a batch can verify while it holds the mapping borrowed.
pub(super) struct Walk<'r> {
    pub(super) path: &'r Path,
    pub(super) format: Format,
    pub(super) header: &'r SegmentHeader,
    pub(super) last_chain: u64,
    pub(super) zeros_from: usize,
    pub(super) progress: &'r mut Progress,
    pub(super) index: &'r mut Vec<IndexEntry>,
    pub(super) end: &'r mut SegmentEnd,
    pub(super) verified: &'r mut bool,
}

impl Walk<'_> {
    fn facts(&self) -> SegmentFacts<'_> {
        SegmentFacts {
            path: self.path,
            format: self.format,
            header: self.header,
            last_chain: self.last_chain,
            zeros_from: self.zeros_from,
        }
    }

    /// Verifies the next block, extending the index — or, when there is no further valid block,
    /// records how the segment ends and marks verification complete. Returns whether a block
    /// was added.
    pub(super) fn step(&mut self, data: &[u8]) -> bool {
        let start = now_ns();
        let added = self.step_untimed(data);
        self.progress.ns += now_ns().saturating_sub(start);
        added
    }

    /// [`Self::step`] without reading the clock, for callers that time a whole run of steps.
    /// Inlined, with the block checks, into the loop of [`SegmentReader::verify_remaining`]
    /// ([`format::check_block`] says why).
    #[inline(always)]
    fn step_untimed(&mut self, data: &[u8]) -> bool {
        if *self.verified {
            return false;
        }
        let c = self.progress.at;
        let outcome = match next_block(data, &self.facts(), &c, true) {
            Next::Block(ok) => {
                self.index.push(ok.entry);
                let at = &mut self.progress.at;
                at.chain = ok.chain;
                at.expect_id += u64::from(ok.entry.event_count);
                at.off = ok.next_off;
                at.block_no += 1;
                None
            }
            Next::End(e) => Some(e),
        };
        match outcome {
            None => true,
            Some(e) => {
                *self.end = e;
                *self.verified = true;
                false
            }
        }
    }
}

/// What follows the verified prefix: one more valid block, or how the segment ends.
enum Next {
    Block(format::BlockOk),
    End(SegmentEnd),
}

/// Inlined into the verification loops, like the checks it calls ([`format::check_block`]).
#[inline(always)]
fn next_block(data: &[u8], s: &SegmentFacts<'_>, c: &Cursor, with_payload: bool) -> Next {
    if s.header.sealed && c.block_no == u64::from(s.header.block_count) {
        return Next::End(sealed_totals(data, s, c));
    }
    if c.off == data.len() {
        return Next::End(end_of_file(s, c));
    }
    // A block that starts where the file's trailing hole does has a header of zeros: the end of
    // the written data, known without reading the hole (a read there faults a readahead window
    // of zeroed pages into the page cache).
    if c.off == s.zeros_from && data.len().saturating_sub(c.off) >= HEADER_BYTES {
        let fail = BlockFailure::zero_filled_header();
        return Next::End(classify(data, s, c.off, c.block_no, fail));
    }
    match format::check_block(s.format, data, c, with_payload) {
        Ok(ok) => Next::Block(ok),
        Err(fail) => Next::End(classify(data, s, c.off, c.block_no, fail)),
    }
}

impl SegmentReader {
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
        if self.shared.is_some() {
            while self.step() {}
            return;
        }
        // One clock read for the whole run, not two per block (1 % of a segment's verification).
        let start = now_ns();
        let (data, mut w) = self.walk();
        while w.step_untimed(data) {}
        self.progress.ns += now_ns().saturating_sub(start);
    }

    /// Verifies blocks until `event_id` is inside the verified prefix or verification is
    /// complete.
    pub fn verify_through(&mut self, event_id: u64) {
        if self.shared.is_some() {
            // Every block is indexed already; check payloads in order up to the block holding
            // `event_id` (the blocks after it are shared with the preloader).
            while !self.verified {
                let b = self.progress.at.block_no as usize;
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

    pub(super) fn walk(&mut self) -> (&[u8], Walk<'_>) {
        (
            &self.bytes,
            Walk {
                path: &self.path,
                format: self.format,
                header: &self.header,
                last_chain: self.sealed_last_chain,
                zeros_from: self.zeros_from,
                progress: &mut self.progress,
                index: &mut self.index,
                end: &mut self.end,
                verified: &mut self.verified,
            },
        )
    }

    /// Verifies the next block; false once verification is complete.
    pub(super) fn step(&mut self) -> bool {
        if self.shared.is_some() {
            // Every block with a valid header is indexed already; what remains is their
            // payload checks, in order.
            let b = self.progress.at.block_no as usize;
            if self.verified || b >= self.index.len() {
                self.finish_shared();
                return false;
            }
            if self.payload_check(b) == Checked::Bad {
                self.fail_payload_at(b);
                return false;
            }
            self.progress.at.block_no += 1;
            return true;
        }
        let (data, mut w) = self.walk();
        w.step(data)
    }

    /// Prepares shared verification: walks every block header now (header checksum, index,
    /// ids, lengths, padding, sealed totals — everything but the payload checksums), building
    /// the whole index, and returns the payload checks to share. The replay thread then checks
    /// each block's payload when it reaches it unless the other thread got there first
    /// ([`PayloadChecks`]); no event is read from a block before its payload has verified.
    pub fn walk_headers(&mut self) -> Arc<PayloadChecks> {
        let start = now_ns();
        let data: &[u8] = &self.bytes;
        let facts = SegmentFacts {
            path: &self.path,
            format: self.format,
            header: &self.header,
            last_chain: self.sealed_last_chain,
            zeros_from: self.zeros_from,
        };
        let mut c = self.progress.at;
        let mut blocks = Vec::new();
        // Whether every header verified so far lies before the trailing hole. Only headers are
        // verified here, so a block whose payload runs into the hole does not make the hole
        // stale (its payload check fails later); while this holds, a header that starts in the
        // hole is zeros, and everything after it too: the end is decided without reading it.
        let mut headers_stored = true;
        let end = loop {
            let in_hole = headers_stored && c.off >= facts.zeros_from;
            let here = SegmentFacts {
                zeros_from: if in_hole { c.off } else { facts.zeros_from },
                ..facts
            };
            match next_block(data, &here, &c, false) {
                Next::Block(ok) => {
                    headers_stored &= c.off + HEADER_BYTES <= facts.zeros_from;
                    self.index.push(ok.entry);
                    self.chains.push(ok.chain);
                    blocks.push(ok.payload);
                    c.chain = ok.chain;
                    c.expect_id += u64::from(ok.entry.event_count);
                    c.off = ok.next_off;
                    c.block_no += 1;
                }
                Next::End(e) => break e,
            }
        };
        // `progress` now describes the header walk's end; `block_no` counts payload checks.
        c.block_no = 0;
        self.progress.at = c;
        self.progress.ns += now_ns().saturating_sub(start);
        self.header_end = end;
        self.lazy = true;
        let checks = Arc::new(PayloadChecks::new(
            Arc::clone(&self.bytes),
            self.format,
            blocks,
        ));
        self.shared = Some(Arc::clone(&checks));
        checks
    }

    /// Shared verification: block `b`'s payload check (done here unless the preloader has it).
    pub(super) fn payload_check(&self, b: usize) -> Checked {
        self.shared.as_ref().map_or(Checked::Bad, |sh| sh.ensure(b))
    }

    pub(super) fn finish_shared(&mut self) {
        if !self.verified {
            self.end = std::mem::replace(&mut self.header_end, SegmentEnd::Clean);
            self.verified = true;
        }
    }

    /// Shared verification found block `b`'s payload damaged: the valid prefix ends there.
    pub(super) fn fail_payload_at(&mut self, b: usize) {
        let (Some(entry), Some(block)) = (
            self.index.get(b).copied(),
            self.shared.as_ref().and_then(|sh| sh.block(b)),
        ) else {
            self.finish_shared();
            return;
        };
        let off = entry.payload_offset - HEADER_BYTES;
        let fail = format::check_payload(self.format, &self.bytes, &block)
            .err()
            .unwrap_or_else(|| {
                BlockFailure::new(
                    crate::error::CorruptionKind::PayloadChecksum,
                    "payload changed while it was being verified",
                )
            });
        let facts = SegmentFacts {
            path: &self.path,
            format: self.format,
            header: &self.header,
            last_chain: self.sealed_last_chain,
            zeros_from: self.zeros_from,
        };
        self.end = classify(&self.bytes, &facts, off, b as u64, fail);
        self.index.truncate(b);
        self.chains.truncate(b);
        self.progress.at.off = off;
        self.progress.at.chain = match b.checked_sub(1) {
            Some(prev) => self.chains[prev],
            None => self.first_chain,
        };
        self.progress.at.expect_id = entry.first_event_id;
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
}
