//! Writer options and their validation.

use crate::error::{Error, Result};
use crate::segment::{BLOCK_ALIGN, HEADER_BYTES, MAX_BLOCK_PAYLOAD};

/// How the writer lays out a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// Target segment size in bytes: the writer rolls to a new segment before a block would make
    /// the current one larger (a segment always holds at least one block). Default 64 MiB.
    pub segment_bytes: u64,
    /// Target block payload size in bytes; a single larger record gets a block of its own (up to
    /// 16 MiB). Default 64 KiB.
    pub block_bytes: u32,
    /// Id of the first event of a new log (≥ 1). Ignored when the directory already holds a log.
    pub first_event_id: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            segment_bytes: 64 << 20,
            block_bytes: 64 << 10,
            first_event_id: 1,
        }
    }
}

impl WriterOptions {
    /// Checks the options are usable.
    pub fn validate(&self) -> Result<()> {
        if self.first_event_id == 0 || self.first_event_id == u64::MAX {
            return Err(Error::InvalidArgument(
                "first_event_id must be in 1..u64::MAX".into(),
            ));
        }
        if self.block_bytes < 8 || self.block_bytes as usize > MAX_BLOCK_PAYLOAD {
            return Err(Error::InvalidArgument(format!(
                "block_bytes must be in 8..={MAX_BLOCK_PAYLOAD}, got {}",
                self.block_bytes
            )));
        }
        if self.segment_bytes < (HEADER_BYTES + BLOCK_ALIGN + 8) as u64 {
            return Err(Error::InvalidArgument(format!(
                "segment_bytes must be at least 136, got {}",
                self.segment_bytes
            )));
        }
        Ok(())
    }
}
