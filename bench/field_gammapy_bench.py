#!/usr/bin/env python
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""gammapy 2.1 and `fluxpoints batch` on the same crowded fields, in the same run (issue 11).

    .venv/bin/python bench/field_gammapy_bench.py [--fluxpoints build/fluxpoints] [--fields 100]
        [--sources-per-field 3] [--npix 10] [--reco-bins 4] [--subset 3] [--subset-reoptimize 3]
        [--selection-reoptimize none] [--workers 2] [--work DIR]

Builds --fields MapDatasets in gammapy (the simulated maps of tests/python/simulated.py: Cash,
0.05 deg pixels, Gaussian PSF of 0.1 deg, a FoVBackgroundModel whose norm is free), each with
--sources-per-field point, Gaussian and log-parabola sources within 0.15 deg of each other (their
PSFs overlap); only the amplitudes and the background norms are free. It writes them with
fluxpoints.write_catalog, then:

* times `fluxpoints batch` on every source of the catalog (CPU backend), reoptimize off and on;
* times gammapy's FluxPointsEstimator (n_jobs=1) on the first --subset (reoptimize off) and
  --subset-reoptimize (on) sources with the same options (energy groups, selection,
  reoptimize), each on its own field's dataset (the datasets `batch` gives the source: the
  others would only add constants);
* checks that both agree on that subset (norm, ts, and norm_errn, norm_errp, norm_ul where
  selected) within the tolerances of tests/python/compare.py, and stops with the differences if
  they do not;
* prints the load average and Markdown rows: flux points/s each way and their ratio.

Selection: errn-errp and ul with reoptimize off; with reoptimize on none by default
(--selection-reoptimize), as gammapy's crossing searches then re-fit every free parameter of the
field at each trial norm: one source of a 12 x 12 x 4 field with 4 sources had not finished
after 13 minutes with errn-errp and ul on a loaded 2-core machine (load average 10-13), where
reoptimize off took 100 s.

Every time is wall-clock: batch's includes the process start, reading the catalog and writing
the results; gammapy's is FluxPointsEstimator.run per source. The catalog's writing is timed
apart (it is needed once for any number of runs).
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from astropy import units as u

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
import compare  # noqa: E402  (the tolerances against gammapy, with their reasons)
import simulated  # noqa: E402
from gammapy.estimators import FluxPointsEstimator as GammapyEstimator  # noqa: E402
from gammapy.modeling.models import SkyModel  # noqa: E402

import fluxpoints  # noqa: E402

EDGES = [0.1, 1, 100] * u.TeV
SELECTION = ["errn-errp", "ul"]
CROSSINGS = ("norm_errn", "norm_errp", "norm_ul")


def _free_amplitudes_and_background(models):
    """Only the sources' amplitudes and the background norm free, with min = 0 (see
    tests/python/test_reoptimize.py: unbounded amplitudes send gammapy's crossing search to
    errp = 0 where the exact profile has finite crossings)."""
    for m in models:
        for p in m.parameters:
            if isinstance(m, SkyModel):
                p.frozen = p.name != "amplitude"
            else:
                p.frozen = p.name != "norm"
            if not p.frozen:
                p.min = 0
    return models


def build_fields(n_fields, per_field, npix, n_reco):
    """The fields: one MapDataset each, its sources named f<field>s<i>."""
    fields = []
    for k in range(n_fields):
        sources = []
        for i, m in enumerate(simulated.map_sources(per_field, seed=100 + k)):
            sources.append(
                SkyModel(spectral_model=m.spectral_model, spatial_model=m.spatial_model,
                         name=f"f{k}s{i}")
            )
        d = simulated.map_dataset(name=f"field{k}", seed=200 + k, npix=npix, n_energy=n_reco,
                                  sources=sources)
        _free_amplitudes_and_background(d.models)
        fields.append(d)
    return fields


def run_batch(exe, catalog, output, reoptimize, selection, workers):
    args = [exe, "batch", str(catalog), "-o", str(output), "--backend", "cpu", "--workers",
            str(workers), "--overwrite", "--no-progress", "--selection",
            ",".join(selection) or "none", "--reoptimize" if reoptimize else "--no-reoptimize"]
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return seconds


def run_gammapy(fields, sources, reoptimize, selection):
    """gammapy's FluxPoints per source (each on its own field) and the total time."""
    out, total = {}, 0.0
    for name in sources:
        field = next(d for d in fields if name in d.models.names)
        estimator = GammapyEstimator(source=name, energy_edges=EDGES, selection_optional=selection,
                                     reoptimize=reoptimize, n_jobs=1)
        t0 = time.perf_counter()
        out[name] = estimator.run([field])
        total += time.perf_counter() - t0
    return out, total


def _column(fp, name):
    return np.asarray(fp.to_table(sed_type="likelihood")[name], dtype=float)


