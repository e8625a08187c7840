//! Segment file names: `<sequence number as 20 zero-padded decimal digits>.wal`.
//!
//! Twenty digits hold any `u64`, so names never collide or truncate (FlashStrike's 8-digit names
//! silently wrapped). Readers trust the header, not the name, but report a mismatch.

/// File extension of segment files.
pub const EXTENSION: &str = "wal";

/// File name for segment `sequence`.
pub fn file_name(sequence: u64) -> String {
    format!("{sequence:020}.{EXTENSION}")
}

/// The sequence number a canonical segment file name encodes, if it is one.
pub fn parse(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".wal")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}
