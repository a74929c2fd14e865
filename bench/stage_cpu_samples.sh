#!/bin/bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# CPU time of `fluxpoints batch`'s fold+assemble stage for two programs on the same simulated
# catalog, from perf's CPU-clock samples (one every 0.25 ms of CPU): the samples whose call stack
# passes through the stage's functions (fold_chunk, assemble_source, append_batch), times 0.25 ms.
# Unlike the stage's wall clock, this hardly depends on what else runs on the machine (time the
# thread waits for a core is not sampled), so it compares programs on a loaded machine. Runs the
# two alternately (A B A B ...), one worker, and prints one Markdown row per run.
# Usage: bench/stage_cpu_samples.sh BEFORE_BINARY AFTER_BINARY [N_SOURCES=10000] [REPEATS=3]
# Needs perf (Debian: linux-perf) and python3. Environment: WORK_DIR (/tmp/fluxpoints_stage_cpu),
# SEED (1).
set -euo pipefail
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
N=${3:-10000}
REPEATS=${4:-3}
SEED=${SEED:-1}
WORK=${WORK_DIR:-/tmp/fluxpoints_stage_cpu}
command -v perf > /dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$WORK"
cd "$WORK"
# Written by BEFORE: a newer program reads older catalog formats, not the other way round.
"$BEFORE" simulate --catalog "$N" --seed "$SEED" -o "cat_$N.h5" --overwrite > /dev/null

echo "| program | run | fold+assemble CPU (s) | samples in the stage | all samples | fold+assemble wall (s) |"
echo "|---|---|---|---|---|---|"
for r in $(seq 1 "$REPEATS"); do
  for label in before after; do
    bin=$BEFORE
    if [ "$label" = after ]; then bin=$AFTER; fi
    perf record -q -e cpu-clock -c 250000 --call-graph dwarf,12288 -o perf.data \
      "$bin" batch "cat_$N.h5" -o "res_$label.h5" --backend cpu --workers 1 --no-progress \
      --overwrite -v > "$label.out" 2> "$label.err"
    wall=$(grep -o 'fold+assemble [0-9.]* s' "$label.err" | sed -E 's/[^0-9.]//g')
    counts=$(perf script -i perf.data -F ip,sym 2> /dev/null | python3 -c '
import sys
marks = ("fold_chunk", "assemble_source", "append_batch")
total = in_stage = 0
chain = []
def flush():
    global total, in_stage
    if chain:
        total += 1
        in_stage += any(m in f for f in chain for m in marks)
for line in sys.stdin:
    if not line.strip() or line[0] not in " \t":
        flush()
        chain.clear()
    else:
        chain.append(line)
flush()
print(in_stage, total)')
    read -r in_stage total <<< "$counts"
    printf '| %s | %d | %.3f | %d | %d | %s |\n' "$label" "$r" "$(awk "BEGIN {print $in_stage * 0.00025}")" \
      "$in_stage" "$total" "$wall"
  done
done
rm -f perf.data
