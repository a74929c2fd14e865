#!/bin/bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Field catalogs (issue 11): flux points/s of `fluxpoints batch` on a simulated crowded-field
# catalog (`simulate --catalog N --field`: 8 sources per 20 x 20-pixel field, a background with a
# free norm, 5 energy groups, selection errn-errp,ul), with reoptimize off and on, on the CPU
# backend with 1 and 2 workers.
# Usage: bench/field_bench.sh [BUILD_DIR=build] [WORK_DIR=/tmp/fluxpoints_field_bench]
# Environment: N_SOURCES (10000), N_REOPTIMIZE (sources for the reoptimize runs; default
#   N_SOURCES), SEED (1).
# Prints one Markdown table row per run for bench/RESULTS.md; logs are kept in WORK_DIR.
# gammapy on the same fields in the same run (fields built in gammapy, written with
# fluxpoints.write_catalog, a subset of sources estimated by both and compared):
# bench/field_gammapy_bench.py.
set -euo pipefail
BUILD=${1:-build}
WORK=${2:-/tmp/fluxpoints_field_bench}
N=${N_SOURCES:-10000}
N_RE=${N_REOPTIMIZE:-$N}
SEED=${SEED:-1}
BIN=$(realpath "$BUILD/fluxpoints")
mkdir -p "$WORK"
cd "$WORK"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$BIN" simulate --catalog "$N" --field --groups 5 --selection errn-errp,ul --seed "$SEED" \
  -o "fields_$N.h5" --overwrite > /dev/null
if [ "$N_RE" != "$N" ]; then
  "$BIN" simulate --catalog "$N_RE" --field --groups 5 --selection errn-errp,ul --seed "$SEED" \
    -o "fields_$N_RE.h5" --overwrite > /dev/null
fi

run() {  # run LABEL CATALOG ARGS...
  local label=$1 catalog=$2; shift 2
  "$BIN" batch "$catalog" -o "$label.h5" --overwrite --no-progress --backend cpu "$@" \
    > "$label.out" 2> "$label.err"
  echo "| $label | $(grep -o '[0-9]* flux points in [0-9.]* s ([0-9]* flux points/s)' "$label.out") |"
}
echo "| run | result |"
echo "|---|---|"
for w in 1 2; do
  run "fixed_${N}_w$w" "fields_$N.h5" --workers "$w" --no-reoptimize
  run "reoptimize_${N_RE}_w$w" "fields_$N_RE.h5" --workers "$w" --reoptimize
done
