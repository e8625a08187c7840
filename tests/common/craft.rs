//! Segment bodies written block by block, for tests that need shapes the writer never produces
//! (a block whose declared count or record framing disagrees with its bytes, under valid
//! checksums). Included by path like `files.rs` (`#[path = "common/craft.rs"] mod craft;`).

use wal_recovery::segment::block::BlockHeader;

/// The blocks of a segment body: for each (declared event count, payload bytes), its header
/// (ids from `first`, chained from `prev_chain`), its payload, and zero padding to a multiple
/// of 64 bytes — aligned as in a file once placed after the 64-byte segment header. Returns
/// the bytes, the chain of the last block (`prev_chain` if none) and the id after the last
/// declared event.
pub fn blocks(first: u64, prev_chain: u32, blocks: &[(u32, Vec<u8>)]) -> (Vec<u8>, u32, u64) {
    let mut body = Vec::new();
    let mut chain = prev_chain;
    let mut id = first;
    for (i, (count, payload)) in blocks.iter().enumerate() {
        let h = BlockHeader::for_payload(i as u32, id, *count, payload, chain);
        body.extend_from_slice(&h.encode());
        body.extend_from_slice(payload);
        body.resize(body.len().next_multiple_of(64), 0);
        chain = h.chain;
        id += u64::from(*count);
    }
    (body, chain, id)
}
