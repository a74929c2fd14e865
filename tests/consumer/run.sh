#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Installs the build in BUILD_DIR into WORK_DIR/prefix (cmake --install), then configures, builds
# and runs tests/consumer against it, and checks that a program linked with fluxpoints::engine
# alone depends on no file-format or MPI library.
#   tests/consumer/run.sh BUILD_DIR WORK_DIR [EXTRA_CXX_FLAGS]
# EXTRA_CXX_FLAGS: compile and link flags the installed libraries need from their users (the
# sanitizer flags of a sanitizer build).
set -euo pipefail
build=$(realpath "$1")
work=$2
flags=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
work=$(realpath "$work")

echo "== cmake --install $build --prefix $work/prefix"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
echo "== configure and build tests/consumer against it"
cmake -S "$here" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
echo "== run"
"$work/build/solve_batch"

echo "== libraries the engine-only program loads (none of HDF5, cfitsio, yaml-cpp, fmt, zlib, MPI)"
libs=$(ldd "$work/build/solve_batch")
echo "$libs"
if echo "$libs" | grep -Ei 'hdf5|cfitsio|yaml|libfmt|libz\.|libmpi'; then
  echo "consumer: FAILED: the engine pulled in a file-format or MPI library (above)" >&2
  exit 1
fi
echo "== the installed program"
"$work/prefix/bin/fluxpoints" --version
echo "consumer: ok"
