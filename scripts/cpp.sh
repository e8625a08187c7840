#!/usr/bin/env bash
# The C++ checks (CI runs them through .ci/run; cmake and clang++ must be installed):
#
#   bash scripts/cpp.sh                     # everything below, ~1-2 minutes
#   bash scripts/cpp.sh bench [EVENTS] [REPS]   # overhead benchmark (default 10M events, 11 reps)
#
#  1. scripts/install.sh into a scratch prefix (library, headers, pkg-config, CMake package);
#  2. include/wal_recovery.hpp compiled alone and included twice, each of its parts
#     (include/wal_recovery/*.hpp) compiled alone (with and without WAL_RECOVERY_EXCEPTIONS), and
#     the issue's minimal contract, with g++ and clang++, C++17 and C++20,
#     -Wall -Wextra -Wpedantic -Werror;
#  3. the wrapper tests, cpp_tests/wrapper_{status_view,replay,telemetry}.cpp (every wrapper
#     function, error paths included), under ASan+UBSan (+LeakSanitizer): g++ C++17 without
#     exceptions, clang++ C++20 with WAL_RECOVERY_EXCEPTIONS;
#  4. the prefix is moved (the CMake package must be relocatable), then examples/cpp_orderbook is
#     configured with find_package against it, built (shared and static targets, -Werror) and run
#     on generated logs; its output is checked against an independent model
#     (cpp_tests/check_orderbook.py), exit codes and error messages too; find_package's version
#     check accepts 0.1 and a range, refuses 0.2 and 1;
#  5. the overhead benchmark, small, as a smoke test (both loops must agree).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

die() {
    echo "cpp.sh: $*" >&2
    exit 1
}
for tool in cmake g++ clang++ python3 readelf; do
    command -v "$tool" >/dev/null || die "$tool not found (.ci/run installs cmake and clang: apt-get install cmake clang)"
done

start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
walrec_bin() {
    cargo build --release -q -p walrec
    local target_dir
    target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    echo "${target_dir:-$ROOT/target}/release/walrec"
}

echo "== install into a scratch prefix"
bash scripts/install.sh "$work/prefix" 2>"$work/install.log" || { cat "$work/install.log" >&2; exit 1; }
prefix="$work/prefix"
link=(-L"$prefix/lib" -lwal_recovery -Wl,-rpath,"$prefix/lib" -pthread)

build_bench() {  # $1: output
    g++ -std=c++17 -O2 -Wall -Wextra -Werror -I"$prefix/include" -c cpp_tests/bench.cpp -o "$work/bench.o"
    gcc -std=c99 -O2 -Wall -Wextra -Werror -I"$prefix/include" -c cpp_tests/bench_c_loop.c -o "$work/bench_c_loop.o"
    g++ "$work/bench.o" "$work/bench_c_loop.o" -o "$1" "${link[@]}"
}

if [[ "${1:-}" == bench ]]; then
    events=${2:-10M}
    reps=${3:-11}
    build_bench "$work/bench"
    "$(walrec_bin)" gen "$work/bench-log" --events "$events" >/dev/null
    echo "== overhead: C per-event loop vs C++ range-for, $events events of 64 bytes, $reps interleaved reps"
    "$work/bench" "$work/bench-log" "$reps"
    exit 0
