//! What the fault suites take from their environment — seeds, case counts, where temporary
//! directories go — read one way for all of them. Included by path by the hardening and
//! FlashStrike test support modules.

use std::path::Path;

/// A seed from the environment variable `var` (decimal or 0x-hex), else `default`.
pub fn env_seed(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{var}={s} is not a number"))
        }
        Err(_) => default,
    }
}

/// A count from the environment variable `var`, else `default`.
pub fn env_count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// A unique temporary directory named `<prefix>…`: under `WAL_TEST_TMP` when that is set,
/// else on tmpfs (`/dev/shm`, the suites sync a lot) when it exists, else the system's.
pub fn tempdir_with_prefix(prefix: &str) -> tempfile::TempDir {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    if let Some(base) = std::env::var_os("WAL_TEST_TMP") {
        return b.tempdir_in(base).expect("create temp dir in WAL_TEST_TMP");
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = b.tempdir_in(shm) {
            return d;
        }
    }
    b.tempdir().expect("create temp dir")
}
