# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Run gammapy's FluxPointsEstimator on every case of data/golden/cases.json.

Writes, per case:
  data/golden/<case>.fits  FluxPoints.write(sed_type="likelihood", format="gadf-sed")
  data/golden/<case>.json  every column of that file (read back from it), the success flags,
                           the unfiltered norm/norm_err, gammapy's warnings and its wall time.
JSON conventions: NaN is written as null; energies are converted to TeV (the FITS file keeps
gammapy's keV from the OGIP axis); per-dataset columns are lists per row, in the order of
"dataset_names" (the input order).
"""
import argparse
import json
import logging
import math
import time
import warnings
from pathlib import Path

import numpy as np

import cases as case_defs

ENERGY_COLUMNS = ("e_ref", "e_min", "e_max")


def read_datasets(case, data_dir):
    from gammapy.datasets import Datasets, SpectrumDataset, SpectrumDatasetOnOff
    from gammapy.modeling.models import Models

    # On/Off OGIP files (WStat) unless the case says its files are gammapy's Cash SpectrumDataset.
    cls = SpectrumDataset if case.get("dataset_class") == "SpectrumDataset" else SpectrumDatasetOnOff
    datasets = Datasets([cls.read(Path(data_dir) / p) for p in case["datasets"]])
    datasets.models = Models.read(case_defs.REPO_ROOT / case["models"])
    return datasets


def make_estimator(case, options, migrad_tol=None):
    import astropy.units as u
    from gammapy.estimators import FluxPointsEstimator
    from gammapy.modeling import Fit

    extra = {}
    if migrad_tol is not None:  # only for experiments; golden files use gammapy's default
        extra["fit"] = Fit(optimize_opts={"tol": migrad_tol},
                           confidence_opts={"backend": "scipy"})
    return FluxPointsEstimator(
        energy_edges=np.asarray(case["energy_edges_tev"]) * u.TeV,
        source=case["source"],
        selection_optional=options["selection_optional"],
        n_sigma=options["n_sigma"],
        n_sigma_ul=options["n_sigma_ul"],
        sum_over_energy_groups=options["sum_over_energy_groups"],
        reoptimize=options["reoptimize"],
        allow_multiple_telescopes=case["allow_multiple_telescopes"],
        **extra,
    )


def to_json_value(x):
    """numpy scalar/array -> JSON-safe python, NaN -> None (JSON has no NaN)."""
    arr = np.asarray(x)
    if arr.dtype == bool:
        return arr.tolist()
    if arr.dtype.kind in "iu":
        return arr.tolist()
    values = arr.astype(float)
    if np.isinf(values).any():
        raise ValueError("infinite value in gammapy output; extend the JSON convention first")
    out = np.where(np.isnan(values), None, values).tolist() if values.ndim else (
        None if math.isnan(values) else float(values))
    return out


def table_to_json(path):
    """Every column of the FLUXPOINTS HDU of `path`, energies in TeV."""
    from astropy.io import fits
    from astropy.table import QTable

    table = QTable.read(path, hdu="FLUXPOINTS")
    header = fits.getheader(path, "FLUXPOINTS")
    columns, units = {}, {}
    for name in table.colnames:
        col = table[name]
        if name in ENERGY_COLUMNS:
            col = col.to("TeV")
        unit = getattr(col, "unit", None)
        units[name] = "" if unit is None else unit.to_string()
        columns[name] = to_json_value(getattr(col, "value", col))
    return {"header": {"SED_TYPE": header.get("SED_TYPE"), "UL_CONF": header.get("UL_CONF")},
            "column_order": table.colnames, "units": units, "columns": columns}


class _LogCollector(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.levelname}: {record.getMessage()}")


def run_case(case, options, data_dir, out_dir, migrad_tol=None):
    datasets = read_datasets(case, data_dir)
    estimator = make_estimator(case, options, migrad_tol)
    collector = _LogCollector()
    gp_log = logging.getLogger("gammapy")
    gp_log.addHandler(collector)
    gp_log.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            flux_points = estimator.run(datasets)
            wall_s = time.perf_counter() - start
    finally:
        gp_log.removeHandler(collector)

    fits_path = Path(out_dir) / f"{case['name']}.fits"
    flux_points.write(fits_path, sed_type="likelihood", format="gadf-sed", overwrite=True)

    record = {"case": case, "options": options}
    record.update(table_to_json(fits_path))
    # Unfiltered best fit: the file shows NaN norm/norm_err where success is False (gammapy's
    # filter_success_nan).
    flux_points.filter_success_nan = False
    record["norm_unfiltered"] = to_json_value(flux_points.norm.data.ravel())
    record["norm_err_unfiltered"] = to_json_value(flux_points.norm_err.data.ravel())
    record["dataset_names"] = [d.name for d in datasets]
    record["gammapy_version"] = __import__("gammapy").__version__
    record["gammapy_wall_s"] = wall_s
    record["gammapy_messages"] = collector.records + [
        f"{w.category.__name__}: {w.message}" for w in caught]
    with open(Path(out_dir) / f"{case['name']}.json", "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    return flux_points, record


def summarize(record):
    cols = record["columns"]
    success = cols["success"]
    nan_norm = [i for i, v in enumerate(cols["norm"]) if v is None]
    nan_ul = [i for i, v in enumerate(cols["norm_ul"]) if v is None]
    failed = [i for i, ok in enumerate(success) if not ok]
    return (f"{record['case']['name']:22s} {record['gammapy_wall_s']:7.2f} s  rows {len(success)}"
            f"  success False {failed}  NaN norm {nan_norm}  NaN ul {nan_ul}"
            f"  messages {len(record['gammapy_messages'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    case_defs.data_dir_arg(parser)
    parser.add_argument("--cases", default=str(case_defs.CASES_JSON))
    parser.add_argument("--out-dir", default=str(case_defs.GOLDEN_DIR))
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--migrad-tol", type=float,
                        help="experiment: MIGRAD tolerance instead of gammapy's 0.1 (use with "
                             "--out-dir elsewhere; never for the golden files)")
    args = parser.parse_args()
    case_defs.require_data_dir(args.data_dir)
    spec = case_defs.load_cases(args.cases)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    timings = {}
    for case in spec["cases"]:
        if args.only and case["name"] not in args.only:
            continue
        _, record = run_case(case, spec["options"], args.data_dir, args.out_dir,
                               args.migrad_tol)
        timings[case["name"]] = record["gammapy_wall_s"]
        print(summarize(record), flush=True)
    print("gammapy wall time per case (s): " + json.dumps(timings))


if __name__ == "__main__":
    main()
