# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Reading the result files of ``fluxpoints batch`` (results.h5) back as gammapy FluxPoints."""

from pathlib import Path

import numpy as np

RESULTS_FORMAT = "fluxpoints-results"
# Result format versions this reader understands.
READABLE_VERSIONS = (1,)
# Per-dataset columns: their width is the largest number of datasets of a source in the file;
# a source's own columns are the first n_datasets (NaN beyond).
PER_DATASET_COLUMNS = ("counts", "npred", "npred_excess")


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def source_names(path):
    """The names of the sources of a result file, in catalog order."""
    import h5py

    with h5py.File(path, "r") as f:
        _check_format(path, f)
        return [_text(n) for n in f["sources/name"][:]]


def _check_format(path, f):
    fmt = _text(f.attrs.get("format", ""))
    if fmt != RESULTS_FORMAT:
        raise ValueError(f"{path}: not a fluxpoints result file (attribute format is {fmt!r}, "
                         f"expected {RESULTS_FORMAT!r})")
    version = int(f.attrs.get("format_version", -1))
    if version not in READABLE_VERSIONS:
        raise ValueError(f"{path}: result format_version {version} is not one this version of "
                         f"fluxpoints reads ({', '.join(map(str, READABLE_VERSIONS))})")


def _catalog_reference_model(results_path, catalog_attr, source, catalog=None):
    """The source's spectral model from the catalog the batch ran on, as a gammapy model; None
    (with a warning) when the catalog cannot be found or its model cannot be rebuilt.

    The catalog stores each source's model type (gammapy's tag) and parameters in the library's
    internal units (TeV, cm-2 s-1 TeV-1, ...), which are the default units of gammapy's models.
    """
    import warnings

    import h5py

    if catalog is not None:
        candidates = [Path(catalog)]
    else:
        stored = Path(catalog_attr)
        candidates = [stored] if stored.is_absolute() else [results_path.parent / stored, stored]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        warnings.warn(f"{results_path}: the catalog {catalog_attr!r} it was computed from is not "
                      f"found: reference_model is a template built from ref_dnde (pass "
                      f"catalog= or reference_model= for the source's own model)")
        return None
    with h5py.File(found, "r") as f:
        names = [_text(n) for n in f["sources/name"][:]]
        if source not in names:
            warnings.warn(f"{found}: no source {source!r} in the catalog: reference_model is a "
                          f"template built from ref_dnde")
            return None
        row = names.index(source)
        model_type = _text(f["sources/model_type"][row])
        begin, end = f["sources/parameter_offsets"][row:row + 2]
        par_names = [_text(n) for n in f["sources/parameter_name"][begin:end]]
        par_values = f["sources/parameter_value"][begin:end]
    return _rebuild_model(model_type, par_names, par_values, found, source)


def _rebuild_model(model_type, par_names, par_values, where, source):
    """A gammapy spectral model of type `model_type` (gammapy's tag) with the parameters given in
    internal units (gammapy's default units); None with a warning when gammapy cannot build it."""
    import warnings

    from gammapy.modeling.models import SPECTRAL_MODEL_REGISTRY

    try:
        model = SPECTRAL_MODEL_REGISTRY.get_cls(model_type)()
        for name, value in zip(par_names, par_values):
            model.parameters[name].value = float(value)  # default unit = internal unit
    except (KeyError, IndexError, ValueError) as error:
        warnings.warn(f"{where}: the model of {source!r} ({model_type}) cannot be rebuilt in "
                      f"gammapy ({error}): reference_model is a template built from ref_dnde")
        return None
    return model


def _stored_parameters(f, row):
    """(model type, names, values) of the source's reference model as the result file stores it,
    or None for result files written before they stored it."""
    if "sources/parameter_values" not in f:
        return None
    names = [n for n in _text(f["sources/parameter_names"][row]).split(",") if n]
    values = np.asarray(f["sources/parameter_values"][row], dtype=float)[: len(names)]
    return _text(f["sources/model_type"][row]), names, values


