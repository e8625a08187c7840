//! raft-engine (TiKV's Raft log engine) as a system under test.
//!
//! Entries are protobuf-2 `well_known_types::BytesValue` messages (one `bytes` field holding
//! the payload); the raft index of an entry is its event id. Region 1 holds the whole log.
//! Write: `LogBatch::with_capacity(1024)` + `add_entries` + `Engine::write(batch, false)`
//! per 1024 events, `Engine::sync()` once at the end. Replay: `Engine::open`, then
//! `fetch_entries_to` 1024 entries at a time from `first_index` to `last_index`.
//! All config defaults are kept (LZ4 for batches >= 8 KiB, 4 recovery threads, ...), except
//! in the "compression off" variant, which sets `batch_compression_threshold = 0`.

use std::path::Path;

use anyhow::Context;
use protobuf::well_known_types::BytesValue;
use raft_engine::{Config, Engine, LogBatch, MessageExt, ReadableSize};

use super::{after_timer, System};
use crate::events::{first8, Events};

const REGION: u64 = 1;
const BATCH: usize = 1024;

/// raft-engine with default config, optionally with batch compression turned off.
pub struct RaftEngine {
    /// `true` keeps the default LZ4 threshold (8 KiB); `false` disables compression.
    pub compression: bool,
}

/// Entry type: the raft index is the event id stored in the payload's first 8 bytes.
struct BytesEntry;

impl MessageExt for BytesEntry {
    type Entry = BytesValue;

    fn index(e: &BytesValue) -> u64 {
        first8(&e.value)
    }
}

impl RaftEngine {
    fn config(&self, dir: &Path) -> Config {
        let mut cfg = Config {
            dir: dir.to_string_lossy().into_owned(),
            ..Default::default()
        };
        if !self.compression {
            cfg.batch_compression_threshold = ReadableSize(0);
        }
        cfg
    }
}

impl System for RaftEngine {
    fn name(&self) -> String {
        if self.compression {
            "raft-engine".into()
        } else {
            "raft-engine (compression off)".into()
        }
    }

    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()> {
        let engine = Engine::open(self.config(dir)).context("raft-engine open")?;
        let payloads: Vec<&[u8]> = events.iter().collect();
        let mut entries = Vec::with_capacity(BATCH);
        for chunk in payloads.chunks(BATCH) {
            entries.clear();
            entries.extend(chunk.iter().map(|p| BytesValue {
                value: p.to_vec(),
                ..Default::default()
            }));
            let mut batch = LogBatch::with_capacity(BATCH);
            batch.add_entries::<BytesEntry>(REGION, &entries)?;
            engine.write(&mut batch, false)?;
        }
        engine.sync()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)> {
        let engine = Engine::open(self.config(dir)).context("raft-engine open")?;
        let (mut count, mut sum) = (0u64, 0u64);
        if let (Some(first), Some(last)) = (engine.first_index(REGION), engine.last_index(REGION)) {
            let mut buf: Vec<BytesValue> = Vec::with_capacity(BATCH);
            let mut i = first;
            while i <= last {
                let end = (i + BATCH as u64).min(last + 1);
                buf.clear();
                engine.fetch_entries_to::<BytesEntry>(REGION, i, end, None, &mut buf)?;
                anyhow::ensure!(!buf.is_empty(), "raft-engine returned no entries at {i}");
                for e in &buf {
                    count += 1;
                    sum = sum.wrapping_add(first8(&e.value));
                }
                i += buf.len() as u64;
            }
        }
        after_timer(move || drop(engine));
        Ok((count, sum))
    }
}
