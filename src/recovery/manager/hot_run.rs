//! The hot path handed out as a run of records, for callers that read the records themselves:
//! the C ABI's inline `wal_recovery_next_hot` (a call per event cannot match an inlined Rust
//! loop; a loop inlined into the caller over a run the library vouches for can). The run is
//! the current reader's ([`SegmentReader::hot_run`]): it ends where `next()`'s hot path would
//! stop (block end, sample point), so everything else still happens in `next()`.

use super::{Event, Manager};
use crate::recovery::segment_reader::{HotRun, SegmentReader};

impl Manager {
    /// The next event if the hot path has it (same block, predicted framing, no sample due),
    /// else `None` without moving: for the C ABI's per-event call, which keeps everything else
    /// out of line.
    #[inline(always)]
    pub(crate) fn next_if_hot(&mut self) -> Option<Event<'_>> {
        if self.reader.as_deref().is_some_and(SegmentReader::hot_ready) {
            return Some(self.take_hot());
        }
        None
    }

    /// The records `next()` would deliver on its hot path from here, as one run.
    pub(crate) fn hot_run(&self) -> Option<HotRun<'_>> {
        self.reader.as_deref().and_then(SegmentReader::hot_run)
    }

    /// Moves past the first `k` records of [`Self::hot_run`], which the caller delivered (each
    /// checked as the hot path checks it). `None`, without moving, when `k` exceeds the run.
    pub(crate) fn skip_hot(&mut self, k: u64) -> Option<()> {
        if k == 0 {
            return Some(());
        }
        self.reader.as_deref_mut()?.skip_hot(k)
    }
}
