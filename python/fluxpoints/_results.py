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


def read_results(path, source, reference_model=None):
    """The flux points of one source of a ``fluxpoints batch`` result file.

    Parameters
    ----------
    path : str or Path
        A result file written by ``fluxpoints batch`` (HDF5, ``format = "fluxpoints-results"``).
    source : str
        The source's name, as in the catalog.
    reference_model : `~gammapy.modeling.models.SpectralModel`, optional
        The source's reference spectral model. Without it, gammapy's
        ``FluxPoints.from_table`` builds a template model from the stored ``ref_dnde`` column
        (the flux points and every SED type are the same; only ``reference_model`` differs).

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
    return FluxPoints.from_table(table, reference_model=reference_model, sed_type="likelihood",
                                 format="gadf-sed")


def _confidence(n_sigma):
    from scipy.special import erf

    return erf(n_sigma / np.sqrt(2.0))
