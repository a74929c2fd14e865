#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# Runs its arguments with the gammapy Python: $FLUXPOINTS_GAMMAPY_PYTHON, else <repo>/.venv/bin/python
# (tests/validation/setup_venv.sh creates it). Without one it skips, saying why (exit 77, ctest's
# SKIP_RETURN_CODE for the comparison tests), or fails under FLUXPOINTS_REQUIRE_ALL_TESTS=1.
#   tests/validation/gammapy_python.sh tests/validation/compare.py build/fluxpoints
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${FLUXPOINTS_GAMMAPY_PYTHON:-$root/.venv/bin/python}
if [ ! -x "$python" ]; then
  reason="needs gammapy 2.1: no gammapy Python ($python does not exist; set"
  reason+=" FLUXPOINTS_GAMMAPY_PYTHON or run tests/validation/setup_venv.sh)"
  if [ "${FLUXPOINTS_REQUIRE_ALL_TESTS:-}" = 1 ]; then
    echo "FAIL: $reason [FLUXPOINTS_REQUIRE_ALL_TESTS=1: this test must run here]"
    exit 1
  fi
  echo "Skipped: $reason"
  exit 77
fi
exec "$python" "$@"
