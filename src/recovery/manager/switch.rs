//! The general segment switch and the preloader's side of it: taking the next reader from the
//! prepared ring (or mapping it here, the fallback), the look-ahead that decides the switch in
//! the last block (docs/ARCHITECTURE.md, "Segment switch"), handing finished readers back, and
//! stopping the worker. The armed crossing itself (`cross_armed`) stays in the parent module,
//! next to `next()`, so that it is compiled into the same function.

use super::*;
use crate::recovery::format::is_cold_name;

impl Manager {
    /// Called when the current reader is exhausted (or absent): checks how it ended, retires
    /// it, and installs the next segment's reader. Returns false at the end of the replay.
    #[inline(never)]
    pub(super) fn advance(&mut self) -> Result<bool> {
        match &self.state {
            State::Running => {}
            State::Ended | State::Following => return Ok(false),
            State::Failed(e) => return Err(e.duplicate()),
        }
        if self.cross_armed() {
            return Ok(true);
        }
        let handoff_start = self.ticks.now();
        if let Some(mut r) = self.reader.take() {
            self.account_retired(&r);
            // Exhausting a reader completes its verification; this is a no-op kept for safety,
            // because how the segment ended must be final before it is judged.
            r.verify_remaining();
            // Following: the last segment, not sealed yet, continues live in the tail.
            if self.opts.follow && self.cur + 1 >= self.plan.len() {
                if let Some(start) = self.follow_inside(&r) {
                    self.retire(r);
                    return self.start_following(start);
                }
            }
            if let Flow::Stop = self.finish_reader(&r)? {
                self.retire(r);
                return self.end_replay();
            }
            self.retire(r);
        }
        loop {
            let j = self.cur + 1;
            if j >= self.plan.len() {
                self.finish_plan()?;
                let stopped = self.report.stopped.is_some();
                // Strict still refuses a log that is not clean (end_replay says why).
                let clean = self.opts.mode != RecoveryMode::Strict || self.report().is_clean();
                if self.opts.follow && !stopped && clean {
                    return self.follow_after_plan();
                }
                return self.end_replay();
            }
            let msg = self.obtain(j);
            self.cur = j;
            self.telemetry
                .manager
                .set_segments(self.plan.len() as u64, (self.plan.len() - j) as u64);
            match msg {
                Obtained::Ready(mut reader) => {
                    match self.check_continuity(&mut reader)? {
                        (Flow::Stop, _) => {
                            self.retire(reader);
                            return self.end_replay();
                        }
                        (Flow::Continue, false) => {
                            self.retire(reader);
                            continue;
                        }
                        (Flow::Continue, true) => {}
                    }
                    self.install(reader, handoff_start);
                    return Ok(true);
                }
                Obtained::Failed(error) => {
                    let path = self.plan[j].clone();
                    let reason = error.to_string();
                    match self.problem(error)? {
                        Flow::Stop => return self.end_replay(),
                        Flow::Continue => {
                            self.report.segments_skipped.push(SkippedSegment {
                                path: path.clone(),
                                reason: reason.clone(),
                            });
                            if let Some(x) = self.expect.as_mut() {
                                x.cause.get_or_insert(format!("segment skipped: {reason}"));
                            }
                        }
                    }
                }
            }
        }
    }

    pub(super) fn end_replay(&mut self) -> Result<bool> {
        // Strict never ends clean on an unclean log. Every problem met during the replay has
        // failed it already; what remains is a damaged file no id range accounts for (its name
        // does not place it in the log), whose events — if it held any — were not delivered.
        if self.opts.mode == RecoveryMode::Strict && !self.report().is_clean() {
            let unplaced = self
                .scan
                .files
                .iter()
                .find(|f| f.status.is_damage())
                .map(|f| (f.path.clone(), f.status.describe()));
            let conflict = self
                .report
                .duplicates
                .iter()
                .find(|d| !d.identical)
                .cloned();
            let e = match (unplaced, conflict) {
                (Some((path, why)), _) => Error::SegmentUnusable {
                    path,
                    reason: format!("{why}; its events, if any, were not replayed"),
                },
                // Two copies of one segment of which only the kept one verifies.
                (None, Some(d)) => Error::Continuity {
                    kind: ContinuityKind::ConflictingDuplicate,
                    previous: d.kept,
                    next: d.other,
                    first_id: d.first_id,
                    last_id: d.last_id,
                },
                (None, None) => Error::SegmentUnusable {
                    path: self.dir.clone(),
                    reason: "the log is not clean (see the report)".into(),
                },
            };
            return self.fail(e);
        }
        self.state = State::Ended;
        self.stop_pipe();
        self.publish_progress();
        self.telemetry
            .manager
            .set_segments(self.plan.len() as u64, 0);
        self.telemetry.manager.on_replay_finished();
        Ok(false)
    }

