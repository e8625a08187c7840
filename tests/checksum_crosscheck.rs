//! The CRC32C the library computes (`segment::checksum`, backed by `crc-fast`) against an
//! independent implementation (the `crc32c` crate) on random inputs of every length from 0 to
//! past a few SIMD folds, at every alignment within a cache line, continued (`crc32c_append`)
//! at every split, and on large inputs. A wrong fold, a wrong tail or a wrong continuation in
//! either would show here as a mismatch.
//!
//! The same file runs under Miri (`scripts/miri.sh`), where no SIMD feature is detected at run
//! time: there it checks crc-fast's portable fallback, the path a CPU without CLMUL takes, and
//! asserts that this fallback is the path taken. Natively it asserts that a CPU with the
//! instructions gets the accelerated path — chosen at run time, not from the build machine.

use crc_fast::CrcAlgorithm;
use wal_recovery::segment::checksum::{crc32c, crc32c_append};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// Fewer cases under Miri (it interprets every instruction).
const fn scale(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    (0..len).map(|_| r.next_u64() as u8).collect()
}

#[test]
fn every_length_at_every_alignment() {
    let max_len = scale(1100, 200);
    let aligns = scale(64, 4);
    let buf = random_bytes(1, max_len + aligns);
    for align in 0..aligns {
        for len in 0..=max_len {
            let bytes = &buf[align..align + len];
            assert_eq!(
                crc32c(bytes),
                crc32c::crc32c(bytes),
                "length {len} at alignment {align}"
            );
        }
    }
}

#[test]
fn append_continues_at_every_split() {
    let len = scale(700, 96);
    let buf = random_bytes(2, len);
    let whole = crc32c::crc32c(&buf);
    for split in 0..=len {
        let (a, b) = buf.split_at(split);
        assert_eq!(crc32c_append(crc32c(a), b), whole, "split at {split}");
        // Continuing from any stored value, as the chain does from the previous block's chain.
        let seed = (split as u32).wrapping_mul(0x9E37_79B9);
        assert_eq!(
            crc32c_append(seed, b),
            crc32c::crc32c_append(seed, b),
            "append after {seed:#x}"
        );
    }
}

#[test]
fn large_inputs() {
    let sizes: &[usize] = if cfg!(miri) {
        &[4096 + 7]
    } else {
        &[4096, 65_536 + 13, (1 << 20) + 1, (16 << 20) + 3]
    };
    for (k, &len) in sizes.iter().enumerate() {
        let buf = random_bytes(10 + k as u64, len + 1);
        for bytes in [&buf[..len], &buf[1..]] {
            assert_eq!(crc32c(bytes), crc32c::crc32c(bytes), "{len} bytes");
        }
    }
}

#[test]
fn code_path_is_chosen_at_run_time() {
    let target = crc_fast::get_calculator_target(CrcAlgorithm::Crc32Iscsi);
    if cfg!(miri) {
        // Miri detects no SIMD feature: the portable fallback is what the tests above checked.
        assert_eq!(target, "software-fallback-tables");
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let accelerated = std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("pclmulqdq");
        assert_eq!(
            target != "software-fallback-tables",
            accelerated,
            "crc-fast chose {target}"
        );
    }
}
