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
//! Hot path: `next()` asks the current reader whether its next record is ready and takes it
//! (`SegmentReader::hot_ready` / `take_hot`: one decode, no per-event counter; the reader's
//! stop id covers the block end and the next sampled event alike). Everything
//! else — ring handoff, continuity checks, telemetry publication — happens once per segment,
//! and as little of it as possible in the `next()` that crosses the boundary: the switch is
//! decided while the replay reads the segment's last block (`Manager::look_ahead`), the
//! crossing only swaps the readers (`Manager::cross_armed`), and what it tells the worker and
//! telemetry waits for the next block entry (docs/ARCHITECTURE.md, "Segment switch").

mod batch;
mod continuity;
mod follow;
mod hot_run;
mod resume;
mod switch;

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
    /// Follow mode: the catch-up is done and the tail delivers what the writer appends.
    Following,
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
    /// Payload bytes delivered by retired readers and the tail; the current reader counts its
    /// own ([`SegmentReader::delivered_bytes`], from `reader_bytes_start`).
    bytes_retired: u64,
    reader_bytes_start: u64,
    /// Resume target inside damage (non-strict modes): the next segment must continue from here.
    resume_floor: u64,
    /// Last id delivered from a retired reader.
    last_retired: Option<u64>,
    events_at_resume: u64,
    first_pending: u64,
    /// The next event whose delivery is timed for telemetry (one in `next_event_sample_every`):
    /// the current reader's hot path stops before it ([`SegmentReader::set_sample_at`]).
    sample_at: u64,
    started: Instant,
    /// Times the segment switch without reading the clock in it ([`TickClock`]).
    ticks: TickClock,
    /// The last switch's start and end in ticks, converted and recorded into the telemetry
    /// histogram at the next block entry (a histogram record touches cold counters, and every
    /// 100 ms merges 216 KiB: 10–20 µs that would otherwise land on the crossing `next()`).
    handoff_pending: Option<(u64, u64)>,
    /// Follow mode, once the catch-up is done: the live end of the log.
    tail: Option<Box<crate::recovery::follow::tail::Tail>>,
    /// Follow mode: events below this id are not delivered (a start id beyond the end).
    follow_floor: u64,
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
        let scan = match scan_dir_as(&dir, opts.format, &telemetry) {
            // Following a log whose writer has not started yet: wait for its first segment.
            Err(Error::DirectoryNotFound(_)) if opts.follow => Scan::default(),
            r => r?,
        };
        if opts.follow && scan.format == Some(Format::FlashStrikeV1) {
            return Err(Error::InvalidArgument(
                "follow mode reads the native format only; this is a FlashStrike log".into(),
            ));
        }
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
        let mut plan: Vec<PathBuf> = Vec::new();
        let mut headers: Vec<SegmentHeader> = Vec::new();
        for f in scan.segments() {
            let Some(h) = f.header else { continue };
            if let (Some(prev), Some(prev_path)) = (headers.last(), plan.last_mut()) {
                if is_identical(prev, &h, scan.format) {
                    let (kept, other, identical) = pick_copy(prev_path, &f.path);
                    *prev_path = kept.clone();
                    report.duplicates.push(DuplicateReport {
                        kept,
                        other,
                        first_id: h.first_event_id,
                        last_id: h.last_event_id,
                        identical,
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
            bytes_retired: 0,
            reader_bytes_start: 0,
            last_retired: None,
            resume_floor: 0,
            events_at_resume: 0,
            first_pending: 0,
            sample_at: u64::MAX,
            started: Instant::now(),
            ticks: TickClock::new(),
            handoff_pending: None,
            tail: None,
            follow_floor: 0,
        };
        m.resume(m.opts.start_event_id)?;
        Ok(m)
    }

    /// Repositions the replay so that the next event delivered is `event_id` (0 = oldest; the
    /// id after the last event positions at the end). Stops the preloader, drains both rings and
    /// starts again from the new position; works forward and backward.
    ///
    /// In follow mode, an id beyond the end of the log as scanned at open positions at that
    /// end, and the events before the id are verified but not delivered.
    pub fn resume(&mut self, event_id: u64) -> Result<()> {
        let start = now_ns();
        self.follow_floor = if self.opts.follow { event_id } else { 0 };
        let mut r = self.resume_inner(event_id);
        if self.opts.follow {
            if let Err(Error::EventBeyondEnd { end, .. }) = &r {
                let end = *end;
                r = self.resume_inner(end);
            }
        }
        self.telemetry
            .manager
            .on_resume_from_event(start, r.is_ok());
        if let Err(e) = &r {
            self.state = State::Failed(e.duplicate());
        }
        r
    }

    /// The next event, `Ok(None)` at the end of the log (or where StopAtCorruption stopped), or
    /// the error that ended a strict replay. The payload borrows the segment mapping and is
    /// valid until the next call that moves the replay.
    ///
    /// In follow mode (`RecoveryOptions::follow`), `Ok(None)` means nothing can be delivered
    /// *now* — nothing new yet, or the end where StopAtCorruption stopped; [`Self::poll`] and
    /// [`Self::next_timeout`] tell the two apart.
    // Not `Iterator::next`: each event borrows the reader, which a lending API needs.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Event<'_>>> {
        if self.reader.as_deref().is_some_and(SegmentReader::hot_ready) {
            return Ok(Some(self.take_hot()));
        }
        self.next_cold()
    }

    /// Delivers the event the current reader's [`SegmentReader::hot_ready`] just found.
    #[inline(always)]
    fn take_hot(&mut self) -> Event<'_> {
        self.reader
            .as_deref_mut()
            .expect("hot_ready found a reader")
            .take_hot()
    }

    /// A `next()` timed for telemetry, in ticks and without a clock read
    /// ([`TickClock::to_ns_cached`]): the event at the sample point, the next one set first.
    #[inline(never)]
    fn next_sampled(&mut self) -> Result<Option<Event<'_>>> {
        self.set_sample_at(
            self.next_event_id()
                .saturating_add(u64::from(self.opts.next_event_sample_every)),
        );
        self.publish_progress();
        let (ticks, start) = (self.ticks, self.ticks.now());
        let record = move |t: &Telemetry| {
            let (elapsed, end) = ticks.to_ns_cached(ticks.now().saturating_sub(start));
            t.manager.record_next_event(elapsed, end);
        };
        if self.reader.as_deref().is_some_and(SegmentReader::hot_ready) {
            // Borrows the reader alone: the telemetry needs no clone of its `Arc` here.
            let ev = self
                .reader
                .as_deref_mut()
                .expect("hot_ready found a reader")
                .take_hot();
            record(&self.telemetry);
            return Ok(Some(ev));
        }
        let telemetry = Arc::clone(&self.telemetry);
        let r = self.next_unsampled_here();
        if let Ok(Some(_)) = r {
            record(&telemetry);
        }
        r
    }

    /// Where the next sampled event is, in the manager and in the current reader.
    fn set_sample_at(&mut self, id: u64) {
        self.sample_at = id;
        if let Some(r) = self.reader.as_deref_mut() {
            r.set_sample_at(id);
        }
    }

    /// The id the next event delivered would have if the log continues without a gap.
    fn next_event_id(&self) -> u64 {
        match &self.reader {
            Some(r) => r.position(),
            None => self.last_delivered().map_or(0, |id| id + 1),
        }
    }

    /// Event `id` at a payload range the current reader just returned (the slow paths, which
    /// decode positions).
    #[inline(always)]
    fn deliver(&mut self, id: u64, start: usize, end: usize) -> Result<Option<Event<'_>>> {
        Ok(Some(self.event_at(id, start, end)))
    }

    /// [`Self::deliver`], unwrapped (for `poll`).
    #[inline(always)]
    fn event_at(&mut self, id: u64, start: usize, end: usize) -> Event<'_> {
        let r = self
            .reader
            .as_ref()
            .expect("reader present: it just returned this position");
        Event {
            id,
            payload: r.payload(start, end),
        }
    }

    /// Block switch, segment switch, end of log or error.
    #[inline(never)]
    fn next_cold(&mut self) -> Result<Option<Event<'_>>> {
        if self.next_event_id() >= self.sample_at {
            return self.next_sampled();
        }
        self.next_unsampled()
    }

    /// [`Self::next_unsampled`] for the sampled path, out of line so that the switch's code
    /// stays in `next_cold`, whose lines the look-ahead prefetches.
    #[inline(never)]
    fn next_unsampled_here(&mut self) -> Result<Option<Event<'_>>> {
        self.next_unsampled()
    }

    /// [`Self::next_cold`] once sampling is decided. Inlined there: the look-ahead prefetches
    /// `next_cold`'s code before the segment switch (`Manager::look_ahead`), and the switch
    /// runs here.
    #[inline(always)]
    fn next_unsampled(&mut self) -> Result<Option<Event<'_>>> {
        if let State::Following = self.state {
            return self.tail_next();
        }
        // The segment switch prepared in the last block: its reader is positioned on its first
        // event and predicts the current reader's record length (`predict_like`), so
        // delivering it is the hot path's decode (a full decode if the length differs), and
        // what a block entry does waits for the next one, off this call.
        if self.cross_armed() {
            if self.reader.as_deref().is_some_and(SegmentReader::hot_ready) {
                return Ok(Some(self.take_hot()));
            }
            if let Some((id, s, e)) = self.reader.as_mut().and_then(|r| r.next_fast()) {
                return self.deliver(id, s, e);
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
                if let State::Following = self.state {
                    return self.tail_next();
                }
                return Ok(None);
            }
        }
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        self.report.error = Some(e.to_string());
        self.state = State::Failed(e.duplicate());
        self.stop_pipe();
        Err(e)
    }

    /// Makes `reader` (plan entry `cur`, checked to continue the replay) the current one. What
    /// the switch tells telemetry waits for [`Self::publish_switch`].
    #[inline(always)]
    fn install(&mut self, reader: BoxedReader, handoff_start: u64) {
        self.report.segments_replayed += 1;
        self.reader_start = reader.position();
        self.reader_bytes_start = reader.delivered_bytes();
        if self.events() == self.events_at_resume {
            self.first_pending = reader.position();
        }
        let mut reader = reader;
        reader.set_sample_at(self.sample_at);
        // The slot is empty; assigning would call its drop, code not prefetched (`cross_armed`).
        if let Some(stale) = self.reader.replace(reader) {
            self.retire(stale);
        }
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
    // of one function, which the look-ahead prefetches whole; so is all it calls (a call out of
    // line is a code fetch from memory, ~0.13 µs, in every crossing: BENCHMARKS.md).
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

    /// Events delivered so far (all resumes included).
    pub fn events(&self) -> u64 {
        self.events_retired
            + self
                .reader
                .as_ref()
                .map_or(0, |r| r.position() - self.reader_start)
    }

    /// Payload bytes delivered so far (all resumes included).
    fn bytes(&self) -> u64 {
        self.bytes_retired
            + self.reader.as_ref().map_or(0, |r| {
                r.delivered_bytes().saturating_sub(self.reader_bytes_start)
            })
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
        r.bytes_delivered = self.bytes();
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
            .publish_progress(self.events(), self.bytes());
    }

    /// The report as it stands now.
    pub fn report(&self) -> RecoveryReport {
        let mut r = self.report.clone();
        self.fill_progress(&mut r);
        r
    }

    /// The segment the last delivered event came from (or the next one will come from).
    pub fn current_segment(&self) -> Option<&Path> {
        match &self.reader {
            Some(r) => Some(r.path()),
            None => self.tail.as_ref().and_then(|t| t.path()),
        }
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

/// Which of two copies of one segment to replay: `a` (the first in scan order), unless one of
/// them is a cold `.wal.lz4` — FlashStrike's freeze writes the compressed copy, then deletes the
/// original, so a crash in between leaves both, the compressed one possibly truncated. Then both
/// are verified in full and the one that verifies is kept; the copies are reported identical
/// only when both verify. Returns (kept, other, identical).
fn pick_copy(a: &Path, b: &Path) -> (PathBuf, PathBuf, bool) {
    use super::format::is_cold_name;
    if !is_cold_name(a) && !is_cold_name(b) {
        return (a.to_path_buf(), b.to_path_buf(), true);
    }
    let clean = |p: &Path| {
        SegmentReader::open_verified(p).is_ok_and(|r| matches!(r.end(), SegmentEnd::Clean))
    };
    match (clean(a), clean(b)) {
        (true, true) => (a.to_path_buf(), b.to_path_buf(), true),
        (false, true) => (b.to_path_buf(), a.to_path_buf(), false),
        _ => (a.to_path_buf(), b.to_path_buf(), false),
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
