# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Writing a fluxpoints catalog (format version 2, docs/catalog-format.md) from gammapy objects.

A catalog holds datasets, the predicted counts of every model in every dataset where it predicts
some ("components", each scaled by one linear parameter: an amplitude or a norm) and the sources
whose flux points ``fluxpoints batch`` computes. The predicted counts come from gammapy's own
evaluators, through the same extraction the Python estimator uses (_templates.DatasetTemplates),
so a source's problems in the catalog are the estimator's problems.

What a catalog cannot represent is refused here, naming the dataset or the model, rather than
written and failing later.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy import units as u
from gammapy.datasets import Datasets, MapDatasetOnOff
from gammapy.modeling.models import SkyModel, TemplateNPredModel

from ._nuisances import linear_parameter, nuisances_for
from ._templates import CASH, DatasetTemplates, _zero_convolution_noise, check_dataset
from ._templates import find_source, snap_groups

FORMAT = "fluxpoints-catalog"
FORMAT_VERSION = 2
# The library's internal units, tried in this order for each parameter of a source's model.
INTERNAL_UNITS = ["cm-2 s-1 TeV-1", "cm-2 s-1", "TeV", "TeV-1", ""]


@dataclass
class Component:
    """One model's predicted counts in one dataset: flat bin indices (energy-major) and counts
    at the linear parameter's current value."""

    dataset: int
    model: str
    parameter: str
    value: float
    min: float
    max: float
    free: bool
    bin_index: np.ndarray
    bin_value: np.ndarray


@dataclass
class SourceRecord:
    name: str
    model_type: str
    parameter_names: list
    parameter_values: list
    datasets: list  # rows of the dataset table
    components: list = field(default_factory=list)  # rows of the component table


def _text_list(values):
    import h5py

    return np.array(list(values), dtype=h5py.string_dtype())


