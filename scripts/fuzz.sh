#!/usr/bin/env bash
# libFuzzer (cargo-fuzz) over the format decoders, the segment reader, the writer's crash
# repair and FlashStrike v1 segments.
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
#
# Installs what it needs (nightly, cargo-fuzz), builds the targets with ASan and debug
# assertions, runs each for the given time from the committed seed corpus (fuzz/corpus/<target>,
# read-only; new inputs go to fuzz/target/corpus/<target>), and prints the executions per target
# and in total. Exits non-zero if any target crashed (the input is in fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
targets=(segment_header block_header segment_reader writer_reopen flashstrike_segment)

rustup toolchain install nightly --profile minimal >/dev/null
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
missing=()
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || missing+=("$t")
done
if [ "${#missing[@]}" -gt 0 ]; then
  cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus -- fuzz/corpus "${missing[@]}"
fi
cargo +nightly fuzz build --debug-assertions   # every target

logdir=fuzz/target/logs
mkdir -p "$logdir"
total=0
crashed=0
summary=()
for t in "${targets[@]}"; do
  work=fuzz/target/corpus/$t
  mkdir -p "$work"
  log=$logdir/$t.log
  set +e
  cargo +nightly fuzz run --debug-assertions "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1
  status=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  execs=${execs:-0}
  rate=$(( execs / (secs > 0 ? secs : 1) ))
  if [ "$status" -ne 0 ] || grep -q -E '^==[0-9]+==ERROR|deadly signal|panicked at' "$log"; then
    crashed=$((crashed + 1))
    summary+=("$(printf 'fuzz: %-15s %12d executions (%d/s) CRASH (status %d) — see %s' "$t" "$execs" "$rate" "$status" "$log")")
    grep -E 'panicked at|^==[0-9]+==ERROR|Test unit written to' "$log" | head -5 || true
  else
    summary+=("$(printf 'fuzz: %-15s %12d executions (%d/s), 0 crashes' "$t" "$execs" "$rate")")
  fi
  total=$((total + execs))
done
printf '%s\n' "${summary[@]}"
echo "fuzz: total ${total} executions over ${#targets[@]} targets x ${secs} s, ${crashed} crashing targets"
[ "$crashed" -eq 0 ]
