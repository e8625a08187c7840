//! Payload checksums of one segment, shared between the replay thread and the preloader.
//!
//! Verifying a segment is mostly CRC32C over its payload bytes; everything else (block
//! headers, chain, ids, lengths) is checked by a cheap walk over the block headers. The CRCs of
//! different blocks are independent, so the two threads split them: the replay thread verifies
//! each block from the **front** just before reading it (its bytes are then cache-hot for the
//! replay), and the preloader verifies from the **back** whenever it has nothing more urgent
//! to do. One atomic word holds the unclaimed range `[front, back)`; each side claims a block
//! with a compare-and-swap, so every block is checked exactly once, and the result is published
//! per block with release/acquire ordering. A block is never read before its check passed.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use memmap2::Mmap;

use super::telemetry::now_ns;

const PENDING: u8 = 0;
const OK: u8 = 1;
const BAD: u8 = 2;

/// One block's payload: where it is and the CRC its header promises.
#[derive(Clone, Copy, Debug)]
pub struct PayloadBlock {
    /// File offset of the first payload byte.
    pub start: usize,
    /// File offset one past the last payload byte.
    pub end: usize,
    /// CRC32C stored in the block header.
    pub crc: u32,
}

/// The outcome of a block's payload check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// The payload matches its CRC.
    Ok,
    /// It does not: the valid prefix ends before this block.
    Bad,
}

/// A value alone on its cache line, so that one thread's writes to it do not invalidate the
/// line holding another thread's data (false sharing).
#[derive(Debug)]
#[repr(align(64))]
struct Line<T>(T);

/// Which thread checks a block: it decides which time counter the check adds to, so that each
/// thread writes only its own cache line.
#[derive(Clone, Copy)]
enum Side {
    Front,
    Back,
}

/// Payload checks of one segment; see the module docs.
#[derive(Debug)]
pub struct PayloadChecks {
    // Read-only after construction, read by both threads.
    map: Arc<Mmap>,
    blocks: Vec<PayloadBlock>,
    state: Vec<AtomicU8>,
    /// `front << 32 | back`: blocks `front..back` are not claimed by anyone. Both threads
    /// compare-and-swap it once per block; its own line keeps that off the fields above.
    range: Line<AtomicU64>,
    /// Nanoseconds of CRC computed from the front (mostly the replay thread) and the back
    /// (the preloader), each on its own line.
    ns_front: Line<AtomicU64>,
    ns_back: Line<AtomicU64>,
}

fn pack(front: u32, back: u32) -> u64 {
    (u64::from(front) << 32) | u64::from(back)
}

fn unpack(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

impl PayloadChecks {
    /// Checks for `blocks` (at most `u32::MAX`, which block indexes guarantee) of `map`.
    pub fn new(map: Arc<Mmap>, blocks: Vec<PayloadBlock>) -> Self {
        let n = u32::try_from(blocks.len()).unwrap_or(u32::MAX);
        let state = (0..blocks.len()).map(|_| AtomicU8::new(PENDING)).collect();
        PayloadChecks {
            map,
            blocks,
            state,
            range: Line(AtomicU64::new(pack(0, n))),
            ns_front: Line(AtomicU64::new(0)),
            ns_back: Line(AtomicU64::new(0)),
        }
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The CRC block `i`'s header promises (0 for an unknown block).
    pub fn stored_crc(&self, i: usize) -> u32 {
        self.blocks.get(i).map_or(0, |b| b.crc)
    }

    /// Total nanoseconds spent computing CRCs, on both threads.
    pub fn ns(&self) -> u64 {
        self.ns_front.0.load(Ordering::Relaxed) + self.ns_back.0.load(Ordering::Relaxed)
    }

    /// Block `i`'s outcome if its check has finished, without claiming or waiting.
    pub fn outcome(&self, i: usize) -> Option<Checked> {
        match self.state.get(i)?.load(Ordering::Acquire) {
            OK => Some(Checked::Ok),
            BAD => Some(Checked::Bad),
            _ => None,
        }
    }

    /// Whether some block is still unclaimed.
    pub fn has_unclaimed(&self) -> bool {
        let (f, b) = unpack(self.range.0.load(Ordering::Acquire));
        f < b
    }

    fn check(&self, i: usize, side: Side) -> Checked {
        let start = now_ns();
        let ok = match (self.blocks.get(i), self.state.get(i)) {
            (Some(b), Some(st)) => {
                let ok = self
                    .map
                    .get(b.start..b.end)
                    .is_some_and(|p| crc32c::crc32c(p) == b.crc);
                st.store(if ok { OK } else { BAD }, Ordering::Release);
                ok
            }
            _ => false,
        };
        let ns = match side {
            Side::Front => &self.ns_front.0,
            Side::Back => &self.ns_back.0,
        };
        ns.fetch_add(now_ns().saturating_sub(start), Ordering::Relaxed);
        if ok {
            Checked::Ok
        } else {
            Checked::Bad
        }
    }

    /// The preloader's side: claims the last unclaimed block and checks it. `false` when
    /// nothing is left to claim.
    pub fn check_one_from_back(&self) -> bool {
        let mut cur = self.range.0.load(Ordering::Acquire);
        loop {
            let (f, b) = unpack(cur);
            if f >= b {
                return false;
            }
            match self.range.0.compare_exchange_weak(
                cur,
                pack(f, b - 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.check((b - 1) as usize, Side::Back);
                    return true;
                }
                Err(v) => cur = v,
            }
        }
    }

    /// The replay thread's side: block `i`'s outcome, checking it here if nobody has claimed
    /// it, or waiting for the preloader if it is checking it right now (one block's CRC).
    /// Blocks are asked for in order from 0 (the preloader may ask for block 0 first).
    pub fn ensure(&self, i: usize) -> Checked {
        let Some(st) = self.state.get(i) else {
            return Checked::Bad;
        };
        let mut spins = 0u32;
        loop {
            match st.load(Ordering::Acquire) {
                OK => return Checked::Ok,
                BAD => return Checked::Bad,
                _ => {}
            }
            let cur = self.range.0.load(Ordering::Acquire);
            let (f, b) = unpack(cur);
            if f as usize == i && f < b {
                if self
                    .range
                    .0
                    .compare_exchange(cur, pack(f + 1, b), Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return self.check(i, Side::Front);
                }
                continue;
            }
            if f as usize <= i && (i as u64) < u64::from(b) {
                // Not yet reachable from the front (blocks before it are unclaimed): claim in
                // order. Only happens if a caller skipped blocks; check them on the way.
                if f < b
                    && self
                        .range
                        .0
                        .compare_exchange(cur, pack(f + 1, b), Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    self.check(f as usize, Side::Front);
                }
                continue;
            }
            // Claimed by the preloader, being checked: at most one block's CRC away.
            spins += 1;
            if spins < 1024 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}
