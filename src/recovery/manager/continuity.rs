//! What a segment boundary means for the replay: how the finished segment ended (clean, torn
//! tail, corruption), whether the next one continues it (ids, and for the native format the
//! cross-segment chain), and what the recovery mode makes of a problem — the error in Strict,
//! the end in StopAtCorruption, a skipped and accounted range in SkipCorrupted.

use super::*;

impl Manager {
    /// Inspects how an exhausted reader ended, and sets what the next segment must continue.
    pub(super) fn finish_reader(&mut self, r: &SegmentReader) -> Result<Flow> {
        let mut cause = None;
        match r.end() {
            SegmentEnd::Clean => {}
            SegmentEnd::TornTail(t) => {
                self.report.torn_tail = Some(TornTailReport {
                    path: r.path().to_path_buf(),
                    offset: t.offset,
                    bytes: t.bytes,
                    reason: t.reason.clone(),
                });
            }
            SegmentEnd::Corrupt(c) => {
                let c = c.clone();
                // The lost range names the file separately; the reason says what and where.
                let desc = c.what();
                if let Flow::Stop = self.problem(Error::Corrupt(Box::new(c)))? {
                    return Ok(Flow::Stop);
                }
                cause = Some(desc);
            }
        }
        self.expect_after(r, cause);
        Ok(Flow::Continue)
    }

    /// Sets what the segment after `r` (plan entry `cur`, exhausted) must continue. Always
    /// inlined: the crossing runs it, and runs only code the look-ahead prefetched
    /// (`Manager::cross_armed`).
    #[inline(always)]
    pub(super) fn expect_after(&mut self, r: &SegmentReader, cause: Option<String>) {
        self.expect = Some(Expect {
            next_id: r.end_event_id().max(std::mem::take(&mut self.resume_floor)),
            chain: r.last_chain(),
            after: self.cur,
            cause,
        });
    }

