//! Little-endian field access for fixed 64-byte headers.
//!
//! Headers are decoded from `[u8; 64]` copies, so every offset is a constant checked against the
//! array length; no length read from disk is ever used to index here.

/// Reads a little-endian `u16` at `off` of a 64-byte header.
#[inline]
pub fn u16_at(b: &[u8; 64], off: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[off..off + 2]);
    u16::from_le_bytes(a)
}

/// Reads a little-endian `u32` at `off` of a 64-byte header.
#[inline]
pub fn u32_at(b: &[u8; 64], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

/// Reads a little-endian `u64` at `off` of a 64-byte header.
#[inline]
pub fn u64_at(b: &[u8; 64], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Writes `v` little-endian at `off`.
#[inline]
pub fn put(b: &mut [u8; 64], off: usize, v: &[u8]) {
    b[off..off + v.len()].copy_from_slice(v);
}

/// Copies the 64 bytes at `off` of `data`, or `None` when fewer remain.
#[inline]
pub fn header_at(data: &[u8], off: usize) -> Option<[u8; 64]> {
    let end = off.checked_add(64)?;
    let s = data.get(off..end)?;
    let mut a = [0u8; 64];
    a.copy_from_slice(s);
    Some(a)
}
