#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Builds fluxpoints with sanitizers and runs the whole test suite (ctest, every label) under them,
# each flavour in its own build folder, CUDA off:
#   tests/sanitize.sh [address] [thread]       (default: both)
#     address: AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer, in build-asan/
#     thread:  ThreadSanitizer, in build-tsan/
# Every process writes its sanitizer reports into <build>/sanitizer-logs/ (the CLI runs as a child
# of the tests, where an exit code alone could hide a report); the flavour fails if a test fails
# or any report was written. Suppressions (third-party libraries only): tests/sanitizers/.
# Takes long: each build ~15 min on 2 cores, each suite 5-15 min. See docs/testing.md.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(address thread)
jobs=${JOBS:-$(nproc)}
bash .ci/install-deps.sh >/dev/null
if [ -z "${FLUXPOINTS_GAMMAPY_PYTHON:-}" ] && [ -x .venv/bin/python ]; then
  export FLUXPOINTS_GAMMAPY_PYTHON="$root/.venv/bin/python"
fi

overall=0
for flavour in "${flavours[@]}"; do
  case "$flavour" in
    address) dir=build-asan sanitize=address,undefined ;;
    thread) dir=build-tsan sanitize=thread ;;
    *) echo "sanitize: unknown flavour '$flavour' (address or thread)" >&2; exit 2 ;;
  esac
  echo "== $flavour: building $dir (FLUXPOINTS_SANITIZE=$sanitize)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLUXPOINTS_CUDA=OFF \
    -DFLUXPOINTS_SANITIZE="$sanitize" -DFLUXPOINTS_BUILD_BENCH=OFF >/dev/null &&
    cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 ||
    { tail -n 30 "$dir/build.log"; echo "== $flavour: BUILD FAILED"; overall=1; continue; }

  logs="$root/$dir/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  supp="$root/tests/sanitizers"
  common="log_path=$logs/report:print_stacktrace=1"
  # The slow unwinder gives leak stacks through third-party libraries built without frame
  # pointers, which the suppressions need.
  export ASAN_OPTIONS="$common:detect_leaks=1:fast_unwind_on_malloc=0:strict_string_checks=1"
  ASAN_OPTIONS+=":check_initialization_order=1"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="$common:halt_on_error=1"
  export TSAN_OPTIONS="$common:halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
  echo "== $flavour: ctest in $dir"
  status=0
  rm -f "$dir/ctest-junit.xml"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --output-junit ctest-junit.xml \
    >"$dir/ctest.log" 2>&1 || status=1
  sed -n '/tests passed/,$p' "$dir/ctest.log"
  python3 tests/skip_report.py "$dir" || status=1
  reports=("$logs"/report*)
  if [ -e "${reports[0]}" ]; then
    echo "== $flavour: ${#reports[@]} sanitizer reports in $logs:"
    for r in "${reports[@]}"; do echo "--- $r"; head -n 40 "$r"; done
    status=1
  fi
  if [ "$status" -eq 0 ]; then
    echo "== $flavour: CLEAN (every test passed, no sanitizer report)"
  else
    echo "== $flavour: FAILED (full ctest log: $dir/ctest.log)"
    overall=1
  fi
done
exit "$overall"
