//! The four-way XXH64 (`flashstrike::xxh64_x4`, AVX-512 where the CPU has it) against the
//! `xxhash-rust` crate: four random inputs of every length from 0 to past a few stripes, of
//! FlashStrike's block payload sizes, at odd alignments, with random and extreme seeds, and
//! inputs of unequal lengths (hashed one by one). A wrong lane layout, rotation, multiply or
//! tail would show as a mismatch. And the variant that checks record ids in the same pass
//! (`xxh64_x4_records`): the same hashes, and every wrong id found, whatever its input,
//! record and bit.

use wal_recovery::flashstrike::xxh64_x4::{four_way_available, xxh64_x4, xxh64_x4_records};
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

/// Four inputs of `n` random 64-byte records whose first 8 bytes are their ids.
fn records(r: &mut Rng, n: usize, first_ids: [u64; 4]) -> [Vec<u8>; 4] {
    std::array::from_fn(|k| {
        let mut v: Vec<u8> = (0..n * 64).map(|_| r.next_u64() as u8).collect();
        for (i, rec) in v.chunks_exact_mut(64).enumerate() {
            rec[..8].copy_from_slice(&(first_ids[k] + i as u64).to_le_bytes());
        }
        v
    })
}

/// `xxh64_x4_records` on `inputs`: the crate's hashes and `ids_ok`, where the four-way path
/// runs; `None` where it does not.
fn check_records(inputs: &[Vec<u8>; 4], seeds: [u64; 4], first_ids: [u64; 4], ids_ok: bool) {
    let refs: [&[u8]; 4] = std::array::from_fn(|k| inputs[k].as_slice());
    match xxh64_x4_records(refs, seeds, first_ids) {
        None => assert!(!four_way_available(), "declined on a CPU that has the path"),
        Some((hashes, ok)) => {
            for k in 0..4 {
                assert_eq!(hashes[k], xxh64(refs[k], seeds[k]), "input {k}");
            }
            assert_eq!(ok, ids_ok);
        }
    }
}

#[test]
fn records_with_ids_hash_like_the_crate_and_every_wrong_id_is_found() {
    let mut r = Rng::new(9);
    let first_ids = [1, 257, 1u64 << 40, u64::MAX - 300];
    let seeds = [r.next_u64(), 0, u64::MAX, 7];
    for n in [1usize, 2, 3, 44, 255, 256] {
        let clean = records(&mut r, n, first_ids);
        check_records(&clean, seeds, first_ids, true);
        // Any record of any input, any bit of its id.
        for k in 0..4 {
            let mut positions = vec![0, 1, n / 2, n - 1];
            positions.retain(|&p| p < n);
            positions.dedup();
            for rec in positions {
                for bit in [0, 7, 8, 31, 63] {
                    let mut bad = clean.clone();
                    bad[k][rec * 64 + bit / 8] ^= 1 << (bit % 8);
                    check_records(&bad, seeds, first_ids, false);
                }
                // Bytes that are not the id (the rest of the first stripe, the second stripe's
                // first 8 bytes) change the hash, not the id check.
                for off in [8, 31, 32, 39, 63] {
                    let mut other = clean.clone();
                    other[k][rec * 64 + off] ^= 0x40;
                    check_records(&other, seeds, first_ids, true);
                }
            }
        }
        // Ids counted from another first id.
        let mut shifted = first_ids;
        shifted[2] += 1;
        check_records(&clean, seeds, shifted, false);
    }
}

#[test]
fn the_records_path_declines_what_it_does_not_cover() {
    let buf = vec![0u8; 4096];
    for (a, b) in [(64, 128), (100, 100), (32, 32), (0, 0)] {
        assert_eq!(
            xxh64_x4_records([&buf[..a], &buf[..b], &buf[..a], &buf[..a]], [0; 4], [0; 4]),
            None,
            "lengths {a} and {b}"
        );
    }
}
