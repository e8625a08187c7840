//! Two trivial baselines written in the harness: the floor a WAL reader can hope for.
//!
//! One file, `log.bin`, of records `u32 LE len | payload | u32 LE CRC32C(len bytes + payload)`,
//! written in chunks of exactly 2 MiB at 2 MiB-aligned offsets (the last one shorter) and
//! synced once — as wal_recovery's writer does, so that the page cache holds both logs in
//! 2 MiB folios and the comparison is not skewed by page-table costs (with a 1 MiB
//! `BufWriter`, records straddling the writes left the baseline in smaller folios, and the
//! 512-byte scan ran at 0.8x wal_recovery's verified replay). Replay maps the file with one
//! `memmap2::Mmap` (no populate, no madvise) and walks it sequentially, with or without
//! checking each record's CRC. Both variants share the same file.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
};

use memmap2::Mmap;

use super::{after_timer, Kind, System};
use crate::events::{first8, Events};

/// File name of the baseline log inside its directory.
pub const FILE_NAME: &str = "log.bin";

/// Path of the baseline log in `dir`.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Single-mmap length-prefixed log reader.
pub struct MmapBaseline {
    /// Verify each record's CRC32C while walking.
    pub check_crc: bool,
}

impl System for MmapBaseline {
    fn name(&self) -> String {
        if self.check_crc {
            "baseline: 1 mmap, CRC32C per record".into()
        } else {
            "baseline: 1 mmap, no CRC".into()
        }
    }

    fn kind(&self) -> Kind {
        Kind::Baseline
    }

    fn data_key(&self) -> String {
        "baseline".into()
    }

    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()> {
        const CHUNK: usize = wal_recovery::segment::HUGE_PAGE_BYTES;
        let mut file = File::create(log_path(dir))?;
        let mut buf = Vec::with_capacity(2 * CHUNK);
        for p in events.iter() {
            let len = u32::try_from(p.len())?.to_le_bytes();
            let crc = wal_recovery::segment::checksum::crc32c_append(
                wal_recovery::segment::checksum::crc32c(&len),
                p,
            );
            buf.extend_from_slice(&len);
            buf.extend_from_slice(p);
            buf.extend_from_slice(&crc.to_le_bytes());
            if buf.len() >= CHUNK {
                file.write_all(&buf[..CHUNK])?;
                buf.drain(..CHUNK);
            }
        }
        file.write_all(&buf)?;
        file.sync_data()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)> {
        let file = File::open(log_path(dir))?;
        // SAFETY: the file is not modified while mapped (the harness is its only user).
        let map = unsafe { Mmap::map(&file)? };
        let result = if self.check_crc {
            walk::<true>(&map)
        } else {
            walk::<false>(&map)
        };
        after_timer(move || drop((map, file)));
        result
    }
}

/// Walks the records of `data`; returns (count, sum of first 8 bytes).
fn walk<const CRC: bool>(data: &[u8]) -> anyhow::Result<(u64, u64)> {
    let (mut count, mut sum, mut off) = (0u64, 0u64, 0usize);
    while off + 4 <= data.len() {
        let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) as usize;
        let end = off + 4 + len;
        anyhow::ensure!(end + 4 <= data.len(), "truncated record at {off}");
        if CRC {
            let stored = u32::from_le_bytes(data[end..end + 4].try_into().unwrap());
            anyhow::ensure!(
                wal_recovery::segment::checksum::crc32c(&data[off..end]) == stored,
                "CRC mismatch at {off}"
            );
        }
        count += 1;
        sum = sum.wrapping_add(first8(&data[off + 4..end]));
        off = end + 4;
    }
    Ok((count, sum))
}
