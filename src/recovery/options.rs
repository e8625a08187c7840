//! Recovery options and modes.

use std::time::Duration;

pub use super::follow::IdleStrategy;
pub use super::format::FormatChoice;
use crate::error::{Error, Result};

/// What replay does at corruption, a gap, a conflicting duplicate or a broken chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RecoveryMode {
    /// Deliver every valid event in order; at the first problem, `next()` returns a typed error
    /// describing it. A broken chain visible in the sealed headers (segments of two different
    /// logs) is refused before anything is delivered, since the files cannot tell which side
    /// is genuine. A torn tail in the last, unsealed segment is the normal crash state, not a
    /// problem.
    #[default]
    Strict,
    /// Point-in-time recovery: end cleanly at the first problem; the report says why and what
    /// was not replayed.
    StopAtCorruption,
    /// Skip what is damaged and continue with the next valid data; every skipped id range is
    /// recorded in the report.
    SkipCorrupted,
}

impl RecoveryMode {
    /// Name used in reports and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryMode::Strict => "strict",
            RecoveryMode::StopAtCorruption => "stop-at-corruption",
            RecoveryMode::SkipCorrupted => "skip-corrupted",
        }
    }
}

/// How a [`crate::Manager`] replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// First event to deliver; 0 means the oldest retained event.
    pub start_event_id: u64,
    /// Behaviour on damage.
    pub mode: RecoveryMode,
    /// The on-disk format: recognised from the segment headers by default
    /// ([`FormatChoice::Auto`]), or forced.
    pub format: FormatChoice,
    /// Segments verified ahead by the preloader (1..=64, default 3). At most
    /// `preload_depth + 5` segments are mapped at any time (ready ones, the current one, the next
    /// one taken early, the one retired at the last switch, one being closed, one superseded
    /// fallback copy), whatever the log size. A cold FlashStrike segment (`.wal.lz4`) is held
    /// decompressed in memory instead of mapped, so memory for cold segments is bounded by
    /// `preload_depth + 5` times the largest segment.
    pub preload_depth: usize,
    /// Capacity of the ring of finished readers awaiting close (default 64). When full, the
    /// manager closes synchronously and counts it.
    pub finished_capacity: usize,
    /// How long `next()` waits on the prepared ring for the next segment before mapping it
    /// itself (default 1 ms; ten times that when the preloader has already started on it): the
    /// synchronous fallback, counted in `fallback_opens`. Its blocks are then verified as the
    /// replay reaches them.
    pub fallback_after: Duration,
    /// Record the delivery of one event in N (by id) in the next-event latency histogram
    /// (N = 1: every event).
    pub next_event_sample_every: u32,
    /// Follow a live log (default off): after the last event, [`crate::Manager::poll`] says
    /// [`crate::recovery::follow::Next::Pending`] instead of the end, and events the writer
    /// appends later are delivered as they verify. The directory need not exist yet. Native
    /// format only. See [`crate::recovery::follow`].
    pub follow: bool,
    /// How [`crate::Manager::next_timeout`] waits for new events in follow mode.
    pub idle: IdleStrategy,
    /// Test hook: the preloader sleeps this long before each open. Zero in production.
    #[doc(hidden)]
    pub preload_delay: Duration,
    /// Test hook: the preloader panics instead of preparing its N-th segment (from 1), to test
    /// that a dying worker is survived. `None` in production.
    #[doc(hidden)]
    pub preload_panic_at: Option<usize>,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            start_event_id: 0,
            mode: RecoveryMode::Strict,
            format: FormatChoice::Auto,
            preload_depth: 3,
            finished_capacity: 64,
            fallback_after: Duration::from_millis(1),
            next_event_sample_every: super::telemetry::DEFAULT_NEXT_EVENT_SAMPLE_EVERY,
            follow: false,
            idle: IdleStrategy::default(),
            preload_delay: Duration::ZERO,
            preload_panic_at: None,
        }
    }
}

impl RecoveryOptions {
    /// Checks the options are usable.
    pub fn validate(&self) -> Result<()> {
        if !(1..=64).contains(&self.preload_depth) {
            return Err(Error::InvalidArgument(format!(
                "preload_depth must be in 1..=64, got {}",
                self.preload_depth
            )));
        }
        if self.finished_capacity == 0 || self.finished_capacity > 1 << 16 {
            return Err(Error::InvalidArgument(format!(
                "finished_capacity must be in 1..=65536, got {}",
                self.finished_capacity
            )));
        }
        if self.next_event_sample_every == 0 {
            return Err(Error::InvalidArgument(
                "next_event_sample_every must be at least 1".into(),
            ));
        }
        if self.follow && self.format == FormatChoice::FlashStrikeV1 {
            return Err(Error::InvalidArgument(
                "follow mode reads the native format only (FlashStrike logs are replayed, not \
                 followed)"
                    .into(),
            ));
        }
        self.idle.validate()
    }
}
