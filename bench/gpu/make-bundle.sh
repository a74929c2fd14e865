#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Builds fluxpoints for the GPU test host (Release, CUDA, sm_90) and packs the programs with the
# shared libraries they load into .gpu/bundle (see ../shared/design/gpu-machine.md). Then run,
# on the GPU host from the repository root, carrying .gpu:  bench/gpu/check.sh LOG_DIR
# Environment: BUILD_DIR (default build-gpu), JOBS (default 2), CUDA_ARCHS (default 90),
#              DEVICE_BUNDLE (default ../shared/tools/device-bundle.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build=${BUILD_DIR:-build-gpu}
bundle_tool=${DEVICE_BUNDLE:-$root/../shared/tools/device-bundle.sh}
[ -x "$bundle_tool" ] || { echo "make-bundle: $bundle_tool not found (set DEVICE_BUNDLE)" >&2; exit 2; }

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLUXPOINTS_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" -DFLUXPOINTS_BUILD_TESTS=ON \
  -DFLUXPOINTS_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}"

programs=("$build/fluxpoints" "$build/tests/fluxpoints_tests")
for b in "$build"/bench/bench_*; do [ -x "$b" ] && [ -f "$b" ] && programs+=("$b"); done
rm -rf .gpu/bundle
"$bundle_tool" .gpu/bundle "${programs[@]}"

# The test binary has the source directory and the CLI's path compiled in
# (FLUXPOINTS_SOURCE_DIR, FLUXPOINTS_BINARY); check.sh recreates them there as links.
printf '%s\n' "$root" > .gpu/bundle/source_dir
printf '%s\n' "$root/$build/fluxpoints" > .gpu/bundle/fluxpoints_binary
# Test data: data/ is tracked and travels with the working tree; ../shared does not exist on the
# GPU host, so tests that need it skip there.
grep -qx '/.gpu/' .gitignore 2>/dev/null || grep -qx '.gpu/' .git/info/exclude 2>/dev/null ||
  echo '.gpu/' >> "$(git rev-parse --git-path info/exclude)"
echo "make-bundle: $(ls .gpu/bundle/bin | tr '\n' ' ')-> .gpu/bundle ($(du -sh .gpu/bundle | cut -f1))"
