//! The manager's batch API: many events per call, all from one segment, each handed to a
//! callback (or collected). The manager makes sure the current reader has an event — switching
//! segments and applying the recovery mode as `next()` does — then lends the reader's own batch
//! loop the callback ([`SegmentReader::next_batch_indexed`]), which runs with its cursor in
//! registers. `next_batch_indexed` also gives each event its place in the batch, which is all
//! the C ABI's `wal_recovery_next_batch` needs to fill the caller's array.

use super::*;
use crate::recovery::event::ignoring_place;

impl Manager {
    /// Appends up to `max` events, all from one segment, to `out`; returns how many (0 only at
    /// the end). Their payloads stay valid until the next call that moves the replay. Slower
    /// than `next()` and [`Self::next_batch_with`] (0.8x `next()`, batches of 64: BENCHMARKS.md).
    pub fn next_batch<'a>(&'a mut self, out: &mut Vec<Event<'a>>, max: usize) -> Result<usize> {
        self.next_batch_with(max, |e| out.push(e))
    }

    /// Calls `f` for up to `max` events, all from one segment, in one pass without allocating
    /// (in follow mode, events from the live tail are gathered first: one allocation per call).
    /// Returns how many (0 only at the end, or when `max` is 0). The payloads stay valid until
    /// the next call that moves the replay, so a caller may keep all of them.
    pub fn next_batch_with<'a>(
        &'a mut self,
        max: usize,
        f: impl FnMut(Event<'a>),
    ) -> Result<usize> {
        self.next_batch_indexed(max, ignoring_place(f))
    }

    /// [`Self::next_batch_with`], the callback also given each event's place in the batch
    /// (from 0), for a caller that fills an array.
    pub fn next_batch_indexed<'a>(
        &'a mut self,
        max: usize,
        f: impl FnMut(usize, Event<'a>),
    ) -> Result<usize> {
        let mut f = f;
        if self.opts.follow {
            let mut k = 0;
            return self.follow_batch(max, |e| {
                f(k, e);
                k += 1;
            });
        }
        if max == 0 {
            return Ok(0);
        }
        // Make sure the current reader can deliver at least one event (switching segments and
        // applying the recovery mode as `next()` does) before borrowing it for the batch.
        loop {
            if self.reader.as_mut().is_some_and(|r| r.peek_ok()) {
                break;
            }
            if !self.advance()? {
                return Ok(0);
            }
        }
        self.block_entered();
        let Some(r) = self.reader.as_mut() else {
            return Ok(0);
        };
        Ok(r.next_batch_indexed(max, f).0)
    }
}
