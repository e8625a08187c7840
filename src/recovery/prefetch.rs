//! Cache hints: for the segment switch, and for the replay's reads ahead of its cursor.
//!
//! Replay streams each 64 MiB segment through the caches, which evicts everything the segment
//! switch needs: its data, and its *code* — the switch runs once per segment, so its
//! instructions come back from memory each time. Measured (`walrec bench`-style timing of the
//! crossing `next()`, 30 M x 64 B, 64 MiB segments): the manager's switch took ~0.76 µs on
//! average with its code cold and ~0.3 µs with its code prefetched while the segment's last
//! block was read. The manager's look-ahead therefore asks the CPU to bring both back.
//!
//! The per-event step asks for the line [`READ_AHEAD_BYTES`] past the record it delivers
//! ([`read_ahead`]). The replay's step is a load of the record, and it waits on it whenever the
//! record is not in a near cache: when the replay thread checks a block itself (the preloader
//! starved by a busy core, or behind), its checksum pass reads the block from memory and stalls
//! on every line the hardware prefetcher has not brought yet; when the vCPUs sit on two L3s
//! (BENCHMARKS.md, "Where the time goes"), the lines the preloader checked come from the other
//! L3, slower than from memory. Asked for three 64 KiB blocks ahead, the lines are near by the
//! time the block is checked and read. Measured (`examples/replay_dir.rs`, 20 M x 64 B native
//! log, variants alternated in 4–6 rounds, 2026-12-04), first with the distance switched by an
//! environment variable in a scratch build: one shared L3 344–405 M events/s without, 390–458
//! with 128–256 KiB; two L3s 327–354 without, 371–409 with; one core kept busy 213–271
//! without, 268–323 with; the replay checking every block itself 255–258 without, 298–337
//! with 64–256 KiB. 32 KiB was too short (no gain), 512 KiB too far. Then this build against
//! the one before (`next()` and `--batch`, 5 rounds): 317–390 → 410–465 in most rounds, and
//! with a CPU hog (4 rounds) 231–282 → 275–315.
//!
//! A prefetch is a hint: it never faults, never reads into a register and has no effect on
//! program state, whatever the address — so the only `unsafe` here is calling the intrinsic,
//! and callers pass plain addresses (past the end of a mapping, or into a file's hole, it does
//! nothing: a prefetch does not fault a page in). On targets other than x86_64 these are
//! no-ops.

/// How far ahead of the record it delivers the replay asks for the next lines
/// ([`read_ahead`]); also the C header's `WAL_RECOVERY_READ_AHEAD`, used by
/// `wal_recovery_next_hot`.
pub const READ_AHEAD_BYTES: usize = 192 << 10;

/// Bytes in a cache line.
const LINE: usize = 64;

/// Asks for the `lines` cache lines from `addr` on to be brought into L2 (for code: the
/// instruction fetch then finds them there).
#[inline]
pub fn code(addr: usize, lines: usize) {
    for k in 0..lines {
        hint_l2(addr.wrapping_add(k * LINE));
    }
}

/// Asks for the cache line holding `addr` to be brought into L1 (and its page translation into
/// the TLB).
#[inline(always)]
pub fn data(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline; PREFETCHT0 is a hint that never faults and
    // has no architectural effect, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Asks for the line [`READ_AHEAD_BYTES`] past offset `at` of `bytes` (where the replay's next
/// record starts) to be brought into L1: see the module docs. Only the address is computed;
/// nothing past `bytes` is read.
#[inline(always)]
pub fn read_ahead(bytes: &[u8], at: usize) {
    data(
        (bytes.as_ptr() as usize)
            .wrapping_add(at)
            .wrapping_add(READ_AHEAD_BYTES),
    );
}

#[inline]
fn hint_l2(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `data`: PREFETCHT1 never faults and has no architectural effect.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}
