#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# The GPU check, run on the GPU test host from the repository root after bench/gpu/make-bundle.sh
# (on the build machine) filled .gpu/bundle:
#   bench/gpu/check.sh LOG_DIR
# Runs the whole test suite (every backend, the CUDA tests for real) and the CUDA benchmark,
# writes full logs into LOG_DIR and prints a short table last. Finishes in under 5 minutes.
set -uo pipefail
logs=${1:?usage: bench/gpu/check.sh LOG_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
[ -f .gpu/bundle/env.sh ] || { echo "check: .gpu/bundle/env.sh missing; run bench/gpu/make-bundle.sh" >&2; exit 2; }
# shellcheck disable=SC1091
source .gpu/bundle/env.sh

# Recreate the compiled-in paths of the build machine as links (best effort).
link_if_missing() {  # link_if_missing PATH TARGET
  [ -e "$1" ] && return 0
  mkdir -p "$(dirname "$1")" 2>/dev/null && ln -s "$2" "$1" 2>/dev/null &&
    echo "linked $1 -> $2" >> "$logs/paths.log"
}
[ -f .gpu/bundle/source_dir ] && link_if_missing "$(cat .gpu/bundle/source_dir)" "$root"
[ -f .gpu/bundle/fluxpoints_binary ] &&
  link_if_missing "$(cat .gpu/bundle/fluxpoints_binary)" "$root/.gpu/bundle/bin/fluxpoints"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$logs/device.txt" 2>&1 ||
  echo "nvidia-smi not available" > "$logs/device.txt"
start=$(date +%s)

timeout 170 fluxpoints_tests --gtest_color=no --gtest_output="xml:$logs/tests.xml" \
  > "$logs/tests.log" 2>&1
tests_rc=$?
tests_s=$(( $(date +%s) - start ))

timeout 100 bench_cuda > "$logs/bench_cuda.log" 2>&1
bench_rc=$?
total_s=$(( $(date +%s) - start ))

count() {  # count 'PASSED  ' or 'SKIPPED ': gtest's closing "[  PASSED  ] N tests" lines
  grep -m1 -oE "^\[  $1\] [0-9]+" "$logs/tests.log" | grep -oE '[0-9]+$' || echo 0
}
{
  echo
  echo "== fluxpoints GPU check on: $(head -1 "$logs/device.txt")"
  printf '%-30s %s\n' "tests exit code" "$tests_rc ($tests_s s; 124 = timed out)"
  printf '%-30s %s\n' "tests passed" "$(count 'PASSED  ')"
  printf '%-30s %s\n' "tests skipped" "$(count 'SKIPPED ')"
  printf '%-30s %s\n' "tests failed" "$(grep -c '^\[  FAILED  \] .*(' "$logs/tests.log" || true)"
  grep '^\[  FAILED  \] .*(' "$logs/tests.log" | head -20
  cuda_skip=$(grep -m1 -A1 'test_cuda_equivalence.cpp:[0-9]*: Skipped' "$logs/tests.log" | tail -1)
  [ -n "$cuda_skip" ] && printf '%-30s %s\n' "CUDA tests SKIPPED" "$cuda_skip"
  printf '%-30s %s\n' "bench_cuda exit code" "$bench_rc"
  sed -n '/^SUMMARY/,$p' "$logs/bench_cuda.log"
  printf '%-30s %s\n' "total time" "${total_s} s; logs in $logs"
} | tee "$logs/summary.txt"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
