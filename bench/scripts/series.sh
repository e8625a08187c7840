#!/usr/bin/env bash
# Runs the measurements BENCHMARKS.md cites, one after the other, from the current commit,
# writing each output with a record (command, commit, src/ diff hash, time, load) into
# bench/results/:
#   1. wal-bench, 5 M x 64 B, 11 reps        -> report.md, report.json, run_info.txt, *.svg
#                                               (the harness's progress log: target/series-wal-bench.log)
#   2. walrec bench --events 30000000 --reps 15 -> walrec_bench.txt
#   3. ffi_bench 20000000 5                  -> ffi_bench_20M.txt
#   4. scripts/cpp.sh bench 10M 11           -> cpp_bench_10M.txt (C++ range-for against the C loop)
# and, before and after them, bench/c/cache_share.c -> placement.txt: whether the two vCPUs
# shared an L3 (the host may move them; the verified replay's figures depend on it).
# Builds every binary first (library, cdylib, harness, walrec, examples) with
# CARGO_TARGET_DIR (default /work/target-bench). Nothing else should run meanwhile: the figures
# are compared side by side. Takes about 5 minutes on the 2-core development VM.
#   bash bench/scripts/series.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-bench}"
t="$CARGO_TARGET_DIR/release"
out=bench/results

cargo build --release
cargo build --release -p wal-bench -p walrec
# With --example flags cargo builds only the examples, hence a separate command.
cargo build --release --example ffi_bench

git_line() {
    echo "git: $(git rev-parse --short HEAD), src/ diff sha1: $(git diff HEAD -- src | sha1sum | cut -c1-12)"
}

# record FILE STDERR COMMAND...: runs COMMAND with its record around its output; its stderr
# goes into the file when STDERR is "-", else to the file STDERR names.
record() {
    local file=$1 err=$2
    shift 2
    {
        echo "command: $*   (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
        git_line
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "uptime before: $(uptime)"
        local status=0
        if [ "$err" = - ]; then
            "$@" 2>&1 || status=$?
        else
            "$@" 2>"$err" || status=$?
        fi
        echo "uptime after: $(uptime)"
        echo "exit: $status"
    } >"$file"
    tail -n 3 "$file"
}

mkdir -p target
cc -std=gnu11 -O2 -Wall -Wextra -Werror -pthread bench/c/cache_share.c -o target/cache_share
placement() { echo "$(date -u +%H:%M:%SZ) $1: $(target/cache_share)"; }
placement before >"$out/placement.txt"
bash bench/scripts/run.sh --reps 11 2>target/series-wal-bench.log
# walrec's progress notes (stderr) are left out.
record "$out/walrec_bench.txt" /dev/null "$t/walrec" bench --events 30000000 --reps 15
record "$out/ffi_bench_20M.txt" - "$t/examples/ffi_bench" 20000000 5
record "$out/cpp_bench_10M.txt" - bash scripts/cpp.sh bench 10M 11
placement after >>"$out/placement.txt"
cat "$out/placement.txt"
echo "series: done; outputs in $out/"
