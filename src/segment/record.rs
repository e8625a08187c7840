//! Record framing inside a block payload: `u32` little-endian length, the payload bytes, then
//! zero padding to the next multiple of 8. Record `k` of a block has id `first_event_id + k`.

use super::{record_size, RECORD_ALIGN};

/// Appends one framed record to `buf` (which must hold a whole number of records).
pub fn encode_into(buf: &mut Vec<u8>, payload: &[u8]) {
    debug_assert_eq!(buf.len() % RECORD_ALIGN, 0);
    let start = buf.len();
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(payload);
    buf.resize(start + record_size(payload.len()), 0);
}

/// Decodes the record at `pos` of `block` (a slice that ends where the record's block ends):
/// returns the payload's range and the position of the next record, or `None` when the length
/// prefix or payload overruns the block. The one decoder every reader path uses.
#[inline]
pub fn decode_at(block: &[u8], pos: usize) -> Option<(usize, usize, usize)> {
    let len = u32::from_le_bytes(*block.get(pos..)?.first_chunk::<4>()?) as usize;
    let start = pos + 4;
    let end = start.checked_add(len)?;
    if end > block.len() {
        return None;
    }
    // Cannot overflow: end <= block.len() <= isize::MAX, and the padding adds at most 7.
    let next = pos + record_size(len);
    Some((start, end, next))
}
