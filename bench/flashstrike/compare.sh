#!/usr/bin/env bash
# FlashStrike's own WAL recovery (C++, as shipped and with its metrics compiled out) against
# wal_recovery, on the same FlashStrike v1 log, in alternating rounds. See README.md here.
#
#   bash bench/flashstrike/compare.sh [--events N] [--rounds R] [--wirekrak DIR] [--work DIR]
#
# Needs g++ (C++20), libxxhash-dev and libfmt-dev (apt), and a Wirekrak source tree at commit
# 66c130b (--wirekrak DIR, or cloned from GitHub into the work directory).
set -euo pipefail

EVENTS=20000000
ROUNDS=7
WIREKRAK=""
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$REPO/target/flashstrike-cmp"
COMMIT=66c130b7e8611dc61bde5b1e1f2933b26969ac4d
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --wirekrak) WIREKRAK="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$WORK"
HERE="$REPO/bench/flashstrike"

if [ -z "$WIREKRAK" ]; then
  WIREKRAK="$WORK/wirekrak"
  if [ ! -d "$WIREKRAK/.git" ]; then
    git init -q "$WIREKRAK"
    git -C "$WIREKRAK" fetch -q --depth 1 https://github.com/locar77i/Wirekrak "$COMMIT"
    git -C "$WIREKRAK" checkout -q FETCH_HEAD
  fi
fi

echo "building FlashStrike's recovery driver (as shipped, and without its metrics)" >&2
INC=(-I"$HERE/shim" -I"$WIREKRAK/include" -I"$WIREKRAK/integrations/include")
g++ -std=c++20 -O3 -DNDEBUG -DENABLE_FS1_METRICS "${INC[@]}" "$HERE/fs_replay.cpp" \
  -o "$WORK/fs_replay_metrics" -pthread -lxxhash
g++ -std=c++20 -O3 -DNDEBUG "${INC[@]}" "$HERE/fs_replay.cpp" \
  -o "$WORK/fs_replay_nometrics" -pthread -lxxhash

echo "building wal_recovery's driver and walrec" >&2
(cd "$REPO" && cargo build -q --release --example replay_dir && cargo build -q --release -p walrec)
OURS="$REPO/target/release/examples/replay_dir"
[ -n "${CARGO_TARGET_DIR:-}" ] && OURS="$CARGO_TARGET_DIR/release/examples/replay_dir"
WALREC="$(dirname "$(dirname "$OURS")")/walrec"

# A log written just now: its page cache holds large folios, as one an engine has just written.
# (A log read back after eviction maps 4 KiB pages one by one and replays slower, for both.)
LOG="$WORK/log"
rm -rf "$LOG"
"$WALREC" gen "$LOG" --format flashstrike --scenario clean --events "$EVENTS" \
  --blocks-per-segment 4096 >&2

OUT="$WORK/rounds.txt"
: > "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  cat "$LOG"/* > /dev/null   # keep every page cached (this VM pages out idle page cache)
  "$WORK/fs_replay_metrics" "$LOG" | tee -a "$OUT"
  "$WORK/fs_replay_nometrics" "$LOG" | tee -a "$OUT"
  "$OURS" "$LOG" | tee -a "$OUT"
  "$OURS" "$LOG" --batch | tee -a "$OUT"
done

python3 - "$OUT" "$EVENTS" <<'PY'
import re, statistics, sys
rates, sums = {}, set()
for line in open(sys.argv[1]):
    name = line.split()[0]
    f = dict(re.findall(r"(\w+)=(\S+)", line))
    if int(f["events"]) != int(sys.argv[2]):
        sys.exit(f"{name} replayed {f['events']} events, not {sys.argv[2]}")
    sums.add(f["id_sum"])
    rates.setdefault(name, []).append(float(f["Mev_per_s"]))
if len(sums) != 1:
    sys.exit(f"the drivers disagree on the id sum: {sums}")
med = {k: statistics.median(v) for k, v in rates.items()}
for k, v in rates.items():
    print(f"{k:24} M events/s, sorted: {' '.join(f'{x:.1f}' for x in sorted(v))}; median {med[k]:.1f}")
for ours in ("wal_recovery", "wal_recovery-batch"):
    for fs, what in (("flashstrike-metrics", "as shipped"), ("flashstrike-nometrics", "without metrics")):
        print(f"{ours + ' / FlashStrike ' + what + ':':52} {med[ours] / med[fs]:.2f}x")
PY
