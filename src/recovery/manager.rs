//! `Manager`: scans a log directory, resumes from an event id and streams events in strict id
//! order, switching segments without doing slow I/O on the replay thread.
//!
//! The flow follows the original design (scan → resume → replay with segments prepared ahead
//! by a background worker) but fixes what the original got wrong: end of log is a message,
//! never a spin; the worker is stopped and joined on resume, error and drop; every gap,
//! duplicate, overlap, broken chain, corrupt block and torn tail is detected — at open from the
//! scanned headers where they show it, otherwise at the segment switch — handled per
//! [`RecoveryMode`], and recorded in the [`RecoveryReport`].
//!
//! Hot path: `next()` is the current reader's `next()` plus a sampling countdown. Everything
//! else — ring handoff, continuity checks, telemetry publication — happens once per segment,
//! and as little of it as possible in the `next()` that crosses the boundary: the switch is
//! decided while the replay reads the segment's last block (`Manager::look_ahead`), the
//! crossing only swaps the readers (`Manager::cross_armed`), and what it tells the worker and
//! telemetry waits for the next block entry (docs/ARCHITECTURE.md, "Segment switch").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use super::event::Event;
use super::format::Format;
pub use super::options::{RecoveryMode, RecoveryOptions};
use super::prefetch;
use super::report::{
    ContinuityReport, DuplicateReport, LostRange, RecoveryReport, SkippedSegment, TornTailReport,
};
use super::scan::{scan_dir_as, Scan};
use super::segment_reader::{SegmentEnd, SegmentReader};
use super::telemetry::{now_ns, Telemetry, TickClock};
use super::worker::segment_preloader::{
    close_reader, open_lazily, open_resume, BoxedReader, PreloadConfig, Prepared, SegmentPreloader,
};
use crate::error::{ContinuityKind, Error, Result};
use crate::segment::header::SegmentHeader;

/// Why a segment that chains with neither neighbour is never delivered.
const FOREIGN: &str = "does not chain with its neighbours (replaced, or from another log)";

/// Cache lines of code prefetched from the entry of `next_cold`, where the segment switch runs
/// (`cross_armed` and `install` are inlined into it): 4 KiB, more than the function's 3.3 KiB
/// in a release build; prefetching past a function's end is harmless.
const SWITCH_CODE_LINES: usize = 64;

/// Spins before yielding while waiting for the preloader.
const SPINS: u32 = 256;
/// A segment the preloader has already claimed gets this many times `fallback_after` before the
/// manager maps it itself.
const CLAIMED_WAIT_FACTOR: u32 = 10;

/// The running preloader and the manager's ends of its rings.
#[derive(Debug)]
struct Pipe {
    worker: SegmentPreloader,
    prepared: rtrb::Consumer<Prepared>,
    finished: rtrb::Producer<BoxedReader>,
    /// The next segment's reader, taken from the prepared ring early (see
    /// [`Manager::look_ahead`]).
    ahead: Option<Ahead>,
    /// The reader [`Manager::cross_armed`] retired, pushed to the finished ring at the next
    /// block entry ([`Manager::block_entered`]): the push writes ring lines the worker keeps
    /// reading, a cross-core transfer measured at ~0.5–0.65 µs, which is kept off the switch.
    retiring: Option<BoxedReader>,
}

/// The next segment's reader, taken early by [`Manager::look_ahead`].
#[derive(Debug)]
struct Ahead {
    /// Its plan index.
    index: usize,
    reader: BoxedReader,
    /// The switch to it is decided already ([`Manager::cross_armed`]): it is the next plan
    /// entry, it continues the current segment (first id and chain), its first block is
    /// entered, and the current segment is verified, clean, with no resume target inside
    /// damage. What is left to check at the boundary is that the current reader was read to
    /// its end without a framing failure.
    armed: bool,
}

/// Where the replay stands.
#[derive(Debug)]
enum State {
    /// Delivering events.
    Running,
    /// End of log reached, or stopped at a problem (StopAtCorruption).
    Ended,
    /// A strict-mode error (or failed resume) ended the replay; repeated on every call.
    Failed(Error),
}

