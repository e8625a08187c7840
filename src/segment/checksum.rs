//! CRC32C (Castagnoli), the one checksum of format v1, in one place.
//!
//! Every CRC the writer stores and the reader recomputes goes through these two functions, so
//! the crate that computes them is chosen here and nowhere else.

/// CRC32C of `bytes`.
#[inline]
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// CRC32C of the concatenation of the bytes `crc` was computed over and `bytes`.
#[inline]
pub fn crc32c_append(crc: u32, bytes: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, bytes)
}
