//! CRC32C (Castagnoli, CRC-32/ISCSI), the one checksum of format v1, in one place.
//!
//! Every CRC the writer stores and the reader recomputes goes through these two functions, so
//! the crate that computes them is chosen here and nowhere else. It is `crc-fast`: it folds with
//! carry-less multiplication beside the CPU's CRC32 instruction and runs about twice as fast as
//! the `crc32c` crate here (54–57 GB/s in cache, 25 GB/s from memory against 24–28 and 13–14;
//! BENCHMARKS.md). It is built with `default-features = false, features = ["std"]`:
//! * without its `ffi` feature it exports no C symbols, so our cdylib's symbol table stays ours
//!   (`tests/ffi_header.rs` checks it);
//! * with `std` it picks its code path at run time (`is_x86_feature_detected!` on x86-64, the
//!   matching detection on aarch64), never from the build machine's target features: a library
//!   built on one machine runs correctly, and fast, on another. On a CPU without CLMUL it falls
//!   back to a table-driven path with the same results.
//!
//! `crc32c_append` continues a finished CRC over more bytes: the CRC-32/ISCSI register is the
//! finished value with its final XOR undone.

use crc_fast::{CrcAlgorithm, Digest};

/// The final XOR of CRC-32/ISCSI (and its initial register value).
const XOROUT: u32 = 0xffff_ffff;

/// CRC32C of `bytes`.
#[inline]
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc_fast::crc32_iscsi(bytes)
}

/// CRC32C of the concatenation of the bytes `crc` was computed over and `bytes`.
#[inline]
pub fn crc32c_append(crc: u32, bytes: &[u8]) -> u32 {
    let mut digest = Digest::new_with_init_state(CrcAlgorithm::Crc32Iscsi, u64::from(crc ^ XOROUT));
    digest.update(bytes);
    digest.finalize() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CRC-32/ISCSI check value (the CRC of the ASCII digits 1 to 9).
    #[test]
    fn check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c_append(crc32c(b"1234"), b"56789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c_append(0, b""), 0);
    }
}
