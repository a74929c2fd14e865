#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# The README's test command: installs what is missing (Debian packages, the gammapy 2.1 venv in
# .venv), builds, runs the live comparison against gammapy on the joint-crab spectra, then every
# GoogleTest suite through ctest (its summary line comes last). GPU tests skip, saying why, on
# machines without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/build.sh
if ! .venv/bin/python -c "import gammapy, h5py" 2>/dev/null; then
  bash tests/validation/setup_venv.sh .venv
fi
export FLUXPOINTS_GAMMAPY_PYTHON="$PWD/.venv/bin/python"
echo "== live comparison with gammapy 2.1 (tests/validation/compare.py)"
.venv/bin/python tests/validation/compare.py build/fluxpoints > build/compare_gammapy.log 2>&1 \
  || { cat build/compare_gammapy.log; echo "gammapy comparison FAILED"; exit 1; }
grep -E "^(=>|ALL PASS|case)" build/compare_gammapy.log || tail -n 5 build/compare_gammapy.log
bash tests/python/run.sh  # the Python package against live gammapy (pytest)
echo "== test suites"
ctest --test-dir build --output-on-failure -j "$(nproc)"
