//! XXH64 of four equally long inputs at once, each with its own seed: the chained checksums of
//! four consecutive FlashStrike blocks, which are independent once their seeds (the previous
//! blocks' *stored* chained values) are known from the block headers.
//!
//! Why: one XXH64 stream is bound by its multiplier: two 64-bit multiplies per 8 input bytes,
//! one multiply per cycle, about 13 GB/s on this machine — slower than memory, and a quarter of
//! a FlashStrike replay's samples. The four accumulators of one stream depend on the previous
//! stripe, so SIMD gains nothing within one input; across inputs it does: with AVX-512
//! (`vpmullq` multiplies eight 64-bit lanes) the accumulators of four inputs live in two
//! registers and one stripe of all four costs four multiply instructions instead of 32
//! scalar multiplies.
//!
//! [`xxh64_x4_records`] also checks, in the same pass, that every 64-byte record starts with its
//! id (lane 0 of each record's first stripe, compared under a mask): FlashStrike's id check then
//! costs no second pass over the block (it was 8 % of a replay's samples).
//!
//! The results are XXH64 exactly (the algorithm of the xxHash specification; a test checks
//! them against the `xxhash-rust` crate on random inputs and seeds). Where AVX-512 (F, DQ, VL)
//! is not detected at run time, or the inputs differ in length or are shorter than one stripe,
//! each input is hashed by [`super::xxh64`] instead — the same values, one at a time.

use super::{xxh64, EVENT_BYTES};

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// Bytes one round of the four accumulators consumes.
const STRIPE: usize = 32;

/// XXH64 of each input with its seed. Equal lengths of at least one stripe take the four-way
/// path when the CPU has it.
pub fn xxh64_x4(inputs: [&[u8]; 4], seeds: [u64; 4]) -> [u64; 4] {
    let len = inputs[0].len();
    let lanes = (len >= STRIPE && inputs.iter().all(|i| i.len() == len))
        .then(|| simd::lanes(inputs, seeds))
        .flatten();
    if let Some(lanes) = lanes {
        let mut out = [0u64; 4];
        for (k, o) in out.iter_mut().enumerate() {
            *o = finish(lanes[k], inputs[k], len);
        }
        return out;
    }
    [
        xxh64(inputs[0], seeds[0]),
        xxh64(inputs[1], seeds[1]),
        xxh64(inputs[2], seeds[2]),
        xxh64(inputs[3], seeds[3]),
    ]
}

/// [`xxh64_x4`] of four equally long runs of whole 64-byte records, and in the same pass
/// whether every record's first 8 bytes are its id (`first_ids[k]` plus its index in input
/// `k`): the id check then reads no byte a second time. `None` where the four-way path does
/// not apply (no AVX-512, unequal lengths, not whole records): the caller hashes and checks
/// ids separately.
pub fn xxh64_x4_records(
    inputs: [&[u8]; 4],
    seeds: [u64; 4],
    first_ids: [u64; 4],
) -> Option<([u64; 4], bool)> {
    let len = inputs[0].len();
    if len < EVENT_BYTES
        || !len.is_multiple_of(EVENT_BYTES)
        || inputs.iter().any(|i| i.len() != len)
    {
        return None;
    }
    let (lanes, ids_ok) = simd::lanes_with_ids(inputs, seeds, first_ids)?;
    Some((
        std::array::from_fn(|k| finish(lanes[k], inputs[k], len)),
        ids_ok,
    ))
}

/// The initial accumulators for `seed`.
fn start(seed: u64) -> [u64; 4] {
    [
        seed.wrapping_add(P1).wrapping_add(P2),
        seed.wrapping_add(P2),
        seed,
        seed.wrapping_sub(P1),
    ]
}

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge(h: u64, acc: u64) -> u64 {
    (h ^ round(0, acc)).wrapping_mul(P1).wrapping_add(P4)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..)
        .and_then(|s| s.first_chunk::<8>())
        .map_or(0, |a| u64::from_le_bytes(*a))
}

fn u32_at(b: &[u8], off: usize) -> u64 {
    b.get(off..)
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |a| u64::from(u32::from_le_bytes(*a)))
}

