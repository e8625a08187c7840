//! `worker::SegmentPreloader`: a background thread that prepares the segments the replay will
//! need next and closes the ones it has finished — so the replay thread never does slow I/O.
//!
//! Preparing a segment means mapping it, prefaulting every page (page faults, and disk reads on
//! a cold cache, happen here), and verifying every block header ([`open_shared`]). The payload
//! CRCs are then shared with the replay thread through [`PayloadChecks`]: between preparations
//! the worker checks the first unclaimed block of the oldest segment that still has one — just
//! ahead of the replay in the segment being replayed — while the replay thread checks each
//! block it reaches that nobody has claimed yet, just before reading it. See
//! `docs/ARCHITECTURE.md` ("Shared verification") for why verification is split this way.
//!
//! Two SPSC lock-free rings (the `rtrb` crate) connect the worker to the [`Manager`]:
//!
//! * **prepared** (worker → manager), capacity `preload_depth`: [`Prepared`] messages — a
//!   prepared reader, a typed "segment failed: why", or "end of plan". The worker only claims a
//!   segment when the ring has a free slot, so at most `preload_depth` segments wait.
//! * **finished** (manager → worker): exhausted readers, unmapped here off the hot path.
//!
//! Which segment the worker prepares is decided by one atomic *claim* counter, so messages
//! arrive in plan order; each carries its plan index, so a copy that the manager's fallback
//! superseded is recognised and closed.
//!
//! Nothing is inferred from timing: end of plan and failures are messages; a worker that died
//! drops its ring producer, which the manager observes as an abandoned ring.
//!
//! [`Manager`]: crate::recovery::manager::Manager

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::{CorruptionKind, Error, Result};
use crate::recovery::payload_checks::{NextCheck, PayloadChecks};
use crate::recovery::segment_reader::{SegmentEnd, SegmentReader};
use crate::recovery::telemetry::{now_ns, SkipReason, Telemetry, VerifyFailure};

/// A reader as it travels through the rings. Boxed so that a handoff moves one pointer: the
/// reader's ~400 bytes are cold in the replay thread's cache after 64 MiB of streaming, and
/// copying them through a ring slot costs cache misses on both sides. The switch itself neither
/// allocates nor frees: the worker allocates the boxes and frees the retired ones, and the
/// manager's look-ahead moves the next reader into a box of its own thread (see
/// `Manager::look_ahead`).
pub type BoxedReader = Box<SegmentReader>;

/// A message on the prepared ring.
#[derive(Debug)]
pub enum Prepared {
    /// Plan entry `index` opened and verified.
    Ready {
        /// Plan index.
        index: usize,
        /// The verified reader, positioned on its first event.
        reader: BoxedReader,
    },
    /// Plan entry `index` could not be opened.
    Failed {
        /// Plan index.
        index: usize,
        /// Why.
        error: Error,
    },
    /// Every plan entry has been claimed; nothing more will come.
    End,
}

/// State shared between the manager and the worker thread.
#[derive(Debug)]
pub struct Shared {
    /// Next plan index not yet claimed by either side.
    pub claim: AtomicUsize,
    /// Set by the manager to stop the worker.
    pub stop: AtomicBool,
    /// Panic message of a worker that died.
    pub panic: Mutex<Option<String>>,
}

