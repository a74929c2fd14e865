#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# The GPU check, run on the GPU test host from the repository root after bench/gpu/make-bundle.sh
# (on the build machine) filled .gpu/bundle:
#   bench/gpu/check.sh LOG_DIR
# Runs, in this order, each with its own time limit so that the whole stays under 5 minutes:
#   * the whole test suite (every backend, the CUDA tests for real);
#   * the CUDA engine benchmark (bench_cuda);
#   * `fluxpoints batch` on a simulated 100,000-source catalog on the GPU (solve and fold) and on
#     the CPU (every core; 1 and 2 workers would not fit the time: 2 workers on 10,000 sources
#     instead);
#   * compute-sanitizer memcheck, racecheck, synccheck and initcheck on the CUDA tests.
# Writes full logs into LOG_DIR and prints a short table last.
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
# Every step's limit is its own cap or what is left of 290 s, whichever is less: the whole check
# ends within 5 minutes even when steps are cut (exit code 124 in the summary).
limit() {  # limit CAP_SECONDS
  local left=$(( 290 - ($(date +%s) - start) ))
  [ "$left" -lt 1 ] && left=1
  echo $(( $1 < left ? $1 : left ))
}

timeout "$(limit 120)" fluxpoints_tests --gtest_color=no --gtest_output="xml:$logs/tests.xml" \
  > "$logs/tests.log" 2>&1
tests_rc=$?
tests_s=$(( $(date +%s) - start ))

timeout "$(limit 45)" bench_cuda > "$logs/bench_cuda.log" 2>&1
bench_rc=$?

# batch end to end: flux points/s from the program's last summary line, stage times with -v.
batch_summary=""
work=$(mktemp -d)
if timeout "$(limit 40)" fluxpoints simulate --catalog 100000 --seed 1 -o "$work/cat_100000.h5" \
     > "$logs/simulate.log" 2>&1 &&
   timeout "$(limit 10)" fluxpoints simulate --catalog 10000 --seed 1 -o "$work/cat_10000.h5" \
     >> "$logs/simulate.log" 2>&1; then
  for run in "cuda 100000 0" "cpu 100000 0" "cpu 10000 2"; do
    read -r backend n workers <<< "$run"
    label="batch_${backend}_${n}_w${workers}"
    timeout "$(limit 40)" fluxpoints batch "$work/cat_$n.h5" -o "$work/res_$label.h5" --backend "$backend" \
      --workers "$workers" --no-progress -v > "$logs/$label.log" 2>&1
    rc=$?
    # Where the fold ran (--fold auto: on the GPU with the cuda backend), from the plan line.
    fold_where=$(grep -m1 -o 'fold [a-z]*: on the [a-z]*' "$logs/$label.log")
    batch_summary+="$label: rc $rc; ${fold_where:-fold: ?}; $(grep -m1 'flux points/s' "$logs/$label.log" | sed 's/.*flux points in/in/')"$'\n'
    [ "$rc" -eq 0 ] || batch_failed=1
  done
else
  batch_summary="simulate failed or timed out (see simulate.log)"
  batch_failed=1
fi
rm -rf "$work"
# compute-sanitizer on the CUDA tests (names as in tests/labels.cmake, label gpu).
sanitizer=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
cuda_filter='CudaEquivalence.*:CudaNoDevice.*:CudaFold.*:CudaKernelImage.*:CudaDevice.*:NuisanceSolver.Cuda*:NuisanceBackendCuda.*:*/cuda*'
sanitizer_summary=""
for tool in memcheck racecheck synccheck initcheck; do
  if [ ! -x "$sanitizer" ]; then
    sanitizer_summary+="$tool: compute-sanitizer not found; "
    continue
  fi
  timeout "$(limit 45)" "$sanitizer" --tool "$tool" --error-exitcode 3 fluxpoints_tests --gtest_color=no \
    --gtest_filter="$cuda_filter" > "$logs/sanitizer_$tool.log" 2>&1
  rc=$?
  sanitizer_summary+="$tool: rc $rc ($(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/sanitizer_$tool.log" | tr -s ' ')); "
  [ "$rc" -eq 0 ] || sanitizer_failed=1
done

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
  printf '%-30s %s\n' "compute-sanitizer" "$sanitizer_summary"
  printf '%-30s %s\n' "bench_cuda exit code" "$bench_rc"
  sed -n '/^SUMMARY/,$p' "$logs/bench_cuda.log"
  echo "batch (0 workers = every core):"
  printf '%s\n' "$batch_summary"
  printf '%-30s %s\n' "total time" "${total_s} s; logs in $logs"
} | tee "$logs/summary.txt"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ] && [ -z "${sanitizer_failed:-}" ] &&
  [ -z "${batch_failed:-}" ]
