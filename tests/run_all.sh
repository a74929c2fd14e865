#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# The README's test command: installs what is missing, builds, runs every test suite.
# GPU tests skip (and say why) on machines without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
