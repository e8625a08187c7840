//! wal_recovery replaying a FlashStrike v1 log: the same events written the way FlashStrike's
//! recorder lays them out (64-byte `RequestEvent` records, 256 per block, XXH64 block and chain
//! checksums, segments of 4096 blocks = 64 MiB as FlashStrike's engine configures them), then
//! replayed verified through the same `Manager` as the native rows.
//!
//! A FlashStrike record is the 64-byte struct itself, whose first 8 bytes are the event id —
//! as in the harness's payloads — so the count and id sum check exactly as for every row. The
//! rest of each record is the harness payload's fields as a `RequestEvent` (its pad bytes are
//! zero in a FlashStrike record). Only 64-byte payloads can be written this way; the row is left
//! out of runs with another payload size.

use std::path::Path;

use anyhow::Context;
use wal_recovery::flashstrike::event::RequestEvent;
use wal_recovery::flashstrike::generate::{segment_bytes, write_preallocated, SegmentState};
use wal_recovery::flashstrike::{segment_file_name, BLOCK_EVENTS, EVENT_BYTES};

use wal_recovery::{Manager, RecoveryOptions};

use super::wal_recovery_sys::{note_report, ReportCounters};
use super::{after_timer, Kind, System};
use crate::events::{first8, Events};

/// Blocks per segment: FlashStrike's engine default (64 MiB segments).
pub const BLOCKS_PER_SEGMENT: u32 = 4096;

/// The FlashStrike-format row.
#[derive(Clone, Debug)]
pub struct FlashStrikeFormat {
    /// Blocks per segment (the tests use small segments so that a tiny log still switches).
    pub blocks_per_segment: u32,
}

impl System for FlashStrikeFormat {
    fn name(&self) -> String {
        crate::candidate::FLASHSTRIKE_ROW.into()
    }

    fn kind(&self) -> Kind {
        Kind::Candidate
    }

    fn supports_payload(&self, payload_size: usize) -> bool {
        payload_size == EVENT_BYTES
    }

    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()> {
        anyhow::ensure!(
            events.payload_size() == EVENT_BYTES,
            "FlashStrike records are {EVENT_BYTES}-byte RequestEvents"
        );
        let per_segment = u64::from(self.blocks_per_segment) * BLOCK_EVENTS as u64;
        let make = |id: u64| RequestEvent::decode(events.payload(id)).unwrap_or_default();
        let (mut first, mut index) = (1u64, 0u32);
        while first <= events.count() {
            let count = per_segment.min(events.count() - first + 1);
            let bytes = segment_bytes(
                index,
                self.blocks_per_segment,
                first,
                count,
                1_700_000_000_000_000_000 + u64::from(index),
                1_700_000_000_000_000_001 + u64::from(index),
                SegmentState::Finalized,
                &make,
            );
            let path = dir.join(segment_file_name(index));
            // As the recorder leaves it: the unwritten tail of the last segment is a hole.
            write_preallocated(&path, &bytes)
                .with_context(|| format!("write {}", path.display()))?;
            first += count;
            index += 1;
        }
        let d = std::fs::File::open(dir)?;
        d.sync_all()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)> {
        // Its own telemetry root: the phase's handoff figures stay those of the native log.
        let mut m = Manager::open(dir, RecoveryOptions::default())
            .with_context(|| format!("Manager::open {}", dir.display()))?;
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(ev) = m.next().context("Manager::next")? {
            count += 1;
            sum = sum.wrapping_add(first8(ev.payload));
        }
        let name = self.name();
        after_timer(move || {
            let r = m.report();
            drop(m);
            note_report(&name, ReportCounters::from_report(&r));
        });
        Ok((count, sum))
    }
}
