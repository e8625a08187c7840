//! The systems under test and the trait they implement.
//!
//! Every system writes the same [`Events`] into its own directory with its normal API, then
//! replays that directory: open it, see every payload, sum the first 8 bytes (u64 LE) of each.
//! The harness times `replay` from the call to its return and checks the count and the sum.
//!
//! **Extension point.** [`systems()`] is the single list the harness runs (the harness calls
//! [`systems_for`] with its writer options). wal_recovery's four candidate systems are pushed
//! there, at the marked spot ([`wal_recovery_sys`]).

use std::{cell::RefCell, path::Path};

use crate::events::Events;

pub mod baseline;
pub mod commitlog;
pub mod flashstrike_format;
pub mod okaywal;
pub mod raft_engine;
pub mod wal_recovery_inline;
pub mod wal_recovery_sys;

/// What a row is compared against in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A third-party WAL crate; the fastest one sets the "vs fastest peer" column.
    Peer,
    /// A trivial reader written in this harness (lower bound on replay cost).
    Baseline,
    /// The library being developed (wal_recovery).
    Candidate,
}

/// One WAL implementation (or one configuration of it) under test.
pub trait System {
    /// Row label; unique within [`systems()`].
    fn name(&self) -> String;

    /// Row group; the fastest `Peer` row is the reference of the ratio column.
    fn kind(&self) -> Kind {
        Kind::Peer
    }

    /// Systems returning the same key share one on-disk log: only the first one's `write`
    /// runs, into the directory that all of them then `replay`. Defaults to `name()`.
    fn data_key(&self) -> String {
        self.name()
    }

    /// Whether the system can store payloads of `payload_size` bytes; rows that cannot are
    /// left out of the run. Defaults to every size.
    fn supports_payload(&self, payload_size: usize) -> bool {
        let _ = payload_size;
        true
    }

    /// One-time, untimed set-up before anything is written or replayed (e.g. loading a
    /// shared library). An error marks the system failed. Defaults to nothing.
    fn prepare(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Writes every event of `events`, in id order, into the empty directory `dir`, and
    /// makes it durable (sync once at the end where the API allows).
    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()>;

    /// Opens the log in `dir` and reads every payload back. Returns
    /// `(count, sum of the first 8 bytes LE of each payload)`, wrapping on overflow.
    ///
    /// Timed from call to return. To keep closing/unmapping out of the timed region, hand
    /// the handle to [`after_timer`] instead of dropping it.
    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)>;
}

/// Default segment size of wal_recovery's writer (its `WriterOptions::default()`).
pub const WAL_SEGMENT_BYTES: u64 = 64 << 20;

/// The systems the harness runs, in table order, with wal_recovery's default segment size.
pub fn systems() -> Vec<Box<dyn System>> {
    systems_for(WAL_SEGMENT_BYTES)
}

/// [`systems()`], with wal_recovery writing `wal_segment_bytes` segments (the tests use small
/// segments so that a tiny log still has segment handoffs).
pub fn systems_for(wal_segment_bytes: u64) -> Vec<Box<dyn System>> {
    let mut list: Vec<Box<dyn System>> = vec![
        Box::new(raft_engine::RaftEngine { compression: true }),
        Box::new(raft_engine::RaftEngine { compression: false }),
        Box::new(okaywal::OkayWal),
        Box::new(commitlog::CommitLogSys {
            read_limit: commitlog::DEFAULT_READ_LIMIT,
        }),
        Box::new(commitlog::CommitLogSys {
            read_limit: 1 << 20,
        }),
        Box::new(baseline::MmapBaseline { check_crc: true }),
        Box::new(baseline::MmapBaseline { check_crc: false }),
    ];
    // EXTENSION POINT: wal_recovery's candidate systems (one shared log, data_key
    // "wal_recovery"): Rust API, telemetry off, next_batch_with, C ABI per event, C ABI
    // batched 64, C ABI inline.
    for s in wal_recovery_sys::WalRecovery::all(wal_segment_bytes) {
        list.push(Box::new(s));
    }
    // The C ABI's inline per-event call (`wal_recovery_next_hot`), from C, on the same log.
    list.push(Box::new(wal_recovery_inline::WalRecoveryInline {
        segment_bytes: wal_segment_bytes,
    }));
    // The same pipeline on a FlashStrike v1 log of the same events, with as many payload bytes
    // per segment as wal_recovery's own: 4096 blocks of 16 KiB for the default 64 MiB, the
    // segment size FlashStrike's engine uses.
    let payload_per_block =
        (wal_recovery::flashstrike::BLOCK_EVENTS * wal_recovery::flashstrike::EVENT_BYTES) as u64;
    let blocks = (wal_segment_bytes / payload_per_block).max(1);
    list.push(Box::new(flashstrike_format::FlashStrikeFormat {
        blocks_per_segment: u32::try_from(blocks).unwrap_or(flashstrike_format::BLOCKS_PER_SEGMENT),
    }));
    list
}

thread_local! {
    static AFTER_TIMER: RefCell<Vec<Box<dyn FnOnce()>>> = RefCell::new(Vec::new());
}

/// Defers `f` (typically dropping/closing a log handle) until the harness has stopped the
/// replay timer. Runs on the same thread, in registration order.
pub fn after_timer(f: impl FnOnce() + 'static) {
    AFTER_TIMER.with(|q| q.borrow_mut().push(Box::new(f)));
}

/// Runs everything queued by [`after_timer`]. Called by the harness after each timed replay.
pub fn run_after_timer() {
    let queued = AFTER_TIMER.with(|q| std::mem::take(&mut *q.borrow_mut()));
    for f in queued {
        f();
    }
}