def read_results(path, source, reference_model=None, catalog=None):
    """The flux points of one source of a ``fluxpoints batch`` result file.

    Parameters
    ----------
    path : str or Path
        A result file written by ``fluxpoints batch`` (HDF5, ``format = "fluxpoints-results"``).
    source : str
        The source's name, as in the catalog.
    reference_model : `~gammapy.modeling.models.SpectralModel`, optional
        The source's reference spectral model. Default: rebuilt from the model type and
        parameters the result file stores for each source. Result files written before they
        stored them: rebuilt from the catalog the batch ran on, found through the result file's
        ``catalog`` attribute (relative paths: next to the result file, then from the working
        folder).
    catalog : str or Path, optional
        Rebuild the model from this catalog file instead (for older result files whose catalog
        is not where the result file says).

    Without a model (older result file whose catalog is not found, or a model type gammapy
    cannot rebuild; a warning says so), gammapy's ``FluxPoints.from_table`` builds a template
    model from the stored ``ref_dnde`` column: the flux points and every SED type are the same,
    only ``reference_model`` differs.

    Returns
    -------
    `~gammapy.estimators.FluxPoints`
        The same columns, values and meta as ``fluxpoints estimate`` writes for that source
        (SED type likelihood), so ``plot()``, ``plot_ts_profiles()`` and ``write()`` work.

    Raises
    ------
    KeyError
        No source of that name (the message lists some names of the file).
    ValueError
        Not a result file, or the source failed in the batch (the message gives its error).
    """
    import astropy.units as u
    import h5py
    from astropy.table import Table
    from gammapy.estimators import FluxPoints

    path = Path(path)
    with h5py.File(path, "r") as f:
        _check_format(path, f)
        names = [_text(n) for n in f["sources/name"][:]]
        try:
            row = names.index(source)
        except ValueError:
            shown = ", ".join(repr(n) for n in names[:10]) + (", ..." if len(names) > 10 else "")
            raise KeyError(f"{path}: no source named {source!r} (the file has {len(names)} "
                           f"sources: {shown})") from None
        if not f["sources/ok"][row]:
            error = _text(f["sources/error"][row])
            raise ValueError(f"{path}: source {source!r} failed in the batch run: {error}")
        n_datasets = int(f["sources/n_datasets"][row])
        stored_model = _stored_parameters(f, row)
        group = f["fluxpoints"]
        table = Table()
        for name in _text(group.attrs["columns"]).split(","):
            dataset = group[name]
            values = np.asarray(dataset[row])
            if name in PER_DATASET_COLUMNS:
                values = values[:, :n_datasets]
            kind = _text(dataset.attrs.get("dtype", "float64"))
            if kind == "bool":
                values = values.astype(bool)
            elif kind == "float32":
                values = values.astype(np.float32)
            unit = _text(dataset.attrs.get("unit", ""))
            if int(dataset.attrs.get("has_unit", 0)):
                table[name] = u.Quantity(values, unit)
            else:
                table[name] = values
        attrs = f.attrs
        catalog_attr = _text(attrs.get("catalog", ""))
        n_sigma_ul = float(attrs["n_sigma_ul"])
        table.meta.update({
            "SED_TYPE": "likelihood",
            # gammapy's UL_CONF: the two-sided confidence of n_sigma_ul
            "UL_CONF": float(_confidence(n_sigma_ul)),
            "n_sigma": float(attrs["n_sigma"]),
            "n_sigma_ul": n_sigma_ul,
            "sqrt_ts_threshold_ul": float(attrs["sqrt_ts_threshold_ul"]),
            "n_sigma_sensitivity": float(attrs["n_sigma_sensitivity"]),
        })
    if reference_model is None:
        if stored_model is not None and catalog is None:
            reference_model = _rebuild_model(*stored_model, path, source)
        else:
            reference_model = _catalog_reference_model(path, catalog_attr, source, catalog)
    return FluxPoints.from_table(table, reference_model=reference_model, sed_type="likelihood",
                                 format="gadf-sed")


def _confidence(n_sigma):
    from scipy.special import erf

    return erf(n_sigma / np.sqrt(2.0))
