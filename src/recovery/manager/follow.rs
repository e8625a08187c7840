//! Follow mode in the manager ([`crate::recovery::follow`]): the catch-up replays the log as
//! scanned at open with the usual machinery; where it would end, the replay hands over to a
//! [`Tail`] on the live end of the log — inside the last segment if the writer has not sealed it,
//! after it otherwise, or at the first segment to appear in an empty or missing directory.
//!
//! The non-waiting entry point is [`Manager::poll`], which tells an event, "nothing yet" and the
//! end apart; [`Manager::next_timeout`] waits with the configured idle strategy. `next()` keeps
//! its meaning: `Ok(None)` when nothing can be delivered now — which, in follow mode, is either.
//! Damage the tail proves (see the tail's module docs) goes through [`Manager::problem`] like
//! damage met during the catch-up: an error in Strict, the end in StopAtCorruption, a skipped and
//! accounted range in SkipCorrupted.

use std::time::{Duration, Instant};

use super::*;
use crate::recovery::follow::tail::{Damage, Start, Step, Tail};
use crate::recovery::follow::{Idler, Next};

/// Whether an event can be delivered now, decided without borrowing the replay.
pub(super) enum Ready {
    Event,
    Pending,
    End,
}

impl Manager {
    /// The next event, [`Next::Pending`] when following and nothing new has verified yet, or
    /// [`Next::End`]. Never waits. Without follow mode it is `next()` with the end made explicit.
    #[inline]
    pub fn poll(&mut self) -> Result<Next<'_>> {
        // The common case, in follow mode (the catch-up) or not: the current block has another
        // event — `next()`'s hot path, with no sampled event due. Measured: deciding this by
        // first asking whether the block has one left, then calling `next()`, cost the
        // catch-up ~2 ns per event (`walrec bench --follow`, follow_catchup_vs_replay).
        if self.reader.as_deref().is_some_and(SegmentReader::hot_ready) {
            return Ok(Next::Event(self.take_hot()));
        }
        self.poll_cold()
    }

    /// [`Self::poll`] at a block or segment boundary, at a sampled event, or on the tail.
    #[inline(never)]
    fn poll_cold(&mut self) -> Result<Next<'_>> {
        if !self.opts.follow {
            return Ok(match self.next()? {
                Some(e) => Next::Event(e),
                None => Next::End,
            });
        }
        // Inside a block, `next()` delivers its next event (should that record's framing fail,
        // `next()` moves on as it would anyway, and whatever it then cannot deliver now is
        // reported by the next poll: `None` here is "nothing now").
        let in_block = matches!(self.state, State::Running)
            && self
                .reader
                .as_ref()
                .is_some_and(|r| r.block_remaining() > 0);
        if !in_block {
            match self.readiness()? {
                Ready::Event => {}
                Ready::Pending => return Ok(Next::Pending),
                Ready::End => return Ok(Next::End),
            }
        }
        // An event is ready, so `next()` delivers it.
        Ok(match self.next()? {
            Some(e) => Next::Event(e),
            None => Next::Pending,
        })
    }

    /// As [`Self::poll`], but while following waits up to `timeout` for the next event, idling
    /// as [`RecoveryOptions::idle`] says. Returns [`Next::Pending`] when the time is up.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Next<'_>> {
        if !self.opts.follow {
            return self.poll();
        }
        let mut deadline = None;
        let mut idler = Idler::new(self.opts.idle);
        loop {
            match self.readiness()? {
                Ready::Event => break,
                Ready::End => return Ok(Next::End),
                Ready::Pending => {
                    let now = Instant::now();
                    // A timeout too large to add is as good as forever (the caller's choice).
                    let d = *deadline.get_or_insert_with(|| {
                        now.checked_add(timeout)
                            .unwrap_or(now + Duration::from_secs(86_400 * 365))
                    });
                    if now >= d {
                        return Ok(Next::Pending);
                    }
                    idler.idle(d, self.tail.as_deref_mut());
                }
            }
        }
        self.poll()
    }

    /// Whether the replay is following the live end of the log (the catch-up is done).
    pub fn is_following(&self) -> bool {
        matches!(self.state, State::Following)
    }

    /// Brings the replay to where it can deliver an event, if there is one now: enters the next
    /// block or segment, hands over to the tail, loads the tail's next verified block.
    pub(super) fn readiness(&mut self) -> Result<Ready> {
        loop {
            match &self.state {
                State::Failed(e) => return Err(e.duplicate()),
                State::Ended => return Ok(Ready::End),
                State::Following => return self.tail_ready(),
                State::Running => {}
            }
            if let Some(r) = self.reader.as_mut() {
                let before = r.blocks_entered();
                if r.peek_ok() {
                    if r.blocks_entered() != before {
                        self.block_entered();
                    }
                    return Ok(Ready::Event);
                }
            }
            if !self.advance()? && matches!(self.state, State::Running) {
                return Ok(Ready::End);
            }
        }
    }

    fn tail_ready(&mut self) -> Result<Ready> {
        loop {
            let Some(t) = self.tail.as_mut() else {
                return Ok(Ready::End);
            };
            match t.fill() {
                Ok(Step::Ready) => return Ok(Ready::Event),
                Ok(Step::Pending) => return Ok(Ready::Pending),
                Ok(Step::Damage(d)) => {
                    if let Flow::Stop = self.tail_damage(d)? {
                        self.tail = None;
                        self.state = State::Ended;
                        self.publish_progress();
                        return Ok(Ready::End);
                    }
                }
                Err(e) => return self.fail(e),
            }
        }
    }

    /// Applies the recovery mode to damage the tail proved, recording it in the report.
    fn tail_damage(&mut self, d: Damage) -> Result<Flow> {
        if let Error::Continuity {
            kind,
            previous,
            next,
            first_id,
            last_id,
        } = &d.error
        {
            self.report.continuity.push(ContinuityReport {
                kind: kind.as_str().into(),
                previous: previous.clone(),
                next: next.clone(),
                first_id: *first_id,
                last_id: *last_id,
            });
        }
        let reason = d.error.to_string();
        let unusable = matches!(d.error, Error::SegmentUnusable { .. });
        let flow = self.problem(d.error)?;
        if let Flow::Continue = flow {
            if unusable {
                self.report.segments_skipped.push(SkippedSegment {
                    path: d.path.clone(),
                    reason: reason.clone(),
                });
            }
            if let Some((first_id, last_id)) = d.lost {
                self.report.lost.push(LostRange {
                    first_id,
                    last_id,
                    reason,
                    path: Some(d.path),
                });
            }
        }
        Ok(flow)
    }

    /// The next event from the tail (`None`: nothing yet, or the end).
    #[inline(never)]
    pub(super) fn tail_next(&mut self) -> Result<Option<Event<'_>>> {
        if !matches!(self.tail_ready()?, Ready::Event) {
            return Ok(None);
        }
        let Some((id, start, end)) = self.tail.as_mut().and_then(|t| t.next_record()) else {
            return Ok(None);
        };
        self.account_tail(id, 1, (end - start) as u64);
        let t = self
            .tail
            .as_ref()
            .expect("tail present: it just returned this event");
        Ok(Some(Event {
            id,
            payload: t.payload(start, end),
        }))
    }

    /// Progress accounting for `n` events delivered by the tail, the last one `last`.
    fn account_tail(&mut self, last: u64, n: u64, bytes: u64) {
        if self.events() == self.events_at_resume {
            self.first_pending = last + 1 - n;
        }
        self.events_retired += n;
        self.bytes_retired += bytes;
        self.last_retired = Some(last);
    }

    /// `next_batch_with` in follow mode: up to `max` events of one block (tail) or segment
    /// (catch-up); 0 when nothing can be delivered now.
    pub(super) fn follow_batch<'a>(
        &'a mut self,
        max: usize,
        mut f: impl FnMut(Event<'a>),
    ) -> Result<usize> {
        if max == 0 || !matches!(self.readiness()?, Ready::Event) {
            return Ok(0);
        }
        let first_after_resume = self.events() == self.events_at_resume;
        if let Some(r) = self.reader.as_mut() {
            return Ok(r.next_batch_with(max, f).0);
        }
        let Some(t) = self.tail.as_deref_mut() else {
            return Ok(0);
        };
        let (mut n, mut bytes, mut last) = (0u64, 0u64, 0u64);
        let (positions, buf) = t.batch_positions(max);
        for (id, start, end) in positions {
            bytes += (end - start) as u64;
            last = id;
            n += 1;
            f(Event {
                id,
                payload: &buf[start..end],
            });
        }
        // `account_tail`, on fields disjoint from the tail the events borrow.
        if n > 0 {
            if first_after_resume {
                self.first_pending = last + 1 - n;
            }
            self.events_retired += n;
            self.bytes_retired += bytes;
            self.last_retired = Some(last);
        }
        Ok(n as usize)
    }

    /// Ends the catch-up where it would end the replay: from here on the tail delivers.
    /// Returns false (no reader was installed), as `advance` does at the end.
    pub(super) fn start_following(&mut self, start: Start) -> Result<bool> {
        self.stop_pipe();
        self.tail = Some(Box::new(Tail::new(&self.dir, start)));
        self.state = State::Following;
        self.publish_progress();
        Ok(false)
    }

    /// Where the tail starts after the whole plan was replayed: the segment after the
    /// highest-numbered file of the scan, continuing what the replay expects next.
    pub(super) fn follow_after_plan(&mut self) -> Result<bool> {
        let seq = self
            .scan
            .files
            .iter()
            .filter_map(|f| f.name_sequence.or(f.header.map(|h| h.sequence)))
            .chain(self.headers.iter().map(|h| h.sequence))
            .max()
            .and_then(|s| s.checked_add(1));
        let x = self.expect.clone();
        let start = Start {
            seq,
            next_id: x.as_ref().map(|x| x.next_id),
            chain: x.as_ref().map(|x| x.chain),
            inside: None,
            cause: x.and_then(|x| x.cause),
            floor: self.follow_floor,
        };
        self.start_following(start)
    }

    /// Hands the last, unsealed segment's reader over to the tail, which continues after its
    /// last verified block (what follows it may be a write in flight). `None` when the reader
    /// did not end at a block boundary (a framing failure inside a verified block: damage,
    /// judged by the general path).
    pub(super) fn follow_inside(&self, r: &SegmentReader) -> Option<Start> {
        let h = r.header();
        let idx_end = r.index().last().map_or(h.first_event_id, |e| {
            e.first_event_id + u64::from(e.event_count)
        });
        if h.sealed || idx_end != r.end_event_id() || self.resume_floor != 0 {
            return None;
        }
        Some(Start {
            seq: Some(h.sequence),
            next_id: Some(idx_end),
            chain: Some(r.last_chain()),
            inside: Some((r.valid_len(), u32::try_from(r.index().len()).ok()?)),
            cause: None,
            floor: self.follow_floor,
        })
    }
}
