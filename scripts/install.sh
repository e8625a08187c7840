#!/usr/bin/env bash
# Builds the wal_recovery library in release and installs it into PREFIX:
#
#   PREFIX/lib/libwal_recovery.so.<ABI major>   the shared library, named by its SONAME
#   PREFIX/lib/libwal_recovery.so               symlink to it (for -lwal_recovery)
#   PREFIX/lib/libwal_recovery.a                the static library
#   PREFIX/include/wal_recovery.h               the C header (from include/)
#   PREFIX/include/wal_recovery.hpp             the header-only C++17 API over it (umbrella)
#   PREFIX/include/wal_recovery/*.hpp           its parts, one per concern (status, manager, ...)
#   PREFIX/lib/pkgconfig/wal_recovery.pc        pkg-config file for PREFIX
#   PREFIX/lib/cmake/wal_recovery/wal_recoveryConfig.cmake         CMake package (find_package):
#   PREFIX/lib/cmake/wal_recovery/wal_recoveryConfigVersion.cmake  targets wal_recovery::wal_recovery
#                                               (shared) and wal_recovery::wal_recovery_static;
#                                               paths relative to the file, so PREFIX can move
#
# Usage: scripts/install.sh PREFIX
set -euo pipefail

die() {
    echo "install.sh: $*" >&2
    exit 1
}