/// XXH64's end: converge the accumulators after the whole stripes of `input` (`len >=
/// STRIPE`), mix in the length and the bytes after the last whole stripe, avalanche.
fn finish(acc: [u64; 4], input: &[u8], len: usize) -> u64 {
    let mut h = acc[0]
        .rotate_left(1)
        .wrapping_add(acc[1].rotate_left(7))
        .wrapping_add(acc[2].rotate_left(12))
        .wrapping_add(acc[3].rotate_left(18));
    for a in acc {
        h = merge(h, a);
    }
    h = h.wrapping_add(len as u64);
    let mut off = len - len % STRIPE;
    while off + 8 <= len {
        h = (h ^ round(0, u64_at(input, off)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
        off += 8;
    }
    if off + 4 <= len {
        h = (h ^ u32_at(input, off).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        off += 4;
    }
    for &b in input.get(off..len).unwrap_or(&[]) {
        h = (h ^ u64::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{start, EVENT_BYTES, P1, P2, STRIPE};
    use std::arch::x86_64::{
        __m256i, __m512i, _mm256_loadu_si256, _mm512_add_epi64, _mm512_castsi256_si512,
        _mm512_inserti64x4, _mm512_maskz_xor_epi64, _mm512_mullo_epi64, _mm512_or_si512,
        _mm512_rol_epi64, _mm512_set1_epi64, _mm512_setr_epi64, _mm512_setzero_si512,
        _mm512_test_epi64_mask,
    };

    /// Whether this CPU runs the four-way path (checked at run time, cached by std).
    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }

    /// The accumulators of each input after all its whole stripes (the inputs are equally
    /// long), or `None` where the CPU lacks AVX-512 F, DQ or VL.
    pub fn lanes(inputs: [&[u8]; 4], seeds: [u64; 4]) -> Option<[[u64; 4]; 4]> {
        if !available() {
            return None;
        }
        // SAFETY: just checked: the CPU has AVX-512 F, DQ and VL.
        Some(unsafe { lanes_avx512(inputs, seeds) })
    }

    /// [`lanes`] of whole 64-byte records, and whether every record's first 8 bytes are its
    /// id; `None` where the CPU lacks AVX-512 F, DQ or VL.
    pub fn lanes_with_ids(
        inputs: [&[u8]; 4],
        seeds: [u64; 4],
        first_ids: [u64; 4],
    ) -> Option<([[u64; 4]; 4], bool)> {
        if !available() {
            return None;
        }
        // SAFETY: just checked: the CPU has AVX-512 F, DQ and VL.
        Some(unsafe { lanes_with_ids_avx512(inputs, seeds, first_ids) })
    }

    /// One XXH64 round of the four accumulators of two inputs.
    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn round2(acc: __m512i, data: __m512i, p1: __m512i, p2: __m512i) -> __m512i {
        let acc = _mm512_add_epi64(acc, _mm512_mullo_epi64(data, p2));
        _mm512_mullo_epi64(_mm512_rol_epi64::<31>(acc), p1)
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn lanes_with_ids_avx512(
        inputs: [&[u8]; 4],
        seeds: [u64; 4],
        first_ids: [u64; 4],
    ) -> ([[u64; 4]; 4], bool) {
        let p1 = _mm512_set1_epi64(P1 as i64);
        let p2 = _mm512_set1_epi64(P2 as i64);
        let mut a = accs(start(seeds[0]), start(seeds[1]));
        let mut b = accs(start(seeds[2]), start(seeds[3]));
        // A record's first stripe holds its id in lane 0 (input 0 / 2) and lane 4 (input 1 /
        // 3) of the pair: the expected ids sit there, the other lanes are masked out.
        const ID_LANES: u8 = 0b0001_0001;
        let one = _mm512_setr_epi64(1, 0, 0, 0, 1, 0, 0, 0);
        let ids = |x: u64, y: u64| _mm512_setr_epi64(x as i64, 0, 0, 0, y as i64, 0, 0, 0);
        let mut want_a = ids(first_ids[0], first_ids[1]);
        let mut want_b = ids(first_ids[2], first_ids[3]);
        let mut diff = _mm512_setzero_si512();
        let [r0, r1, r2, r3] = inputs.map(|i| i.chunks_exact(EVENT_BYTES));
        for (((c0, c1), c2), c3) in r0.zip(r1).zip(r2).zip(r3) {
            let halves = [c0, c1, c2, c3].map(|c| c.split_at(STRIPE));
            let first_a = pair(halves[0].0, halves[1].0);
            let first_b = pair(halves[2].0, halves[3].0);
            diff = _mm512_or_si512(diff, _mm512_maskz_xor_epi64(ID_LANES, first_a, want_a));
            diff = _mm512_or_si512(diff, _mm512_maskz_xor_epi64(ID_LANES, first_b, want_b));
            want_a = _mm512_add_epi64(want_a, one);
            want_b = _mm512_add_epi64(want_b, one);
            a = round2(a, first_a, p1, p2);
            b = round2(b, first_b, p1, p2);
            a = round2(a, pair(halves[0].1, halves[1].1), p1, p2);
            b = round2(b, pair(halves[2].1, halves[3].1), p1, p2);
        }
        let ids_ok = _mm512_test_epi64_mask(diff, diff) == 0;
        (unpack(a, b), ids_ok)
    }

    /// The accumulators of the four inputs, out of the two registers.
    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn unpack(a: __m512i, b: __m512i) -> [[u64; 4]; 4] {
        // SAFETY: `__m512i` and `[u64; 8]` are both 64 bytes of plain bits with no invalid
        // values; this only reinterprets them.
        let (a, b): ([u64; 8], [u64; 8]) = unsafe {
            (
                std::mem::transmute::<__m512i, [u64; 8]>(a),
                std::mem::transmute::<__m512i, [u64; 8]>(b),
            )
        };
        [
            [a[0], a[1], a[2], a[3]],
            [a[4], a[5], a[6], a[7]],
            [b[0], b[1], b[2], b[3]],
            [b[4], b[5], b[6], b[7]],
        ]
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn stripe(c: &[u8]) -> __m256i {
        debug_assert_eq!(c.len(), STRIPE);
        // SAFETY: `c` is a whole stripe (32 readable bytes; `chunks_exact` guarantees it) and an
        // unaligned load has no alignment requirement.
        unsafe { _mm256_loadu_si256(c.as_ptr().cast()) }
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn pair(a: &[u8], b: &[u8]) -> __m512i {
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(stripe(a)), stripe(b))
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn accs(x: [u64; 4], y: [u64; 4]) -> __m512i {
        // Lanes are plain 64-bit values: the casts only reinterpret the bits.
        _mm512_setr_epi64(
            x[0] as i64,
            x[1] as i64,
            x[2] as i64,
            x[3] as i64,
            y[0] as i64,
            y[1] as i64,
            y[2] as i64,
            y[3] as i64,
        )
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn lanes_avx512(inputs: [&[u8]; 4], seeds: [u64; 4]) -> [[u64; 4]; 4] {
        let p1 = _mm512_set1_epi64(P1 as i64);
        let p2 = _mm512_set1_epi64(P2 as i64);
        // Inputs 0 and 1 in `a`, 2 and 3 in `b`: four accumulators each.
        let mut a = accs(start(seeds[0]), start(seeds[1]));
        let mut b = accs(start(seeds[2]), start(seeds[3]));
        let s = inputs.map(|i| i.chunks_exact(STRIPE));
        let [s0, s1, s2, s3] = s;
        for (((c0, c1), c2), c3) in s0.zip(s1).zip(s2).zip(s3) {
            a = round2(a, pair(c0, c1), p1, p2);
            b = round2(b, pair(c2, c3), p1, p2);
        }
        unpack(a, b)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    /// No four-way path on this architecture: every input is hashed on its own.
    pub fn available() -> bool {
        false
    }

    pub fn lanes(_: [&[u8]; 4], _: [u64; 4]) -> Option<[[u64; 4]; 4]> {
        None
    }

    pub fn lanes_with_ids(
        _: [&[u8]; 4],
        _: [u64; 4],
        _: [u64; 4],
    ) -> Option<([[u64; 4]; 4], bool)> {
        None
    }
}

/// Whether [`xxh64_x4`] hashes four inputs at once on this CPU.
pub fn four_way_available() -> bool {
    simd::available()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scalar finish over scalar accumulators equals XXH64, so the four-way path's only
    /// new part is the accumulators (checked in `tests/flashstrike_xxh64_x4.rs`).
    #[test]
    fn finish_matches_the_crate_for_every_tail_length() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in STRIPE..data.len() {
            for seed in [0u64, 1, u64::MAX, 0x1234_5678_9abc_def0] {
                let input = &data[..len];
                let mut acc = start(seed);
                for c in input.chunks_exact(STRIPE) {
                    for (k, a) in acc.iter_mut().enumerate() {
                        *a = round(*a, u64_at(c, k * 8));
                    }
                }
                assert_eq!(finish(acc, input, len), xxh64(input, seed), "len {len}");
            }
        }
    }
}
