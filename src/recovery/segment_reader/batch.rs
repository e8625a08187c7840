//! [`SegmentReader::next_batch_with`]: many events per call, the cursor kept in registers for a
//! whole block (a per-call `next()` must store it back every event), with a callback per event
//! so that nothing is collected or allocated.

use super::hot::{prefixed_payload, Layout};
use super::run::Run;
use super::{verify, SegmentReader};
use crate::recovery::event::{ignoring_place, Event};
use crate::recovery::format::RecordFraming;
use crate::recovery::payload_checks::Checked;
use crate::recovery::prefetch;

impl SegmentReader {
    /// Calls `f` for up to `max` events of the valid prefix, crossing blocks (verifying them
    /// first if verification is incremental) but never the segment, in one pass and without
    /// allocating. Returns the number of events and their payload bytes. An inconsistent record
    /// ends the batch early; [`Self::peek_ok`] then reports it.
    pub fn next_batch_with<'a>(&'a mut self, max: usize, f: impl FnMut(Event<'a>)) -> (usize, u64) {
        self.next_batch_indexed(max, ignoring_place(f))
    }

    /// [`Self::next_batch_with`], the callback also given each event's place in the batch
    /// (from 0): a caller filling an array needs no counter of its own.
    pub fn next_batch_indexed<'a>(
        &'a mut self,
        max: usize,
        f: impl FnMut(usize, Event<'a>),
    ) -> (usize, u64) {
        // A local copy of the callback's state, which can live in registers (the argument is
        // the caller's memory).
        let mut f = f;
        // Only `map` is borrowed for 'a; the other fields are updated alongside it.
        let map: &'a [u8] = &self.bytes;
        let framing = self.framing;
        let base = self.delivered_bytes();
        let (mut n, mut bytes) = (0usize, 0u64);
        while n < max {
            if self.next_id == self.block_end_id {
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
                    self.progress.at.block_no = self.progress.at.block_no.max(b as u64 + 1);
                } else if self.next_block == self.index.len()
                    && !(verify::Walk {
                        path: &self.path,
                        format: self.format,
                        header: &self.header,
                        last_chain: self.sealed_last_chain,
                        zeros_from: self.zeros_from,
                        progress: &mut self.progress,
                        index: &mut self.index,
                        end: &mut self.end,
                        verified: &mut self.verified,
                    })
                    .step(map)
                {
                    break;
                }
                let Some(e) = self.index.get(self.next_block).copied() else {
                    break;
                };
                (self.pos, self.block_end, self.next_id, self.block_end_id) = super::cursor_at(&e);
                self.stop_id = self.block_end_id.min(self.sample_at);
                self.next_block += 1;
            }
            // The records of this block, with the cursor in locals (registers) so that the
            // callback cannot force it through memory; written back once per block.
            let take = (self.block_remaining() as usize).min(max - n);
            let Some(block) = map.get(..self.block_end) else {
                break;
            };
            let mut cur = BlockCursor {
                pos: self.pos,
                id: self.next_id,
                run: self.run,
                bytes,
            };
            // The framing is fixed for the reader: one loop per framing, not a match per record.
            let done = match framing {
                RecordFraming::LengthPrefixed => {
                    cur.deliver(RecordFraming::LengthPrefixed, block, n, take, &mut f)
                }
                other => cur.deliver(other, block, n, take, &mut f),
            };
            self.pos = cur.pos;
            self.next_id = cur.id;
            self.run = cur.run;
            bytes = cur.bytes;
            n += done;
            if done < take {
                break; // inconsistent framing: left for peek_ok / next to report
            }
        }
        // The batch counted its own bytes (its records need not share one length).
        self.bytes_folded = base.saturating_add(bytes);
        self.fold_id = self.next_id;
        (n, bytes)
    }
}

/// The cursor of [`SegmentReader::next_batch_with`] inside one block, in locals.
struct BlockCursor {
    pos: usize,
    id: u64,
    run: Run,
    bytes: u64,
}

impl BlockCursor {
    /// Delivers up to `take` records of `block` to `f`, the first as the batch's event
    /// `placed`; returns how many (fewer when a record is inconsistent).
    #[inline(always)]
    fn deliver<'a>(
        &mut self,
        framing: RecordFraming,
        block: &'a [u8],
        placed: usize,
        take: usize,
        f: &mut impl FnMut(usize, Event<'a>),
    ) -> usize {
        let (mut pos, mut id, mut run, mut bytes) = (self.pos, self.id, self.run, self.bytes);
        let first = id;
        let last = id + take as u64;
        while id < last {
            // The records framed as predicted, whose places are known: one compare of each
            // length field, no decode. Then one record decoded in full (another length, or the
            // end of what the prediction covers).
            if let Some(layout) = Layout::predicted(framing, run) {
                let rest = block.get(pos..).unwrap_or_default();
                let whole = layout.prefix + layout.len as usize;
                let mut k = 0;
                for record in rest.chunks_exact(layout.size).take((last - id) as usize) {
                    let Some(record) = record.get(..whole) else {
                        break;
                    };
                    let payload = match framing {
                        RecordFraming::LengthPrefixed => {
                            match prefixed_payload(record, layout.len) {
                                Some(payload) => payload,
                                None => break,
                            }
                        }
                        RecordFraming::Fixed(_) => record,
                    };
                    prefetch::read_ahead(block, pos + (k + 1) * layout.size);
                    f(
                        placed + (id - first) as usize + k,
                        Event {
                            id: id + k as u64,
                            payload,
                        },
                    );
                    k += 1;
                }
                pos += k * layout.size;
                id += k as u64;
                bytes += k as u64 * u64::from(layout.len);
                if id == last {
                    break;
                }
            }
            let Some((start, end, next)) = run.decode(framing, block, pos) else {
                break;
            };
            prefetch::read_ahead(block, next);
            f(
                placed + (id - first) as usize,
                Event {
                    id,
                    payload: &block[start..end],
                },
            );
            pos = next;
            id += 1;
            bytes += (end - start) as u64;
        }
        (self.pos, self.id, self.run, self.bytes) = (pos, id, run, bytes);
        (id - first) as usize
    }
}
