//! The FlashStrike v1 replay measurement of `walrec bench`.
//!
//! The library replays FlashStrike's logs through the same [`Manager`](wal_recovery::Manager) as
//! its own, and the point of sharing the pipeline is that a FlashStrike log replays about as fast
//! as a native one. This measures that on the same run, so the two figures are comparable: a
//! FlashStrike log holding the same number of events as the native log (64-byte
//! `RequestEvent`s, which is also the native payload size), in segments of 4096 blocks —
//! 1 048 576 events, 64 MiB of records, per segment, FlashStrike's own sizing for a log of this
//! volume — written byte-exact by [`write_log`] in the clean-shutdown state, then replayed
//! verified with default options (the format recognised from the headers), interleaved with the
//! native replays so that both see the same machine state.

use std::path::Path;
use std::time::Instant;

use wal_recovery::flashstrike::generate::{write_log, LogSpec, Scenario};
use wal_recovery::flashstrike::segment_file_len;
use wal_recovery::RecoveryOptions;

use super::{drain, Drain};
use crate::exit::Failure;

/// Blocks per segment of the measured log: 4096 × 256 events × 64 B = 64 MiB of records.
pub const BLOCKS_PER_SEGMENT: u32 = 4096;

/// The generated FlashStrike log.
#[derive(Clone, Debug)]
pub struct FsLog {
    /// Segment files written.
    pub segments: usize,
    /// Size of one (preallocated) segment file.
    pub segment_bytes: u64,
    /// Bytes of all files.
    pub log_bytes: u64,
    /// Time `write_log` took.
    pub gen_seconds: f64,
}

/// Writes a clean FlashStrike log of `events` events into `dir` (created; must not exist or be
/// empty) and replays it once untimed (page cache warm, events counted).
pub fn prepare(dir: &Path, events: u64) -> anyhow::Result<FsLog> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::io("bench: create directory", dir, &e))?;
    let spec = LogSpec {
        scenario: Scenario::Clean,
        events,
        blocks_per_segment: BLOCKS_PER_SEGMENT,
        cold_segments: 0,
        restart_gap: 0,
    };
    let t = Instant::now();
    let layout =
        write_log(dir, &spec).map_err(|e| Failure::io("bench: write FlashStrike log", dir, &e))?;
    let gen_seconds = t.elapsed().as_secs_f64();
    let mut log_bytes = 0;
    for name in &layout.files {
        let path = dir.join(name);
        log_bytes += std::fs::metadata(&path)
            .map_err(|e| Failure::io("bench: stat", &path, &e))?
            .len();
    }
    let segments = layout.files.iter().filter(|f| f.contains(".wal")).count();
    let (d, m) = replay(dir)?;
    drop(m);
    if d.events != events {
        return Err(Failure::problem(
            "bench: FlashStrike replay",
            Some(dir.to_path_buf()),
            format!("replayed {} of {events} events", d.events),
        )
        .into());
    }
    Ok(FsLog {
        segments,
        segment_bytes: segment_file_len(BLOCKS_PER_SEGMENT),
        log_bytes,
        gen_seconds,
    })
}

/// One timed replay of the FlashStrike log, verified, default options.
pub fn replay(dir: &Path) -> anyhow::Result<(Drain, wal_recovery::Manager)> {
    drain(dir, RecoveryOptions::default(), None)
}
