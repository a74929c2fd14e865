#!/usr/bin/env python
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Write a fluxpoints HDF5 catalog (docs/catalog-format.md, format_version 1) from gammapy objects.

    python tools/gammapy_to_catalog.py --datasets datasets.yaml --models models.yaml -o cat.h5
    python tools/gammapy_to_catalog.py --ogip pha1.fits pha2.fits --models models.yaml -o cat.h5

Datasets: a gammapy Datasets file (``Datasets.read``) or OGIP PHA files
(``SpectrumDatasetOnOff.read``). 1-D spectrum datasets only (SpectrumDataset, SpectrumDatasetOnOff).
Every SkyModel of the model file (or only ``--source``) becomes a source using the datasets its
``datasets_names`` lists (all if none). Options: ``--energy-edges`` (TeV), ``--selection``.

As a library: ``write_catalog(path, datasets, models, energy_edges=None, selection=None)``.
Needs gammapy and h5py.
"""
import argparse
import os

import astropy.units as u
import h5py
import numpy as np

FORMAT = "fluxpoints-catalog"
FORMAT_VERSION = 1
# Internal units of the library, tried in this order for each model parameter.
INTERNAL_UNITS = ["cm-2 s-1 TeV-1", "cm-2 s-1", "TeV", "TeV-1", ""]


def _flat(m):
    return np.asarray(m.data, dtype=float).ravel()


def _livetime_s(ds):
    livetime = ds.exposure.meta.get("livetime") if ds.exposure is not None else None
    if livetime is not None:
        return float(u.Quantity(livetime).to_value("s"))
    return float(ds.gti.time_sum.to_value("s")) if ds.gti is not None else 0.0


def dataset_record(ds):
    """The catalog row of a gammapy SpectrumDataset(OnOff), as a dict of numpy arrays."""
    from gammapy.datasets import SpectrumDatasetOnOff

    on_off = isinstance(ds, SpectrumDatasetOnOff)
    reco = ds.counts.geom.axes["energy"].edges.to_value("TeV")
    n_reco = len(reco) - 1
    true = ds.exposure.geom.axes["energy_true"].edges.to_value("TeV")
    exposure = ds.exposure.quantity.to_value("cm2 s").ravel()
    kernel = ds.edisp.get_edisp_kernel() if ds.edisp is not None else None
    edisp = np.asarray(kernel.data, dtype=float) if kernel is not None else np.eye(len(true) - 1, n_reco)
    zeros = np.zeros(n_reco)
    rec = {
        "name": ds.name,
        "on_off": 1 if on_off else 0,
        "livetime": _livetime_s(ds),
        "counts": _flat(ds.counts),
        "counts_off": _flat(ds.counts_off) if on_off else zeros,
        "acceptance": _flat(ds.acceptance) if on_off else zeros,
        "acceptance_off": _flat(ds.acceptance_off) if on_off else zeros,
        # Cash datasets: the background as the estimator sees it (background models applied).
        "background": zeros if on_off else np.asarray(ds.npred_background().data, dtype=float).ravel(),
        "mask_safe": (_flat(ds.mask_safe) != 0).astype(np.uint8) if ds.mask_safe is not None else np.ones(n_reco, np.uint8),
        "mask_fit": (_flat(ds.mask_fit) != 0).astype(np.uint8) if ds.mask_fit is not None else np.ones(n_reco, np.uint8),
        "reco_edges": reco,
        "exposure": exposure,
        "true_edges": true,
        "edisp": edisp.ravel(),
    }
    return rec


def model_record(sky_model):
    """(type, [names], [values]) of a SkyModel's spectral model, values in internal units."""
    spectral = sky_model.spectral_model
    names, values = [], []
    for p in spectral.parameters:
        q = p.quantity
        for unit in INTERNAL_UNITS:
            try:
                values.append(float(q.to_value(unit)))
                break
            except u.UnitConversionError:
                continue
        else:
            raise ValueError(f"model {sky_model.name!r}: parameter {p.name} has unit {q.unit}, "
                             "not one of the library's internal units")
        names.append(p.name)
    return spectral.tag[0], names, values


