//! The per-event hot path as a check and a take: [`SegmentReader::hot_ready`] decides, from
//! shared borrows only, whether the next record is one the predicted decode covers (same length
//! as the last one, inside the block, before the stop id); [`SegmentReader::take_hot`] then
//! delivers it. A caller that owns the reader through an `Option` (the manager) asks first and
//! borrows for the returned event only on the path that returns it: deciding inside the
//! borrowing call would return a borrow on one path and need the owner again on the other,
//! which the borrow checker refuses (NLL "problem case 3"), and the earlier work-around — return
//! positions, then slice the mapping again — loaded the reader and the mapping a second time and
//! re-checked the payload's bounds on every event.
//!
//! Both halves compute the record with one function, [`hot_record`], over the same fields, and
//! are always inlined together: the compiler merges the two computations, so the take repeats
//! no load or check (`expect` in the take is never reached and compiles away). Every bound is
//! still checked once per event: the block against the mapping, the record's length field
//! against the prediction, the payload against the block.
//!
//! The stop id is the block's end or, if it comes first, the event the manager times next
//! ([`SegmentReader::set_sample_at`]): the manager's sampling costs the hot path nothing more
//! than the end-of-block comparison it makes anyway.

use super::run::Run;
use super::SegmentReader;
use crate::recovery::event::Event;
use crate::recovery::format::RecordFraming;
use crate::recovery::prefetch;

/// The payload of the record at `pos` of `block` and the next record's position, when the
/// record is the predicted one: a length-prefixed record of `len` bytes and `size` bytes in all,
/// or a fixed-size record.
#[inline(always)]
fn hot_record(
    framing: RecordFraming,
    block: &[u8],
    pos: usize,
    len: u32,
    size: usize,
) -> Option<(&[u8], usize)> {
    let rest = block.get(pos..)?;
    match framing {
        RecordFraming::LengthPrefixed => {
            // One bound for the length field and the payload: the record the prediction
            // describes must fit (no overflow: `len` is a u32), then its length field must say
            // so.
            let record = rest.get(..4 + len as usize)?;
            Some((prefixed_payload(record, len)?, pos + size))
        }
        RecordFraming::Fixed(n) => Some((rest.get(..n)?, pos + n)),
    }
}

/// The payload of a length-prefixed `record` (its 4-byte length field, then the payload) when
/// the length field says `len`: the one check a predicted record gets, here and in a batch's
/// stretch.
#[inline(always)]
pub(super) fn prefixed_payload(record: &[u8], len: u32) -> Option<&[u8]> {
    let (head, payload) = record.split_first_chunk::<4>()?;
    (u32::from_le_bytes(*head) == len).then_some(payload)
}

/// Consecutive records of one block that the hot path may deliver, all framed alike
/// ([`SegmentReader::hot_run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HotRun<'a> {
    /// From the first record to the end of the block's records.
    pub records: &'a [u8],
    /// The first record's event id.
    pub first_id: u64,
    /// How many records the run may deliver (at least 1).
    pub count: u64,
    /// Every record's payload length.
    pub len: u32,
    /// Bytes before each payload: 4 (a length field that must equal `len`) or 0 (fixed-size
    /// records, nothing to check).
    pub prefix: u32,
    /// Bytes from one record to the next.
    pub size: usize,
}

/// Where the predicted records' payloads are: every record `size` bytes from the previous one,
/// its payload of `len` bytes after `prefix` bytes (a 4-byte length field, or nothing for
/// fixed-size records).
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub len: u32,
    pub prefix: usize,
    pub size: usize,
}

impl Layout {
    /// The layout the hot path expects next, if it predicts one.
    #[inline(always)]
    pub(super) fn predicted(framing: RecordFraming, run: Run) -> Option<Layout> {
        let (len, prefix, size) = match framing {
            RecordFraming::LengthPrefixed => {
                let (len, size) = run.predicted();
                (len, 4usize, size)
            }
            RecordFraming::Fixed(n) => (u32::try_from(n).ok()?, 0, n),
        };
        let whole = prefix.checked_add(len as usize)?;
        (size > 0 && size >= whole).then_some(Layout { len, prefix, size })
    }
}

