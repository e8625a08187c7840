#!/usr/bin/env bash
# ThreadSanitizer over the tests that exercise threads:
#   * tests/hardening_concurrency.rs — preloaded multi-segment replay with telemetry monitors,
#     resume and drop mid-replay, a slowed preloader (fallback paths), tiny rings,
#     SkipCorrupted over a failed segment;
#   * tests/ffi_threads.rs — the C ABI's threading contract: a handle replayed on one thread,
#     moved to another, while two more threads read its telemetry;
#   * tests/telemetry_pipeline.rs, snapshots_from_another_thread_during_replay_are_monotonic —
#     telemetry snapshots and dumps from a monitor thread during a real replay;
#   * the library's `recovery::payload_checks` unit tests — the replay thread and the preloader
#     claiming and checking one segment's blocks concurrently.
#
#   bash scripts/tsan.sh            # prints "tsan: N tests passed, W warnings" and exits non-zero on any race
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
status=0
# Runs one `cargo test` under TSan; a run that fails, or whose filter matches no test, fails the
# script.
run() {
  local part
  part=$(mktemp)
  set +e
  cargo +nightly test -Zbuild-std --target "$target" --target-dir target/tsan "$@" 2>&1 | tee "$part"
  local rc=${PIPESTATUS[0]}
  set -e
  cat "$part" >>"$log"
  if [ "$rc" -ne 0 ]; then
    status=$rc
  elif ! grep -q '^test result: ok\. [1-9]' "$part"; then
    echo "tsan: no test ran for: $*" >&2
    status=1
  fi
  rm -f "$part"
}
run --test hardening_concurrency --test ffi_threads -- --test-threads=2
run --test telemetry_pipeline -- --exact snapshots_from_another_thread_during_replay_are_monotonic
run --lib -- recovery::payload_checks
warnings=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
tests=$(sed -n 's/^test result: .*\. \([0-9]*\) passed.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
echo "tsan: ${tests} tests passed, ${warnings} ThreadSanitizer warnings, exit status ${status}, $(( $(date +%s) - start )) s"
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
  exit 1
fi
