//! Cache hints for the segment switch.
//!
//! Replay streams each 64 MiB segment through the caches, which evicts everything the segment
//! switch needs: its data, and its *code* — the switch runs once per segment, so its
//! instructions come back from memory each time. Measured (`walrec bench`-style timing of the
//! crossing `next()`, 30 M x 64 B, 64 MiB segments): the manager's switch took ~0.76 µs on
//! average with its code cold and ~0.3 µs with its code prefetched while the segment's last
//! block was read. The manager's look-ahead therefore asks the CPU to bring both back.
//!
//! A prefetch is a hint: it never faults, never reads into a register and has no effect on
//! program state, whatever the address — so the only `unsafe` here is calling the intrinsic,
//! and callers pass plain addresses. On targets other than x86_64 these are no-ops.

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
#[inline]
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
