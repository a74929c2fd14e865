#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# The README's test command: installs what is missing (Debian packages, the gammapy 2.1 venv in
# .venv), builds, runs every test through ctest (the GoogleTest suites and the comparisons with
# gammapy, tests/validation/compare.py), then lists the tests that skipped and why. Tests that
# need a CUDA device or ../shared/data (reference data beside the repository) skip without them;
# under FLUXPOINTS_REQUIRE_ALL_TESTS=1 (set by .ci/run) only the GPU tests may skip. See
# docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/build.sh
if ! .venv/bin/python -c "import gammapy, h5py" 2>/dev/null; then
  bash tests/validation/setup_venv.sh .venv
fi
export FLUXPOINTS_GAMMAPY_PYTHON="$PWD/.venv/bin/python"
bash tests/python/run.sh  # the Python package against live gammapy (pytest)
echo "== tests (ctest; labels gammapy, shared-data, gpu)"
rm -f build/ctest-junit.xml
status=0
ctest --test-dir build --output-on-failure -j "$(nproc)" --output-junit ctest-junit.xml || status=$?
python3 tests/skip_report.py build || status=1
exit "$status"
