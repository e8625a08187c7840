//! The segment files of a log directory, as the test suites list them. Included by path like
//! `rng.rs` (`#[path = "../common/files.rs"] mod files;`), so every suite lists them the same
//! way: canonically named files only (`naming::parse`), in sequence order.

use std::fs;
use std::path::{Path, PathBuf};

use wal_recovery::segment::naming;

/// Canonically named segment files of `dir` with their sequence numbers, in sequence order.
pub fn wal_files_with_seq(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .expect("read log dir")
        .map(|e| e.expect("dir entry"))
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(naming::parse)
                .map(|s| (s, e.path()))
        })
        .collect();
    v.sort();
    v
}

/// Canonically named segment files of `dir`, in sequence order.
#[allow(dead_code)] // not every suite uses both
pub fn wal_files(dir: &Path) -> Vec<PathBuf> {
    wal_files_with_seq(dir)
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}
