//! commitlog 0.2 as a system under test.
//!
//! Write: `CommitLog::new(LogOptions::new(dir))`, a `MessageBuf` of up to 1024 payloads per
//! `append` (fewer if 1024 would exceed the default 1 MB `message_max_bytes`), `flush()`
//! once at the end. Replay: `CommitLog::new`, then `read(offset, ReadLimit::max_bytes(N))`
//! in a loop over `MessageBuf::iter()` -> `payload()`. Each `read` does one `pread` into a
//! fresh buffer and verifies every message's CRC32C.

use std::path::Path;

use commitlog::{
    message::{MessageBuf, MessageSet},
    CommitLog, LogOptions, ReadLimit,
};

use super::System;
use crate::{
    events::{first8, Events},
    systems::after_timer,
};

/// commitlog's default read limit.
pub const DEFAULT_READ_LIMIT: usize = 8 * 1024;
const BATCH: usize = 1024;
/// Default `message_max_bytes` of `LogOptions::new`.
const MAX_APPEND_BYTES: usize = 1_000_000;
/// Per-message overhead in the log (offset, size, hash, metadata length).
const MSG_OVERHEAD: usize = 20;

/// commitlog with default options, read with a given `ReadLimit`.
pub struct CommitLogSys {
    /// Bytes per `read` call.
    pub read_limit: usize,
}

impl System for CommitLogSys {
    fn name(&self) -> String {
        if self.read_limit == DEFAULT_READ_LIMIT {
            "commitlog (ReadLimit 8 KiB)".into()
        } else {
            format!("commitlog (ReadLimit {} KiB)", self.read_limit / 1024)
        }
    }

    fn data_key(&self) -> String {
        "commitlog".into()
    }

    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()> {
        let mut log = CommitLog::new(LogOptions::new(dir))?;
        let per_batch = (MAX_APPEND_BYTES / (events.payload_size() + MSG_OVERHEAD)).clamp(1, BATCH);
        let payloads: Vec<&[u8]> = events.iter().collect();
        let mut buf = MessageBuf::default();
        for chunk in payloads.chunks(per_batch) {
            buf.clear();
            for p in chunk {
                buf.push(p)
                    .map_err(|e| anyhow::anyhow!("commitlog push: {e:?}"))?;
            }
            log.append(&mut buf)?;
        }
        log.flush()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)> {
        let log = CommitLog::new(LogOptions::new(dir))?;
        let limit = ReadLimit::max_bytes(self.read_limit);
        let (mut count, mut sum, mut offset) = (0u64, 0u64, 0u64);
        loop {
            let msgs = log.read(offset, limit)?;
            if msgs.is_empty() {
                break;
            }
            for m in msgs.iter() {
                count += 1;
                sum = sum.wrapping_add(first8(m.payload()));
                offset = m.offset() + 1;
            }
        }
        after_timer(move || drop(log));
        Ok((count, sum))
    }
}
