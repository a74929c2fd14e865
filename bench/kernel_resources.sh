#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Registers, stack and spills of every CUDA kernel, per GPU architecture, as ptxas reports them
# (nvcc -Xptxas -v). Needs nvcc, no GPU. Prints a Markdown table (the one in bench/RESULTS.md).
#
#   bench/kernel_resources.sh [BUILD_DIR] [ARCH...]
#
# BUILD_DIR: a configured build folder (any FLUXPOINTS_CUDA setting), for the generated
# fluxpoints/config.hpp; default build. ARCH: compute capabilities, default 80 90.
# The flags are those of a Release build (CMakeLists.txt): -O3, C++17, relaxed constexpr.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(80 90)
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -f "$build/include/fluxpoints/config.hpp" ]; then
  echo "kernel_resources.sh: $build/include/fluxpoints/config.hpp not found; configure $build" \
       "with cmake first" >&2
  exit 1
fi
gencode=()
for a in "${archs[@]}"; do gencode+=("-gencode" "arch=compute_$a,code=sm_$a"); done
log=$(mktemp)
obj=$(mktemp --suffix=.o)
trap 'rm -f "$log" "$obj"' EXIT
"$nvcc" -std=c++17 --expt-relaxed-constexpr -O3 -DNDEBUG -I include -I . -I "$build/include" \
  "${gencode[@]}" -Xptxas -v -c kernels/cuda/cuda_backend.cu -o "$obj" >"$log" 2>&1 || {
  cat "$log" >&2
  exit 1
}
echo "nvcc: $("$nvcc" --version | tail -1); $(date -u +%Y-%m-%d)"
echo
python3 - "$log" <<'PY'
import re, subprocess, sys

# ptxas prints, per architecture, "Compiling entry function 'K' for 'sm_XX'" for each kernel, and
# "Function properties for F" (stack and spills) for each kernel and each function the kernels
# call (not inlined); a kernel's "Used N registers" line follows its properties.
rows, by_key, arch, last = [], {}, "?", None
for line in open(sys.argv[1]).read().splitlines():
    m = re.search(r"Compiling entry function '(\S+)' for '(sm_\d+)'", line)
    if m:
        arch = m.group(2)
        continue
    m = re.search(r"Function properties for (\S+)", line)
    if m:
        last = {"mangled": m.group(1), "arch": arch, "regs": "", "smem": "", "stack": "?",
                "spill_st": "?", "spill_ld": "?"}
        rows.append(last)
        continue
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads",
                  line)
    if m and last:
        last["stack"], last["spill_st"], last["spill_ld"] = m.groups()
    m = re.search(r"Used (\d+) registers", line)
    if m and last:
        last["regs"] = m.group(1)
        s = re.search(r"(\d+) bytes smem", line)
        last["smem"] = s.group(1) if s else "0"
names = subprocess.run(["c++filt"], input="\n".join(r["mangled"] for r in rows), text=True,
                       capture_output=True, check=True).stdout.splitlines()
for r, n in zip(rows, names):
    n = n.replace("(anonymous namespace)::", "")
    n = re.sub(r"\bfluxpoints::(cuda_backend|math)::", "", n)
    if n.lstrip("void ").startswith("cub::"):
        n = re.sub(r"<.*", "", n)  # CUB's sort kernels: the name is enough
    n = re.sub(r"^(void|ProblemSolution) ", "", n)
    while re.search(r"\([^()]*\)", n):  # parameter lists
        n = re.sub(r"\([^()]*\)", "", n)
    n = re.sub(r"cub::CUB_\w+::detail::(radix_sort::)?", "cub::", n)
    n = n.replace("::operator()", "").replace(" const", "")
    r["name"] = n if r["regs"] else n + " (called function)"
seen, unique = set(), []
for r in rows:  # a called function is listed once per kernel that calls it
    key = (r["name"], r["arch"])
    if key not in seen:
        seen.add(key)
        unique.append(r)
unique.sort(key=lambda r: (r["name"].startswith("cub::"), r["name"], r["arch"]))
print("| kernel | arch | registers | stack frame (B) | spill stores (B) | spill loads (B) | smem (B) |")
print("|---|---|---:|---:|---:|---:|---:|")
for r in unique:
    print(f"| {r['name']} | {r['arch']} | {r['regs']} | {r['stack']} | {r['spill_st']} | "
          f"{r['spill_ld']} | {r['smem']} |")
PY
