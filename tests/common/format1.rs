//! Rewrites a log the writer just wrote (format 2) into format 1, byte for byte what a format-1
//! writer leaves: no log id, no synced offsets, the chain started from the fixed seed. For the
//! suites that mix two logs' segments on purpose to test what format 1 can and cannot tell
//! (format 2 refuses such a directory outright: `Error::MixedLogs`). Included by path like
//! `files.rs` (`#[path = "../common/format1.rs"] mod format1;`), beside `files.rs`, whose segment
//! listing it uses.

use std::fs;
use std::path::Path;

use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::header::{SegmentHeader, FORMAT_VERSION_1};
use wal_recovery::segment::{BLOCK_ALIGN, CHAIN_SEED, HEADER_BYTES};

/// Rewrites every segment of the one log in `dir` (clean, as written) into format 1.
pub fn to_format_1(dir: &Path) {
    let segs = super::files::wal_files_with_seq(dir);
    let mut chain = CHAIN_SEED;
    for (_, p) in segs {
        let mut b = fs::read(&p).expect("read segment");
        let raw: [u8; 64] = b[..HEADER_BYTES].try_into().expect("header");
        let h = SegmentHeader::decode(&raw).expect("a valid header");
        let prev = chain;
        let mut off = HEADER_BYTES;
        while off + HEADER_BYTES <= b.len() {
            let raw: [u8; 64] = b[off..off + HEADER_BYTES].try_into().expect("64");
            let Ok(bh) = BlockHeader::decode(&raw) else {
                break;
            };
            let start = off + HEADER_BYTES;
            let end = start + bh.payload_len as usize;
            let v1 = BlockHeader::for_payload(
                bh.index,
                bh.first_event_id,
                bh.event_count,
                &b[start..end],
                chain,
            );
            b[off..start].copy_from_slice(&v1.encode());
            chain = v1.chain;
            off = end.next_multiple_of(BLOCK_ALIGN);
        }
        let v1 = SegmentHeader {
            version: FORMAT_VERSION_1,
            log_id: 0,
            prev_chain: prev,
            last_chain: if h.sealed { chain } else { 0 },
            ..h
        };
        b[..HEADER_BYTES].copy_from_slice(&v1.encode());
        fs::write(&p, b).expect("write segment");
    }
}
