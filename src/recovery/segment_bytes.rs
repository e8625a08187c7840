//! The bytes of one segment as the reader sees them: always a read-only memory mapping — of
//! the file, or, for a cold FlashStrike segment (`.wal.lz4`), of anonymous memory holding the
//! file decompressed.
//!
//! One type for both keeps the replay's hot path as it is for mapped files (a slice of an
//! `Mmap`, no per-event branch on where the bytes live). A decompressed segment costs its full
//! size in memory for as long as its reader lives, which the preload depth bounds
//! (`RecoveryOptions::preload_depth`).

use std::fs::File;
use std::os::fd::AsRawFd;
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

/// Where the hole at the end of `file` (`len` bytes) starts: every byte from there on reads as
/// zero without being stored (a FlashStrike recorder `ftruncate`s each segment to its full size
/// and leaves what it never wrote as a hole, often most of the active segment). `len` when the
/// file ends with data, or the file system cannot tell (`SEEK_HOLE` then reports the end of
/// the file; an error reports nothing).
///
/// A hole is zeros by definition, so the checks that the preallocated space after a segment's
/// last block is zero need not read it, and the prefault need not fill it with zeroed pages.
/// Like every byte of a mapping, it is only as stable as the file: a sealed segment is never
/// written again.
pub fn trailing_hole(file: &File, len: u64) -> u64 {
    let fd = file.as_raw_fd();
    let mut at: libc::off_t = 0;
    // Each round moves past one hole and the data after it; a bound keeps a file changing
    // under us from looping long.
    for _ in 0..1024 {
        // SAFETY: lseek takes no pointers; `fd` is open for the whole call (`file` is borrowed).
        let hole = unsafe { libc::lseek(fd, at, libc::SEEK_HOLE) };
        let Ok(hole_at) = u64::try_from(hole) else {
            return len;
        };
        if hole_at >= len {
            return len;
        }
        // SAFETY: as above.
        let data = unsafe { libc::lseek(fd, hole, libc::SEEK_DATA) };
        if data < 0 {
            let nothing_after = std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO);
            return if nothing_after { hole_at } else { len };
        }
        if data <= at {
            return len;
        }
        at = data;
    }
    len
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
pub fn prefault(map: &Mmap, len: usize) {
    let len = len.min(map.len());
    if len == 0 || map.advise_range(Advice::PopulateRead, 0, len).is_ok() {
        return;
    }
    let mut acc = 0u8;
    for b in map.iter().take(len).step_by(4096) {
        acc ^= *b;
    }
    std::hint::black_box(acc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn trailing_hole_is_where_the_stored_bytes_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        assert_eq!(trailing_hole(&f, 0), 0, "empty");
        f.set_len(1 << 20).unwrap();
        assert_eq!(trailing_hole(&f, 1 << 20), 0, "all hole");
        f.write_all_at(&[1; 100], 0).unwrap();
        let hole = trailing_hole(&f, 1 << 20);
        assert!(
            (100..=65536).contains(&hole),
            "data, then a hole from {hole}"
        );
        f.write_all_at(&[1], (1 << 20) - 1).unwrap();
        assert_eq!(
            trailing_hole(&f, 1 << 20),
            1 << 20,
            "the last byte is stored"
        );
    }
}