if [[ $# -ne 1 || -z "$1" || "$1" == -* ]]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

command -v cargo >/dev/null || die "cargo not found in PATH"

echo "install.sh: building wal-recovery (release)" >&2
cargo build --release -p wal-recovery

# Where cargo put the artifacts (respects CARGO_TARGET_DIR and .cargo/config).
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$TARGET_DIR" ]] || TARGET_DIR="$ROOT/target"
OUT="$TARGET_DIR/release"

SO="$OUT/libwal_recovery.so"
STATIC="$OUT/libwal_recovery.a"
HEADER="$ROOT/include/wal_recovery.h"
CXX_HEADER="$ROOT/include/wal_recovery.hpp"
CXX_PARTS_DIR="$ROOT/include/wal_recovery"
CMAKE_TEMPLATES="$ROOT/cmake"
[[ -f "$SO" ]] || die "shared library not built: $SO is missing"
[[ -f "$STATIC" ]] || die "static library not built: $STATIC is missing"
[[ -f "$HEADER" ]] || die "C header not found: $HEADER does not exist (it is generated into include/ by the library build; nothing was installed)"
[[ -f "$CXX_HEADER" ]] || die "C++ header not found: $CXX_HEADER does not exist"
CXX_PARTS=("$CXX_PARTS_DIR"/*.hpp)
[[ -f "${CXX_PARTS[0]}" ]] || die "C++ headers not found: no $CXX_PARTS_DIR/*.hpp"
for t in wal_recoveryConfig.cmake.in wal_recoveryConfigVersion.cmake.in; do
    [[ -f "$CMAKE_TEMPLATES/$t" ]] || die "CMake template not found: $CMAKE_TEMPLATES/$t"
done
ABI="$(sed -n 's/^#define WAL_RECOVERY_ABI_VERSION \([0-9]*\)$/\1/p' "$HEADER")"
[[ -n "$ABI" ]] || die "no WAL_RECOVERY_ABI_VERSION in $HEADER"

# System libraries the static archive needs, as `cargo rustc -- --print native-static-libs`
# reports them for x86_64/aarch64-unknown-linux-gnu (libc itself is linked anyway).
NATIVE_STATIC_LIBS=(gcc_s util rt pthread m dl)

# The SONAME the library was linked with (set by build.rs); libwal_recovery.so.1 if none.
SONAME=""
if command -v readelf >/dev/null; then
    SONAME="$(readelf -d "$SO" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p' | head -n 1)"
fi
if [[ -z "$SONAME" ]]; then
    SONAME="libwal_recovery.so.1"
    echo "install.sh: no SONAME found in $SO; installing as $SONAME" >&2
fi
case "$SONAME" in
    libwal_recovery.so.*) ;;
    *) die "unexpected SONAME '$SONAME' in $SO" ;;
esac

# Version and description from the library's Cargo.toml [package] section.
VERSION="$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' Cargo.toml | head -n 1)"
[[ -n "$VERSION" ]] || die "could not read the package version from Cargo.toml"
DESCRIPTION="$(sed -n '/^\[package\]/,/^\[/{s/^description *= *"\([^"]*\)".*/\1/p}' Cargo.toml | head -n 1)"
[[ -n "$DESCRIPTION" ]] || DESCRIPTION="Verified, ordered replay of write-ahead-log segments"

mkdir -p "$1"
PREFIX="$(cd "$1" && pwd)"
LIBDIR="$PREFIX/lib"
INCDIR="$PREFIX/include"
PCDIR="$LIBDIR/pkgconfig"
CMAKEDIR="$LIBDIR/cmake/wal_recovery"
mkdir -p "$LIBDIR" "$INCDIR" "$INCDIR/wal_recovery" "$PCDIR" "$CMAKEDIR"

install -m 0755 "$SO" "$LIBDIR/$SONAME"
ln -sfn "$SONAME" "$LIBDIR/libwal_recovery.so"
install -m 0644 "$STATIC" "$LIBDIR/libwal_recovery.a"
install -m 0644 "$HEADER" "$INCDIR/wal_recovery.h"
install -m 0644 "$CXX_HEADER" "$INCDIR/wal_recovery.hpp"
# Only this version's parts: a part an older version installed and this one dropped goes.
for old in "$INCDIR/wal_recovery"/*.hpp; do
    if [[ -f "$old" && ! -f "$CXX_PARTS_DIR/$(basename "$old")" ]]; then rm -f "$old"; fi
done
install -m 0644 "${CXX_PARTS[@]}" "$INCDIR/wal_recovery/"

cat >"$PCDIR/wal_recovery.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: wal_recovery
Description: $DESCRIPTION
Version: $VERSION
Libs: -L\${libdir} -lwal_recovery
Libs.private: $(printf -- '-l%s ' "${NATIVE_STATIC_LIBS[@]}" | sed 's/ $//')
Cflags: -I\${includedir}
EOF
chmod 0644 "$PCDIR/wal_recovery.pc"

# CMake: pthread as Threads::Threads (the config finds it), the rest by name.
CMAKE_STATIC_LIBS=""
for l in "${NATIVE_STATIC_LIBS[@]}"; do
    [[ "$l" == pthread ]] && l="Threads::Threads"
    CMAKE_STATIC_LIBS="${CMAKE_STATIC_LIBS:+$CMAKE_STATIC_LIBS;}$l"
done
# The C++ header parts the package checks for: "event.hpp;flashstrike.hpp;...".
CMAKE_CXX_PARTS="$(for p in "${CXX_PARTS[@]}"; do basename "$p"; done | paste -sd ';' -)"
subst() {
    sed -e "s|@WAL_VERSION@|$VERSION|g" -e "s|@WAL_SONAME@|$SONAME|g" -e "s|@WAL_ABI@|$ABI|g" \
        -e "s|@WAL_STATIC_LIBS@|$CMAKE_STATIC_LIBS|g" -e "s|@WAL_CXX_PARTS@|$CMAKE_CXX_PARTS|g" "$1" >"$2"
    if grep -n '@WAL_[A-Z_]*@' "$2" >&2; then die "unsubstituted placeholder in $2"; fi
    chmod 0644 "$2"
}
subst "$CMAKE_TEMPLATES/wal_recoveryConfig.cmake.in" "$CMAKEDIR/wal_recoveryConfig.cmake"
subst "$CMAKE_TEMPLATES/wal_recoveryConfigVersion.cmake.in" "$CMAKEDIR/wal_recoveryConfigVersion.cmake"

echo "install.sh: installed wal_recovery $VERSION into $PREFIX:" >&2
echo "  $LIBDIR/$SONAME" >&2
echo "  $LIBDIR/libwal_recovery.so -> $SONAME" >&2
echo "  $LIBDIR/libwal_recovery.a" >&2
echo "  $INCDIR/wal_recovery.h" >&2
echo "  $INCDIR/wal_recovery.hpp" >&2
echo "  $INCDIR/wal_recovery/{$(cd "$INCDIR/wal_recovery" && ls -- *.hpp | paste -sd, -)}" >&2
echo "  $PCDIR/wal_recovery.pc" >&2
echo "  $CMAKEDIR/wal_recoveryConfig.cmake" >&2
echo "  $CMAKEDIR/wal_recoveryConfigVersion.cmake" >&2
