#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Builds and installs the Python package (pip install . into the repository's .venv, which
# tests/validation/setup_venv.sh creates with gammapy 2.1) and runs its tests against live gammapy.
# pytest's summary line comes last. Extra arguments go to pytest (e.g. -k map, -x).
# The build reuses build/python-* between runs; CUDA is compiled when nvcc is found, as for the
# command line (pass FLUXPOINTS_PIP_ARGS="-C cmake.define.FLUXPOINTS_CUDA=OFF" to skip it).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=.venv/bin/python
if ! "${python}" -c "import gammapy" 2>/dev/null; then
  bash tests/validation/setup_venv.sh .venv
fi
"${python}" -m pip install --quiet -r python/requirements-build.txt
echo "== pip install . (fluxpoints Python package)"
# shellcheck disable=SC2086
"${python}" -m pip install --quiet --no-build-isolation ${FLUXPOINTS_PIP_ARGS:-} .
echo "== pytest tests/python"
cd tests/python
exec "../../${python}" -m pytest -q -p no:cacheprovider --durations=8 "$@"