def _vlen(values):
    return np.array(values, dtype=h5py.string_dtype())


def write_catalog(path, datasets, models, energy_edges=None, selection=None):
    """Writes the catalog; every SkyModel of ``models`` becomes a source."""
    from gammapy.modeling.models import SkyModel

    records = [dataset_record(ds) for ds in datasets]
    row = {r["name"]: i for i, r in enumerate(records)}
    if len(row) != len(records):
        raise ValueError("dataset names must be unique")
    sources = []
    for m in models:
        if not isinstance(m, SkyModel):
            continue  # background models: applied to Cash datasets' background above
        names = m.datasets_names or list(row)
        sources.append((m.name, model_record(m), [row[n] for n in names if n in row]))
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        if energy_edges is not None:
            f.attrs["energy_edges"] = np.asarray(energy_edges, dtype=float)
        if selection is not None:
            f.attrs["selection_optional"] = selection
        d = f.create_group("datasets")
        d["name"] = _vlen([r["name"] for r in records])
        d["file"] = _vlen(["" for _ in records])
        d["file_row"] = np.full(len(records), -1, dtype=np.int64)
        d["on_off"] = np.array([r["on_off"] for r in records], dtype=np.uint8)
        d["livetime"] = np.array([r["livetime"] for r in records], dtype=float)

        def offsets(key):
            return np.concatenate([[0], np.cumsum([len(r[key]) for r in records])]).astype(np.int64)

        for column, key in [("reco_offsets", "counts"), ("reco_edge_offsets", "reco_edges"),
                            ("true_offsets", "exposure"), ("true_edge_offsets", "true_edges"),
                            ("edisp_offsets", "edisp")]:
            d[column] = offsets(key)
        for key in ["counts", "counts_off", "acceptance", "acceptance_off", "background",
                    "reco_edges", "exposure", "true_edges", "edisp"]:
            d[key] = np.concatenate([r[key] for r in records]).astype(float)
        for key in ["mask_safe", "mask_fit"]:
            d[key] = np.concatenate([r[key] for r in records]).astype(np.uint8)
        s = f.create_group("sources")
        s["name"] = _vlen([x[0] for x in sources])
        s["model_type"] = _vlen([x[1][0] for x in sources])
        s["parameter_offsets"] = np.concatenate([[0], np.cumsum([len(x[1][1]) for x in sources])]).astype(np.int64)
        s["parameter_name"] = _vlen([n for x in sources for n in x[1][1]])
        s["parameter_value"] = np.array([v for x in sources for v in x[1][2]], dtype=float)
        s["dataset_offsets"] = np.concatenate([[0], np.cumsum([len(x[2]) for x in sources])]).astype(np.int64)
        s["dataset_index"] = np.array([i for x in sources for i in x[2]], dtype=np.int64)
        f.attrs["n_sources"] = np.int64(len(sources))
        f.attrs["n_datasets"] = np.int64(len(records))
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--datasets", help="gammapy Datasets YAML (Datasets.read)")
    group.add_argument("--ogip", nargs="+", help="OGIP PHA files (SpectrumDatasetOnOff.read)")
    parser.add_argument("--models", required=True, help="gammapy model YAML (Models.read)")
    parser.add_argument("--source", help="only this model (name)")
    parser.add_argument("--energy-edges", help="group edges stored in the catalog, e.g. 0.7,1,2,5,10 (TeV)")
    parser.add_argument("--selection", help="selection_optional stored in the catalog")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()

    from gammapy.datasets import Datasets, SpectrumDatasetOnOff
    from gammapy.modeling.models import Models

    if args.datasets:
        datasets = Datasets.read(args.datasets)
    else:
        datasets = Datasets([SpectrumDatasetOnOff.read(p) for p in args.ogip])
    models = Models.read(args.models)
    if args.source:
        models = Models([models[args.source]])
    edges = [float(x) for x in args.energy_edges.split(",")] if args.energy_edges else None
    write_catalog(args.output, datasets, models, energy_edges=edges, selection=args.selection)
    print(f"written: {args.output} ({len(models)} models, {len(datasets)} datasets)")


if __name__ == "__main__":
    main()
