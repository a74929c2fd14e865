#!/bin/bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Catalog benchmark of issue 5, all on one generated 10,000-source catalog (selection all):
#   * flux points/s of `fluxpoints batch` on the CPU backend with 1 and 2 workers (and CUDA when the
#     build and the machine have it);
#   * the read-only floor (`batch --read-only`: the same chunked reads, nothing else);
#   * peak RSS (/usr/bin/time -v) for 1,000 and 10,000 sources;
#   * gammapy's FluxPointsEstimator on a random 20-source subset of the same catalog (per-source
#     time, extrapolated to the catalog) and the ratio per core.
# Usage: bench/catalog_bench.sh [BUILD_DIR=build] [WORK_DIR=/tmp/fluxpoints_catalog_bench]
# Environment: N_SOURCES (10000), N_GAMMAPY (20), SEED (1), PYTHON (the gammapy Python:
#   $FLUXPOINTS_GAMMAPY_PYTHON, else .venv/bin/python in the repository).
# Prints a Markdown table for bench/RESULTS.md; logs are kept in WORK_DIR.
set -euo pipefail
BUILD=${1:-build}
WORK=${2:-/tmp/fluxpoints_catalog_bench}
N=${N_SOURCES:-10000}
N_GAMMAPY=${N_GAMMAPY:-20}
SEED=${SEED:-1}
BIN=$(realpath "$BUILD/fluxpoints")
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-${FLUXPOINTS_GAMMAPY_PYTHON:-$HERE/../.venv/bin/python}}
mkdir -p "$WORK"
cd "$WORK"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" | tee machine.txt
# --overwrite: WORK_DIR is kept between runs.
"$BIN" simulate --catalog "$N" --seed "$SEED" -o "cat_$N.h5" --overwrite | tee simulate.log
"$BIN" simulate --catalog 1000 --seed "$SEED" -o cat_1000.h5 --overwrite > /dev/null

# Each run: wall time and peak RSS from /usr/bin/time -v; flux points/s from the program's summary.
run() {  # run LABEL ARGS...
  local label=$1; shift
  /usr/bin/time -v "$BIN" "$@" > "$label.out" 2> "$label.err"
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$label.err" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$label.err" | awk '{print $NF}')
  echo "$label|$wall|$rss|$(tail -n 2 "$label.out" | head -n 1)"
}

{
  run read_only_$N batch "cat_$N.h5" -o /dev/null --read-only
  run cpu_1worker_$N batch "cat_$N.h5" -o "res_cpu1_$N.h5" --backend cpu --workers 1 --no-progress --overwrite
  run cpu_2workers_$N batch "cat_$N.h5" -o "res_cpu2_$N.h5" --backend cpu --workers 2 --no-progress --overwrite
  run cpu_2workers_1000 batch cat_1000.h5 -o res_cpu2_1000.h5 --backend cpu --workers 2 --no-progress --overwrite
  if "$BIN" demo --backend cuda > /dev/null 2>&1; then
    run cuda_$N batch "cat_$N.h5" -o "res_cuda_$N.h5" --backend cuda --no-progress --overwrite
  fi
} | tee runs.txt

echo "gammapy on $N_GAMMAPY random sources (this takes a while) ..."
"$PYTHON" "$HERE/gammapy_catalog_subset.py" "cat_$N.h5" --n "$N_GAMMAPY" --seed "$SEED" \
  --results "res_cpu1_$N.h5" | tee gammapy.log

"$PYTHON" - "$N" <<'PY'
import json, re, sys
n = int(sys.argv[1])
rows = [line.rstrip("\n").split("|") for line in open("runs.txt")]
gp = json.loads(open("gammapy.log").read().strip().splitlines()[-1])
print()
print("| run | wall | peak RSS (MB) | flux points/s | x gammapy per core |")
print("|---|---|---|---|---|")
rates = {}
for label, wall, rss, summary in rows:
    m = re.search(r"\(([0-9.]+) flux points/s\)", summary)
    rate = float(m.group(1)) if m else float("nan")
    rates[label] = rate
    workers = 2 if "2workers" in label else 1
    ratio = rate / workers / gp["gammapy_flux_points_per_s"] if m and "cuda" not in label else float("nan")
    print(f"| {label} | {wall} | {int(rss) / 1024:.0f} | {rate:.0f} | {ratio:.0f} |")
print(f"| gammapy, {gp['gammapy_sources']} sources | {gp['gammapy_seconds_per_source']:.2f} s/source "
      f"(extrapolated {gp['gammapy_extrapolated_seconds_all_sources'] / 3600:.1f} h for {n}) | | "
      f"{gp['gammapy_flux_points_per_s']:.3f} | 1 |")
one, two = rates.get(f"cpu_1worker_{n}"), rates.get(f"cpu_2workers_{n}")
if one and two:
    print(f"\n2 workers / 1 worker: {two / one:.2f}x (goal >= 1.8x)")
if "max_rel_diff_vs_fluxpoints" in gp:
    print(f"largest relative difference to gammapy on the subset: {gp['max_rel_diff_vs_fluxpoints']}")
PY
