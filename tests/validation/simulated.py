# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Comparison cases on spectra that fluxpoints simulates itself, with gammapy run live on them.

  simulated.py FLUXPOINTS_EXE --out-dir DIR [--only CASE ...]

For each case: writes the reference model (gammapy model YAML), runs `fluxpoints simulate`
(fixed seed) into DIR/<case>/, for Cash cases converts the On/Off spectra with gammapy into
`SpectrumDataset` files (background = alpha * n_off), computes the energy edges with the rule of
cases.py, and runs gammapy's FluxPointsEstimator on them (run_gammapy.py). DIR then holds
cases.json (the format of data/golden/cases.json, datasets relative to DIR) and, per case,
gammapy/<case>.fits and gammapy/<case>.json as run_gammapy.py writes them, so that compare.py and
tests/test_golden_gammapy.cpp compare them exactly like the golden cases. Nothing here needs data
from outside the repository, so these cases run on every machine that has gammapy.

`simulate` draws with std::mt19937_64 and the standard library's Poisson distribution: the
spectra, and hence the excused cells listed for these cases, are those of libstdc++ (g++ on
Debian 12, the platform CI runs on).
"""
import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cases as case_defs
import run_gammapy

OPTIONS = {"selection_optional": "all", "n_sigma": 1, "n_sigma_ul": 2,
           "sum_over_energy_groups": False, "reoptimize": False}

PL = {"type": "PowerLawSpectralModel",
      "parameters": {"index": 2.6, "amplitude": 3.8e-11, "reference": 1.0}}
LP = {"type": "LogParabolaSpectralModel",
      "parameters": {"alpha": 2.3, "beta": 0.15, "amplitude": 2e-11, "reference": 1.0}}
# ~3 % of the Crab: significance of a few sigma per group at most, groups with 0-3 counts above
# 3 TeV (best fits on the kink of the WStat profile at norm 0) and upper limits.
FAINT_PL = {"type": "PowerLawSpectralModel",
            "parameters": {"index": 2.6, "amplitude": 1e-12, "reference": 1.0}}
# 4 h per observation and a reco axis up to 20 TeV: every group of the bright cases has counts.
BRIGHT = ["--livetime", "4", "--reco-edges", "0.05", "20", "24"]

def case(name, model, n_obs, seed, simulate_options=(), dataset_class="SpectrumDatasetOnOff",
         options=None):
    return {"name": name, "model": model, "n_obs": n_obs, "seed": seed,
            "simulate_options": list(simulate_options), "dataset_class": dataset_class,
            "options": options or {}}


CASES = [
    case("sim_wstat_pl_3obs", PL, 3, 101, BRIGHT),
    # Curved model; energies in keV, as in the real H.E.S.S. files.
    case("sim_wstat_lp_4obs_kev", LP, 4, 202, BRIGHT + ["--energy-unit", "keV"]),
    case("sim_wstat_faint_2obs", FAINT_PL, 2, 303, ["--livetime", "4"]),
    # Cash with a known background. An OGIP file without BACKFILE is no Cash dataset for gammapy, so this case is compared through the
    # library by GammapyLive.SimulatedCashCase (tests/test_golden_gammapy.cpp). No sensitivity:
    # gammapy takes 4-9 minutes for it on a Cash dataset here (1-4 s for everything else).
    case("sim_cash_pl_2obs", PL, 2, 404, BRIGHT, dataset_class="SpectrumDataset",
         options={"selection_optional": ["errn-errp", "ul", "scan"]}),
]
# The cases compare.py runs through `fluxpoints estimate`.
CLI_CASES = [c["name"] for c in CASES if c["dataset_class"] == "SpectrumDatasetOnOff"]


def simulate(exe, case_dir, model_path, n_obs, seed, extra):
    cmd = [str(exe), "simulate", "--models", str(model_path), "--source", case_defs.SOURCE_NAME,
           "--n-obs", str(n_obs), "--seed", str(seed), "--name", "obs", "-o", str(case_dir),
           *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\nexit {proc.returncode}\n{proc.stderr}")
    phas = sorted(case_dir.glob("obs_[0-9][0-9][0-9][0-9].fits"))
    if len(phas) != n_obs:
        raise RuntimeError(f"{' '.join(cmd)} wrote {len(phas)} spectra, expected {n_obs}")
    return phas


def to_cash(phas):
    """gammapy's SpectrumDataset (Cash, background alpha * n_off) of each On/Off spectrum."""
    from gammapy.datasets import SpectrumDatasetOnOff

    out = []
    for pha in phas:
        dataset = SpectrumDatasetOnOff.read(pha).to_spectrum_dataset(name=pha.stem)
        path = pha.with_name(f"{pha.stem}_cash.fits")
        dataset.write(path, overwrite=True)
        out.append(path)
    return out


def prepare(exe, out_dir, only=None):
    """Simulate every case (or those in `only`), write cases.json; return that spec."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = []
    for c in CASES:
        name = c["name"]
        if only and name not in only:
            continue
        case_dir = out_dir / name
        shutil.rmtree(case_dir, ignore_errors=True)  # never mix with an earlier run's files
        case_dir.mkdir()
        model_path = case_dir / "model.yaml"
        case_defs.write_model_yaml(model_path, c["model"])
        phas = simulate(exe, case_dir, model_path, c["n_obs"], c["seed"], c["simulate_options"])
        safe, axis, axis_edges = case_defs.safe_range_and_axis(phas)
        files = to_cash(phas) if c["dataset_class"] == "SpectrumDataset" else phas
        cases.append({
            "name": name,
            "datasets": [str(f.relative_to(out_dir)) for f in files],
            "models": str(model_path),
            "source": case_defs.SOURCE_NAME,
            "energy_edges_tev": case_defs.group_edges(safe, axis, axis_edges),
            "safe_range_tev": list(safe),
            "allow_multiple_telescopes": False,
            "dataset_class": c["dataset_class"],
            "options": c["options"],  # overrides the common options below
            "simulate": {k: c[k] for k in ("n_obs", "seed", "simulate_options", "model")},
        })
    if only and len(cases) != len(only):
        raise ValueError(f"unknown case in {only}; cases: {[c['name'] for c in CASES]}")
    spec = {"description": "Simulated comparison cases (tests/validation/simulated.py)",
            "datasets_relative_to": str(out_dir), "options": OPTIONS, "cases": cases}
    with open(out_dir / "cases.json", "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    return spec


def run_all_gammapy(spec, out_dir):
    """gammapy on every case of `spec` (datasets in out_dir); returns the folder of its results."""
    out_dir = Path(out_dir).resolve()
    gammapy_dir = out_dir / "gammapy"
    gammapy_dir.mkdir(exist_ok=True)
    for case in spec["cases"]:
        options = {**spec["options"], **case.get("options", {})}
        _, record = run_gammapy.run_case(case, options, out_dir, gammapy_dir)
        print(run_gammapy.summarize(record), flush=True)
    return gammapy_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fluxpoints_exe")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--only", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    spec = prepare(args.fluxpoints_exe, args.out_dir, args.only)
    run_all_gammapy(spec, Path(args.out_dir).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
