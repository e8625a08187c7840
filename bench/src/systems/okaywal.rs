//! okaywal as a system under test.
//!
//! Write: `Configuration::default_for(dir).checkpoint_after_bytes(u64::MAX)`, then per 1024
//! events one entry (`begin_entry`, one `write_chunk` per event, `commit`), then `shutdown`.
//! Two departures from "defaults, sync once", both forced by the API: the checkpoint
//! threshold is raised so that all events stay in one segment to replay (the default
//! 768 KiB would checkpoint and recycle them), and `commit()` always fsyncs, so there is
//! one fsync per 1024 events. Replay happens inside `open`: the `LogManager::recover`
//! callback reads each chunk with `read_exact` and checks its CRC with `check_crc`.

use std::{
    io::{self, Read},
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use okaywal::{
    Configuration, Entry, EntryId, LogManager, LogVoid, ReadChunkResult, SegmentReader,
    WriteAheadLog,
};

use super::{after_timer, System};
use crate::events::{first8, Events};

const BATCH: usize = 1024;

/// okaywal 0.3 with one entry per 1024 events.
pub struct OkayWal;

fn config(dir: &Path) -> Configuration {
    Configuration::default_for(dir).checkpoint_after_bytes(u64::MAX)
}

/// Recovery callback: counts and sums every chunk, checking its CRC.
#[derive(Debug)]
struct ReplayManager {
    count: Arc<AtomicU64>,
    sum: Arc<AtomicU64>,
    buf: Vec<u8>,
}

impl LogManager for ReplayManager {
    fn recover(&mut self, entry: &mut Entry<'_>) -> io::Result<()> {
        let (mut count, mut sum) = (0u64, 0u64);
        // Stops at EndOfEntry (or AbortedEntry, which the count check would catch).
        while let ReadChunkResult::Chunk(mut chunk) = entry.read_chunk()? {
            self.buf.resize(chunk.bytes_remaining() as usize, 0);
            chunk.read_exact(&mut self.buf)?;
            if !chunk.check_crc()? {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "chunk CRC"));
            }
            count += 1;
            sum = sum.wrapping_add(first8(&self.buf));
        }
        self.count.fetch_add(count, Ordering::Relaxed);
        self.sum.fetch_add(sum, Ordering::Relaxed);
        Ok(())
    }

    fn checkpoint_to(
        &mut self,
        _last_checkpointed_id: EntryId,
        _checkpointed_entries: &mut SegmentReader,
        _wal: &WriteAheadLog,
    ) -> io::Result<()> {
        // Never reached with checkpoint_after_bytes(u64::MAX) and a single segment; if it
        // were, the entries would be recycled and the count check would catch it.
        Ok(())
    }
}

impl System for OkayWal {
    fn name(&self) -> String {
        "okaywal".into()
    }

    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()> {
        let wal = config(dir).open(LogVoid)?;
        let payloads: Vec<&[u8]> = events.iter().collect();
        for chunk in payloads.chunks(BATCH) {
            let mut entry = wal.begin_entry()?;
            for p in chunk {
                entry.write_chunk(p)?;
            }
            entry.commit()?;
        }
        wal.shutdown()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)> {
        let count = Arc::new(AtomicU64::new(0));
        let sum = Arc::new(AtomicU64::new(0));
        let wal = config(dir).open(ReplayManager {
            count: count.clone(),
            sum: sum.clone(),
            buf: Vec::new(),
        })?;
        let result = (count.load(Ordering::Relaxed), sum.load(Ordering::Relaxed));
        after_timer(move || {
            let _ = wal.shutdown();
        });
        Ok(result)
    }
}