    /// Checks that `reader` continues the previous segment. Returns the flow and whether the
    /// reader should be replayed (false: skipped entirely).
    pub(super) fn check_continuity(&mut self, reader: &mut SegmentReader) -> Result<(Flow, bool)> {
        let Some(x) = self.expect.as_ref() else {
            return Ok((Flow::Continue, true));
        };
        // The normal case, decided from two header fields without touching anything else.
        if x.cause.is_none()
            && reader.first_event_id() == x.next_id
            && reader.header().prev_chain == x.chain
        {
            return Ok((Flow::Continue, true));
        }
        let x = x.clone();
        let first = reader.first_event_id();
        // The plan (shared, immutable) names the segment: no allocation on the normal path.
        let plan = Arc::clone(&self.plan);
        let path: &Path = &plan[self.cur];
        if self.opts.mode == RecoveryMode::SkipCorrupted
            && x.cause.is_some()
            && self.is_foreign(self.cur)
        {
            // After damage the chain cannot be followed link by link, but the headers still show
            // this segment chains with neither neighbour: another log's data, never delivered.
            self.skip_foreign(path);
            return Ok((Flow::Continue, false));
        }
        if first == x.next_id {
            if x.cause.is_none() && reader.header().prev_chain != x.chain {
                reader.verify_remaining(); // the reported range needs the segment's end
                let e = self.continuity(
                    ContinuityKind::ChainBreak,
                    &x,
                    path,
                    first,
                    reader.end_event_id().max(first + 1) - 1,
                );
                let flow = self.problem(e)?;
                if let Flow::Continue = flow {
                    if self.is_foreign(self.cur) {
                        // SkipCorrupted: a segment that chains with neither neighbour holds
                        // another log's data; its ids are lost, never delivered.
                        self.skip_foreign(path);
                        let mut x = x;
                        x.cause = Some(format!(
                            "segment {} does not chain with its neighbours",
                            reader.path().display()
                        ));
                        self.expect = Some(x);
                        return Ok((Flow::Continue, false));
                    }
                }
                return Ok((flow, true));
            }
            return Ok((Flow::Continue, true));
        }
        if first > x.next_id {
            let (lo, hi) = (x.next_id, first - 1);
            let e = self.continuity(ContinuityKind::Gap, &x, path, lo, hi);
            let flow = self.problem(e)?;
            if let Flow::Continue = flow {
                self.report.lost.push(LostRange {
                    first_id: lo,
                    last_id: Some(hi),
                    reason: x.cause.clone().unwrap_or_else(|| {
                        format!(
                            "missing segment between {} and {}",
                            self.plan[x.after].display(),
                            path.display()
                        )
                    }),
                    path: Some(self.plan[x.after].clone()),
                });
            }
            return Ok((flow, true));
        }
        // first < next_id: this segment repeats ids already delivered.
        reader.verify_remaining(); // its end decides whether any of it is new
        let end = reader.end_event_id();
        let overlap_last = end.min(x.next_id).max(first + 1) - 1;
        let kind = if self
            .headers
            .get(self.cur.wrapping_sub(1))
            .is_some_and(|h| h.first_event_id == first)
        {
            ContinuityKind::ConflictingDuplicate
        } else {
            ContinuityKind::Overlap
        };
        let e = self.continuity(kind, &x, path, first, overlap_last);
        let flow = self.problem(e)?;
        self.report.duplicates.push(DuplicateReport {
            kept: self.plan[x.after].clone(),
            other: path.to_path_buf(),
            first_id: first,
            last_id: overlap_last,
            identical: false,
        });
        if let Flow::Stop = flow {
            return Ok((Flow::Stop, false));
        }
        if end <= x.next_id {
            self.report.segments_skipped.push(SkippedSegment {
                path: path.to_path_buf(),
                reason: format!("holds only ids {first}..{end} already replayed"),
            });
            // Keep expecting what we expected before this segment.
            self.expect = Some(x);
            return Ok((Flow::Continue, false));
        }
        if let Err(e) = reader.seek(x.next_id) {
            return Ok((self.problem(e)?, false));
        }
        Ok((Flow::Continue, true))
    }

    pub(super) fn continuity(
        &mut self,
        kind: ContinuityKind,
        x: &Expect,
        next: &Path,
        first_id: u64,
        last_id: u64,
    ) -> Error {
        self.report.continuity.push(ContinuityReport {
            kind: kind.as_str().into(),
            previous: self.plan[x.after].clone(),
            next: next.to_path_buf(),
            first_id,
            last_id,
        });
        Error::Continuity {
            kind,
            previous: self.plan[x.after].clone(),
            next: next.to_path_buf(),
            first_id,
            last_id,
        }
    }

    /// Applies the recovery mode to a problem: Strict fails, StopAtCorruption stops,
    /// SkipCorrupted continues (the caller records what was skipped).
    pub(super) fn problem(&mut self, e: Error) -> Result<Flow> {
        match self.opts.mode {
            RecoveryMode::Strict => self.fail(e),
            RecoveryMode::StopAtCorruption => {
                self.report.stopped = Some(e.to_string());
                Ok(Flow::Stop)
            }
            RecoveryMode::SkipCorrupted => {
                if let Error::Corrupt(c) = &e {
                    self.report.segments_skipped.push(SkippedSegment {
                        path: c.path.clone(),
                        reason: format!(
                            "rest of segment from offset {} skipped: {}",
                            c.offset,
                            c.kind.as_str()
                        ),
                    });
                }
                Ok(Flow::Continue)
            }
        }
    }

    /// Records that the segment at `path` is skipped as another log's data (see [`FOREIGN`]).
    pub(super) fn skip_foreign(&mut self, path: &Path) {
        self.report.segments_skipped.push(SkippedSegment {
            path: path.to_path_buf(),
            reason: FOREIGN.into(),
        });
    }
}
