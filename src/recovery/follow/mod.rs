//! Follow mode: after the last event of the log, keep delivering events as the writer appends
//! them, like Chronicle Queue's tailer or a Kafka consumer at the log end.
//!
//! A [`crate::Manager`] opened with [`crate::RecoveryOptions::follow`] replays the log as it
//! stands (the catch-up, at full replay speed: mapped segments, the preloader), then hands over
//! to a [`tail::Tail`] that reads the live segment with `pread`. Why not keep mapping: the writer
//! grows its segment files with `write(2)` (it does not preallocate), a mapping's length is fixed
//! when it is made, and touching a mapping past the end of a file raises SIGBUS. `pread` sees
//! every byte the writer has written, needs no remap, and a truncation under it (a restarted
//! writer cutting a torn tail) only shortens what it returns.
//!
//! **Nothing unverified is delivered** (docs/ARCHITECTURE.md, "Follow mode"): a block becomes
//! visible once its header, place in the chain and payload verify. A block that does not verify
//! may be a write in flight, so it is "nothing yet" ([`Next::Pending`]); it becomes damage —
//! handled per [`crate::RecoveryMode`] — only once the writer has provably moved past it: the
//! segment is sealed, a later segment exists, or a later block header that verifies on its own
//! lies after it.
//!
//! **Waiting** is the caller's choice: [`crate::Manager::poll`] never waits;
//! [`crate::Manager::next_timeout`] waits with the [`IdleStrategy`] of the options.

pub(crate) mod tail;
mod watch;

use std::time::{Duration, Instant};

use super::event::Event;

/// What [`crate::Manager::poll`] and [`crate::Manager::next_timeout`] return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// The next event. Its payload borrows the manager until the next call that moves the
    /// replay.
    Event(Event<'a>),
    /// Follow mode: nothing has been written (and verified) after the last event delivered yet.
    /// Ask again later.
    Pending,
    /// The replay has ended: the end of the log (without follow mode), or where
    /// [`crate::RecoveryMode::StopAtCorruption`] stopped.
    End,
}

/// How [`crate::Manager::next_timeout`] waits while there is nothing new, as in Aeron's and
/// Chronicle's idle strategies. Measured costs on the development VM are in BENCHMARKS.md
/// (`walrec bench --follow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleStrategy {
    /// Check again at once, forever: the lowest latency (one check, two `pread`s, ~1–2 µs), and
    /// a whole core while idle.
    BusySpin,
    /// `spins` immediate checks, then `sched_yield` between checks: about the latency of a busy
    /// spin when another thread does not want the core, and still a core of CPU time while
    /// idle if nothing else runs — it only gives way to other work.
    SpinThenYield {
        /// Checks before the first yield.
        spins: u32,
    },
    /// Spin, yield, then sleep between checks, doubling the sleep from `min_sleep` up to
    /// `max_sleep`; once the follower is in the live tail, each sleep is instead a wait on an
    /// inotify watch of the log directory (woken by the writer's next write or new segment)
    /// with a timeout of [`WATCHED_WAIT`]: next to no CPU while idle, and the latency of a
    /// wake-up rather than of a sleep. Without inotify (or while the directory does not exist)
    /// it sleeps: then a few percent of a core or more while idle (each wake-up costs CPU), and
    /// up to `max_sleep` plus the kernel's timer slack (50 µs by default) of latency. The
    /// default ([`IdleStrategy::default`]): 100 spins, 10 yields, 1 µs to 100 µs.
    Backoff {
        /// Checks before the first yield.
        spins: u32,
        /// Yields before the first sleep.
        yields: u32,
        /// First sleep.
        min_sleep: Duration,
        /// Longest sleep.
        max_sleep: Duration,
    },
}

impl Default for IdleStrategy {
    fn default() -> Self {
        IdleStrategy::Backoff {
            spins: 100,
            yields: 10,
            min_sleep: Duration::from_micros(1),
            max_sleep: Duration::from_micros(100),
        }
    }
}

impl IdleStrategy {
    /// Name used by the CLI and in benchmark keys.
    pub fn as_str(&self) -> &'static str {
        match self {
            IdleStrategy::BusySpin => "spin",
            IdleStrategy::SpinThenYield { .. } => "yield",
            IdleStrategy::Backoff { .. } => "backoff",
        }
    }

    /// The strategy named `spin`, `yield` or `backoff` (with default parameters).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "spin" => Some(IdleStrategy::BusySpin),
            "yield" => Some(IdleStrategy::SpinThenYield { spins: 100 }),
            "backoff" => Some(IdleStrategy::default()),
            _ => None,
        }
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        if let IdleStrategy::Backoff {
            min_sleep,
            max_sleep,
            ..
        } = self
        {
            if min_sleep.is_zero() || min_sleep > max_sleep || *max_sleep > Duration::from_secs(1) {
                return Err(crate::Error::InvalidArgument(format!(
                    "idle back-off needs 0 < min_sleep <= max_sleep <= 1 s, got {min_sleep:?} and \
                     {max_sleep:?}"
                )));
            }
        }
        Ok(())
    }
}

/// The longest a back-off wait blocks on the directory watch before checking anyway: the bound
/// on how late a change inotify does not report (a writer on another machine of a network file
/// system) is seen.
pub const WATCHED_WAIT: Duration = Duration::from_millis(10);

/// One wait in progress: how many idle rounds so far.
#[derive(Debug)]
pub(crate) struct Idler {
    strategy: IdleStrategy,
    rounds: u32,
}

impl Idler {
    pub(crate) fn new(strategy: IdleStrategy) -> Self {
        Idler {
            strategy,
            rounds: 0,
        }
    }

    /// Waits once, per the strategy, but never past `deadline`; the back-off's sleeps wait on
    /// `tail`'s directory watch when there is one.
    pub(crate) fn idle(&mut self, deadline: Instant, tail: Option<&mut tail::Tail>) {
        let n = self.rounds;
        self.rounds = self.rounds.saturating_add(1);
        match self.strategy {
            IdleStrategy::BusySpin => std::hint::spin_loop(),
            IdleStrategy::SpinThenYield { spins } => {
                if n < spins {
                    std::hint::spin_loop()
                } else {
                    std::thread::yield_now()
                }
            }
            IdleStrategy::Backoff {
                spins,
                yields,
                min_sleep,
                max_sleep,
            } => {
                if n < spins {
                    std::hint::spin_loop()
                } else if n - spins < yields {
                    std::thread::yield_now()
                } else {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Some(t) = tail {
                        if t.wait(WATCHED_WAIT.min(left)) {
                            return;
                        }
                    }
                    let doublings = (n - spins - yields).min(20);
                    let sleep = min_sleep.saturating_mul(1 << doublings).min(max_sleep);
                    std::thread::sleep(sleep.min(left));
                }
            }
        }
    }
}
