//! Payload checksums of one segment, shared between the replay thread and the preloader.
//!
//! Verifying a segment is mostly hashing its payload bytes (CRC32C for the native format, the
//! chained XXH64 for FlashStrike — [`format::check_payload`]); everything else (block
//! headers, ids, lengths) is checked by a cheap walk over the block headers. The checks of
//! different blocks are independent (a FlashStrike block's chained hash is seeded with the
//! previous block's *stored* value, which the header walk read), so the two threads split them, and both take the **first
//! unclaimed block**: the replay thread the block it is about to read (its bytes are then in
//! its own cache), the preloader the next one whenever it has nothing more urgent to do. So the
//! preloader works just ahead of the replay, and the replay reads the blocks it checked while
//! they are still in the L3 cache — when the two cores share one: a core reads a block another
//! core has just streamed through 2.5–3x faster than from memory then, but *slower* than from
//! memory when the host placed the two vCPUs on two L3s (`bench/c/cache_share.c`, BENCHMARKS.md,
//! "Where the time goes"). It used to check from the back of the segment, whose
//! bytes the replay then read from memory a second time; claiming in order made replay 8–13 %
//! faster (wal-bench and `replay_throughput`, side by side; BENCHMARKS.md).
//! When the block the replay needs is being checked by the preloader, the replay checks the
//! next unclaimed block meanwhile instead of waiting. A claim takes a *group* of consecutive
//! blocks ([`format::check_group`]): one native block, four FlashStrike blocks, whose chained
//! XXH64s are computed together four times as fast as one after another.
//!
//! The preloader stays at most [`LEAD_BYTES`] of payload ahead of the block the replay last
//! asked for: further ahead, the blocks it checks leave the caches before the replay reads them
//! (a 64 MiB segment is twice the L3), and the replay — whose per-event step is a load of the
//! record — reads them from memory a second time. Measured on a 20 M x 64 B native log
//! (`examples/replay_dir.rs`, alternated rounds): with the bound switched by an environment
//! variable, 218 M events/s unbounded, 305 / 324 / 293 / 278 with 2 / 4 / 8 / 16 MiB (11
//! rounds); the commit before this bound against this one, 210 against 323 (13 rounds). (It
//! was tried before the per-event step lost half its instructions, when it did not pay: the
//! replay was then bound by instructions, not by where the record is.)
//!
//! One atomic counter holds the first unclaimed block; a claim is a compare-and-swap that
//! advances it, so blocks are claimed in order and each is checked exactly once, and the result
//! is published per block with release/acquire ordering. A block is never read before its check
//! passed.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use super::format::{self, Format, PayloadBlock};
use memmap2::Mmap;

use super::telemetry::now_ns;

/// Most blocks one claim takes.
const MAX_GROUP: usize = 4;

/// How far (payload bytes) the preloader checks ahead of the block the replay last asked for;
/// see the module docs.
pub const LEAD_BYTES: usize = 4 << 20;

/// What [`PayloadChecks::check_next`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextCheck {
    /// It checked the first unclaimed blocks.
    Checked,
    /// Nothing: the first unclaimed block is [`LEAD_BYTES`] ahead of the replay (try again
    /// soon; later segments are further ahead still).
    AheadOfReplay,
    /// Nothing: every block is claimed.
    NothingLeft,
}

const PENDING: u8 = 0;
const OK: u8 = 1;
const BAD: u8 = 2;

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

/// Which side checks a block: it decides which time counter the check adds to, so that each
/// thread writes only its own cache line.
#[derive(Clone, Copy)]
enum Side {
    /// [`PayloadChecks::ensure`]: the replay thread (and the preloader once per segment, for
    /// block 0 while preparing it).
    Reader,
    /// [`PayloadChecks::check_next`]: the preloader.
    Preloader,
}

/// Payload checks of one segment; see the module docs.
#[derive(Debug)]
pub struct PayloadChecks {
    // Read-only after construction, read by both threads.
    map: Arc<Mmap>,
    format: Format,
    blocks: Vec<PayloadBlock>,
    state: Vec<AtomicU8>,
    /// Number of blocks (block indexes fit in `u32`).
    n: u32,
    /// Blocks claimed and checked together ([`format::check_group`], at most [`MAX_GROUP`]).
    group: u32,
    /// The first unclaimed block: blocks before it are claimed (checked or being checked).
    /// Both threads compare-and-swap it once per block; its own line keeps that off the fields
    /// above.
    next: Line<AtomicU32>,
    /// The block the replay thread last asked for ([`Self::ensure`]): the preloader's lead is
    /// measured from it. Written by the replay thread only.
    reader_at: Line<AtomicU32>,
    /// [`LEAD_BYTES`] (smaller in tests).
    lead_bytes: usize,
    /// Nanoseconds of CRC computed by each side, each on its own line.
    ns_reader: Line<AtomicU64>,
    ns_preloader: Line<AtomicU64>,
}

