//! The bytes of one segment as the reader sees them: always a read-only memory mapping — of
//! the file, or, for a cold FlashStrike segment (`.wal.lz4`), of anonymous memory holding the
//! file decompressed.
//!
//! One type for both keeps the replay's hot path as it is for mapped files (a slice of an
//! `Mmap`, no per-event branch on where the bytes live). A decompressed segment costs its full
//! size in memory for as long as its reader lives, which the preload depth bounds
//! (`RecoveryOptions::preload_depth`).

use std::fs::File;
use std::path::Path;

use memmap2::{Advice, Mmap, MmapMut};

use crate::error::{Error, Result};
use crate::segment::HUGE_PAGE_BYTES;

/// Maps `file` (at `path`, for messages) read-only.
pub fn map_file(file: &File, path: &Path) -> Result<Mmap> {
    // SAFETY: the map is read-only and segment files are immutable once written; outside
    // modification while mapped is the documented mmap caveat (docs/ARCHITECTURE.md). Every
    // access through the map is bounds-checked, so a changed length cannot cause out-of-bounds
    // reads.
    let map = unsafe { Mmap::map(file) }.map_err(|e| Error::io("mmap", path, e))?;
    if map.len() >= HUGE_PAGE_BYTES {
        // Advice only, so a refusal (no THP in this kernel) changes nothing: reads that fault
        // pages in from disk then allocate 2 MiB page-cache folios, which are mapped with one
        // page-table entry each (fewer faults, TLB misses and a cheaper munmap).
        let _ = map.advise(Advice::HugePage);
    }
    Ok(map)
}

/// A read-only anonymous mapping holding a copy of `bytes` (a decompressed cold segment).
pub fn in_memory(bytes: &[u8], path: &Path) -> Result<Mmap> {
    // An empty anonymous mapping is refused by the kernel; one byte of zero stands for "no
    // bytes" and is never read (the caller checks the length first).
    let mut m = MmapMut::map_anon(bytes.len().max(1)).map_err(|e| Error::io("mmap", path, e))?;
    if let Some(dst) = m.get_mut(..bytes.len()) {
        dst.copy_from_slice(bytes);
    }
    m.make_read_only()
        .map_err(|e| Error::io("mprotect", path, e))
}

/// Fills the mapping's page tables now (see `SegmentReader::prefault`): one
/// `madvise(MADV_POPULATE_READ)` (Linux ≥ 5.14), or one byte of every page touched where that
/// is refused.
pub fn prefault(map: &Mmap) {
    if map.advise(Advice::PopulateRead).is_ok() {
        return;
    }
    let mut acc = 0u8;
    for b in map.iter().step_by(4096) {
        acc ^= *b;
    }
    std::hint::black_box(acc);
}
