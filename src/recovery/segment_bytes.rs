//! The bytes of one segment as the reader sees them: a read-only memory mapping of the file,
//! or — for a cold FlashStrike segment (`.wal.lz4`) — the file decompressed into memory.
//!
//! Both deref to `&[u8]`, so verification and replay never ask which; only mapping advice and
//! prefaulting differ. A decompressed segment costs its full size in memory for as long as its
//! reader lives, which the preload depth bounds (`RecoveryOptions::preload_depth`).

use std::fs::File;
use std::ops::Deref;
use std::path::Path;

use memmap2::{Advice, Mmap};

use crate::error::{Error, Result};
use crate::segment::HUGE_PAGE_BYTES;

/// A segment's bytes; see the module docs.
#[derive(Debug)]
pub enum SegmentBytes {
    /// The file, mapped read-only (`MAP_SHARED`).
    Mapped(Mmap),
    /// A cold segment, decompressed.
    Inflated(Vec<u8>),
}

impl Deref for SegmentBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            SegmentBytes::Mapped(m) => m,
            SegmentBytes::Inflated(v) => v,
        }
    }
}

impl SegmentBytes {
    /// Maps `file` (at `path`, for messages) read-only.
    pub fn map(file: &File, path: &Path) -> Result<Self> {
        // SAFETY: the map is read-only and segment files are immutable once written; outside
        // modification while mapped is the documented mmap caveat (docs/ARCHITECTURE.md). Every
        // access through the map is bounds-checked, so a changed length cannot cause
        // out-of-bounds reads.
        let map = unsafe { Mmap::map(file) }.map_err(|e| Error::io("mmap", path, e))?;
        if map.len() >= HUGE_PAGE_BYTES {
            // Advice only, so a refusal (no THP in this kernel) changes nothing: reads that
            // fault pages in from disk then allocate 2 MiB page-cache folios, which are mapped
            // with one page-table entry each (fewer faults, TLB misses and a cheaper munmap).
            let _ = map.advise(Advice::HugePage);
        }
        Ok(SegmentBytes::Mapped(map))
    }

    /// Fills the mapping's page tables now (see `SegmentReader::prefault`); nothing to do for
    /// bytes already in memory.
    pub fn prefault(&self) {
        let SegmentBytes::Mapped(map) = self else {
            return;
        };
        if map.advise(Advice::PopulateRead).is_ok() {
            return;
        }
        let mut acc = 0u8;
        for b in map.iter().step_by(4096) {
            acc ^= *b;
        }
        std::hint::black_box(acc);
    }
}