impl Shared {
    /// Claims plan index `i` if nobody has: true when the caller now owns opening it.
    pub fn try_claim(&self, i: usize) -> bool {
        self.claim
            .compare_exchange(i, i + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Opens one segment, recording the open (and a failed header's check) in telemetry.
fn open_recorded(path: &Path, telemetry: &Telemetry) -> Result<SegmentReader> {
    let t = &telemetry.segment_reader;
    let start = now_ns();
    let opened = SegmentReader::open(path);
    t.on_open_segment(start, opened.is_ok());
    if let Err(e) = &opened {
        if let Some(c) = e.corruption() {
            t.on_verify_failure(verify_failure(c.kind));
        }
    }
    opened
}

/// Opens and fully verifies one segment, recording reader telemetry (open, verify, index, and
/// the failure counter of whichever check failed).
pub fn open_and_verify(path: &Path, telemetry: &Telemetry) -> Result<SegmentReader> {
    let mut reader = open_recorded(path, telemetry)?;
    reader.verify();
    record_verification(telemetry, &reader);
    Ok(reader)
}

/// Opens one segment for incremental verification: each block is verified when the replay
/// first reaches it (the resume segment, and the manager's fallback).
pub fn open_lazily(path: &Path, telemetry: &Telemetry) -> Result<SegmentReader> {
    let mut reader = open_recorded(path, telemetry)?;
    reader.verify_lazily();
    Ok(reader)
}

/// Opens the segment a replay starts in for shared verification, without prefaulting (this
/// runs on the replay thread): every block header verified and indexed now, payloads checked
/// by the replay as it reaches them and by the preloader just ahead of it, which gets the
/// returned checks as its first task.
pub fn open_resume(
    path: &Path,
    telemetry: &Telemetry,
) -> Result<(SegmentReader, Arc<PayloadChecks>)> {
    let mut reader = open_recorded(path, telemetry)?;
    let checks = reader.walk_headers();
    Ok((reader, checks))
}

/// Opens one segment for shared verification: every page prefaulted, every block header
/// verified and indexed now; the payload checks are returned so that this thread can work on
/// them alongside the replay ([`PayloadChecks`]).
pub fn open_shared(
    path: &Path,
    telemetry: &Telemetry,
) -> Result<(SegmentReader, Arc<PayloadChecks>)> {
    let mut reader = open_recorded(path, telemetry)?;
    reader.prefault();
    let checks = reader.walk_headers();
    // Check the first block now, so that the segment switch itself computes no CRC.
    checks.ensure(0);
    Ok((reader, checks))
}

/// Records a completed verification: time, bytes, and the failure or torn-tail counter.
fn record_verification(telemetry: &Telemetry, reader: &SegmentReader) {
    let t = &telemetry.segment_reader;
    let start = now_ns().saturating_sub(reader.verify_ns());
    let ok = !matches!(reader.end(), SegmentEnd::Corrupt(_));
    t.on_verify_segment(start, ok, reader.valid_len());
    // The sparse index is built inside the verify pass; its samples carry that pass's time.
    t.on_build_index(start);
    match reader.end() {
        SegmentEnd::Clean => {}
        SegmentEnd::TornTail(_) => t.on_torn_tail(),
        SegmentEnd::Corrupt(c) => t.on_verify_failure(verify_failure(c.kind)),
    }
}

/// Closes (unmaps) a finished reader, first reporting an incremental verification that
/// completed during replay. Returns when the mapping is gone.
pub fn close_reader(telemetry: &Telemetry, mut reader: BoxedReader) {
    if reader.take_lazy_record() {
        record_verification(telemetry, &reader);
    }
    let start = now_ns();
    drop(reader);
    telemetry.segment_reader.on_close_segment(start, true);
}

/// Which reader failure counter a corruption kind increments.
fn verify_failure(kind: CorruptionKind) -> VerifyFailure {
    match kind {
        CorruptionKind::HeaderChecksum => VerifyFailure::HeaderChecksum,
        CorruptionKind::BlockHeaderChecksum => VerifyFailure::BlockHeaderChecksum,
        CorruptionKind::PayloadChecksum => VerifyFailure::BlockChecksum,
        CorruptionKind::ChainMismatch => VerifyFailure::ChainedChecksum,
        _ => VerifyFailure::Validation,
    }
}

/// Why the preloader could not deliver a segment, for the skip counters.
fn skip_reason(e: &Error) -> SkipReason {
    match e {
        Error::Io { .. } => SkipReason::Io,
        Error::Corrupt(c) if c.offset == 0 && c.block.is_none() => SkipReason::BadHeader,
        _ => SkipReason::Corrupt,
    }
}

/// How long the worker sleeps when it has nothing to do, unless woken.
const IDLE_POLL: Duration = Duration::from_micros(200);

/// How long it sleeps when its payload checks are a whole lead ahead of the replay
/// ([`crate::recovery::payload_checks::LEAD_BYTES`]): the replay reads about a quarter of the
/// lead meanwhile.
const AHEAD_POLL: Duration = Duration::from_micros(50);

/// Handle to the running worker, owned by the manager.
#[derive(Debug)]
pub struct SegmentPreloader {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Worker configuration.
#[derive(Clone, Debug)]
pub struct PreloadConfig {
    /// Segment paths in plan order.
    pub plan: Arc<Vec<PathBuf>>,
    /// First plan index the worker may claim.
    pub start: usize,
    /// Artificial delay before each open (tests of the fallback path).
    pub delay: Duration,
    /// Panic instead of preparing the N-th segment (tests of a dying worker).
    pub panic_at: Option<usize>,
    /// Payload checks of the segment the replay starts in, shared from the start (held weakly,
    /// like every task: see `run`).
    pub first_task: Option<Weak<PayloadChecks>>,
}

impl SegmentPreloader {
    /// Starts the worker thread with fresh rings. Returns the handle, the prepared-ring consumer
    /// and the finished-ring producer.
    pub fn start(
        cfg: PreloadConfig,
        depth: usize,
        finished_capacity: usize,
        telemetry: Arc<Telemetry>,
    ) -> Result<(Self, rtrb::Consumer<Prepared>, rtrb::Producer<BoxedReader>)> {
        let (prep_tx, prep_rx) = rtrb::RingBuffer::<Prepared>::new(depth.max(1));
        let (fin_tx, fin_rx) = rtrb::RingBuffer::<BoxedReader>::new(finished_capacity.max(1));
        let shared = Arc::new(Shared {
            claim: AtomicUsize::new(cfg.start),
            stop: AtomicBool::new(false),
            panic: Mutex::new(None),
        });
        let s = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("wal-preloader".into())
            .spawn(move || {
                yield_to_the_replay_on_wakeup();
                let r = catch_unwind(AssertUnwindSafe(|| {
                    run(&cfg, &s, prep_tx, fin_rx, &telemetry)
                }));
                if let Err(p) = r {
                    let msg = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    if let Ok(mut g) = s.panic.lock() {
                        *g = Some(msg);
                    }
                }
            })
            .map_err(|e| Error::io("spawn preloader thread", PathBuf::new(), e))?;
        Ok((
            SegmentPreloader {
                shared,
                thread: Some(thread),
            },
            prep_rx,
            fin_tx,
        ))
    }

    /// The shared claim/stop state.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Wakes the worker (after the manager freed a prepared slot or queued a finished reader).
    #[inline]
    pub fn wake(&self) {
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    /// Whether the worker thread has exited.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// The panic message of a worker that died, if it did.
    pub fn panic_message(&self) -> Option<String> {
        self.shared.panic.lock().ok().and_then(|g| g.clone())
    }

    /// Stops and joins the worker. Readers still in the rings are dropped with them.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for SegmentPreloader {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Puts the calling thread (the preloader) under `SCHED_BATCH`: the same share of the CPU as
/// any other thread, but its wakeups never preempt a running thread. The worker wakes every
/// few tens of microseconds (a timed park while it is a lead ahead of the replay, or idle); on
/// a machine with no idle core, each such wakeup used to preempt whatever ran on its core —
/// often the replay thread itself, which then lost its time slice to a check it could have made
/// later, cache-hot, itself. Under a CPU hog on the other core of this 2-core machine
/// (`examples/replay_dir.rs`, 5 M x 64 B, 21–31 alternated rounds, three runs) the replay went
/// from 114 / 106 / 104 to 122 / 125 / 128 M events/s; quiet, no difference beyond the noise.
/// Switching to `SCHED_BATCH` needs no privilege; if it fails (a sandbox forbids it), the
/// worker keeps the normal policy. Linux only; elsewhere a no-op.
fn yield_to_the_replay_on_wakeup() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 names the calling thread; `param` is a valid `sched_param` that the
        // call only reads, for the duration of the call.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

fn run(
    cfg: &PreloadConfig,
    shared: &Shared,
    mut prepared: rtrb::Producer<Prepared>,
    mut finished: rtrb::Consumer<BoxedReader>,
    telemetry: &Telemetry,
) {
    let w = &telemetry.segment_preloader;
    let mut sent_end = false;
    let mut prepared_count = 0usize;
    let mut full_since: Option<u64> = None;
    // Payload checks of the segments handed over, oldest first: worked on, first unclaimed
    // block first, while there is nothing more urgent to do. Held weakly: each shares its
    // segment's mapping, which must go when the reader goes (finished, or a copy the fallback
    // superseded), not when this list gets round to it — holding them strongly, and pruning
    // only when the prepared ring was full, kept every segment of a log mapped to the end
    // whenever the worker was not ahead of the replay (120 of 121 segments in
    // `tests/pipeline_lifecycle.rs`, against a bound of `preload_depth + 5`).
    let mut tasks: VecDeque<Weak<PayloadChecks>> = cfg.first_task.iter().cloned().collect();
    while !shared.stop.load(Ordering::Acquire) {
        let (mut worked, mut ahead) = (false, false);
        // Close finished readers first: frees maps before new ones are made.
        while let Ok(reader) = finished.pop() {
            let start = now_ns();
            close_reader(telemetry, reader);
            w.on_finish_segment(start, true);
            worked = true;
        }
        // Drop the tasks with nothing left to claim, and those whose reader is gone.
        tasks.retain(|t| t.upgrade().is_some_and(|c| c.has_unclaimed()));
        if !sent_end && prepared.slots() > 0 {
            if let Some(t) = full_since.take() {
                w.on_prepared_ring_full_wait(t);
            }
            let i = shared.claim.load(Ordering::Acquire);
            if i >= cfg.plan.len() {
                if prepared.push(Prepared::End).is_ok() {
                    sent_end = true;
                }
            } else if shared.try_claim(i) {
                if !cfg.delay.is_zero() {
                    thread::sleep(cfg.delay);
                }
                prepared_count += 1;
                if cfg.panic_at == Some(prepared_count) {
                    panic!("test hook: preloader panics at its segment {prepared_count}");
                }
                let start = now_ns();
                let opened = open_shared(&cfg.plan[i], telemetry).map(|(reader, checks)| {
                    tasks.push_back(Arc::downgrade(&checks));
                    reader
                });
                let msg = match opened {
                    Ok(reader) => {
                        w.on_preload_segment(start, true);
                        Prepared::Ready {
                            index: i,
                            reader: Box::new(reader),
                        }
                    }
                    Err(error) => {
                        w.on_preload_segment(start, false);
                        w.on_segment_skipped(skip_reason(&error));
                        Prepared::Failed { index: i, error }
                    }
                };
                // A slot was free when we claimed and only we push: this cannot fail.
                if let Err(rtrb::PushError::Full(m)) = prepared.push(msg) {
                    drop(m);
                }
            }
            worked = true;
        } else {
            if !sent_end && full_since.is_none() {
                full_since = Some(now_ns());
            }
            // Nothing to prepare: check the first unclaimed payload block of the oldest segment
            // that has one — in the segment being replayed, the block just ahead of the replay,
            // which then reads it from the shared cache. Not in a later segment when this one
            // is ahead of the replay: those blocks are further ahead still.
            if let Some(t) = tasks
                .iter()
                .find_map(|t| t.upgrade().filter(|c| c.has_unclaimed()))
            {
                match t.check_next() {
                    NextCheck::Checked => worked = true,
                    NextCheck::AheadOfReplay => ahead = true,
                    NextCheck::NothingLeft => {}
                }
            }
        }
        if !worked {
            // The manager does not wake us on every handoff (an unpark is a syscall on its hot
            // path); it does when it has to wait. Poll often enough to refill a freed slot, and
            // to keep checking ahead of the replay once it has read part of the lead.
            thread::park_timeout(if ahead { AHEAD_POLL } else { IDLE_POLL });
        }
    }
    // Stopping: close what the manager already handed back (the rest drops with the rings).
    while let Ok(reader) = finished.pop() {
        let start = now_ns();
        close_reader(telemetry, reader);
        w.on_finish_segment(start, true);
    }
}