def check_agreement(ours, theirs, selection):
    """Differences beyond compare.py's tolerances, as text (empty: they agree). Also returns the
    largest relative differences seen (absolute for ts), for the report."""
    crossings = CROSSINGS if "errn-errp" in selection and "ul" in selection else ()
    problems, largest = [], {c: 0.0 for c in ("norm",) + crossings}
    largest["ts"] = 0.0
    for name, fp in theirs.items():
        mine = ours[name]
        norm_t, norm_o = _column(fp, "norm"), _column(mine, "norm")
        err_t = _column(fp, "norm_err")
        ok = np.isfinite(norm_t) & np.isfinite(norm_o)
        if not np.array_equal(np.isfinite(norm_t), np.isfinite(norm_o)):
            problems.append(f"{name}: norm NaN in other rows: gammapy {norm_t}, batch {norm_o}")
        diff = np.abs(norm_o - norm_t)[ok]
        bound = np.maximum(compare.NORM_REL * np.abs(norm_t[ok]),
                           compare.NORM_ERR_FRACTION * err_t[ok])
        if np.any(diff > bound):
            problems.append(f"{name}: norm gammapy {norm_t}, batch {norm_o}")
        largest["norm"] = max(largest["norm"], float(np.max(diff / np.abs(norm_t[ok]), initial=0)))
        for c in crossings:
            t, o = _column(fp, c), _column(mine, c)
            ok = np.isfinite(t) & np.isfinite(o)
            rel = np.abs(o - t)[ok] / np.abs(t[ok])
            largest[c] = max(largest[c], float(np.max(rel, initial=0)))
            if not np.array_equal(np.isfinite(t), np.isfinite(o)) or np.any(
                rel > compare.CROSSING_REL
            ):
                problems.append(f"{name}: {c} gammapy {t}, batch {o}")
        t, o = _column(fp, "ts"), _column(mine, "ts")
        ok = np.isfinite(t) & np.isfinite(o)
        largest["ts"] = max(largest["ts"], float(np.max(np.abs(o - t)[ok], initial=0)))
        if np.any(np.abs(o - t)[ok] > compare.TS_ABS):
            problems.append(f"{name}: ts gammapy {t}, batch {o}")
    return problems, largest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fluxpoints", default=os.path.join(HERE, "..", "build", "fluxpoints"))
    parser.add_argument("--fields", type=int, default=100)
    parser.add_argument("--sources-per-field", type=int, default=3)
    parser.add_argument("--npix", type=int, default=10)
    parser.add_argument("--reco-bins", type=int, default=4)
    parser.add_argument("--subset", type=int, default=3, help="sources gammapy runs on")
    parser.add_argument("--subset-reoptimize", type=int, default=3,
                        help="sources gammapy runs on with reoptimize")
    parser.add_argument("--selection-reoptimize", default="none",
                        help="selection with reoptimize: none or errn-errp,ul")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", default="/tmp/fluxpoints_field_gammapy_bench")
    a = parser.parse_args()
    exe = os.path.abspath(a.fluxpoints)
    os.makedirs(a.work, exist_ok=True)
    n_groups = len(EDGES) - 1
    print(f"machine: {os.cpu_count()} cores; load average at start {os.getloadavg()}")

    fields = build_fields(a.fields, a.sources_per_field, a.npix, a.reco_bins)
    names = [m.name for d in fields for m in d.models if isinstance(m, SkyModel)]
    catalog = os.path.join(a.work, "fields.h5")
    t0 = time.perf_counter()
    fluxpoints.write_catalog(catalog, fields, energy_edges=EDGES, selection_optional=SELECTION,
                             overwrite=True)
    t_write = time.perf_counter() - t0
    print(f"{a.fields} fields of {a.npix}x{a.npix} pixels x {a.reco_bins} reco bins, "
          f"{a.sources_per_field} sources each ({len(names)} in all), groups {EDGES}, "
          f"selection {SELECTION}; write_catalog {t_write:.2f} s")

    rows = []
    for reoptimize in (False, True):
        label = "on" if reoptimize else "off"
        results = os.path.join(a.work, f"results_{label}.h5")
        selection = SELECTION
        if reoptimize:
            text = a.selection_reoptimize
            selection = [] if text == "none" else text.split(",")
        t_batch = run_batch(exe, catalog, results, reoptimize, selection, a.workers)
        # One source of each field in turn: several fields, several datasets.
        spread = [f"f{k % a.fields}s{k // a.fields}" for k in range(len(names))]
        subset = spread[: a.subset_reoptimize if reoptimize else a.subset]
        theirs, t_gammapy = run_gammapy(fields, subset, reoptimize, selection)
        ours = {n: fluxpoints.read_results(results, n) for n in subset}
        problems, largest = check_agreement(ours, theirs, selection)
        print(f"reoptimize {label}: batch {t_batch:.2f} s, gammapy {t_gammapy:.1f} s on "
              f"{len(subset)} sources; largest differences on them, relative: "
              + ", ".join(f"{c} {v:.1e}" for c, v in largest.items() if c != "ts")
              + f"; ts absolute {largest['ts']:.1e}", flush=True)
        if problems:
            sys.exit("batch and gammapy disagree:\n" + "\n".join(problems))
        rate_batch = len(names) * n_groups / t_batch
        rate_gammapy = len(subset) * n_groups / t_gammapy
        label += f", selection {','.join(selection) or 'none'}"
        rows.append(f"| reoptimize {label} | fluxpoints batch (CPU, {a.workers} workers) | "
                    f"{len(names)} | {len(names) * n_groups} | {t_batch:.2f} s | "
                    f"{rate_batch:,.1f} | |")
        rows.append(f"| reoptimize {label} | gammapy FluxPointsEstimator | {len(subset)} | "
                    f"{len(subset) * n_groups} | {t_gammapy:.1f} s | {rate_gammapy:.3f} | "
                    f"**{rate_batch / rate_gammapy:,.0f}x** |")
        print(f"load average after reoptimize {label}: {os.getloadavg()}")
    print("| reoptimize | run | sources | flux points | wall | flux points/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