impl PayloadChecks {
    /// Checks for `blocks` (at most `u32::MAX`, which block indexes guarantee) of `map`, a
    /// segment of `format`.
    pub fn new(map: Arc<Mmap>, format: Format, blocks: Vec<PayloadBlock>) -> Self {
        let n = u32::try_from(blocks.len()).unwrap_or(u32::MAX);
        let state = (0..blocks.len()).map(|_| AtomicU8::new(PENDING)).collect();
        PayloadChecks {
            map,
            format,
            blocks,
            state,
            n,
            group: format::check_group(format).clamp(1, MAX_GROUP) as u32,
            next: Line(AtomicU32::new(0)),
            reader_at: Line(AtomicU32::new(0)),
            lead_bytes: LEAD_BYTES,
            ns_reader: Line(AtomicU64::new(0)),
            ns_preloader: Line(AtomicU64::new(0)),
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

    /// Block `i`'s payload and what its header promises.
    pub fn block(&self, i: usize) -> Option<PayloadBlock> {
        self.blocks.get(i).copied()
    }

    /// Total nanoseconds spent computing CRCs, on both threads.
    pub fn ns(&self) -> u64 {
        self.ns_reader.0.load(Ordering::Relaxed) + self.ns_preloader.0.load(Ordering::Relaxed)
    }

    /// Block `i`'s outcome if its check has finished, without claiming or waiting (for the
    /// tests: the library asks through [`Self::ensure`], which claims or waits as needed).
    #[cfg(test)]
    fn outcome(&self, i: usize) -> Option<Checked> {
        match self.state.get(i)?.load(Ordering::Acquire) {
            OK => Some(Checked::Ok),
            BAD => Some(Checked::Bad),
            _ => None,
        }
    }

    /// Whether some block is still unclaimed.
    pub fn has_unclaimed(&self) -> bool {
        self.next.0.load(Ordering::Acquire) < self.n
    }

    /// Claims the first unclaimed blocks — up to a group of them, `[first, end)` — if any.
    fn claim(&self) -> Option<(usize, usize)> {
        self.next
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |k| {
                (k < self.n).then(|| k.saturating_add(self.group).min(self.n))
            })
            .ok()
            .map(|k| {
                (
                    k as usize,
                    (k.saturating_add(self.group).min(self.n)) as usize,
                )
            })
    }

    /// Checks the claimed blocks `[first, end)` and publishes each outcome.
    fn check(&self, first: usize, end: usize, side: Side) {
        let start = now_ns();
        let mut ok = [false; MAX_GROUP];
        let m = end.saturating_sub(first).min(MAX_GROUP);
        if let Some(blocks) = self.blocks.get(first..first + m) {
            format::check_payloads(self.format, &self.map, blocks, &mut ok[..m]);
        }
        for (j, passed) in ok.iter().take(m).enumerate() {
            if let Some(st) = self.state.get(first + j) {
                st.store(if *passed { OK } else { BAD }, Ordering::Release);
            }
        }
        let ns = match side {
            Side::Reader => &self.ns_reader.0,
            Side::Preloader => &self.ns_preloader.0,
        };
        ns.fetch_add(now_ns().saturating_sub(start), Ordering::Relaxed);
    }

    /// The preloader's side: claims the first unclaimed blocks (a group) and checks them,
    /// unless they are [`LEAD_BYTES`] ahead of the replay.
    pub fn check_next(&self) -> NextCheck {
        let next = self.next.0.load(Ordering::Acquire) as usize;
        let at = self.reader_at.0.load(Ordering::Relaxed) as usize;
        if let (Some(n), Some(a)) = (self.blocks.get(next), self.blocks.get(at)) {
            if n.start.saturating_sub(a.start) >= self.lead_bytes {
                return NextCheck::AheadOfReplay;
            }
        }
        match self.claim() {
            Some((first, end)) => {
                self.check(first, end, Side::Preloader);
                NextCheck::Checked
            }
            None => NextCheck::NothingLeft,
        }
    }

    /// The replay thread's side: block `i`'s outcome, checking it here if nobody has claimed
    /// it. If the preloader is checking it right now, checks the next unclaimed block
    /// meanwhile, or, with none left, waits (at most one block's CRC). Blocks are asked for in
    /// order from 0 (the preloader asks for block 0 first, while preparing the segment).
    pub fn ensure(&self, i: usize) -> Checked {
        let Some(st) = self.state.get(i) else {
            return Checked::Bad;
        };
        // `i` < `n`, which fits in u32.
        self.reader_at.0.store(i as u32, Ordering::Relaxed);
        let mut spins = 0u32;
        loop {
            match st.load(Ordering::Acquire) {
                OK => return Checked::Ok,
                BAD => return Checked::Bad,
                _ => {}
            }
            // Claims are made in order, so the group claimed here holds `i` itself, or blocks
            // before it (only if a caller skipped blocks: checked on the way), or — when the
            // preloader holds `i` — later ones, checked meanwhile. The loop then reads `i`'s
            // published outcome.
            match self.claim() {
                Some((first, end)) => self.check(first, end, Side::Reader),
                None => {
                    // Everything is claimed and `i` is being checked: one group's check at most.
                    spins += 1;
                    if spins < 1024 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::checksum;

    const BLOCK: usize = 4096;

    /// `n` blocks of `BLOCK` bytes, each filled with its index; the CRC of block `bad` (if any)
    /// is wrong.
    fn checks(n: usize, bad: Option<usize>) -> PayloadChecks {
        let mut m = memmap2::MmapMut::map_anon(n * BLOCK).unwrap();
        for (k, chunk) in m.chunks_mut(BLOCK).enumerate() {
            chunk.fill(k as u8);
        }
        let map = Arc::new(m.make_read_only().unwrap());
        let blocks = (0..n)
            .map(|k| {
                let (start, end) = (k * BLOCK, (k + 1) * BLOCK);
                let crc = checksum::crc32c(&map[start..end]) ^ u32::from(bad == Some(k));
                PayloadBlock {
                    start,
                    end,
                    slots_end: end,
                    first_id: 1,
                    seed: 0,
                    expect: u64::from(crc),
                }
            })
            .collect();
        PayloadChecks::new(map, Format::Native, blocks)
    }

    #[test]
    fn reader_and_preloader_share_the_blocks_and_agree_on_every_outcome() {
        for bad in [None, Some(0), Some(17), Some(63)] {
            let c = Arc::new(checks(64, bad));
            let worker = {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    let mut n = 0;
                    loop {
                        match c.check_next() {
                            NextCheck::Checked => n += 1,
                            NextCheck::AheadOfReplay => std::thread::yield_now(),
                            NextCheck::NothingLeft => break n,
                        }
                    }
                })
            };
            let seen: Vec<Checked> = (0..64).map(|i| c.ensure(i)).collect();
            let by_worker = worker.join().unwrap();
            for (i, outcome) in seen.iter().enumerate() {
                let want = if bad == Some(i) {
                    Checked::Bad
                } else {
                    Checked::Ok
                };
                assert_eq!(*outcome, want, "block {i}, bad {bad:?}");
                assert_eq!(c.outcome(i), Some(want));
            }
            assert!(!c.has_unclaimed());
            assert!(by_worker <= 64);
            assert_eq!(c.ensure(64), Checked::Bad, "no such block");
        }
    }

    #[test]
    fn reader_checks_later_blocks_while_the_preloader_holds_the_one_it_needs() {
        let c = Arc::new(checks(8, Some(5)));
        // The preloader has claimed block 0 and not finished it.
        assert_eq!(
            c.claim(),
            Some((0, 1)),
            "native blocks are claimed one at a time"
        );
        let reader = {
            let c = Arc::clone(&c);
            std::thread::spawn(move || c.ensure(0))
        };
        // Meanwhile the reader claims and checks every other block, then waits for block 0.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while c.has_unclaimed() || (1..8).any(|i| c.outcome(i).is_none()) {
            assert!(
                std::time::Instant::now() < deadline,
                "the reader did not check blocks 1..8 while block 0 was held"
            );
            std::thread::yield_now();
        }
        assert!(!reader.is_finished(), "block 0 is not checked yet");
        assert_eq!(c.outcome(0), None);
        c.check(0, 1, Side::Preloader);
        assert_eq!(reader.join().unwrap(), Checked::Ok);
        let outcomes: Vec<_> = (0..8).map(|i| c.outcome(i)).collect();
        let mut want = vec![Some(Checked::Ok); 8];
        want[5] = Some(Checked::Bad);
        assert_eq!(outcomes, want);
        assert_eq!(c.check_next(), NextCheck::NothingLeft);
    }

    #[test]
    fn the_preloader_stays_within_its_lead_of_the_replay() {
        let mut c = checks(16, None);
        c.lead_bytes = 3 * BLOCK;
        // Blocks 0, 1, 2 are within three blocks of block 0, where the replay starts.
        for _ in 0..3 {
            assert_eq!(c.check_next(), NextCheck::Checked);
        }
        assert_eq!(c.check_next(), NextCheck::AheadOfReplay);
        assert_eq!(c.outcome(3), None, "block 3 is not checked");
        // The replay reads block 1: the preloader may go on to block 3, not 4.
        assert_eq!(c.ensure(1), Checked::Ok);
        assert_eq!(c.check_next(), NextCheck::Checked);
        assert_eq!(c.check_next(), NextCheck::AheadOfReplay);
        // The replay reaches block 6, checking 4, 5 and 6 itself on the way.
        assert_eq!(c.ensure(6), Checked::Ok);
        for i in 0..7 {
            assert_eq!(c.outcome(i), Some(Checked::Ok), "block {i}");
        }
        let mut checked = 0;
        while c.check_next() == NextCheck::Checked {
            checked += 1;
        }
        assert_eq!(checked, 2, "blocks 7 and 8, within three blocks of 6");
        assert_eq!(c.ensure(15), Checked::Ok);
        assert_eq!(c.check_next(), NextCheck::NothingLeft);
    }
}
