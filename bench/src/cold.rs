//! Cold-cache helpers: evicting files from the page cache and a raw sequential read.
//!
//! * [`evict`]: `fdatasync` then `posix_fadvise(POSIX_FADV_DONTNEED)` on a file, or on every
//!   file under a directory. [`resident_fraction`] checks the result with `mincore`.
//! * [`raw_read`]: `read()` every file under a directory, in name order, into one 1 MiB
//!   page-aligned buffer. Alignment matters here: per limits.md, a destination a few bytes
//!   past a page boundary makes the kernel's copy ~4x slower on this machine.

use std::{
    alloc::{self, Layout},
    fs::File,
    io::Read,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

use anyhow::Context;

/// Size of the read buffer of [`raw_read`].
pub const READ_BUF: usize = 1 << 20;
const PAGE: usize = 4096;

/// Every regular file under `path` (or `path` itself), sorted by path.
pub fn files_under(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    collect(path, &mut out)?;
    out.sort();
    Ok(out)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path).with_context(|| path.display().to_string())?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(&entry?.path(), out)?;
        }
    } else if meta.is_file() {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Drops `path` (a file, or every file under a directory) from the page cache.
pub fn evict(path: &Path) -> anyhow::Result<()> {
    for f in files_under(path)? {
        let file = File::open(&f).with_context(|| format!("open {}", f.display()))?;
        let fd = file.as_raw_fd();
        // SAFETY: plain syscalls on a valid, open descriptor.
        unsafe {
            if libc::fdatasync(fd) != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("fdatasync {}", f.display()));
            }
            let rc = libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED);
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc))
                    .with_context(|| format!("posix_fadvise {}", f.display()));
            }
        }
    }
    Ok(())
}

/// Fraction (0..=1) of the pages of `path`'s files that are resident in the page cache.
pub fn resident_fraction(path: &Path) -> anyhow::Result<f64> {
    let (mut resident, mut total) = (0u64, 0u64);
    for f in files_under(path)? {
        let file = File::open(&f)?;
        let len = file.metadata()?.len() as usize;
        if len == 0 {
            continue;
        }
        let pages = len.div_ceil(PAGE);
        let mut vec = vec![0u8; pages];
        // SAFETY: maps `len` bytes of an open file read-only, queries residency into a
        // buffer of one byte per page, and unmaps; no pointer escapes this block.
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            if addr == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error().into());
            }
            let rc = libc::mincore(addr, len, vec.as_mut_ptr());
            let err = std::io::Error::last_os_error();
            libc::munmap(addr, len);
            if rc != 0 {
                return Err(err.into());
            }
        }
        resident += vec.iter().filter(|&&b| b & 1 == 1).count() as u64;
        total += pages as u64;
    }
    Ok(if total == 0 {
        0.0
    } else {
        resident as f64 / total as f64
    })
}

/// A zeroed heap buffer whose start is page-aligned.
pub struct AlignedBuf {
    ptr: *mut u8,
    layout: Layout,
}

impl AlignedBuf {
    /// Allocates `len` zeroed bytes aligned to 4096.
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(len.max(1), PAGE).expect("valid layout");
        // SAFETY: layout has non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            alloc::handle_alloc_error(layout);
        }
        AlignedBuf { ptr, layout }
    }

    /// The buffer as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: ptr is a live allocation of layout.size() initialised bytes, uniquely
        // borrowed through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::dealloc(self.ptr, self.layout) }
    }
}

/// Reads every file under `path` front to back with `read()` into `buf`; returns
/// `(bytes read, number of files)`.
pub fn raw_read(path: &Path, buf: &mut AlignedBuf) -> anyhow::Result<(u64, usize)> {
    let files = files_under(path)?;
    let slice = buf.as_mut_slice();
    let mut total = 0u64;
    for f in &files {
        let mut file = File::open(f)?;
        loop {
            let n = file.read(slice)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    Ok((total, files.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffer_is_page_aligned() {
        let mut b = AlignedBuf::new(READ_BUF);
        let s = b.as_mut_slice();
        assert_eq!(s.as_ptr() as usize % PAGE, 0);
        assert_eq!(s.len(), READ_BUF);
    }

    #[test]
    fn evict_and_raw_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![1u8; 3 * READ_BUF + 17]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![2u8; 100]).unwrap();
        evict(dir.path()).unwrap();
        let frac = resident_fraction(dir.path()).unwrap();
        assert!((0.0..=1.0).contains(&frac));
        let mut buf = AlignedBuf::new(READ_BUF);
        let (bytes, files) = raw_read(dir.path(), &mut buf).unwrap();
        assert_eq!(bytes, 3 * READ_BUF as u64 + 117);
        assert_eq!(files, 2);
    }
}
