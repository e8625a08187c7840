//! Helpers shared by the fuzz targets and the seed-corpus generator.
//!
//! The format is CRC-protected everywhere, so random mutations almost never get past the first
//! checksum. [`fixup`] optionally recomputes the checksums of a mutated segment (segment header
//! CRC; block payload CRC, chain and header CRC, block by block as the headers lay them out), so
//! the fuzzer also reaches everything *behind* the checksums: field checks, ids, index, sealed
//! totals, padding, record framing.

use std::path::{Path, PathBuf};

/// Flag bit of the first input byte: recompute the segment header CRC.
pub const FIX_SEGMENT_HEADER: u8 = 1;
/// Flag bit: recompute every block's payload CRC, chain and header CRC.
pub const FIX_BLOCKS: u8 = 2;

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Recomputes the checksums selected by `flags` in the segment file image `file`, in place.
pub fn fixup(file: &mut [u8], flags: u8) {
    if file.len() < 64 {
        return;
    }
    if flags & FIX_BLOCKS != 0 {
        let mut chain = u32_at(file, 56);
        let mut off = 64usize;
        while off + 64 <= file.len() {
            let len = u32_at(file, off + 20) as usize;
            let start = off + 64;
            let Some(end) = start.checked_add(len).filter(|&e| e <= file.len()) else {
                break;
            };
            let pcrc = crc32c::crc32c(&file[start..end]);
            put_u32(file, off + 24, pcrc);
            chain = crc32c::crc32c_append(chain, &file[off..off + 28]);
            put_u32(file, off + 28, chain);
            let hcrc = crc32c::crc32c_append(
                crc32c::crc32c(&file[off..off + 32]),
                &file[off + 36..off + 64],
            );
            put_u32(file, off + 32, hcrc);
            off = end.next_multiple_of(64);
        }
    }
    if flags & FIX_SEGMENT_HEADER != 0 {
        let crc = crc32c::crc32c_append(crc32c::crc32c(&file[0..8]), &file[12..64]);
        put_u32(file, 8, crc);
    }
}

/// A per-process scratch path under the temp dir (tmpfs when `/dev/shm` exists).
pub fn scratch(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("walfuzz-{}-{name}", std::process::id()))
}

/// Payload of event `i` (same formula as the hardening tests).
pub fn payload(i: u64) -> Vec<u8> {
    (0..(i % 200) as usize)
        .map(|k| {
            if k < 8 {
                i.to_le_bytes()[k]
            } else {
                (i.wrapping_mul(31).wrapping_add(k as u64 * 17) % 251) as u8
            }
        })
        .collect()
}
