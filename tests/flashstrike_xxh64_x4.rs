//! The four-way XXH64 (`flashstrike::xxh64_x4`, AVX-512 where the CPU has it) against the
//! `xxhash-rust` crate: four random inputs of every length from 0 to past a few stripes, of
//! FlashStrike's block payload sizes, at odd alignments, with random and extreme seeds, and
//! inputs of unequal lengths (hashed one by one). A wrong lane layout, rotation, multiply or
//! tail would show as a mismatch.

use wal_recovery::flashstrike::xxh64_x4::{four_way_available, xxh64_x4};
use xxhash_rust::xxh64::xxh64;

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

fn check(inputs: [&[u8]; 4], seeds: [u64; 4]) {
    let got = xxh64_x4(inputs, seeds);
    for k in 0..4 {
        assert_eq!(
            got[k],
            xxh64(inputs[k], seeds[k]),
            "input {k}: {} bytes, seed {:#x}",
            inputs[k].len(),
            seeds[k]
        );
    }
}

#[test]
fn four_equal_lengths_match_the_crate() {
    let mut r = Rng::new(7);
    let buf: Vec<u8> = (0..4 * 20_000).map(|_| r.next_u64() as u8).collect();
    let quarter = buf.len() / 4;
    let max = if cfg!(miri) { 80 } else { 600 };
    let mut lengths: Vec<usize> = (0..=max).collect();
    if !cfg!(miri) {
        lengths.extend([64, 16_384 - 64, 16_384, 16_384 + 7, 256 * 64]);
    }
    for len in lengths {
        let off = (len * 13) % 7; // odd alignments
        let inputs: [&[u8]; 4] =
            std::array::from_fn(|k| &buf[k * quarter + off..k * quarter + off + len]);
        let seeds = [r.next_u64(), 0, u64::MAX, r.next_u64()];
        check(inputs, seeds);
    }
}

#[test]
fn unequal_lengths_are_hashed_one_by_one() {
    let mut r = Rng::new(8);
    let buf: Vec<u8> = (0..4096).map(|_| r.next_u64() as u8).collect();
    for (a, b) in [(32, 33), (0, 64), (1000, 999), (64, 16)] {
        check([&buf[..a], &buf[..b], &buf[..a], &buf[..a]], [1, 2, 3, 4]);
        check([&buf[..a], &buf[..a], &buf[..a], &buf[..b]], [1, 2, 3, 4]);
    }
}

#[test]
fn four_way_path_is_chosen_at_run_time() {
    #[cfg(target_arch = "x86_64")]
    {
        let cpu = !cfg!(miri)
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl");
        assert_eq!(four_way_available(), cpu);
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert!(!four_way_available());
}