fi
[[ $# -eq 0 ]] || die "usage: $0 [bench [EVENTS] [REPS]]"

strict=(-Wall -Wextra -Wpedantic -Werror)
echo "== header alone, included twice, each part alone, the minimal contract: g++/clang++ x C++17/C++20"
"$(walrec_bin)" gen "$work/contract-log" --events 1000 --payload-size 10 >/dev/null
# The parts, as installed; the same set as include/wal_recovery/.
parts=()
for h in "$prefix"/include/wal_recovery/*.hpp; do
    if [[ -f "$h" ]]; then parts+=("$(basename "$h")"); fi
done
[[ ${#parts[@]} -gt 0 ]] || die "no C++ header parts installed in $prefix/include/wal_recovery"
[[ "${parts[*]}" == "$(cd include/wal_recovery && echo *.hpp)" ]] \
    || die "installed parts (${parts[*]}) are not include/wal_recovery/'s ($(cd include/wal_recovery && echo *.hpp))"
mkdir -p "$work/parts"
for h in "${parts[@]}"; do
    printf '#include <wal_recovery/%s>\n' "$h" >"$work/parts/${h%.hpp}.cpp"
done
header_checks() {  # $1 compiler, $2 standard
    local cxx=$1 std=$2 out h
    for h in "${parts[@]}"; do  # each part as the first and only include of a translation unit
        "$cxx" -std=c++$std "${strict[@]}" -I"$prefix/include" -fsyntax-only "$work/parts/${h%.hpp}.cpp" \
            || die "wal_recovery/$h alone ($cxx C++$std)"
        "$cxx" -std=c++$std "${strict[@]}" -DWAL_RECOVERY_EXCEPTIONS -I"$prefix/include" -fsyntax-only \
            "$work/parts/${h%.hpp}.cpp" || die "wal_recovery/$h alone, WAL_RECOVERY_EXCEPTIONS ($cxx C++$std)"
    done
    "$cxx" -std=c++$std "${strict[@]}" -I"$prefix/include" cpp_tests/header_alone.cpp cpp_tests/double_include.cpp \
        -o "$work/double-$cxx-$std" "${link[@]}"
    "$work/double-$cxx-$std"
    "$cxx" -std=c++$std "${strict[@]}" -I"$prefix/include" cpp_tests/contract.cpp -o "$work/contract-$cxx-$std" "${link[@]}"
    out=$("$work/contract-$cxx-$std" "$work/contract-log")
    [[ "$(head -n 1 <<<"$out")" == "1000 500500 10000 WAL_OK" ]] || die "contract ($cxx C++$std): $(head -n 1 <<<"$out")"
    grep -q '^\[replay\] WAL Recovery Telemetry:$' <<<"$out" || die "contract ($cxx C++$std): no telemetry dump"
}
# Two at a time (one per core); any failure fails the script.
for cxx in g++ clang++; do
    header_checks "$cxx" 17 &
    p17=$!
    header_checks "$cxx" 20 &
    p20=$!
    wait "$p17" || die "header checks failed ($cxx C++17)"
    wait "$p20" || die "header checks failed ($cxx C++20)"
done

echo "== wrapper tests under ASan + UBSan"
san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g -O1)
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
wrapper_tests=(wrapper_status_view wrapper_replay wrapper_telemetry)
build_wrapper() {  # $1 test, $2 compiler, $3 standard, $4 extra define (or empty)
    # shellcheck disable=SC2086 # $4 is empty or one flag
    "$2" -std=c++$3 $4 "${strict[@]}" "${san[@]}" -I"$prefix/include" "cpp_tests/$1.cpp" \
        -o "$work/$1-$2-$3" "${link[@]}"
}
for test in "${wrapper_tests[@]}"; do  # two at a time (one per core)
    build_wrapper "$test" g++ 17 "" &
    pg=$!
    build_wrapper "$test" clang++ 20 -DWAL_RECOVERY_EXCEPTIONS &
    pc=$!
    wait "$pg" || die "building $test with g++ failed"
    wait "$pc" || die "building $test with clang++ failed"
done
for variant in g++-17 clang++-20; do
    for test in "${wrapper_tests[@]}"; do
        exe="$work/$test-$variant"
        nm "$exe" | grep '__asan_init' >/dev/null || die "$exe is not built with ASan"
        mkdir -p "$work/run-$test-$variant"  # each test's own empty scratch directory
        "$exe" "$work/run-$test-$variant" "$ROOT/tests/data/flashstrike"
    done
done
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== CMake package: moved prefix, find_package, the order-book example"
mv "$work/prefix" "$work/moved-prefix"
prefix="$work/moved-prefix"
link=(-L"$prefix/lib" -lwal_recovery -Wl,-rpath,"$prefix/lib" -pthread)
cmake -S examples/cpp_orderbook -B "$work/orderbook" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCPP_ORDERBOOK_WERROR=ON >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; die "cmake configure failed"; }
cmake --build "$work/orderbook" -j 2 >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; die "cmake build failed"; }
shared="$work/orderbook/cpp_orderbook"
static="$work/orderbook/cpp_orderbook_static"
readelf -d "$shared" | grep -q 'NEEDED.*libwal_recovery\.so\.1' || die "cpp_orderbook does not link libwal_recovery.so.1"
if readelf -d "$static" | grep -q 'libwal_recovery'; then die "cpp_orderbook_static links the shared library"; fi

check() { python3 cpp_tests/check_orderbook.py "$@"; }
walrec=$(walrec_bin)

# A FlashStrike log left by a crash: the engine gets every event in a valid block.
"$walrec" gen --format flashstrike --scenario crash --events 30000 "$work/fs-crash" >"$work/gen.txt"
last=$(sed -n 's/^expected recovery: delivered ids 1\.\.=\([0-9]*\)$/\1/p' "$work/gen.txt")
[[ -n "$last" ]] || { cat "$work/gen.txt" >&2; die "walrec gen did not say what a recovery delivers"; }
for exe in "$shared" "$static"; do
    "$exe" replay "$work/fs-crash" >"$work/fs.txt"
    check flashstrike "$last" "$work/fs.txt"
    grep -q '^replay status         : WAL_OK$' "$work/fs.txt" || die "crash log: replay status is not WAL_OK"
    grep -q '^recovery report       : {.*"torn_tail":{' "$work/fs.txt" || die "crash log: the report has no torn tail"
done

# The live engine writes a native log; the recovered book must be the live one, and the model's.
"$shared" generate "$work/native" --orders 50000 --seed 7 >"$work/live.txt"
check native 50000 7 "$work/live.txt"
"$static" replay "$work/native" --telemetry >"$work/recovered.txt"
check native 50000 7 "$work/recovered.txt"
diff <(sed -n '2,/top asks/p' "$work/live.txt") <(sed -n '2,/top asks/p' "$work/recovered.txt") >/dev/null \
    || die "the recovered book differs from the live one"
grep -q '^\[replay\] WAL Recovery Telemetry:$' "$work/recovered.txt" || die "--telemetry printed no dump"
grep -q '"clean":true' "$work/recovered.txt" || die "native log: the report is not clean"

# FlashStrike's restart gap: a typed error in Strict mode (exit 1), skipped in skip mode.
set +e
"$shared" replay "$ROOT/tests/data/flashstrike/restart" >"$work/restart.txt"
rc=$?
set -e
[[ $rc -eq 1 ]] || die "restart log, strict: exit $rc, expected 1"
check flashstrike 16384 "$work/restart.txt"
grep -q '^replay status         : WAL_ERR_GAP: gap between .*FS.00000003.wal and .*FS.00000004.wal: event ids 16385..=18000$' \
    "$work/restart.txt" || die "restart log, strict: no typed gap error"
"$shared" replay "$ROOT/tests/data/flashstrike/restart" --mode skip >"$work/restart-skip.txt"
grep -q '^  events applied      : 18384$' "$work/restart-skip.txt" || die "restart log, skip: not 16384 + 2000 events"
grep -q '^  last applied id     : 20000$' "$work/restart-skip.txt" || die "restart log, skip: last id is not 20000"

# Errors: a missing directory (exit 2, typed message), usage (exit 2).
set +e
"$shared" replay "$work/no-such-log" 2>"$work/missing.txt" >/dev/null
rc_missing=$?
"$shared" generate "$work/x" --orders 2>/dev/null
rc_usage=$?
set -e
[[ $rc_missing -eq 2 && $rc_usage -eq 2 ]] || die "exit codes: missing dir $rc_missing, usage $rc_usage (expected 2, 2)"
grep -q "WAL_ERR_DIRECTORY_NOT_FOUND: .*no-such-log" "$work/missing.txt" || die "missing dir: $(cat "$work/missing.txt")"

# find_package's version check.
mkdir -p "$work/findver"
cat >"$work/findver/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.19)
project(findver LANGUAGES CXX)
find_package(wal_recovery ${WANT} CONFIG REQUIRED)
if(NOT TARGET wal_recovery::wal_recovery OR NOT TARGET wal_recovery::wal_recovery_static)
  message(FATAL_ERROR "targets missing")
endif()
EOF
findver() { cmake -S "$work/findver" -B "$work/findver/build-$2" -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$1" >"$work/findver.log" 2>&1; }
findver "0.1.0...<0.2" range || { cat "$work/findver.log" >&2; die "find_package(wal_recovery 0.1.0...<0.2) failed"; }
if findver 0.2 v02; then die "find_package(wal_recovery 0.2) accepted 0.1.x"; fi
grep -q 'not compatible\|version:' "$work/findver.log" || { cat "$work/findver.log" >&2; die "no version message"; }
if findver 1 v1; then die "find_package(wal_recovery 1) accepted 0.1.x"; fi

echo "== overhead benchmark, smoke size: both loops build, run and agree (figures: bash scripts/cpp.sh bench)"
build_bench "$work/bench"
"$walrec" gen "$work/bench-log" --events 200K >/dev/null
"$work/bench" "$work/bench-log" 3 >"$work/bench.txt" || { cat "$work/bench.txt" >&2; die "benchmark smoke failed"; }
grep -q '^events per replay      : 200000$' "$work/bench.txt" || die "benchmark smoke: $(cat "$work/bench.txt")"

echo "cpp.sh: every C++ check passed ($(( $(date +%s) - start ))s)"
