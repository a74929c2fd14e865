# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Golden values for the OGIP reader and forward folding (tests/test_dataset_folding.cpp).

Reads every joint-crab OGIP spectrum (H.E.S.S., MAGIC, VERITAS, FACT, Fermi-LAT) with gammapy's
SpectrumDatasetOnOff.read and stores what gammapy sees: axes (TeV), livetime, counts, counts_off,
alpha, mask_safe, exposure (cm2 s) and npred_signal() of the reference PowerLaw
(amplitude 3e-11 cm-2 s-1 TeV-1, index 2.7, reference 1 TeV), per reco channel.

Run from the repository root (needs ../shared/data):
    .venv/bin/python data/golden/make_npred_golden.py
Writes data/golden/npred_joint_crab.json. Made with gammapy 2.1.
"""
import argparse
import json
import sys
from pathlib import Path

import astropy.units as u
import gammapy
import numpy as np
from gammapy.datasets import SpectrumDatasetOnOff
from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

DATA = Path("../shared/data/joint-crab/spectra")
OUT = Path(__file__).parent / "npred_joint_crab.json"


def as_list(quantity, unit=None):
    values = quantity.to_value(unit) if unit is not None else np.asarray(quantity)
    return [float(v) for v in np.ravel(values)]


def describe_dataset(dataset, path):
    """What gammapy holds for a SpectrumDataset(OnOff), and the npred of the reference PowerLaw."""
    model = PowerLawSpectralModel(
        amplitude=3e-11 * u.Unit("cm-2 s-1 TeV-1"), index=2.7, reference=1 * u.TeV
    )
    dataset.models = [SkyModel(spectral_model=model, name="crab")]
    reco = dataset.counts.geom.axes["energy"]
    true = dataset.exposure.geom.axes["energy_true"]
    record = {
        "pha": str(path),
        "instrument": Path(path).parent.name,
        "name": dataset.name,
    }
    if "livetime" in dataset.exposure.meta:
        record["livetime_s"] = float(dataset.exposure.meta["livetime"].to_value("s"))
    record.update(
        {
            "energy_unit": str(reco.unit),
            "reco_edges_tev": as_list(reco.edges, "TeV"),
            "true_edges_tev": as_list(true.edges, "TeV"),
            "counts": as_list(dataset.counts.data),
        }
    )
    if isinstance(dataset, SpectrumDatasetOnOff):
        record["counts_off"] = as_list(dataset.counts_off.data)
        record["alpha"] = as_list(dataset.alpha.data)
    else:
        record["background"] = as_list(dataset.background.data)
    record.update(
        {
            "mask_safe": [int(v) for v in np.ravel(dataset.mask_safe.data)],
            "exposure_cm2s": as_list(dataset.exposure.quantity, "cm2 s"),
            "npred_signal": as_list(dataset.npred_signal().data),
        }
    )
    return record


def describe(pha):
    """What gammapy reads from one OGIP PHA file."""
    return describe_dataset(SpectrumDatasetOnOff.read(pha), pha)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    meta = {
        "gammapy": gammapy.__version__,
        "model": "PowerLaw amplitude=3e-11 cm-2 s-1 TeV-1 index=2.7 reference=1 TeV",
        "script": "data/golden/make_npred_golden.py",
    }
    if not DATA.is_dir():
        sys.exit(f"missing {DATA} (run from the repository root)")
    records = [describe(pha) for pha in sorted(DATA.glob("*/pha_*.fits"))]
    args.out.write_text(json.dumps({"meta": meta, "datasets": records}, indent=1) + "\n")
    print(f"wrote {args.out} ({len(records)} datasets)")


if __name__ == "__main__":
    main()
