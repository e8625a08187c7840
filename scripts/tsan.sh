#!/usr/bin/env bash
# ThreadSanitizer over the recovery pipeline's concurrency tests (tests/hardening_concurrency.rs):
# preloaded multi-segment replay with telemetry monitors, resume and drop mid-replay, a slowed
# preloader (fallback/steal paths), tiny rings, SkipCorrupted over a failed segment.
#
#   bash scripts/tsan.sh            # prints "tsan: N tests, W warnings" and exits non-zero on any race
#
# std is rebuilt with the sanitizer (-Zbuild-std), so races inside std/rtrb are seen too; a
# suppressions file scripts/tsan.supp is used when present (none is needed today).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup toolchain install nightly --profile minimal --component rust-src >/dev/null
target=$(rustc +nightly -vV | sed -n 's/^host: //p')
case "$target" in
  x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu) ;;
  *) echo "tsan: unsupported host $target" >&2; exit 2 ;;
esac

export RUSTFLAGS="-Zsanitizer=thread -Cdebuginfo=1"
export RUSTDOCFLAGS="-Zsanitizer=thread"
export CARGO_INCREMENTAL=0
tsan_opts="halt_on_error=0 second_deadlock_stack=1 history_size=4"
if [ -f scripts/tsan.supp ]; then
  tsan_opts="$tsan_opts suppressions=$PWD/scripts/tsan.supp"
fi
export TSAN_OPTIONS="$tsan_opts"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

start=$(date +%s)
set +e
cargo +nightly test -Zbuild-std --target "$target" --target-dir target/tsan \
  --test hardening_concurrency -- --test-threads=2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
warnings=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
tests=$(sed -n 's/^test result: .*\. \([0-9]*\) passed.*/\1/p' "$log" | tail -1)
echo "tsan: ${tests:-0} tests passed, ${warnings} ThreadSanitizer warnings, exit status ${status}, $(( $(date +%s) - start )) s"
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
  exit 1
fi
