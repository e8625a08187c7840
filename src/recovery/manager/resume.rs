//! Positioning the replay: `resume` picks the segment holding the start id from the scanned
//! headers, refuses (Strict) or steps over segments of another log, accounts for damage before
//! the first and after the last usable segment, opens the start segment for shared
//! verification and starts the preloader on the rest of the plan.

use super::*;
use crate::recovery::scan::FileStatus;

impl Manager {
    pub(super) fn resume_inner(&mut self, event_id: u64) -> Result<()> {
        self.stop_pipe();
        self.tail = None;
        if let Some(r) = self.reader.take() {
            self.account_retired(&r);
        }
        self.report.first_delivered = None;
        self.resume_floor = 0;
        self.expect = None;
        self.report.complete = false;
        self.report.stopped = None;
        self.report.error = None;
        self.started = Instant::now();
        self.events_at_resume = self.events();
        // Timed deliveries restart with the replay (the reader installed below, or the tail).
        self.sample_at = event_id.saturating_add(u64::from(self.opts.next_event_sample_every) - 1);
        self.telemetry.manager.on_replay_start();
        let Some(oldest) = self.headers.first().map(|h| h.first_event_id) else {
            // Empty log: nothing to replay from any position — unless following, when the
            // events come from the first segment the writer creates.
            if event_id != 0 && !self.opts.follow {
                return Err(Error::EmptyLog);
            }
            self.report.start_event_id = event_id;
            self.finish_plan()?;
            if self.opts.follow && self.report.stopped.is_none() {
                self.follow_after_plan()?;
            }
            return Ok(());
        };
        let target = if event_id == 0 { oldest } else { event_id };
        self.report.start_event_id = target;
        if event_id == 0 {
            if let Flow::Stop = self.leading_damage(oldest)? {
                self.state = State::Ended;
                return Ok(());
            }
        }
        if target < oldest {
            return Err(Error::EventTooOld {
                requested: target,
                oldest,
            });
        }
        let k0 = self.headers.partition_point(|h| h.first_event_id <= target) - 1;
        let mut k = (0..=k0)
            .find(|&i| self.headers[i].end_id().map_or(i == k0, |e| target < e))
            .unwrap_or(k0);
        let mut target = target;
        // Strict: sealed headers that do not form one chain from here on mean segments of two
        // different logs. Which side is genuine cannot be told from the files, so nothing is
        // delivered: the error names the first break.
        if self.opts.mode == RecoveryMode::Strict {
            if let Some((i, j)) = self.first_unchained(k) {
                let next = self.headers[j];
                let last_id = next.end_id().map_or(next.first_event_id, |e| e - 1);
                self.report.continuity.push(ContinuityReport {
                    kind: ContinuityKind::ChainBreak.as_str().into(),
                    previous: self.plan[i].clone(),
                    next: self.plan[j].clone(),
                    first_id: next.first_event_id,
                    last_id,
                });
                return Err(Error::Continuity {
                    kind: ContinuityKind::ChainBreak,
                    previous: self.plan[i].clone(),
                    next: self.plan[j].clone(),
                    first_id: next.first_event_id,
                    last_id,
                });
            }
        }
        // Never start inside a segment that chains with neither neighbour (another log's data).
        while self.is_foreign(k) {
            let h = self.headers[k];
            let other = if k + 1 < self.plan.len() {
                k + 1
            } else {
                k - 1
            };
            let e = Error::Continuity {
                kind: ContinuityKind::ChainBreak,
                previous: self.plan[k].clone(),
                next: self.plan[other].clone(),
                first_id: h.first_event_id,
                last_id: h.last_event_id,
            };
            self.report.continuity.push(ContinuityReport {
                kind: ContinuityKind::ChainBreak.as_str().into(),
                previous: self.plan[k].clone(),
                next: self.plan[other].clone(),
                first_id: h.first_event_id,
                last_id: h.last_event_id,
            });
            if let Flow::Stop = self.problem(e)? {
                self.state = State::Ended;
                return Ok(());
            }
            let path = self.plan[k].clone();
            self.skip_foreign(&path);
            self.report.lost.push(LostRange {
                first_id: target,
                last_id: Some(h.last_event_id),
                reason: format!("segment {FOREIGN}"),
                path: Some(path),
            });
            if k + 1 >= self.plan.len() {
                self.cur = k;
                self.finish_plan()?;
                self.state = State::Ended;
                return Ok(());
            }
            k += 1;
            target = self.headers[k].first_event_id;
        }
        // Block headers walked now; payloads checked up to the target's block before the first
        // event, the rest shared with the preloader (first unclaimed block first) as the replay
        // goes.
        let (mut reader, checks) = open_resume(&self.plan[k], &self.telemetry)?;
        reader.verify_through(target);
        if target >= reader.end_event_id() {
            reader.verify_remaining();
        }
        let end = reader.end_event_id();
        let corrupt = matches!(reader.end(), SegmentEnd::Corrupt(_));
        let in_damage = target > end && (corrupt || self.headers.get(k + 1).is_some());
        if in_damage && self.opts.mode != RecoveryMode::Strict {
            // The requested id lies in damaged or missing data. Outside Strict mode, start at
            // the end of the valid data and let the segment switch stop or skip as it would
            // during replay; the loss is accounted from the requested id.
            self.resume_floor = target;
        } else if target > end {
            if let SegmentEnd::Corrupt(c) = reader.end() {
                return Err(Error::Corrupt(Box::new(c.clone())));
            }
            return match self.headers.get(k + 1) {
                None => Err(Error::EventBeyondEnd {
                    requested: target,
                    end,
                }),
                Some(next) => Err(Error::Continuity {
                    kind: ContinuityKind::Gap,
                    previous: self.plan[k].clone(),
                    next: self.plan[k + 1].clone(),
                    first_id: end,
                    last_id: next.first_event_id - 1,
                }),
            };
        }
        let seek_start = now_ns();
        let sought = reader.seek(target.min(end));
        self.telemetry
            .manager
            .on_seek_event(seek_start, sought.is_ok());
        self.telemetry
            .segment_reader
            .on_seek_event(seek_start, sought.is_ok());
        sought?;
        self.cur = k;
        self.reader_start = reader.position();
        self.reader_bytes_start = reader.delivered_bytes();
        self.first_pending = target;
        self.sample_at = reader
            .position()
            .saturating_add(u64::from(self.opts.next_event_sample_every) - 1);
        reader.set_sample_at(self.sample_at);
        self.reader = Some(Box::new(reader));
        self.report.segments_replayed += 1;
        self.state = State::Running;
        self.telemetry
            .manager
            .set_segments(self.plan.len() as u64, (self.plan.len() - k) as u64);
        if k + 1 < self.plan.len() {
            let cfg = PreloadConfig {
                plan: Arc::clone(&self.plan),
                start: k + 1,
                delay: self.opts.preload_delay,
                panic_at: self.opts.preload_panic_at,
                first_task: Some(Arc::downgrade(&checks)),
            };
            let (worker, prepared, finished) = SegmentPreloader::start(
                cfg,
                self.opts.preload_depth,
                self.opts.finished_capacity,
                Arc::clone(&self.telemetry),
            )?;
            self.pipe = Some(Pipe {
                worker,
                prepared,
                finished,
                ahead: None,
                retiring: None,
            });
        }
        Ok(())
    }