/// How many records of `whole` bytes (framing and payload), one every `size` bytes, end within
/// `bytes` bytes: record k (from 0) ends at `k * size + whole`. `None` for a size that cannot
/// hold the record (no prediction) and when not even one fits.
fn records_that_fit(bytes: usize, whole: usize, size: usize) -> Option<usize> {
    if size == 0 || size < whole || bytes < whole {
        return None;
    }
    Some((bytes - whole) / size + 1)
}

impl SegmentReader {
    /// The record [`Self::take_hot`] would deliver, if there is one.
    #[inline(always)]
    fn hot(&self) -> Option<(&[u8], usize)> {
        if self.next_id >= self.stop_id {
            return None;
        }
        let block = self.bytes.get(..self.block_end)?;
        let (len, size) = self.run.predicted();
        hot_record(self.framing, block, self.pos, len, size)
    }

    /// Whether [`Self::take_hot`] can deliver the next event: it is in the current block,
    /// before the stop id, and framed like the previous one. False says nothing about why
    /// (block end, sample point, another length, damage): the slow path tells.
    #[inline(always)]
    pub fn hot_ready(&self) -> bool {
        self.hot().is_some()
    }

    /// Delivers the event [`Self::hot_ready`] just found ready. Call it only then, with nothing
    /// in between (the pair compiles to one decode).
    #[inline(always)]
    pub fn take_hot(&mut self) -> Event<'_> {
        let (len, size) = self.run.predicted();
        let block = self.bytes.get(..self.block_end);
        let (payload, next) = block
            .and_then(|b| hot_record(self.framing, b, self.pos, len, size))
            .expect("take_hot follows hot_ready");
        prefetch::read_ahead(&self.bytes, next);
        self.pos = next;
        let id = self.next_id;
        self.next_id = id + 1;
        Event { id, payload }
    }

    /// The records the hot path would deliver one by one from here, as one run: every record
    /// of the current block before the stop id that the predicted framing places inside the
    /// block. Whether each really has the predicted framing is left to whoever reads the run
    /// (the C ABI's inline `wal_recovery_next_hot` compares each length field, as
    /// [`Self::take_hot`] does); [`Self::skip_hot`] then moves past the ones it delivered.
    /// `None` when the hot path has nothing (block end, sample point, no prediction).
    pub fn hot_run(&self) -> Option<HotRun<'_>> {
        let records = self.bytes.get(self.pos..self.block_end)?;
        let Layout { len, prefix, size } = Layout::predicted(self.framing, self.run)?;
        let fit = records_that_fit(records.len(), prefix + len as usize, size)?;
        let count = self
            .stop_id
            .saturating_sub(self.next_id)
            .min(u64::try_from(fit).ok()?);
        (count > 0).then_some(HotRun {
            records,
            first_id: self.next_id,
            count,
            len,
            prefix: prefix as u32,
            size,
        })
    }

    /// Moves past the first `k` records of [`Self::hot_run`], delivered by its reader (each one
    /// checked to have the predicted framing, as the hot path checks it). `None`, without
    /// moving, when `k` exceeds the run.
    pub fn skip_hot(&mut self, k: u64) -> Option<()> {
        if k == 0 {
            return Some(());
        }
        let run = self.hot_run()?;
        if k > run.count {
            return None;
        }
        // No overflow: the run's records lie inside the block.
        self.pos += usize::try_from(k).ok()? * run.size;
        self.next_id += k;
        Some(())
    }

    /// Predicts this reader's next record length from `other`'s last one (the manager, for the
    /// next segment's reader: one writer, one kind of event). A prediction only decides which
    /// decode runs first; the record's own length field is still checked.
    pub fn predict_like(&mut self, other: &SegmentReader) {
        if self.framing == other.framing {
            // The events delivered so far keep the length they were delivered with.
            self.fold();
            self.run = other.run;
        }
    }

    /// The id of the next event whose delivery the manager times (`u64::MAX`: none). The hot
    /// path stops before it, so the manager's slow path sees it.
    pub fn set_sample_at(&mut self, id: u64) {
        self.sample_at = id;
        self.set_stop();
    }

    /// Recomputes the stop id after the block end or the sample point changed.
    #[inline]
    pub(super) fn set_stop(&mut self) {
        self.stop_id = self.block_end_id.min(self.sample_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::segment_reader::run::tests::records;
    use crate::segment::record;

    #[test]
    fn the_predicted_record_is_the_record_the_full_decode_finds() {
        let block = records(&[64, 64, 64]);
        let (start, end, next) = record::decode_at(&block, 72).expect("a record");
        let (payload, hot_next) =
            hot_record(RecordFraming::LengthPrefixed, &block, 72, 64, 72).expect("predicted");
        assert_eq!(payload, &block[start..end]);
        assert_eq!(hot_next, next);
    }

    #[test]
    fn another_length_or_a_record_past_the_block_is_left_to_the_slow_path() {
        let block = records(&[64, 3, 64, 64]);
        // The second record is 3 bytes long, not the predicted 64 (and 64 bytes follow it).
        assert_eq!(
            hot_record(RecordFraming::LengthPrefixed, &block, 72, 64, 72),
            None
        );
        // The block cut inside the first record's payload, and inside its length field.
        for cut in [67, 40, 5, 3, 0] {
            assert_eq!(
                hot_record(RecordFraming::LengthPrefixed, &block[..cut], 0, 64, 72),
                None,
                "cut at {cut}"
            );
        }
        // A position past the block.
        assert_eq!(
            hot_record(RecordFraming::LengthPrefixed, &block, 200, 64, 72),
            None
        );
    }

    #[test]
    fn a_run_ends_with_the_last_record_that_fits() {
        // 64-byte payloads, 72-byte records (8-byte aligned): 3 records and the last one's
        // padding, or not.
        assert_eq!(records_that_fit(3 * 72, 68, 72), Some(3));
        assert_eq!(records_that_fit(2 * 72 + 68, 68, 72), Some(3));
        assert_eq!(records_that_fit(2 * 72 + 67, 68, 72), Some(2));
        assert_eq!(records_that_fit(68, 68, 72), Some(1));
        assert_eq!(records_that_fit(67, 68, 72), None);
        // No prediction (u32::MAX long), a size that cannot hold the record, size 0.
        assert_eq!(records_that_fit(1 << 20, 4 + u32::MAX as usize, 8), None);
        assert_eq!(records_that_fit(1 << 20, 68, 64), None);
        assert_eq!(records_that_fit(1 << 20, 0, 0), None);
        // Fixed-size records: whole == size.
        assert_eq!(records_that_fit(256 * 64, 64, 64), Some(256));
        assert_eq!(records_that_fit(256 * 64 - 1, 64, 64), Some(255));
        // Every record counted lies inside, and one more would not.
        for bytes in 0..400 {
            if let Some(n) = records_that_fit(bytes, 20, 24) {
                assert!((n - 1) * 24 + 20 <= bytes && n * 24 + 20 > bytes, "{bytes}");
            } else {
                assert!(bytes < 20);
            }
        }
    }

    #[test]
    fn fixed_size_records_are_whole_and_must_fit() {
        let block: Vec<u8> = (0..128u8).collect();
        let (payload, next) = hot_record(RecordFraming::Fixed(64), &block, 64, 0, 0).unwrap();
        assert_eq!((payload, next), (&block[64..128], 128));
        assert_eq!(hot_record(RecordFraming::Fixed(64), &block, 65, 0, 0), None);
        assert_eq!(
            hot_record(RecordFraming::Fixed(64), &block, 128, 0, 0),
            None
        );
    }
}