def _offsets(lengths):
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def _flat_map(m, shape, dtype=float):
    """A map's data on the dataset's (energy, y, x) shape, flattened energy-major."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(m.data, dtype=dtype), shape)).ravel()


def _livetime_s(dataset):
    exposure = dataset.exposure
    livetime = exposure.meta.get("livetime") if exposure is not None else None
    if livetime is not None:
        return float(u.Quantity(livetime).to_value("s"))
    return float(dataset.gti.time_sum.to_value("s")) if dataset.gti is not None else 0.0


def _spectrum_irfs(dataset, n_reco):
    """(true_edges, exposure, edisp) of a one-region dataset, as format version 1 stores them
    (empty when the dataset has no exposure: its sources then use their templates only)."""
    if dataset.exposure is None:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    true = dataset.exposure.geom.axes["energy_true"].edges.to_value("TeV")
    exposure = dataset.exposure.quantity.to_value("cm2 s").ravel()
    kernel = dataset.edisp.get_edisp_kernel() if dataset.edisp is not None else None
    if kernel is not None:
        edisp = np.asarray(kernel.data, dtype=float)
    elif len(true) - 1 == n_reco:
        edisp = np.zeros((0,))  # identity
    else:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    return true, exposure, edisp.ravel()


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
            raise ValueError(
                f"model {sky_model.name!r}: parameter {p.name} has unit {q.unit}, not one of the "
                "library's internal units"
            )
        names.append(p.name)
    return spectral.tag[0], names, values


def _free_background_norm(dataset):
    """The dataset's background model and its linear norm when that norm is free (Cash datasets
    only: On/Off datasets take their background from the OFF counts), else (None, None)."""
    if isinstance(dataset, MapDatasetOnOff) or dataset.background is None:
        return None, None
    model = dataset.background_model
    if model is None:
        return None, None
    norm = linear_parameter(model)
    if norm is None or norm.frozen:
        return None, None
    return model, norm


def _component(row, model_name, parameter, counts):
    """A Component of the dense predicted counts `counts` (dataset shape)."""
    flat = np.ravel(counts)
    index = np.flatnonzero(flat)
    if parameter is None:  # no linear parameter (compound spectrum): fixed, as it is
        name, value, lo, hi, free = "", 1.0, np.nan, np.nan, False
    else:
        name, value = parameter.name, float(parameter.value)
        lo, hi, free = float(parameter.min), float(parameter.max), not parameter.frozen
        if free and not (np.isfinite(value) and value > 0):
            raise ValueError(
                f"model {model_name!r}: its free linear parameter {name!r} is {value}; a catalog "
                "stores its counts per unit value, which needs a positive value (set one, or "
                "freeze it)"
            )
    return Component(
        row, model_name, name, value, lo, hi, free, index.astype(np.int64), flat[index].copy()
    )


@dataclass
class _DatasetRecord:
    columns: dict
    components: list


def _dataset_record(row, dataset, templates):
    """The catalog row of one dataset and its components."""
    shape = templates.shape
    n_reco = shape[0]
    n_pixels = shape[1] * shape[2]
    zeros = np.zeros(n_reco * n_pixels)
    on_off = templates.kind != CASH
    columns = {
        "name": dataset.name,
        "on_off": int(on_off),
        "livetime": _livetime_s(dataset),
        "n_pixels": n_pixels,
        "counts": templates.counts.ravel(),
        "counts_off": templates.counts_off.ravel() if on_off else zeros,
        "acceptance": _flat_map(dataset.acceptance, shape) if on_off else zeros,
        "acceptance_off": _flat_map(dataset.acceptance_off, shape) if on_off else zeros,
        "background": zeros if on_off else templates.background.ravel(),
        "reco_edges": templates.energy_axis.edges.to_value("TeV"),
    }
    for key in ("mask_safe", "mask_fit"):
        m = getattr(dataset, key)
        columns[key] = (
            np.ones(n_reco * n_pixels, np.uint8)
            if m is None
            else (_flat_map(m, shape, dtype=bool)).astype(np.uint8)
        )
    if dataset._geom.is_region:
        true, exposure, edisp = _spectrum_irfs(dataset, n_reco)
    else:
        # A map dataset's sources are all templates: no IRFs are stored.
        true, exposure, edisp = np.zeros(0), np.zeros(0), np.zeros(0)
    columns.update(true_edges=true, exposure=exposure, edisp=edisp)

    components = []
    for name, counts in templates.models.items():
        dense = np.zeros(shape)
        dense[counts.parent] += counts.data
        if templates.kind == CASH:
            # PSF rounding noise (~1e-8 of the peak, slightly negative) is not a prediction; the
            # engine needs Cash templates >= 0, as the estimator's nuisance path makes them.
            _zero_convolution_noise(dense)
        model = dataset.models[name]
        components.append(_component(row, name, linear_parameter(model), dense))
    background_model, norm = _free_background_norm(dataset)
    if background_model is not None:
        # The background is then a component scaled by its norm, and not also in the column.
        components.append(_component(row, background_model.name, norm, templates.background))
        columns["background"] = zeros
    return _DatasetRecord(columns, components)


def _check_linked(models):
    """A free linear parameter shared by two models would be two independent nuisances in the
    catalog (one per model name): refused."""
    owner = {}
    for model in models:
        p = linear_parameter(model)
        if p is None or p.frozen:
            continue
        if id(p) in owner:
            raise ValueError(
                f"models {owner[id(p)]!r} and {model.name!r} share the free parameter "
                f"{p.name!r}: a catalog cannot link parameters of two models (freeze it)"
            )
        owner[id(p)] = model.name


def _check_groups(datasets, all_templates, energy_edges):
    """gammapy decides per energy group whether a model contributes (its evaluator looks at the
    group's mask); a catalog stores one template per model and dataset: refuse a group where a
    model predicts counts in the dataset but gammapy would leave it out."""
    edges = u.Quantity(energy_edges, "TeV")
    for dataset, templates in zip(datasets, all_templates):
        for group in snap_groups(templates.energy_axis, edges):
            if group is None:
                continue
            left_out = templates.group(*group).not_contributing
            if left_out:
                raise ValueError(
                    f"dataset {dataset.name!r}: in the energy group starting at reco bin "
                    f"{group[0]} the mask leaves no pixel near model(s) "
                    f"{', '.join(sorted(left_out))}, which gammapy then drops from that group "
                    "only; a catalog cannot represent that (widen the mask or the group)"
                )


def _check_summable(datasets):
    """sum_over_energy_groups: a catalog sums every prediction of a group over its safe bins.
    gammapy 2.1 does so for the counts and the background, but sums a map dataset's source
    predictions (through its energy-dispersion map) and a TemplateNPredModel over every bin of
    the group, unsafe ones too: the same sums only where no bin is unsafe. Anything else is
    refused."""
    for dataset in datasets:
        mask = dataset.mask_safe
        if mask is None or np.all(mask.data):
            continue
        if not dataset._geom.is_region:
            raise ValueError(
                f"dataset {dataset.name!r}: with sum_over_energy_groups a map dataset must have "
                "no unsafe bin (gammapy sums its sources' predicted counts over the unsafe bins "
                "of a group too, its counts not: a catalog cannot represent that)"
            )
        templates = [m.name for m in dataset.models or [] if isinstance(m, TemplateNPredModel)]
        if templates:
            raise ValueError(
                f"dataset {dataset.name!r}: with sum_over_energy_groups and unsafe bins, "
                f"gammapy sums TemplateNPredModel {', '.join(templates)} over the unsafe bins "
                "too, which a catalog cannot represent"
            )


class _ModelsAssigned:
    """Assigns `models` to the datasets for the conversion and restores theirs afterwards."""

    def __init__(self, datasets, models):
        self.datasets, self.models = datasets, models

    def __enter__(self):
        self.saved = [d.models for d in self.datasets]
        if self.models is not None:
            self.datasets.models = self.models
        return self

    def __exit__(self, *exc):
        if self.models is not None:
            for d, m in zip(self.datasets, self.saved):
                d.models = m
        return False


def build_catalog(datasets, sources=None, energy_edges=None, reoptimize=False,
                  sum_over_energy_groups=False):
    """Dataset rows, components and sources of the catalog of `datasets` (their models as they
    are). Returns (dataset records, components, source records). See write_catalog."""
    for d in datasets:
        try:
            check_dataset(d)
        except TypeError as error:
            raise ValueError(str(error)) from None
    if sum_over_energy_groups:
        _check_summable(datasets)
    names = [d.name for d in datasets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"dataset names must be unique in a catalog: {', '.join(duplicates)}")
    if len(datasets) > 1 and not datasets.energy_axes_are_aligned:
        raise ValueError("All datasets must have aligned energy axes.")
    all_models = datasets.models
    _check_linked(all_models)

    if sources is None:
        sources = [m.name for m in all_models if isinstance(m, SkyModel)]
    models = [find_source(all_models, s) for s in sources]
    source_names = [m.name for m in models]
    if len(set(source_names)) != len(source_names):
        raise ValueError(f"sources must be distinct, got {source_names}")
    if reoptimize:
        for model in models:
            nuisances_for(all_models, model)  # raises for what cannot be re-fitted

    templates = [DatasetTemplates(d) for d in datasets]
    if energy_edges is not None:
        _check_groups(datasets, templates, energy_edges)
    records = [_dataset_record(row, d, t) for row, (d, t) in enumerate(zip(datasets, templates))]
    components = [c for r in records for c in r.components]
    own = {(c.dataset, c.model): i for i, c in enumerate(components)}
    out = []
    for model in models:
        rows = [r for r, d in enumerate(datasets) if d.models and model.name in d.models.names]
        if not rows:
            raise ValueError(f"source {model.name!r} is a model of none of the datasets")
        record = SourceRecord(model.name, *model_record(model), datasets=rows)
        for r in rows:
            i = own.get((r, model.name))
            if i is None:
                # It predicts nothing in this dataset: an empty template, so that the dataset
                # still counts in its statistic (and never falls back to the IRFs).
                components.append(
                    _component(r, model.name, linear_parameter(model), np.zeros(0))
                )
                i = own[(r, model.name)] = len(components) - 1
            record.components.append(i)
        out.append(record)
    return [r.columns for r in records], components, out


def _write(path, datasets, components, sources, attrs):
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        for key, value in attrs.items():
            f.attrs[key] = value
        d = f.create_group("datasets")
        d["name"] = _text_list(r["name"] for r in datasets)
        d["file"] = _text_list("" for _ in datasets)
        d["file_row"] = np.full(len(datasets), -1, dtype=np.int64)
        d["on_off"] = np.array([r["on_off"] for r in datasets], dtype=np.uint8)
        d["livetime"] = np.array([r["livetime"] for r in datasets], dtype=float)
        d["n_pixels"] = np.array([r["n_pixels"] for r in datasets], dtype=np.int64)
        for column, key in [
            ("reco_offsets", "counts"),
            ("reco_edge_offsets", "reco_edges"),
            ("true_offsets", "exposure"),
            ("true_edge_offsets", "true_edges"),
            ("edisp_offsets", "edisp"),
        ]:
            d[column] = _offsets([len(r[key]) for r in datasets])
        for key in [
            "counts",
            "counts_off",
            "acceptance",
            "acceptance_off",
            "background",
            "reco_edges",
            "exposure",
            "true_edges",
            "edisp",
        ]:
            d[key] = np.concatenate([np.asarray(r[key], dtype=float) for r in datasets])
        for key in ["mask_safe", "mask_fit"]:
            d[key] = np.concatenate([r[key] for r in datasets]).astype(np.uint8)

        c = f.create_group("components")
        c["dataset"] = np.array([x.dataset for x in components], dtype=np.int64)
        c["model"] = _text_list(x.model for x in components)
        c["parameter"] = _text_list(x.parameter for x in components)
        c["value"] = np.array([x.value for x in components], dtype=float)
        c["min"] = np.array([x.min for x in components], dtype=float)
        c["max"] = np.array([x.max for x in components], dtype=float)
        c["free"] = np.array([x.free for x in components], dtype=np.uint8)
        c["bin_offsets"] = _offsets([len(x.bin_index) for x in components])
        c["bin_index"] = np.concatenate(
            [x.bin_index for x in components] + [np.zeros(0, np.int64)]
        ).astype(np.int64)
        c["bin_value"] = np.concatenate([x.bin_value for x in components] + [np.zeros(0)])

        s = f.create_group("sources")
        s["name"] = _text_list(x.name for x in sources)
        s["model_type"] = _text_list(x.model_type for x in sources)
        s["parameter_offsets"] = _offsets([len(x.parameter_names) for x in sources])
        s["parameter_name"] = _text_list(n for x in sources for n in x.parameter_names)
        s["parameter_value"] = np.array([v for x in sources for v in x.parameter_values], float)
        s["dataset_offsets"] = _offsets([len(x.datasets) for x in sources])
        s["dataset_index"] = np.array([i for x in sources for i in x.datasets], dtype=np.int64)
        s["component_offsets"] = _offsets([len(x.components) for x in sources])
        s["component_index"] = np.array([i for x in sources for i in x.components], np.int64)
        # Written last: a file without them is incomplete.
        f.attrs["n_sources"] = np.int64(len(sources))
        f.attrs["n_datasets"] = np.int64(len(datasets))


def write_catalog(
    path,
    datasets,
    models=None,
    sources=None,
    energy_edges=None,
    selection_optional=None,
    reoptimize=False,
    sum_over_energy_groups=False,
    overwrite=False,
):
    """Writes a fluxpoints catalog (HDF5, format version 2) for ``fluxpoints batch``.

    Every model of the datasets becomes a component of each dataset where gammapy's evaluators
    give it predicted counts, with its linear parameter (amplitude or norm: value, bounds, free
    or not); a Cash dataset's background model with a free norm becomes a component too. Each
    source's flux points then include every other model of its datasets (fixed, or re-fitted
    with ``reoptimize``), exactly as ``FluxPointsEstimator(source=...).run(datasets)`` computes
    them.

    Parameters
    ----------
    path : str or Path
        The catalog to write (written under a temporary name, then renamed).
    datasets : `~gammapy.datasets.Datasets` or list of datasets
        SpectrumDatasetOnOff, SpectrumDataset, MapDatasetOnOff, MapDataset (names unique).
    models : `~gammapy.modeling.models.Models`, optional
        Models to assign to the datasets for the conversion (as ``datasets.models = models``;
        the datasets get their own models back afterwards). Default: the datasets' models.
    sources : list of str or int, optional
        The sources (sky models) to compute flux points for; default every SkyModel.
    energy_edges : `~astropy.units.Quantity` or list of float (TeV), optional
        Energy groups stored as the catalog's default.
    selection_optional : str or list of str, optional
        gammapy's selection_optional stored as the catalog's default ("all", or e.g.
        ["errn-errp", "ul"]).
    reoptimize : bool
        Stored as the catalog's option: re-fit the other models' free linear parameters
        (amplitudes, background norms) in every group. Every other free parameter is then
        refused, as by the estimator.
    sum_over_energy_groups : bool
        Stored as the catalog's option, gammapy's FluxPointsEstimator option of that name: each
        energy group of each dataset is summed into one bin per pixel (over its safe bins)
        before the fit. A map dataset with unsafe bins, or a dataset with unsafe bins and a
        TemplateNPredModel, is then refused: gammapy sums their predictions over the unsafe
        bins too, which a catalog cannot represent.
    overwrite : bool
        Replace an existing file at `path`.

    Raises
    ------
    ValueError
        Something a catalog cannot represent, naming the dataset or the model: an unsupported
        dataset type, a source without a norm-like parameter, a free linear parameter that is not
        positive or is shared by two models, with ``reoptimize`` a free parameter that is not
        linear, a group whose mask makes gammapy drop a model from that group only, with
        ``sum_over_energy_groups`` a safe mask gammapy's sums would treat otherwise.
    FileExistsError
        `path` exists and `overwrite` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
    datasets = Datasets(datasets)
    with _ModelsAssigned(datasets, models):
        records, components, source_records = build_catalog(
            datasets, sources, energy_edges, reoptimize, sum_over_energy_groups
        )
    attrs = {
        "reoptimize": np.int64(bool(reoptimize)),
        "sum_over_energy_groups": np.int64(bool(sum_over_energy_groups)),
    }
    if energy_edges is not None:
        attrs["energy_edges"] = np.asarray(u.Quantity(energy_edges, "TeV").to_value("TeV"), float)
    if selection_optional is not None:
        if not isinstance(selection_optional, str):
            selection_optional = ",".join(selection_optional)
        attrs["selection_optional"] = selection_optional
    tmp = path.with_name(path.name + ".tmp")
    try:
        _write(tmp, records, components, source_records, attrs)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
