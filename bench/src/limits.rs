//! Machine limits measured in the same run, on the same bytes as a replay.
//!
//! The files (the baseline log, or every segment of wal_recovery's log) are mapped once and
//! touched once (untimed), then, per rep:
//! * memory read bandwidth: sum every u64 of every already-faulted map;
//! * raw CRC32C throughput: the library's own CRC32C (`segment::checksum::crc32c`, crc-fast) over
//!   each whole mapped file, one call per file.
//!
//! Throughput is total file bytes / time, GB = 1e9 B.

use std::{
    fs::File,
    hint::black_box,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;

use memmap2::Mmap;

use crate::report::Stats;

/// Results of [`measure`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct Limits {
    /// Bytes scanned per rep (the total size of the files).
    pub bytes: u64,
    /// Number of files scanned per rep.
    pub files: usize,
    /// Time to sum the u64s of the faulted map.
    pub mem_read: Stats,
    pub mem_read_gb_s_max: f64,
    pub mem_read_gb_s_median: f64,
    /// Time to CRC32C the whole map.
    pub crc32c: Stats,
    pub crc32c_gb_s_max: f64,
    pub crc32c_gb_s_median: f64,
}

/// Measures memory-read and CRC32C throughput over the file at `path`, `reps` times each.
pub fn measure(path: &Path, reps: usize) -> anyhow::Result<Limits> {
    measure_files(&[path.to_path_buf()], reps)
}

/// Measures memory-read and CRC32C throughput over all of `paths` (each mapped whole and
/// faulted in before timing; empty files are skipped), `reps` times each. A rep of a figure
/// covers every file once, in order.
pub fn measure_files(paths: &[PathBuf], reps: usize) -> anyhow::Result<Limits> {
    let mut maps = Vec::with_capacity(paths.len());
    for p in paths {
        let file = File::open(p).with_context(|| format!("open {}", p.display()))?;
        if file.metadata()?.len() == 0 {
            continue;
        }
        // SAFETY: the harness does not modify the files while they are mapped.
        let map = unsafe { Mmap::map(&file) }.with_context(|| format!("mmap {}", p.display()))?;
        maps.push(map);
    }
    anyhow::ensure!(!maps.is_empty(), "no non-empty file to measure limits on");
    let bytes: u64 = maps.iter().map(|m| m.len() as u64).sum();
    for m in &maps {
        black_box(sum_u64(black_box(m))); // fault the maps in, untimed
    }
    let mut mem = Vec::with_capacity(reps);
    let mut crc = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        for m in &maps {
            black_box(sum_u64(black_box(m)));
        }
        mem.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for m in &maps {
            black_box(wal_recovery::segment::checksum::crc32c(black_box(m)));
        }
        crc.push(t.elapsed().as_secs_f64());
    }
    let mem_read = Stats::new(mem);
    let crc32c = Stats::new(crc);
    let gb = |s: f64| bytes as f64 / s / 1e9;
    Ok(Limits {
        bytes,
        files: maps.len(),
        mem_read_gb_s_max: gb(mem_read.min_s),
        mem_read_gb_s_median: gb(mem_read.median_s),
        crc32c_gb_s_max: gb(crc32c.min_s),
        crc32c_gb_s_median: gb(crc32c.median_s),
        mem_read,
        crc32c,
    })
}

/// Wrapping sum of all u64 LE words of `data` (a trailing partial word is summed bytewise).
pub fn sum_u64(data: &[u8]) -> u64 {
    let chunks = data.chunks_exact(8);
    let tail: u64 = chunks.remainder().iter().map(|&b| u64::from(b)).sum();
    chunks
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .fold(tail, u64::wrapping_add)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sum_u64_counts_tail() {
        let mut v = 5u64.to_le_bytes().to_vec();
        v.extend_from_slice(&7u64.to_le_bytes());
        v.push(3);
        assert_eq!(super::sum_u64(&v), 15);
    }

    #[test]
    fn measure_files_sums_sizes_and_skips_empty() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let e = dir.path().join("empty");
        std::fs::write(&a, vec![1u8; 4096]).unwrap();
        std::fs::write(&b, vec![2u8; 100]).unwrap();
        std::fs::write(&e, b"").unwrap();
        let l = super::measure_files(&[a.clone(), e.clone(), b], 2).unwrap();
        assert_eq!((l.bytes, l.files), (4196, 2));
        assert_eq!(l.crc32c.samples_s.len(), 2);
        assert!(l.mem_read_gb_s_median > 0.0 && l.crc32c_gb_s_max > 0.0);
        assert_eq!(super::measure(&a, 1).unwrap().bytes, 4096);
        assert!(super::measure_files(&[e], 1).is_err());
    }
}
