//! Shared by the follow-mode suites (`follow_live.rs`, `follow_rule.rs`): the deterministic
//! payload of every id, a follower loop that checks exact ids and payloads with a deadline, and
//! a raw segment crafter for shapes the writer only leaves in flight or after damage.

#![allow(dead_code)] // each suite uses a different subset

#[path = "../common/env.rs"]
mod env;
#[path = "../common/rng.rs"]
mod rng;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[allow(unused_imports)] // each suite uses a different subset
pub use env::{env_seed, tempdir_with_prefix};
#[allow(unused_imports)]
pub use rng::Rng;
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::header::SegmentHeader;
use wal_recovery::segment::{naming, record};
use wal_recovery::{Manager, Next, RecoveryMode, RecoveryOptions};

/// The payload of event `id`: 0–299 bytes derived from the id, so every suite and every child
/// process agrees on it.
pub fn payload(id: u64) -> Vec<u8> {
    let len = (id.wrapping_mul(2_654_435_761) % 300) as usize;
    (0..len)
        .map(|i| (id as u8).wrapping_mul(31).wrapping_add(i as u8) ^ 0x5A)
        .collect()
}

pub fn follow_opts(mode: RecoveryMode) -> RecoveryOptions {
    RecoveryOptions {
        follow: true,
        mode,
        ..RecoveryOptions::default()
    }
}

/// Follows until every id up to `last` (inclusive) is delivered, checking that ids continue
/// `*next` exactly and that every payload is [`payload`]. Panics after `limit`.
pub fn follow_to(m: &mut Manager, next: &mut u64, last: u64, limit: Duration, ctx: &str) {
    let deadline = Instant::now() + limit;
    while *next <= last {
        match m.next_timeout(Duration::from_millis(50)) {
            Ok(Next::Event(e)) => {
                assert_eq!(e.id, *next, "{ctx}: ids must continue exactly");
                assert_eq!(
                    e.payload,
                    payload(e.id).as_slice(),
                    "{ctx}: payload of id {}",
                    e.id
                );
                *next += 1;
            }
            Ok(Next::Pending) => assert!(
                Instant::now() < deadline,
                "{ctx}: still waiting for id {} of {last} after {limit:?}",
                *next
            ),
            Ok(Next::End) => panic!("{ctx}: follow mode ended at id {}", *next),
            Err(e) => panic!("{ctx}: error at id {}: {e}", *next),
        }
    }
}

/// Asserts that nothing is delivered for `dur` (polling all along).
pub fn assert_pending_for(m: &mut Manager, dur: Duration, ctx: &str) {
    let until = Instant::now() + dur;
    while Instant::now() < until {
        match m.next_timeout(Duration::from_millis(5)) {
            Ok(Next::Pending) => {}
            Ok(Next::Event(e)) => panic!("{ctx}: delivered id {} that should not be visible", e.id),
            Ok(Next::End) => panic!("{ctx}: ended"),
            Err(e) => panic!("{ctx}: error: {e}"),
        }
    }
}

/// A segment written by hand, block by block.
pub struct RawSegment {
    pub path: PathBuf,
    pub header: SegmentHeader,
    pub blocks: u32,
    pub next_id: u64,
    pub chain: u32,
}

impl RawSegment {
    /// Creates segment `seq` (unsealed) in `dir`, starting at `first` after chain `prev_chain`.
    pub fn create(dir: &Path, seq: u64, first: u64, prev_chain: u32) -> Self {
        fs::create_dir_all(dir).expect("create log dir");
        let header =
            SegmentHeader::new_open(seq, first, prev_chain, 1_700_000_000_000_000_000 + seq);
        let path = dir.join(naming::file_name(seq));
        let tmp = path.with_extension("wal.tmp");
        fs::write(&tmp, header.encode()).expect("write segment header");
        fs::rename(&tmp, &path).expect("rename segment into place");
        RawSegment {
            path,
            header,
            blocks: 0,
            next_id: first,
            chain: prev_chain,
        }
    }

    /// The bytes of the next block, holding the events `count` ids from `next_id` with their
    /// [`payload`]s (not appended; the segment's state is advanced).
    pub fn next_block(&mut self, count: u32) -> Vec<u8> {
        let mut body = Vec::new();
        for k in 0..u64::from(count) {
            record::encode_into(&mut body, &payload(self.next_id + k));
        }
        let h = BlockHeader::for_payload(self.blocks, self.next_id, count, &body, self.chain);
        let mut out = h.encode().to_vec();
        out.extend_from_slice(&body);
        out.resize(out.len().next_multiple_of(64), 0);
        self.blocks += 1;
        self.next_id += u64::from(count);
        self.chain = h.chain;
        out
    }

    pub fn append(&self, bytes: &[u8]) {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .expect("open segment for append");
        f.write_all(bytes).expect("append to segment");
    }

    /// Rewrites the header as sealed with the totals of the blocks made so far.
    pub fn seal(&self) {
        let count = self.next_id - self.header.first_event_id;
        let sealed = SegmentHeader {
            sealed: true,
            block_count: self.blocks,
            last_event_id: self.header.first_event_id + count - 1,
            event_count: count,
            last_chain: self.chain,
            ..self.header
        };
        let f = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .expect("open segment to seal");
        f.write_all_at(&sealed.encode(), 0).expect("seal segment");
    }
}
