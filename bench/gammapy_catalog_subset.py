#!/usr/bin/env python
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""gammapy's FluxPointsEstimator on a random subset of a fluxpoints HDF5 catalog.

    python bench/gammapy_catalog_subset.py CATALOG.h5 [--n 20] [--seed 1] [--results RESULTS.h5]

Builds gammapy SpectrumDatasetOnOff / SpectrumDataset objects and SkyModels from the catalog rows
(docs/catalog-format.md), runs FluxPointsEstimator per source with the catalog's options, and
prints the time per source and per flux point (JSON on the last line). With --results (the output
of `fluxpoints batch` on the same catalog) it also prints the largest differences of norm, ts and
norm_ul between gammapy and fluxpoints on the subset (groups with ts > 1).
"""
import argparse
import json
import time

import astropy.units as u
import h5py
import numpy as np

INTERNAL_UNITS = ["cm-2 s-1 TeV-1", "cm-2 s-1", "TeV", "TeV-1", ""]


def sl(f, column, offsets, d):
    o = f[offsets]
    return f[column][o[d]:o[d + 1]]


def make_dataset(f, d):
    from gammapy.datasets import SpectrumDataset, SpectrumDatasetOnOff
    from gammapy.irf import EDispKernel, EDispKernelMap
    from gammapy.maps import MapAxis, RegionGeom, RegionNDMap

    g = f["datasets"]
    if g["file"][d]:
        raise NotImplementedError("external dataset files are not supported by this script")
    reco = sl(g, "reco_edges", "reco_edge_offsets", d)
    true = sl(g, "true_edges", "true_edge_offsets", d)
    energy = MapAxis.from_edges(reco, unit="TeV", name="energy", interp="log")
    energy_true = MapAxis.from_edges(true, unit="TeV", name="energy_true", interp="log")
    geom = RegionGeom.create("icrs;circle(0, 0, 0.1)", axes=[energy])
    geom_true = RegionGeom.create("icrs;circle(0, 0, 0.1)", axes=[energy_true])

    def reco_map(column, dtype=float):
        data = sl(g, column, "reco_offsets", d).astype(dtype).reshape((-1, 1, 1))
        return RegionNDMap.from_geom(geom, data=data)

    exposure = RegionNDMap.from_geom(geom_true, data=sl(g, "exposure", "true_offsets", d).reshape((-1, 1, 1)),
                                     unit="cm2 s")
    exposure.meta["livetime"] = g["livetime"][d] * u.s
    matrix = sl(g, "edisp", "edisp_offsets", d).reshape((len(true) - 1, len(reco) - 1))
    edisp = EDispKernelMap.from_edisp_kernel(EDispKernel(axes=[energy_true, energy], data=matrix))
    name = g["name"][d].decode()
    mask_safe = reco_map("mask_safe", bool) & reco_map("mask_fit", bool)
    if g["on_off"][d]:
        return SpectrumDatasetOnOff(counts=reco_map("counts"), counts_off=reco_map("counts_off"),
                                    acceptance=reco_map("acceptance"), acceptance_off=reco_map("acceptance_off"),
                                    exposure=exposure, edisp=edisp, mask_safe=mask_safe, name=name)
    return SpectrumDataset(counts=reco_map("counts"), background=reco_map("background"), exposure=exposure,
                           edisp=edisp, mask_safe=mask_safe, name=name)


def make_model(f, s):
    from gammapy.modeling.models import SPECTRAL_MODEL_REGISTRY, SkyModel

    g = f["sources"]
    model = SPECTRAL_MODEL_REGISTRY.get_cls(g["model_type"][s].decode())()
    o = g["parameter_offsets"]
    for k in range(o[s], o[s + 1]):
        p = model.parameters[g["parameter_name"][k].decode()]
        for unit in INTERNAL_UNITS:
            if u.Unit(unit).is_equivalent(p.unit):
                p.quantity = (g["parameter_value"][k] * u.Unit(unit)).to(p.unit)
                break
    return SkyModel(spectral_model=model, name=g["name"][s].decode())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("catalog")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--results")
    args = parser.parse_args()

    from gammapy.datasets import Datasets
    from gammapy.estimators import FluxPointsEstimator

    f = h5py.File(args.catalog, "r")
    n_sources = int(f.attrs["n_sources"])
    subset = sorted(np.random.default_rng(args.seed).choice(n_sources, size=min(args.n, n_sources), replace=False))
    edges = np.asarray(f.attrs["energy_edges"]) * u.TeV
    selection = f.attrs.get("selection_optional", "")
    selection = [x for x in str(selection).split(",") if x] or None
    results = h5py.File(args.results, "r") if args.results else None
    times, worst = [], {"norm": 0.0, "ts": 0.0, "norm_ul": 0.0}
    for s in subset:
        o = f["sources/dataset_offsets"]
        datasets = Datasets([make_dataset(f, int(d)) for d in f["sources/dataset_index"][o[s]:o[s + 1]]])
        model = make_model(f, s)
        datasets.models = [model]
        estimator = FluxPointsEstimator(energy_edges=edges, source=model.name, selection_optional=selection,
                                        n_sigma=float(f.attrs.get("n_sigma", 1)),
                                        n_sigma_ul=float(f.attrs.get("n_sigma_ul", 2)))
        t0 = time.perf_counter()
        fp = estimator.run(datasets)
        times.append(time.perf_counter() - t0)
        if results is not None:
            table = fp.to_table(sed_type="likelihood")
            for column in worst:
                if column not in table.colnames:
                    continue
                ours = results["fluxpoints"][column][s]
                theirs = np.asarray(table[column], dtype=float).ravel()
                # Only groups with a real minimum: where the profile is flat (ts ~ 0, e.g. no ON
                # counts) MIGRAD stops anywhere on the plateau and the norm means nothing.
                has_minimum = np.asarray(table["ts"], dtype=float).ravel() > 1
                ok = np.isfinite(ours) & np.isfinite(theirs) & (np.abs(theirs) > 1e-3) & has_minimum
                if ok.any():
                    worst[column] = max(worst[column], float(np.max(np.abs(ours[ok] - theirs[ok]) / np.abs(theirs[ok]))))
        print(f"source {s} ({model.name}): {times[-1]:.3f} s")
    n_groups = len(edges) - 1
    per_source = float(np.mean(times))
    summary = {
        "gammapy_sources": len(subset),
        "gammapy_seconds_per_source": per_source,
        "gammapy_flux_points_per_s": n_groups / per_source,
        "gammapy_extrapolated_seconds_all_sources": per_source * n_sources,
    }
    if results is not None:
        summary["max_rel_diff_vs_fluxpoints"] = worst
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