/// What replay expects of the next segment.
#[derive(Debug, Clone)]
struct Expect {
    next_id: u64,
    chain: u32,
    /// Plan index of the segment just finished (its path is `plan[after]`).
    after: usize,
    /// The previous segment ended in corruption: a following gap is that damage.
    cause: Option<String>,
}

/// A plan entry, ready or failed.
#[derive(Debug)]
enum Obtained {
    Ready(BoxedReader),
    Failed(Error),
}

/// Outcome of meeting a problem, per mode.
enum Flow {
    Continue,
    Stop,
}

/// Streams a log's events in id order. See the module docs.
#[derive(Debug)]
pub struct Manager {
    dir: PathBuf,
    opts: RecoveryOptions,
    scan: Scan,
    plan: Arc<Vec<PathBuf>>,
    headers: Vec<SegmentHeader>,
    telemetry: Arc<Telemetry>,
    reader: Option<BoxedReader>,
    cur: usize,
    pipe: Option<Pipe>,
    expect: Option<Expect>,
    state: State,
    report: RecoveryReport,
    // Hot-path accounting, published to telemetry once per sample and per segment.
    /// Events delivered from readers already retired (the current reader's are derived from
    /// its position, so the hot path keeps no per-event counter).
    events_retired: u64,
    /// Position of the current reader when it was installed.
    reader_start: u64,
    bytes: u64,
    /// Resume target inside damage (non-strict modes): the next segment must continue from here.
    resume_floor: u64,
    /// Last id delivered from a retired reader.
    last_retired: Option<u64>,
    events_at_resume: u64,
    first_pending: u64,
    countdown: u32,
    started: Instant,
    /// Times the segment switch without reading the clock in it ([`TickClock`]).
    ticks: TickClock,
    /// The last switch's start and end in ticks, converted and recorded into the telemetry
    /// histogram at the next block entry (a histogram record touches cold counters, and every
    /// 100 ms merges 216 KiB: 10–20 µs that would otherwise land on the crossing `next()`).
    handoff_pending: Option<(u64, u64)>,
}

impl Manager {
    /// Scans `dir` and positions the replay at `opts.start_event_id` (0 = oldest).
    pub fn open(dir: impl AsRef<Path>, opts: RecoveryOptions) -> Result<Self> {
        Self::open_with_telemetry(dir, opts, Arc::new(Telemetry::new()))
    }

