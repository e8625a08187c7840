#!/usr/bin/env bash
# Miri (undefined-behaviour interpreter) over the code that needs no mmap, files or threads:
#   * tests/hardening_miri.rs — segment/block header encode/decode, record framing, JSON escaping;
#   * tests/flashstrike_miri.rs — the FlashStrike decoders: headers, block and payload checks,
#     fixed framing, RequestEvent, LZ4 frames;
#   * tests/checksum_crosscheck.rs — crc-fast's portable CRC32C path (Miri detects no SIMD)
#     against the crc32c crate;
#   * the library's `ffi::ptr` unit tests — the C ABI's raw-pointer helpers.
# Usage: bash scripts/miri.sh [EXTRA CARGO TEST SELECTORS...]
#   e.g. bash scripts/miri.sh --lib -- ffi::status ffi::version   (more in-memory unit tests)
# Runs in a few minutes (most of it building Miri's sysroot once); prints "miri: ... ok".
set -euo pipefail
cd "$(dirname "$0")/.."

rustup toolchain install nightly --profile minimal --component miri,rust-src >/dev/null
cargo +nightly miri setup >/dev/null 2>&1
export MIRIFLAGS="${MIRIFLAGS:-}"
start=$(date +%s)
run() {
  echo "miri: cargo +nightly miri test $*"
  cargo +nightly miri test --target-dir target/miri "$@"
}
run --test hardening_miri
run --test flashstrike_miri
run --test checksum_crosscheck
run --lib -- ffi::ptr
if [ "$#" -gt 0 ]; then
  run "$@"
fi
echo "miri: ok, no undefined behaviour detected ($(( $(date +%s) - start )) s)"