    /// Replay from the oldest event: unusable segment files named *before* the first usable
    /// segment hold the log's oldest events; losing them must not be silent.
    pub(super) fn leading_damage(&mut self, oldest: u64) -> Result<Flow> {
        let Some(first_seq) = self.headers.iter().map(|h| h.sequence).min() else {
            return Ok(Flow::Continue);
        };
        let leading: Vec<_> = self
            .scan
            .files
            .iter()
            .filter(|f| f.status.is_damage() && f.name_sequence.is_some_and(|n| n < first_seq))
            .map(|f| (f.path.clone(), f.status.describe()))
            .collect();
        for (path, why) in leading {
            let e = Error::SegmentUnusable {
                path: path.clone(),
                reason: why.clone(),
            };
            if let Flow::Stop = self.problem(e)? {
                return Ok(Flow::Stop);
            }
            self.report.segments_skipped.push(SkippedSegment {
                path: path.clone(),
                reason: why.clone(),
            });
            if oldest > 1 {
                self.report.lost.push(LostRange {
                    first_id: 1,
                    last_id: Some(oldest - 1),
                    reason: format!(
                        "unusable segment before the oldest usable one ({why}); its ids are unknown, at most 1..={}",
                        oldest - 1
                    ),
                    path: Some(path),
                });
            }
        }
        Ok(Flow::Continue)
    }

