#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Installs dependencies if missing, then configures and builds fluxpoints into build/.
# CUDA code is compiled whenever nvcc is found (FLUXPOINTS_CUDA=AUTO); override with
#   FLUXPOINTS_CMAKE_ARGS="-DFLUXPOINTS_CUDA=OFF" bash .ci/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${FLUXPOINTS_CMAKE_ARGS:-} >/dev/null
cmake --build build -j "$(nproc)"
