# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Comparison cases between gammapy's FluxPointsEstimator and `fluxpoints estimate`.

Running this file (re)writes the inputs both tools use:
  data/golden/models/<model>.yaml   gammapy model YAML of the reference source "crab"
  data/golden/cases.json            per case: PHA files, model file, source, energy edges (TeV)

The other scripts (run_gammapy.py, compare.py, bench_gammapy.py) only read cases.json, so the
gammapy side and the C++ side always run exactly the same edges.

Energy-edge rule (documented in tests/validation/README.md):
  1. range = [lowest lower edge, highest upper edge] of the safe (mask_safe) reco bins over the
     datasets of the case;
  2. clipped to the reco-axis extent that EVERY dataset of the case covers, because gammapy 2.1
     fails (ValueError from a reshape) when a dataset has no overlap with a group and drops out
     of it (its per-dataset vectors would be shorter);
  3. 9 log-spaced edges (8 groups) over that range;
  4. an interior edge closer than kTieMarginBins to a snapping tie (a reco-bin centre in log
     energy, where gammapy's nearest-edge snapping is a tie) is moved up by kTieShiftBins of a
     bin, so that rounding noise cannot send it to different bins in the two tools.
"""
import argparse
import json
import math
import sys

import yaml
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".." / "shared" / "data" / "joint-crab" / "spectra"
GOLDEN_DIR = REPO_ROOT / "data" / "golden"
CASES_JSON = GOLDEN_DIR / "cases.json"
MODELS_DIR = GOLDEN_DIR / "models"

SOURCE_NAME = "crab"
N_GROUPS = 8
kTieMarginBins = 0.1  # snapping ties sit at bin centres; stay 0.1 bin away from them
kTieShiftBins = 0.25  # how far (in bins, log energy) a near-tie edge is moved up

# PHA files per instrument, relative to the data dir.
INSTRUMENTS = {
    "hess": [f"hess/pha_obs{o}.fits" for o in (23523, 23526, 23559, 23592)],
    "magic": [f"magic/pha_obs{o}.fits" for o in (5029747, 5029748)],
    "veritas": [f"veritas/pha_obs{o}.fits" for o in (54809, 57993)],
    "fact": ["fact/pha_stacked.fits"],
    "fermi": ["fermi/pha_obs0.fits"],
}

# Crab-like reference models (parameters close to the joint-crab fits; the exact values do not
# matter for the comparison, only that both tools use the same file).
MODELS = {
    "pl": {
        "type": "PowerLawSpectralModel",
        "parameters": {"index": 2.6, "amplitude": 3.8e-11, "reference": 1.0},
    },
    "lp": {
        "type": "LogParabolaSpectralModel",
        "parameters": {"alpha": 2.5, "beta": 0.1, "amplitude": 3.9e-11, "reference": 1.0},
    },
}

# Extra case: H.E.S.S. obs 23523 with fixed edges [0.1, 0.3, 1, 3, 10, 30, 100] TeV and a PowerLaw
# of index 2.7, incl. a row with no safe bins and kink rows, so the golden data also cover the
# worked example of tests/test_estimator_hess.cpp. (The "spec93" in names is only a label.)
SPEC93_MODEL = {
    "type": "PowerLawSpectralModel",
    "parameters": {"index": 2.7, "amplitude": 3e-11, "reference": 1.0},
}
SPEC93_EDGES_TEV = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]


def case_definitions():
    """(case name, instruments, allow_multiple_telescopes) of every comparison case."""
    # (a) the four H.E.S.S. runs jointly is the same case as (b) "hess alone": named hess.
    cases = [(name, [name], False) for name in INSTRUMENTS]
    cases.append(("joint", list(INSTRUMENTS), True))  # (c) all five instruments
    return cases


def write_model_yaml(path, model):
    """Write a one-component gammapy model YAML (SkyModel 'crab', spectral part only)."""
    from gammapy.modeling.models import Models, SkyModel, SPECTRAL_MODEL_REGISTRY

    cls = SPECTRAL_MODEL_REGISTRY.get_cls(model["type"])
    p = model["parameters"]
    kwargs = dict(p)
    kwargs["amplitude"] = f"{p['amplitude']} cm-2 s-1 TeV-1"
    kwargs["reference"] = f"{p['reference']} TeV"
    spectral = cls(**kwargs)
    models = Models([SkyModel(spectral_model=spectral, name=SOURCE_NAME)])
    # No covariance file and no creation date: the committed file must not change on rerun.
    content = models.to_dict()
    content.pop("covariance", None)
    content.pop("metadata", None)
    with open(path, "w") as f:
        f.write("# Reference model for the flux-point comparison, written by tests/validation/cases.py\n")
        yaml.safe_dump(content, f, sort_keys=False)


def safe_range_and_axis(pha_paths):
    """Safe reco range (TeV) of the datasets, the common axis extent, and one axis' edges."""
    import numpy as np
    from gammapy.datasets import SpectrumDatasetOnOff

    safe_lo, safe_hi, axis_lo, axis_hi = math.inf, -math.inf, -math.inf, math.inf
    edges_ref = None
    for path in pha_paths:
        ds = SpectrumDatasetOnOff.read(path)
        edges = ds.counts.geom.axes["energy"].edges.to_value("TeV")
        safe = np.asarray(ds.mask_safe.data).ravel()
        idx = np.flatnonzero(safe)
        if idx.size == 0:
            raise ValueError(f"{path}: no safe reco bin (mask_safe / QUALITY all bad)")
        safe_lo = min(safe_lo, edges[idx[0]])
        safe_hi = max(safe_hi, edges[idx[-1] + 1])
        axis_lo = max(axis_lo, edges[0])
        axis_hi = min(axis_hi, edges[-1])
        if edges_ref is None or edges.size > edges_ref.size:
            edges_ref = edges
    return (safe_lo, safe_hi), (axis_lo, axis_hi), edges_ref


def group_edges(safe, axis, axis_edges):
    """The rule in the module docstring, steps 2 to 4."""
    import numpy as np

    lo, hi = max(safe[0], axis[0]), min(safe[1], axis[1])
    if not lo < hi:
        raise ValueError(f"empty energy range [{lo}, {hi}] TeV")
    edges = np.geomspace(lo, hi, N_GROUPS + 1)
    log_axis = np.log(axis_edges)
    for k in range(1, N_GROUPS):
        # Fractional position in bins from the axis start; ties (bin centres) at j + 0.5.
        j = np.searchsorted(log_axis, math.log(edges[k])) - 1
        width = log_axis[j + 1] - log_axis[j]
        pos = (math.log(edges[k]) - log_axis[j]) / width
        if abs(pos - 0.5) < kTieMarginBins:
            edges[k] = math.exp(math.log(edges[k]) + kTieShiftBins * width)
    edges[0], edges[-1] = lo, hi  # keep the ends exactly on the range
    return [float(e) for e in edges]


def build_cases(data_dir):
    data_dir = Path(data_dir)
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    model_files = {}
    for key, model in MODELS.items():
        path = MODELS_DIR / f"crab_{key}.yaml"
        write_model_yaml(path, model)
        model_files[key] = path
    spec93_model = MODELS_DIR / "crab_spec93_pl.yaml"
    write_model_yaml(spec93_model, SPEC93_MODEL)

    def rel(path):
        return str(Path(path).resolve().relative_to(REPO_ROOT.resolve()))

    cases = []
    for name, instruments, allow_multi in case_definitions():
        phas = [p for inst in instruments for p in INSTRUMENTS[inst]]
        safe, axis, axis_edges = safe_range_and_axis([data_dir / p for p in phas])
        edges = group_edges(safe, axis, axis_edges)
        for key in MODELS:
            cases.append({
                "name": f"{name}_{key}",
                "datasets": phas,
                "models": rel(model_files[key]),
                "source": SOURCE_NAME,
                "energy_edges_tev": edges,
                "safe_range_tev": list(safe),
                "allow_multiple_telescopes": allow_multi,
            })
    cases.append({
        "name": "spec93_hess23523_pl",
        "datasets": [INSTRUMENTS["hess"][0]],
        "models": rel(spec93_model),
        "source": SOURCE_NAME,
        "energy_edges_tev": SPEC93_EDGES_TEV,
        "safe_range_tev": None,
        "allow_multiple_telescopes": False,
    })
    return {
        "description": "Flux-point comparison cases; see tests/validation/README.md",
        "datasets_relative_to": "../shared/data/joint-crab/spectra (from the repo root)",
        "options": {"selection_optional": "all", "n_sigma": 1, "n_sigma_ul": 2,
                    "sum_over_energy_groups": False, "reoptimize": False},
        "cases": cases,
    }


def load_cases(path=CASES_JSON):
    with open(path) as f:
        return json.load(f)


def data_dir_arg(parser):
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                        help="joint-crab spectra folder (default: ../shared/data/joint-crab/"
                             "spectra relative to the repo root)")


def require_data_dir(data_dir):
    if not Path(data_dir, "hess").is_dir():
        sys.exit(f"missing data: {data_dir} (expected the joint-crab spectra, e.g. hess/)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_dir_arg(parser)
    args = parser.parse_args()
    require_data_dir(args.data_dir)
    spec = build_cases(args.data_dir)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    with open(CASES_JSON, "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    for case in spec["cases"]:
        edges = ", ".join(f"{e:.4g}" for e in case["energy_edges_tev"])
        print(f"{case['name']:22s} {len(case['datasets'])} datasets  edges [{edges}] TeV")
    print(f"wrote {CASES_JSON}")


if __name__ == "__main__":
    main()