    /// End of the plan: account for damage at the very end of the log (a corrupt last segment,
    /// or unusable segment files named after the last usable one).
    pub(super) fn finish_plan(&mut self) -> Result<()> {
        let last_seq = self.headers.iter().map(|h| h.sequence).max();
        let trailing: Vec<_> = self
            .scan
            .files
            .iter()
            .filter(|f| f.status.is_damage())
            .filter(|f| {
                matches!((f.name_sequence, last_seq), (Some(n), Some(l)) if n > l)
                    || (f.name_sequence.is_some() && last_seq.is_none())
            })
            .map(|f| (f.path.clone(), f.status.describe()))
            .collect();
        let next_id = self
            .expect
            .as_ref()
            .map(|x| x.next_id)
            .or(self.report.log_end_id);
        if let Some(x) = self.expect.clone() {
            if let Some(cause) = x.cause {
                let sealed_last = self
                    .headers
                    .get(self.cur)
                    .filter(|h| h.sealed)
                    .map(|h| h.last_event_id);
                self.report.lost.push(LostRange {
                    first_id: x.next_id,
                    last_id: sealed_last.filter(|&l| l >= x.next_id),
                    reason: cause,
                    path: Some(self.plan[x.after].clone()),
                });
            }
        }
        if let Some((path, why)) = self.missing_after_unfinalized() {
            let e = Error::SegmentUnusable {
                path: path.clone(),
                reason: why.clone(),
            };
            if let Flow::Stop = self.problem(e)? {
                return Ok(());
            }
            self.report.lost.push(LostRange {
                first_id: next_id.unwrap_or(1),
                last_id: None,
                reason: why,
                path: Some(path),
            });
        }
        for (path, why) in trailing {
            let e = Error::SegmentUnusable {
                path: path.clone(),
                reason: why.clone(),
            };
            if let Flow::Stop = self.problem(e)? {
                return Ok(());
            }
            self.report.segments_skipped.push(SkippedSegment {
                path: path.clone(),
                reason: why.clone(),
            });
            self.report.lost.push(LostRange {
                first_id: next_id.unwrap_or(1),
                last_id: None,
                reason: format!("unusable segment after the last usable one: {why}"),
                path: Some(path),
            });
        }
        self.report.complete = true;
        Ok(())
    }

    /// Walks the chain of sealed headers from plan entry `from`: at each segment's end, the
    /// successor whose `prev_chain` is that segment's `last_chain`. Returns `(i, j)` when
    /// segment `i` has id-contiguous successors but none chains into it (`j` is one of them):
    /// the directory holds two logs' segments and the files cannot tell which is genuine.
    /// Segments off the chain (strays such as a conflicting duplicate) and gaps are left to the
    /// segment switch. From the scanned headers alone, in one pass.
    pub(super) fn first_unchained(&self, from: usize) -> Option<(usize, usize)> {
        let mut by_first: std::collections::HashMap<u64, Vec<usize>> = Default::default();
        for (j, h) in self.headers.iter().enumerate().skip(from + 1) {
            by_first.entry(h.first_event_id).or_default().push(j);
        }
        let mut cur = from;
        loop {
            let h = self.headers[cur];
            let end = h.end_id().filter(|_| h.sealed)?;
            let succ = by_first.get(&end)?;
            match succ
                .iter()
                .find(|&&j| self.headers[j].prev_chain == h.last_chain)
            {
                Some(&j) if j > cur => cur = j,
                Some(_) => return None,
                None => return Some((cur, succ[0])),
            }
        }
    }

    /// Whether sealed segment `i` and the next one are id-contiguous but not chained: the next
    /// one's `prev_chain` is not `i`'s `last_chain`. Visible from the scanned headers alone.
    pub(super) fn chain_break_after(&self, i: usize) -> bool {
        match (self.headers.get(i), self.headers.get(i + 1)) {
            (Some(a), Some(b)) => {
                a.sealed && a.end_id() == Some(b.first_event_id) && b.prev_chain != a.last_chain
            }
            _ => false,
        }
    }

    /// Whether plan entry `i` holds another log's data: its chain breaks on both sides (the
    /// last segment: with its predecessor; the first: with its successor, while the successor
    /// chains on). A single broken link between consistent neighbours is not judged here; it is
    /// reported at the segment switch.
    pub(super) fn is_foreign(&self, i: usize) -> bool {
        let n = self.headers.len();
        let left = i > 0 && self.chain_break_after(i - 1);
        let right = self.chain_break_after(i);
        if i == 0 {
            right && n > 2 && !self.chain_break_after(1)
        } else {
            left && (right || i + 1 == n)
        }
    }

    /// A FlashStrike log whose last segment holding data was never finalized, although the
    /// recorder had moved on from it — it pre-creates the segments after the one it writes,
    /// and the first of those left by the crash is not the next index: the segment(s) in
    /// between, the one written at the crash at least, are missing with their events. Returns
    /// (the first missing file, why). A finalized last segment followed by such a hole is what a
    /// clean shutdown removing its pre-created segments also leaves, so it proves nothing.
    pub(super) fn missing_after_unfinalized(&self) -> Option<(PathBuf, String)> {
        if self.scan.format != Some(Format::FlashStrikeV1) {
            return None;
        }
        let last = self.headers.iter().max_by_key(|h| h.sequence)?;
        if last.sealed {
            return None;
        }
        let first_empty = self
            .scan
            .files
            .iter()
            .filter(|f| matches!(f.status, FileStatus::Empty { .. }))
            .filter_map(|f| f.name_sequence)
            .filter(|&n| n > last.sequence)
            .min()?;
        if first_empty <= last.sequence + 1 {
            return None;
        }
        let missing = u32::try_from(last.sequence + 1).ok()?;
        Some((
            self.dir
                .join(crate::flashstrike::segment_file_name(missing)),
            format!(
                "segment {missing} is missing: segment {} was never finalized and segment \
                 {first_empty} was pre-created after it, so the segments in between held \
                 events; they are lost",
                last.sequence
            ),
        ))
    }
}
