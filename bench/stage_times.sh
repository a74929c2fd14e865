#!/bin/bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Stage times of `fluxpoints batch` (read, fold+assemble, solve, tables, write) for two programs on
# the same simulated catalog, run alternately (A B A B ...) in one call so that both see the same
# machine load; prints one Markdown row per run. The two may be the same binary with different
# flags (e.g. BEFORE_ARGS=--no-overlap to measure the solve/fold overlap).
# Usage: bench/stage_times.sh BEFORE_BINARY AFTER_BINARY [N_SOURCES=10000] [REPEATS=3]
# Environment: WORKERS (worker counts, e.g. "1 2"; default 1), BEFORE_ARGS, AFTER_ARGS (extra
# batch arguments of each side), WORK_DIR (/tmp/fluxpoints_stage_times), SEED (1).
set -euo pipefail
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
N=${3:-10000}
REPEATS=${4:-3}
WORKERS=${WORKERS:-1}
SEED=${SEED:-1}
WORK=${WORK_DIR:-/tmp/fluxpoints_stage_times}
mkdir -p "$WORK"
cd "$WORK"
# Written by BEFORE: a newer program reads older catalog formats, not the other way round.
"$BEFORE" simulate --catalog "$N" --seed "$SEED" -o "cat_$N.h5" --overwrite > /dev/null

echo "| program | workers | run | read (overlapped) | fold+assemble | solve | tables | write | wall |"
echo "|---|---|---|---|---|---|---|---|---|"
for w in $WORKERS; do
  for r in $(seq 1 "$REPEATS"); do
    for label in before after; do
      bin=$BEFORE; args=${BEFORE_ARGS:-}
      if [ "$label" = after ]; then bin=$AFTER; args=${AFTER_ARGS:-}; fi
      start=$(date +%s.%N)
      # shellcheck disable=SC2086
      "$bin" batch "cat_$N.h5" -o "res_$label.h5" --backend cpu --workers "$w" --no-progress \
        --overwrite -v $args > "$label.out" 2> "$label.err"
      wall=$(awk "BEGIN {print $(date +%s.%N) - $start}")
      # "rank 0 stage times: read 0.51 s (overlapped), fold+assemble 3.18 s, solve ..."
      line=$(grep 'stage times' "$label.err")
      t() { echo "$line" | sed -E "s/.*$1 ([0-9.]+) s.*/\\1/"; }
      printf '| %s%s | %d | %d | %s | %s | %s | %s | %s | %.2f |\n' "$label" "${args:+ $args}" \
        "$w" "$r" "$(t read)" "$(t fold\\+assemble)" "$(t solve)" "$(t tables)" "$(t write)" "$wall"
    done
  done
done
