#!/usr/bin/env bash
# Runs the five measurements BENCHMARKS.md reports, one after the other, from the current
# commit, writing each output with a record (command, commit, src/ diff hash, time, load) into
# bench/results/:
#   1. wal-bench, 5 M x 64 B                 -> report.md, report.json, run_info.txt, *.svg,
#                                               stderr.txt (the harness's progress log)
#   2. wal-bench, 1 M x 512 B                -> 512B-1M/
#   3. walrec bench --events 30000000, table and JSON -> walrec_bench.txt, walrec_bench.json
#                                               (+ walrec_bench_json_run_info.txt)
#   4. replay_throughput 20000000 64 and 10000000 1 -> replay_throughput_*.txt
#   5. ffi_bench 20000000 5                  -> ffi_bench_20M.txt
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
cargo build --release --example replay_throughput --example ffi_bench

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

# The harness's progress log (stderr) is kept next to each report.
bash bench/scripts/run.sh 2>"$out/stderr.txt"
mkdir -p "$out/512B-1M"
bash bench/scripts/run.sh --payload-size 512 --events 1000000 --out "$out/512B-1M" 2>"$out/512B-1M/stderr.txt"
# walrec's progress notes (stderr) are left out.
record "$out/walrec_bench.txt" /dev/null "$t/walrec" bench --events 30000000
{
    echo "command: $t/walrec bench --events 30000000 --json > $out/walrec_bench.json   (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    git_line
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "uptime before: $(uptime)"
    status=0
    "$t/walrec" bench --events 30000000 --json >"$out/walrec_bench.json" 2>/dev/null || status=$?
    echo "uptime after: $(uptime)"
    echo "exit: $status"
} >"$out/walrec_bench_json_run_info.txt"
record "$out/replay_throughput_20M_64MiB.txt" - "$t/examples/replay_throughput" 20000000 64
record "$out/replay_throughput_10M_1MiB.txt" - "$t/examples/replay_throughput" 10000000 1
record "$out/ffi_bench_20M.txt" - "$t/examples/ffi_bench" 20000000 5
echo "series: done; outputs in $out/"
