#!/usr/bin/env bash
# FlashStrike's own WAL recovery (C++, as shipped and with its metrics compiled out) against
# wal_recovery, on the same FlashStrike v1 log, in alternating rounds. See README.md here.
#
#   bash bench/flashstrike/compare.sh [--events N] [--rounds R] [--scenario clean|crash]
#                                     [--wirekrak DIR] [--work DIR]
#
# Needs g++ (C++20), libxxhash-dev and libfmt-dev (apt), and a Wirekrak source tree at commit
# 66c130b (--wirekrak DIR, or cloned from GitHub into the work directory).
set -euo pipefail

EVENTS=20000000
ROUNDS=7
SCENARIO=clean
WIREKRAK=""
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$REPO/target/flashstrike-cmp"
COMMIT=66c130b7e8611dc61bde5b1e1f2933b26969ac4d
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --scenario) SCENARIO="$2"; shift 2 ;;
    --wirekrak) WIREKRAK="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$SCENARIO" in clean|crash) ;; *) echo "--scenario: clean or crash" >&2; exit 2 ;; esac
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
# `clean`: every segment finalized. `crash`: the recorder killed mid-segment — the active
# segment unfinalized, three pre-created ones after it, all mostly hole (the log's last
# `EVENTS mod 256` events never left the recorder's memory).
LOG="$WORK/log"
rm -rf "$LOG"
"$WALREC" gen "$LOG" --format flashstrike --scenario "$SCENARIO" --events "$EVENTS" \
  --blocks-per-segment 4096 | tee "$WORK/gen.txt" >&2
EXPECT=$(sed -n 's/.*delivered ids 1\.\.=\([0-9]*\).*/\1/p' "$WORK/gen.txt")
[ -n "$EXPECT" ] || { echo "walrec gen did not say what a recovery delivers" >&2; exit 1; }

# Before each replay: every stored byte in the page cache (this VM pages out idle page cache),
# and no page of a file's trailing hole — as the recorder leaves the log: nothing has read the
# unwritten part of its preallocated segments.
as_left() {
  python3 - "$LOG"/*.wal <<'PY'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    try:
        n = os.fstat(fd).st_size
        hole = os.lseek(fd, 0, os.SEEK_HOLE)  # n when the file has no hole
        off = 0
        while off < hole:
            got = len(os.pread(fd, min(8 << 20, hole - off), off))
            if got == 0:
                break
            off += got
        if hole < n:
            os.posix_fadvise(fd, hole, n - hole, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
PY
}

OUT="$WORK/rounds.txt"
: > "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  as_left
  "$WORK/fs_replay_metrics" "$LOG" | tee -a "$OUT"
  as_left
  "$WORK/fs_replay_nometrics" "$LOG" | tee -a "$OUT"
  as_left
  "$OURS" "$LOG" | tee -a "$OUT"
  as_left
  "$OURS" "$LOG" --batch | tee -a "$OUT"
done

# Ours must deliver exactly ids 1..=EXPECT; FlashStrike's count is reported as it is (after a
# crash it drops the active segment). The ratio is of the times to recover: with equal counts
# (clean) it is the ratio of the event rates.
python3 - "$OUT" "$EXPECT" "$SCENARIO" <<'PY'
import re, statistics, sys
expect, scenario = int(sys.argv[2]), sys.argv[3]
secs, rates, got = {}, {}, {}
for line in open(sys.argv[1]):
    name = line.split()[0]
    f = dict(re.findall(r"(\w+)=(\S+)", line))
    n, ids = int(f["events"]), int(f["id_sum"])
    if name.startswith("wal_recovery") and (n, ids) != (expect, expect * (expect + 1) // 2):
        sys.exit(f"{name} replayed {n} events (id sum {ids}), not ids 1..={expect}")
    got.setdefault(name, set()).add((n, ids))
    secs.setdefault(name, []).append(float(f["seconds"]))
    rates.setdefault(name, []).append(float(f["Mev_per_s"]))
print(f"scenario {scenario}: a correct recovery delivers ids 1..={expect}")
for k in secs:
    counts = ", ".join(f"{n} events" + ("" if n == expect else f" ({expect - n} lost)")
                       for n, _ in sorted(got[k]))
    print(f"{k:24} {counts}; ms, sorted: {' '.join(f'{1e3 * x:.1f}' for x in sorted(secs[k]))}; "
          f"median {1e3 * statistics.median(secs[k]):.1f} ms, {statistics.median(rates[k]):.1f} M events/s")
med = {k: statistics.median(v) for k, v in secs.items()}
for ours in ("wal_recovery", "wal_recovery-batch"):
    for fs, what in (("flashstrike-metrics", "as shipped"), ("flashstrike-nometrics", "without metrics")):
        print(f"{ours + ' / FlashStrike ' + what + ':':52} {med[fs] / med[ours]:.2f}x faster")
PY
