#!/usr/bin/env bash
# Runs the C test programs (harness, hot_window, dlopen, and follow mode under ASan only) against the release
# shared library under AddressSanitizer +
# UndefinedBehaviorSanitizer (with LeakSanitizer), then under valgrind. Zero findings expected:
# any report fails the script.
#
#   bash scripts/sanitizers.sh            # CC=clang to use clang (static ASan runtime)
#
# The library itself is not instrumented: the sanitizers check the C side of the ABI (every
# pointer the library returns or fills, every buffer it writes, lifetimes of event payloads)
# and LeakSanitizer/valgrind see every allocation of both sides. ASan and valgrind do not mix,
# so valgrind runs a separate, uninstrumented build.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-cc}
command -v valgrind >/dev/null || { echo "sanitizers.sh: valgrind not found" >&2; exit 1; }

echo "== building the release cdylib"
cargo build --release --lib -p wal-recovery
# Where cargo put the artifacts (respects CARGO_TARGET_DIR and .cargo/config).
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
lib_file="${target_dir:-$PWD/target}/release/libwal_recovery.so"
[ -f "$lib_file" ] || { echo "sanitizers.sh: $lib_file was not built" >&2; exit 1; }
abi=$(sed -n 's/^#define WAL_RECOVERY_ABI_VERSION \([0-9]*\)$/\1/p' include/wal_recovery.h)
[ -n "$abi" ] || { echo "sanitizers.sh: no WAL_RECOVERY_ABI_VERSION in the header" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The SONAME is libwal_recovery.so.<ABI>: link and load through versioned symlinks.
mkdir -p "$work/lib"
ln -s "$lib_file" "$work/lib/libwal_recovery.so"
ln -s "$lib_file" "$work/lib/libwal_recovery.so.$abi"

cflags=(-std=c99 -Wall -Wextra -Wpedantic -Werror -g -O1 -Iinclude -Ic_tests)
link=(-L"$work/lib" -lwal_recovery -Wl,-rpath,"$work/lib" -pthread)
san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)

scratch() { local d="$work/run-$1"; mkdir -p "$d"; echo "$d"; }

echo "== ASan + UBSan ($CC)"
"$CC" "${cflags[@]}" "${san[@]}" c_tests/harness.c -o "$work/harness-asan" "${link[@]}"
"$CC" "${cflags[@]}" "${san[@]}" c_tests/hot_window.c -o "$work/hot_window-asan" "${link[@]}"
"$CC" "${cflags[@]}" "${san[@]}" c_tests/dlopen.c -o "$work/dlopen-asan" -ldl
"$CC" "${cflags[@]}" "${san[@]}" c_tests/follow.c -o "$work/follow-asan" "${link[@]}"
for exe in harness-asan hot_window-asan dlopen-asan follow-asan; do
  # grep without -q reads all of nm's output (with -q, nm may die of SIGPIPE under pipefail).
  if ! nm "$work/$exe" | grep '__asan_init' >/dev/null; then
    echo "sanitizers.sh: $exe is not linked with ASan (no __asan_init)" >&2
    exit 1
  fi
done
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$work/harness-asan" "$(scratch harness-asan)"
"$work/hot_window-asan" "$(scratch hot_window-asan)" "$PWD/tests/data/flashstrike"
"$work/dlopen-asan" "$lib_file" "$(scratch dlopen-asan)" "$PWD/tests/data/flashstrike"
# Follow mode with a forked writer process (both sides instrumented); not under valgrind, whose
# serialised threads would make the follower's spin strategies crawl.
"$work/follow-asan" "$(scratch follow-asan)"
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== valgrind"
"$CC" "${cflags[@]}" c_tests/harness.c -o "$work/harness" "${link[@]}"
"$CC" "${cflags[@]}" c_tests/hot_window.c -o "$work/hot_window" "${link[@]}"
"$CC" "${cflags[@]}" c_tests/dlopen.c -o "$work/dlopen" -ldl
vg=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)
"${vg[@]}" "$work/harness" "$(scratch harness-vg)"
"${vg[@]}" "$work/hot_window" "$(scratch hot_window-vg)" "$PWD/tests/data/flashstrike"
"${vg[@]}" "$work/dlopen" "$lib_file" "$(scratch dlopen-vg)" "$PWD/tests/data/flashstrike"

echo "sanitizers.sh: ASan/UBSan/LSan and valgrind found nothing"
