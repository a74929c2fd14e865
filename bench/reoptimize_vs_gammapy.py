# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""reoptimize=True, in process: gammapy 2.1's FluxPointsEstimator.run against fluxpoints' on the
datasets of tests/python/test_reoptimize.py (two sources sharing a Cash and an On/Off spectrum
dataset, 2 energy groups; the map with three overlapping sources and a free background norm,
14 x 14 pixels, 4 reco bins, 2 groups), selection_optional = errn-errp, ul and a 3-point scan.
gammapy runs once (n_jobs=1); fluxpoints' time is the median of 5 runs after a warm-up and
includes the template extraction. Usage: .venv/bin/python bench/reoptimize_vs_gammapy.py [map]
"""

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
import test_reoptimize as cases  # noqa: E402
from gammapy.estimators import FluxPointsEstimator as GammapyEstimator  # noqa: E402

import fluxpoints  # noqa: E402


def main():
    if "map" in sys.argv[1:]:
        datasets, source, edges = [cases.crowded_map.__wrapped__()], "src0", cases.MAP_EDGES
    else:
        datasets, source, edges = cases.shared_spectra.__wrapped__(), "src", cases.SPECTRUM_EDGES
    kwargs = dict(
        source=source,
        energy_edges=edges,
        selection_optional=cases.SELECTION,
        norm=cases.SCAN_NORM,
        reoptimize=True,
    )
    t0 = time.perf_counter()
    theirs = GammapyEstimator(n_jobs=1, **kwargs).run(datasets)
    t_gammapy = time.perf_counter() - t0
    estimator = fluxpoints.FluxPointsEstimator(**kwargs)
    ours = estimator.run(datasets)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        ours = estimator.run(datasets)
        times.append(time.perf_counter() - t0)
    t_ours = statistics.median(times)
    norm_t, norm_o = np.ravel(theirs.norm.data), np.ravel(ours.norm.data)
    print(f"norms gammapy {norm_t}, fluxpoints {norm_o}")
    ratio = t_gammapy / t_ours
    print(f"gammapy {t_gammapy:.2f} s, fluxpoints {t_ours * 1e3:.1f} ms, ratio {ratio:.0f}")


if __name__ == "__main__":
    main()