    /// As [`Self::open`], recording into a caller-provided telemetry root.
    pub fn open_with_telemetry(
        dir: impl AsRef<Path>,
        opts: RecoveryOptions,
        telemetry: Arc<Telemetry>,
    ) -> Result<Self> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let scan = scan_dir_as(&dir, opts.format, &telemetry)?;
        let mut report = RecoveryReport {
            dir: dir.clone(),
            mode: opts.mode,
            files: scan.files.clone(),
            ignored_files: scan.ignored,
            format: scan.format,
            segments_scanned: scan.files.len() as u64,
            ..RecoveryReport::default()
        };
        // Identical duplicates (same ids, same chain values) are replayed once.
        let mut plan = Vec::new();
        let mut headers: Vec<SegmentHeader> = Vec::new();
        for f in scan.segments() {
            let Some(h) = f.header else { continue };
            if let (Some(prev), Some(prev_path)) = (headers.last(), plan.last()) {
                if is_identical(prev, &h, scan.format) {
                    report.duplicates.push(DuplicateReport {
                        kept: PathBuf::clone(prev_path),
                        other: f.path.clone(),
                        first_id: h.first_event_id,
                        last_id: h.last_event_id,
                        identical: true,
                    });
                    continue;
                }
            }
            plan.push(f.path.clone());
            headers.push(h);
        }
        report.log_first_id = headers.first().map(|h| h.first_event_id);
        report.log_end_id = headers.iter().filter_map(|h| h.end_id()).max();
        telemetry
            .manager
            .set_segments(plan.len() as u64, plan.len() as u64);
        telemetry
            .manager
            .set_next_event_sample_every(opts.next_event_sample_every);
        let countdown = opts.next_event_sample_every;
        let mut m = Manager {
            dir,
            opts,
            scan,
            plan: Arc::new(plan),
            headers,
            telemetry,
            reader: None,
            cur: 0,
            pipe: None,
            expect: None,
            state: State::Ended,
            report,
            events_retired: 0,
            reader_start: 0,
            bytes: 0,
            last_retired: None,
            resume_floor: 0,
            events_at_resume: 0,
            first_pending: 0,
            countdown,
            started: Instant::now(),
            ticks: TickClock::new(),
            handoff_pending: None,
        };
        m.resume(m.opts.start_event_id)?;
        Ok(m)
    }

    /// Repositions the replay so that the next event delivered is `event_id` (0 = oldest; the
    /// id after the last event positions at the end). Stops the preloader, drains both rings and
    /// starts again from the new position; works forward and backward.
    pub fn resume(&mut self, event_id: u64) -> Result<()> {
        let start = now_ns();
        let r = self.resume_inner(event_id);
        self.telemetry
            .manager
            .on_resume_from_event(start, r.is_ok());
        if let Err(e) = &r {
            self.state = State::Failed(e.duplicate());
        }
        r
    }

    fn resume_inner(&mut self, event_id: u64) -> Result<()> {
        self.stop_pipe();
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
        self.telemetry.manager.on_replay_start();
        let Some(oldest) = self.headers.first().map(|h| h.first_event_id) else {
            // Empty log: nothing to replay from any position.
            if event_id != 0 {
                return Err(Error::EmptyLog);
            }
            self.report.start_event_id = event_id;
            self.finish_plan()?;
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
        self.first_pending = target;
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
                first_task: Some(checks),
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

    /// The next event, `Ok(None)` at the end of the log (or where StopAtCorruption stopped), or
    /// the error that ended a strict replay. The payload borrows the segment mapping and is
    /// valid until the next call that moves the replay.
    // Not `Iterator::next`: each event borrows the reader, which a lending API needs.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Event<'_>>> {
        self.countdown -= 1;
        if self.countdown == 0 {
            return self.next_sampled();
        }
        self.next_inner()
    }

    #[inline(never)]
    fn next_sampled(&mut self) -> Result<Option<Event<'_>>> {
        self.countdown = self.opts.next_event_sample_every;
        let telemetry = Arc::clone(&self.telemetry);
        self.publish_progress();
        let start = now_ns();
        let r = self.next_inner();
        if let Ok(Some(_)) = r {
            telemetry.manager.on_next_event(start);
        }
        r
    }

    #[inline(always)]
    fn next_inner(&mut self) -> Result<Option<Event<'_>>> {
        if let Some(r) = self.reader.as_mut() {
            if let Some((id, s, e)) = r.next_fast() {
                return self.deliver(id, s, e);
            }
        }
        self.next_cold()
    }

    /// The event at a position the current reader just returned.
    #[inline(always)]
    fn deliver(&mut self, id: u64, start: usize, end: usize) -> Result<Option<Event<'_>>> {
        self.bytes += (end - start) as u64;
        let r = self
            .reader
            .as_ref()
            .expect("reader present: it just returned this position");
        Ok(Some(Event {
            id,
            payload: r.payload(start, end),
        }))
    }

    /// Block switch, segment switch, end of log or error.
    #[inline(never)]
    fn next_cold(&mut self) -> Result<Option<Event<'_>>> {
        // The segment switch prepared in the last block: its reader is positioned on its first
        // event, so delivering it is the hot path's decode.
        if self.cross_armed() {
            if let Some(r) = self.reader.as_mut() {
                if let Some((id, s, e)) = r.next_fast() {
                    return self.deliver(id, s, e);
                }
            }
        }
        loop {
            if let Some(r) = self.reader.as_mut() {
                match r.next_position() {
                    Ok(Some((id, s, e))) => {
                        self.block_entered();
                        return self.deliver(id, s, e);
                    }
                    Ok(None) => {}
                    // A read-time check failed: the segment's valid data ends here, and the
                    // segment switch applies the recovery mode like any other corruption.
                    Err(Error::Corrupt(c)) => r.cut_at_cursor(*c),
                    Err(e) => return self.fail(e),
                }
            }
            if !self.advance()? {
                return Ok(None);
            }
        }
    }

    /// Delivers up to `max` events, all from one segment, appending them to `out`. Returns how
    /// many were added (0 only at the end). All returned payloads stay valid until the next call
    /// that moves the replay.
    pub fn next_batch<'a>(&'a mut self, out: &mut Vec<Event<'a>>, max: usize) -> Result<usize> {
        self.next_batch_with(max, |e| out.push(e))
    }

    /// Calls `f` for up to `max` events, all from one segment, in one pass without allocating.
    /// Returns how many (0 only at the end, or when `max` is 0). The payloads stay valid until
    /// the next call that moves the replay, so a caller may keep all of them.
    pub fn next_batch_with<'a>(
        &'a mut self,
        max: usize,
        f: impl FnMut(Event<'a>),
    ) -> Result<usize> {
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
        let (n, bytes) = r.next_batch_with(max, f);
        self.bytes += bytes;
        Ok(n)
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        self.report.error = Some(e.to_string());
        self.state = State::Failed(e.duplicate());
        self.stop_pipe();
        Err(e)
    }

    /// Called when the current reader is exhausted (or absent): checks how it ended, retires
    /// it, and installs the next segment's reader. Returns false at the end of the replay.
    #[inline(never)]
    fn advance(&mut self) -> Result<bool> {
        match &self.state {
            State::Running => {}
            State::Ended => return Ok(false),
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

    /// Makes `reader` (plan entry `cur`, checked to continue the replay) the current one. What
    /// the switch tells telemetry waits for [`Self::publish_switch`].
    #[inline(always)]
    fn install(&mut self, reader: BoxedReader, handoff_start: u64) {
        self.report.segments_replayed += 1;
        self.reader_start = reader.position();
        if self.events() == self.events_at_resume {
            self.first_pending = reader.position();
        }
        self.reader = Some(reader);
        let end = self.ticks.now();
        // A segment of one block reaches its switch before its second block entry: publish
        // the previous switch now rather than lose it.
        if self.handoff_pending.is_some() {
            self.publish_switch();
        }
        self.handoff_pending = Some((handoff_start, end));
    }

    /// Publishes the last switch to telemetry, at the next block entry rather than in the
    /// crossing `next()`: its handoff time into the histogram (a record touches cold counters,
    /// converts ticks with a clock read and a division, and every 100 ms merges 216 KiB), and
    /// the segment gauges and progress totals, four more cache lines — like every progress
    /// publication, a few µs late. Out of line, so none of it sits in the switch's code.
    #[cold]
    #[inline(never)]
    fn publish_switch(&mut self) {
        if let Some((start, end)) = self.handoff_pending.take() {
            let (elapsed, now) = self.ticks.to_ns(end.saturating_sub(start));
            self.telemetry.manager.record_handoff(elapsed, now);
            self.telemetry.manager.set_segments(
                self.plan.len() as u64,
                self.plan.len().saturating_sub(self.cur) as u64,
            );
            self.publish_progress();
        }
    }

    /// The common segment switch, decided in advance by [`Self::look_ahead`] so that the
    /// boundary runs few instructions from few cache lines: if the next reader is armed and the
    /// current one was read to its clean end, retires the current reader and installs the
    /// next. Anything else returns false and takes the general path ([`Self::advance`]), which
    /// decides the same cases the same way.
    // Inlined into `next_cold` (and `advance`), so that the crossing runs from the code lines
    // of one function, which the look-ahead prefetches whole.
    #[inline(always)]
    fn cross_armed(&mut self) -> bool {
        let armed = self
            .pipe
            .as_ref()
            .and_then(|p| p.ahead.as_ref())
            .is_some_and(|a| a.armed);
        if !armed
            || !matches!(self.state, State::Running)
            || !self
                .reader
                .as_deref()
                .is_some_and(SegmentReader::exhausted_cleanly)
        {
            return false;
        }
        let handoff_start = self.ticks.now();
        let (Some(r), Some(next)) = (
            self.reader.take(),
            self.pipe.as_mut().and_then(|p| p.ahead.take()),
        ) else {
            return false; // checked just above
        };
        self.account_retired(&r);
        self.expect_after(&r, None);
        match self.pipe.as_mut() {
            Some(p) if p.retiring.is_none() => p.retiring = Some(r),
            _ => self.retire(r),
        }
        self.cur = next.index;
        self.install(next.reader, handoff_start);
        // A one-block segment is in its last block already: prepare the switch after it.
        if self.reader.as_ref().is_some_and(|r| r.in_last_block()) {
            self.look_ahead();
        }
        true
    }

    fn end_replay(&mut self) -> Result<bool> {
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
            let e = match unplaced {
                Some((path, why)) => Error::SegmentUnusable {
                    path,
                    reason: format!("{why}; its events, if any, were not replayed"),
                },
                None => Error::SegmentUnusable {
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

    /// Inspects how an exhausted reader ended, and sets what the next segment must continue.
    fn finish_reader(&mut self, r: &SegmentReader) -> Result<Flow> {
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

    /// Sets what the segment after `r` (plan entry `cur`, exhausted) must continue.
    #[inline]
    fn expect_after(&mut self, r: &SegmentReader, cause: Option<String>) {
        self.expect = Some(Expect {
            next_id: r.end_event_id().max(std::mem::take(&mut self.resume_floor)),
            chain: r.last_chain(),
            after: self.cur,
            cause,
        });
    }

    /// Checks that `reader` continues the previous segment. Returns the flow and whether the
    /// reader should be replayed (false: skipped entirely).
    fn check_continuity(&mut self, reader: &mut SegmentReader) -> Result<(Flow, bool)> {
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

    fn continuity(
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
    fn problem(&mut self, e: Error) -> Result<Flow> {
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
    fn skip_foreign(&mut self, path: &Path) {
        self.report.segments_skipped.push(SkippedSegment {
            path: path.to_path_buf(),
            reason: FOREIGN.into(),
        });
    }

    /// Whether sealed segment `i` and the next one are id-contiguous but not chained: the next
    /// one's `prev_chain` is not `i`'s `last_chain`. Visible from the scanned headers alone.
    fn chain_break_after(&self, i: usize) -> bool {
        match (self.headers.get(i), self.headers.get(i + 1)) {
            (Some(a), Some(b)) => {
                a.sealed && a.end_id() == Some(b.first_event_id) && b.prev_chain != a.last_chain
            }
            _ => false,
        }
    }

    /// Walks the chain of sealed headers from plan entry `from`: at each segment's end, the
    /// successor whose `prev_chain` is that segment's `last_chain`. Returns `(i, j)` when
    /// segment `i` has id-contiguous successors but none chains into it (`j` is one of them):
    /// the directory holds two logs' segments and the files cannot tell which is genuine.
    /// Segments off the chain (strays such as a conflicting duplicate) and gaps are left to the
    /// segment switch. From the scanned headers alone, in one pass.
    fn first_unchained(&self, from: usize) -> Option<(usize, usize)> {
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

    /// Whether plan entry `i` holds another log's data: its chain breaks on both sides (the
    /// last segment: with its predecessor; the first: with its successor, while the successor
    /// chains on). A single broken link between consistent neighbours is not judged here; it is
    /// reported at the segment switch.
    fn is_foreign(&self, i: usize) -> bool {
        let n = self.headers.len();
        let left = i > 0 && self.chain_break_after(i - 1);
        let right = self.chain_break_after(i);
        if i == 0 {
            right && n > 2 && !self.chain_break_after(1)
        } else {
            left && (right || i + 1 == n)
        }
    }

    /// Replay from the oldest event: unusable segment files named *before* the first usable
    /// segment hold the log's oldest events; losing them must not be silent.
    fn leading_damage(&mut self, oldest: u64) -> Result<Flow> {
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
    fn finish_plan(&mut self) -> Result<()> {
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

    /// Gets plan entry `j`: from the prepared ring or — when nothing arrives within
    /// `fallback_after`, or the worker has died — by opening it here: the synchronous fallback,
    /// counted. The fallback only maps the segment (its blocks are verified as the replay
    /// reaches them), so it is cheap; it moves the claim counter past `j`, and if the worker
    /// was already preparing `j` its late copy is recognised by its index and closed.
    fn obtain(&mut self, j: usize) -> Obtained {
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
            // the same work twice.
            let shared = pipe.worker.shared();
            let claimed = shared.claim.load(std::sync::atomic::Ordering::Acquire) > j;
            let limit = if claimed {
                fallback_after * CLAIMED_WAIT_FACTOR
            } else {
                fallback_after
            };
            if wait_start.get_or_insert_with(Instant::now).elapsed() >= limit {
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
    fn block_entered(&mut self) {
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
    fn look_ahead(&mut self) {
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
        ));
        // And the switch's code: 64 MiB of streaming evicted it (see `recovery::prefetch`).
        type NextCold = for<'a> fn(&'a mut Manager) -> Result<Option<Event<'a>>>;
        prefetch::code(Self::next_cold as NextCold as usize, SWITCH_CODE_LINES);
    }

    fn open_here(&mut self, j: usize) -> Obtained {
        self.telemetry.manager.on_fallback_open();
        self.report.fallback_opens += 1;
        match open_lazily(&self.plan[j], &self.telemetry) {
            Ok(reader) => Obtained::Ready(Box::new(reader)),
            Err(error) => Obtained::Failed(error),
        }
    }

    /// Hands a finished reader to the worker for unmapping, or drops it here if the ring is full.
    fn retire(&mut self, r: BoxedReader) {
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

    fn sync_close(&mut self, r: BoxedReader) {
        close_reader(&self.telemetry, r);
        self.telemetry.manager.on_finished_ring_full_sync_close();
        self.report.sync_closes += 1;
    }

    /// Stops and joins the worker. A worker that died records its panic in the report here,
    /// after the join: its message is stored only once its unwinding (which abandons the rings)
    /// has finished.
    fn stop_pipe(&mut self) {
        self.publish_switch();
        if let Some(mut p) = self.pipe.take() {
            p.worker.stop();
            if let Some(msg) = p.worker.panic_message() {
                self.report.worker_panic.get_or_insert(msg);
            }
            // Rings (and any readers in them) drop here, after the worker has been joined.
        }
    }

    fn account_retired(&mut self, r: &SegmentReader) {
        let n = r.position() - self.reader_start;
        self.events_retired += n;
        if n > 0 {
            self.last_retired = Some(r.position() - 1);
        }
        self.reader_start = 0;
    }

    /// Events delivered so far (all resumes included).
    pub fn events(&self) -> u64 {
        self.events_retired
            + self
                .reader
                .as_ref()
                .map_or(0, |r| r.position() - self.reader_start)
    }

    fn last_delivered(&self) -> Option<u64> {
        match &self.reader {
            Some(r) if r.position() > self.reader_start => Some(r.position() - 1),
            _ => self.last_retired,
        }
    }

    fn fill_progress(&self, r: &mut RecoveryReport) {
        let events = self.events();
        r.events_delivered = events;
        r.bytes_delivered = self.bytes;
        if events > self.events_at_resume {
            r.first_delivered.get_or_insert(self.first_pending);
            r.last_delivered = self.last_delivered();
        }
    }

    /// Publishes the running totals to telemetry. The report's progress fields are derived
    /// from the same state when the report is read ([`Self::report`]), so nothing is stored.
    fn publish_progress(&self) {
        self.telemetry
            .manager
            .publish_progress(self.events(), self.bytes);
    }

    /// The report as it stands now.
    pub fn report(&self) -> RecoveryReport {
        let mut r = self.report.clone();
        self.fill_progress(&mut r);
        r
    }

    /// The segment the last delivered event came from (or the next one will come from).
    pub fn current_segment(&self) -> Option<&Path> {
        self.reader.as_ref().map(|r| r.path())
    }

    /// Shared telemetry root (snapshots may be taken from any thread during replay).
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory scan.
    pub fn scan(&self) -> &Scan {
        &self.scan
    }

    /// Time since the replay started (or was last resumed).
    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop_pipe();
    }
}

/// Two sealed segments with the same ids and chain values are one segment stored twice. A
/// FlashStrike header has no cross-segment chain values (they are 0 in the neutral header), so
/// there the copies must also agree on their index and creation time — as a `.wal` and the
/// `.wal.lz4` frozen from it do.
fn is_identical(a: &SegmentHeader, b: &SegmentHeader, format: Option<Format>) -> bool {
    let same_origin = format != Some(Format::FlashStrikeV1)
        || (a.sequence == b.sequence && a.created_unix_ns == b.created_unix_ns);
    same_origin
        && a.sealed
        && b.sealed
        && a.first_event_id == b.first_event_id
        && a.event_count == b.event_count
        && a.block_count == b.block_count
        && a.prev_chain == b.prev_chain
        && a.last_chain == b.last_chain
}