    /// Gets plan entry `j`: from the prepared ring or — when nothing arrives within
    /// `fallback_after`, or the worker has died — by opening it here: the synchronous fallback,
    /// counted. The fallback only maps the segment (its blocks are verified as the replay
    /// reaches them), so it is cheap; it moves the claim counter past `j`, and if the worker
    /// was already preparing `j` its late copy is recognised by its index and closed.
    pub(super) fn obtain(&mut self, j: usize) -> Obtained {
        let fallback_after = self.opts.fallback_after;
        // Started when the first look finds the ring empty (no clock read on a ready handoff).
        let mut wait_start: Option<Instant> = None;
        let mut spins = 0u32;
        loop {
            let Some(pipe) = self.pipe.as_mut() else {
                return self.open_here(j);
            };
            if let Some(a) = pipe.ahead.take() {
                if a.index == j {
                    return Obtained::Ready(a.reader);
                }
                close_reader(&self.telemetry, a.reader); // not the entry wanted (cannot happen)
                continue;
            }
            match pipe.prepared.pop() {
                Ok(Prepared::Ready { index, reader }) => {
                    // The worker notices the freed slot on its next poll; waking it here would
                    // put a syscall on the handoff.
                    if index < j {
                        close_reader(&self.telemetry, reader); // a copy the fallback superseded
                        continue;
                    }
                    return Obtained::Ready(reader);
                }
                Ok(Prepared::Failed { index, error }) => {
                    if index < j {
                        continue;
                    }
                    return Obtained::Failed(error);
                }
                // Every entry was claimed and every earlier message consumed, so entry j can
                // only come from here (defensive: cannot happen with the claim protocol).
                Ok(Prepared::End) => return self.open_here(j),
                Err(_) => {}
            }
            if pipe.prepared.is_abandoned() || pipe.worker.is_finished() {
                // Worker gone: take what it left, then carry on alone.
                loop {
                    match pipe.prepared.pop() {
                        Ok(Prepared::Ready { index, reader }) if index >= j => {
                            return Obtained::Ready(reader)
                        }
                        Ok(Prepared::Failed { index, error }) if index >= j => {
                            return Obtained::Failed(error)
                        }
                        Ok(_) => continue,
                        Err(_) => break,
                    }
                }
                self.stop_pipe(); // joins it, and records its panic message if it died
                return self.open_here(j);
            }
            // A segment the worker has claimed is being prepared: give it longer before doing
            // the same work twice. A cold segment is never opened here while the worker lives:
            // opening it means decompressing it, which belongs on the worker, not on the replay
            // thread (a dead or stopped worker is handled above).
            let shared = pipe.worker.shared();
            let claimed = shared.claim.load(std::sync::atomic::Ordering::Acquire) > j;
            let limit = if claimed {
                fallback_after * CLAIMED_WAIT_FACTOR
            } else {
                fallback_after
            };
            let cold = self.plan.get(j).is_some_and(|p| is_cold_name(p));
            if !cold && wait_start.get_or_insert_with(Instant::now).elapsed() >= limit {
                shared
                    .claim
                    .fetch_max(j + 1, std::sync::atomic::Ordering::AcqRel);
                return self.open_here(j);
            }
            spins += 1;
            if spins == SPINS {
                // Still nothing: the worker may be asleep; wake it once, then yield.
                pipe.worker.wake();
            }
            if spins < SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Once per block entered (and per batch): from the segment's second block on, hands the
    /// reader the last switch retired to the worker and records the switch's time; in the last
    /// block of a segment, prepares the next switch ([`Self::look_ahead`]).
    #[inline]
    pub(super) fn block_entered(&mut self) {
        // From the second block on: the first block is entered by the `next()` that crosses
        // the boundary, which should not pay for the push either.
        if self
            .reader
            .as_ref()
            .is_some_and(|r| r.blocks_entered() >= 2)
        {
            if let Some(r) = self.pipe.as_mut().and_then(|p| p.retiring.take()) {
                self.retire(r);
            }
            if self.handoff_pending.is_some() {
                self.publish_switch();
            }
        }
        if self.reader.as_ref().is_some_and(|r| r.in_last_block()) {
            self.look_ahead();
        }
    }

    /// Called when the replay enters the last block of a segment: takes the next segment's
    /// reader from the prepared ring now if it is there, decides the switch to it, and enters
    /// its first block, so that the `next()` at the segment's end only swaps readers
    /// ([`Self::cross_armed`]) and everything it touches was touched within the last block
    /// rather than 64 MiB of streaming earlier. Anything else on the ring (a failure, a
    /// superseded copy, the end) is left for [`Self::obtain`].
    #[inline(never)]
    pub(super) fn look_ahead(&mut self) {
        let j = self.cur + 1;
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        if pipe.ahead.is_some() {
            return;
        }
        if let Ok(Prepared::Ready { index, .. }) = pipe.prepared.peek() {
            if *index == j {
                if let Ok(Prepared::Ready { index, reader }) = pipe.prepared.pop() {
                    // The worker built this reader, so its lines sit modified in the other
                    // core's cache, and the switch writes the cursor fields: each line would
                    // cross cores (~85 ns, limits.md) inside the crossing `next()`. Moving it
                    // into a box of this thread does those transfers here. Measured
                    // (crossing timed with rdtsc, 8 x 32 crossings, 4 alternated pairs): p50
                    // 100–200 ns lower in each pair; entering the new first block p90 50–150
                    // → 40–50 ns.
                    let mut reader = Box::new(*reader);
                    // The switch's decision, taken now: the current segment is verified in
                    // full once its last block is entered (how it ends is known), and the
                    // continuity checks read two header fields. Entering the next reader's
                    // first block reads its index and its block-0 check, never its mapped
                    // bytes: touching those here would move a SIGBUS from a segment truncated
                    // under us (docs/ARCHITECTURE.md, "mmap and outside interference") before
                    // the last block of this one. It comes last, so that only a reader the
                    // switch will take is entered.
                    let armed = self.reader.as_deref().is_some_and(|r| {
                        self.resume_floor == 0
                            && r.is_verified()
                            && matches!(r.end(), SegmentEnd::Clean)
                            && reader.first_event_id() == r.end_event_id()
                            && reader.header().prev_chain == r.last_chain()
                    }) && reader.enter_first_block();
                    // Records of the next segment most likely have this one's length: with the
                    // prediction carried over, the crossing delivers its first event through
                    // the hot path instead of a full decode in code far from the switch's.
                    if let Some(r) = self.reader.as_deref() {
                        reader.predict_like(r);
                    }
                    reader.prefetch_first_record();
                    pipe.ahead = Some(Ahead {
                        index,
                        reader,
                        armed,
                    });
                }
            }
        }
        // Touch what the switch reads and writes. The lines stay in L2 through the last block's
        // 64 KiB.
        std::hint::black_box((
            self.report.segments_replayed,
            self.expect.as_ref().map(|x| x.next_id),
            self.events_at_resume,
            self.first_pending,
            self.last_retired,
            self.handoff_pending,
            matches!(self.state, State::Running),
            self.ticks.now(),
            // Read only by the switch (the hot path touches neither): the next sampled id and
            // the byte totals. Left cold, they cost the crossing a memory read each.
            self.sample_at,
            self.bytes_retired,
            self.reader_bytes_start,
            // What the current reader's retirement reads of it: its byte fold, end, chain and
            // position; and the totals it adds to, the slot it goes into.
            self.reader.as_ref().map(|r| {
                (
                    r.delivered_bytes(),
                    r.end_event_id(),
                    r.last_chain(),
                    r.position(),
                )
            }),
            self.events_retired,
            self.reader_start,
            self.resume_floor,
            self.pipe.as_ref().map(|p| p.retiring.is_some()),
        ));
        // And the switch's code: 64 MiB of streaming evicted it (see `recovery::prefetch`).
        type NextCold = for<'a> fn(&'a mut Manager) -> Result<Option<Event<'a>>>;
        prefetch::code(Self::next_cold as NextCold as usize, SWITCH_CODE_LINES);
    }

    pub(super) fn open_here(&mut self, j: usize) -> Obtained {
        self.telemetry.manager.on_fallback_open();
        self.report.fallback_opens += 1;
        match open_lazily(&self.plan[j], &self.telemetry) {
            Ok(reader) => Obtained::Ready(Box::new(reader)),
            Err(error) => Obtained::Failed(error),
        }
    }

    /// Hands a finished reader to the worker for unmapping, or drops it here if the ring is full.
    pub(super) fn retire(&mut self, r: BoxedReader) {
        match self.pipe.as_mut() {
            // The worker unmaps it on its next poll (no wake-up syscall on the handoff).
            Some(p) => match p.finished.push(r) {
                Ok(()) => {}
                Err(rtrb::PushError::Full(r)) => {
                    self.sync_close(r);
                }
            },
            None => self.sync_close(r),
        }
    }

    pub(super) fn sync_close(&mut self, r: BoxedReader) {
        close_reader(&self.telemetry, r);
        self.telemetry.manager.on_finished_ring_full_sync_close();
        self.report.sync_closes += 1;
    }

    /// Stops and joins the worker. A worker that died records its panic in the report here,
    /// after the join: its message is stored only once its unwinding (which abandons the rings)
    /// has finished.
    pub(super) fn stop_pipe(&mut self) {
        self.publish_switch();
        if let Some(mut p) = self.pipe.take() {
            p.worker.stop();
            if let Some(msg) = p.worker.panic_message() {
                self.report.worker_panic.get_or_insert(msg);
            }
            // Rings (and any readers in them) drop here, after the worker has been joined.
        }
    }

    /// Adds the retiring reader's events and bytes to the totals. Always inlined, like
    /// [`Self::expect_after`]: the crossing runs it.
    #[inline(always)]
    pub(super) fn account_retired(&mut self, r: &SegmentReader) {
        let n = r.position() - self.reader_start;
        self.events_retired += n;
        self.bytes_retired += r.delivered_bytes().saturating_sub(self.reader_bytes_start);
        self.reader_bytes_start = 0;
        if n > 0 {
            self.last_retired = Some(r.position() - 1);
        }
        self.reader_start = 0;
    }
}
