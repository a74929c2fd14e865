# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""In-process benchmark: gammapy 2.1's FluxPointsEstimator.run against fluxpoints' drop-in
estimator, on the same gammapy datasets with the same call, per source.

Cases (datasets simulated with gammapy and synthetic IRFs, tests/python/simulated.py):

* spectrum: one SpectrumDatasetOnOff (12 reco bins), one source, 6 energy groups;
* map: one MapDataset (48 x 48 pixels of 0.05 deg, 6 reco bins, FoV background) with
  N sources (default 12) whose PSFs overlap, 3 energy groups. gammapy runs a subset of the
  sources (default 3; its time per source does not depend on which); fluxpoints runs every
  source, one `run` per source (the same call as gammapy's), and all at once
  (`estimate_sources`). Every fluxpoints time includes the extraction of the templates from
  gammapy's evaluators.

selection_optional = errn-errp, ul, scan in both. Each fluxpoints time is the median of
`--repeat` runs after one warm-up; gammapy runs once per source (it takes seconds to minutes).
The results are compared (norms within 0.02 sigma) so that the timings are of equal work.

Usage:  .venv/bin/python bench/python_vs_gammapy.py [--sources 12] [--gammapy-sources 3]
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import numpy as np
from astropy import units as u

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from gammapy.datasets import Datasets  # noqa: E402
from gammapy.estimators import FluxPointsEstimator as GammapyEstimator  # noqa: E402

import fluxpoints  # noqa: E402
import simulated  # noqa: E402

SELECTION = ["errn-errp", "ul", "scan"]
SPECTRUM_EDGES = [0.1, 0.3, 1, 3, 10, 30, 100] * u.TeV
MAP_EDGES = [0.1, 1, 10, 100] * u.TeV


def median_time(function, repeat):
    function()  # warm-up (imports, caches, thread pool)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timed(function):
    t0 = time.perf_counter()
    out = function()
    return out, time.perf_counter() - t0


def check_same(ours, theirs, what):
    a = ours.to_table(sed_type="likelihood")
    b = theirs.to_table(sed_type="likelihood")
    ok = np.isfinite(b["norm"])
    assert np.array_equal(ok, np.isfinite(a["norm"])), what
    assert np.all(
        np.abs(a["norm"][ok] - b["norm"][ok])
        <= 0.02 * b["norm_err"][ok] + 1e-3 * np.abs(b["norm"][ok])
    ), f"{what}: norms differ"


def spectrum_case(repeat):
    dataset = simulated.spectrum_dataset(name="onoff", seed=11, on_off=True)
    datasets = Datasets([dataset])
    kwargs = dict(source="src", energy_edges=SPECTRUM_EDGES, selection_optional=SELECTION)
    theirs, t_gammapy = timed(lambda: GammapyEstimator(**kwargs).run(datasets))
    ours = fluxpoints.FluxPointsEstimator(**kwargs)
    t_ours = median_time(lambda: ours.run(datasets), repeat)
    check_same(ours.run(datasets), theirs, "spectrum")
    return {"gammapy_s": t_gammapy, "fluxpoints_s": t_ours}


def map_case(n_sources, n_gammapy, repeat):
    sources = simulated.map_sources(n_sources, seed=61, spread=0.6)
    t0 = time.perf_counter()
    dataset = simulated.map_dataset(name="map", seed=62, npix=48, binsz=0.05, sources=sources)
    t_simulate = time.perf_counter() - t0
    datasets = Datasets([dataset])
    names = [m.name for m in sources]
    kwargs = dict(energy_edges=MAP_EDGES, selection_optional=SELECTION)

    gammapy_times, theirs = [], {}
    for name in names[:n_gammapy]:
        theirs[name], t = timed(lambda: GammapyEstimator(source=name, **kwargs).run(datasets))
        gammapy_times.append(t)

    def single_runs():
        return {n: fluxpoints.FluxPointsEstimator(source=n, **kwargs).run(datasets) for n in names}

    t_single = median_time(single_runs, repeat)
    t_batch = median_time(lambda: fluxpoints.estimate_sources(datasets, names, **kwargs), repeat)
    ours = fluxpoints.estimate_sources(datasets, names, **kwargs)
    for name in theirs:
        check_same(ours[name], theirs[name], f"map {name}")
    return {
        "n_sources": n_sources,
        "n_gammapy": n_gammapy,
        "simulate_s": t_simulate,
        "gammapy_per_source_s": statistics.mean(gammapy_times),
        "gammapy_times_s": gammapy_times,
        "single_per_source_s": t_single / n_sources,
        "batch_per_source_s": t_batch / n_sources,
        "batch_total_s": t_batch,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=12)
    parser.add_argument("--gammapy-sources", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    name, why = fluxpoints.backend_info()
    print(
        f"# {datetime.date.today()}  {platform.node()}  {os.cpu_count()} CPUs  "
        f"Python {platform.python_version()}  backend: {name}"
    )
    s = spectrum_case(args.repeat)
    print(
        f"spectrum (SpectrumDatasetOnOff, 1 source, {len(SPECTRUM_EDGES) - 1} groups): "
        f"gammapy {s['gammapy_s']:.3f} s, fluxpoints {s['fluxpoints_s'] * 1e3:.2f} ms, "
        f"ratio {s['gammapy_s'] / s['fluxpoints_s']:.0f}x"
    )
    m = map_case(args.sources, args.gammapy_sources, args.repeat)
    print(
        f"map (MapDataset, {m['n_sources']} sources, {len(MAP_EDGES) - 1} groups; simulated in "
        f"{m['simulate_s']:.1f} s)"
    )
    print(
        f"  gammapy run, per source ({m['n_gammapy']} sources): "
        f"{m['gammapy_per_source_s']:.2f} s  "
        f"({', '.join(f'{t:.1f}' for t in m['gammapy_times_s'])})"
    )
    print(
        f"  fluxpoints run, per source ({m['n_sources']} runs): "
        f"{m['single_per_source_s'] * 1e3:.1f} ms  -> "
        f"{m['gammapy_per_source_s'] / m['single_per_source_s']:.0f}x"
    )
    print(
        f"  fluxpoints estimate_sources, per source (one call, {m['batch_total_s']:.3f} s): "
        f"{m['batch_per_source_s'] * 1e3:.1f} ms  -> "
        f"{m['gammapy_per_source_s'] / m['batch_per_source_s']:.0f}x"
    )


if __name__ == "__main__":
    main()
