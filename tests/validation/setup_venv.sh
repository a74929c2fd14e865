#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Create the Python venv used by tests/validation (gammapy 2.1 and its pins).
# Usage: tests/validation/setup_venv.sh [VENV_DIR]   (default: .venv in the repo root)
# Needs python3 >= 3.11 with the venv module (Debian: apt-get install python3-venv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${here}/../.." && pwd)"
venv_dir="${1:-${repo_root}/.venv}"
python="${PYTHON:-python3}"

"${python}" -m venv "${venv_dir}"
"${venv_dir}/bin/python" -m pip install --quiet --upgrade pip
"${venv_dir}/bin/python" -m pip install --quiet -r "${here}/requirements.txt"
# Fail here, not later in a test, if the environment cannot import what the scripts use.
"${venv_dir}/bin/python" - <<'PY'
import gammapy
from gammapy.datasets import SpectrumDatasetOnOff
from gammapy.estimators import FluxPointsEstimator, FluxPoints
assert gammapy.__version__ == "2.1", gammapy.__version__
print(f"gammapy {gammapy.__version__} ready")
PY
echo "venv: ${venv_dir}"
