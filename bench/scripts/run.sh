#!/usr/bin/env bash
# Runs the release harness with the given arguments and records the machine load before and
# after the run in <out>/run_info.txt (the machine is shared with other builds).
#   bench/scripts/run.sh [wal-bench args...]      e.g. --payload-size 512 --events 1000000 --out bench/results/512B-1M
# Default output dir: bench/results (the harness alone writes to target/wal-bench, so that an
# ordinary run never modifies tracked files; this script records a run on purpose). Uses
# CARGO_TARGET_DIR (default /work/target-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-bench}"
out=bench/results
args=("$@")
has_out=0
for ((i = 0; i < ${#args[@]}; i++)); do
    if [[ "${args[$i]}" == "--out" ]]; then out="${args[$((i + 1))]}"; has_out=1; fi
done
if [ "$has_out" = 0 ]; then args+=(--out "$out"); fi
mkdir -p "$out"
cargo build --release -p wal-bench
info="$out/run_info.txt"
{
    echo "command: cargo run --release -p wal-bench -- ${args[*]}"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) ($(git status --porcelain 2>/dev/null | wc -l) changed files)"
    echo "library sources (src/) differing from HEAD: $(git status --porcelain -- src 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
    echo "src/ diff sha1: $(git diff HEAD -- src 2>/dev/null | sha1sum | cut -c1-12)"
    echo "uptime before: $(uptime)"
} >"$info"
status=0
"$CARGO_TARGET_DIR/release/wal-bench" "${args[@]}" || status=$?
echo "uptime after: $(uptime)" >>"$info"
echo "exit: $status" >>"$info"
cat "$info" >&2
exit "$status"
