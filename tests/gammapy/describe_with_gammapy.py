# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""gammapy's view of OGIP spectra and of its own gadf files made from them, for
tests/test_ogip.cpp (GammapyInterop.*): gammapy must read the OGIP files fluxpoints writes as
fluxpoints does, and fluxpoints must read gammapy's gadf files as gammapy does.

    python tests/gammapy/describe_with_gammapy.py OUT_DIR PHA [PHA ...]

For each PHA (stem S) it describes the PHA as gammapy reads it, writes OUT_DIR/S_onoff.fits
(SpectrumDatasetOnOff.write, gadf) and OUT_DIR/S_cash.fits
(SpectrumDatasetOnOff.to_spectrum_dataset().write: background = alpha * counts_off), reads both
back with gammapy and writes OUT_DIR/gammapy.json: three records per PHA, in that order, in the
layout of data/golden/make_npred_golden.py.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data" / "golden"))
from make_npred_golden import describe, describe_dataset  # noqa: E402
from gammapy.datasets import SpectrumDataset, SpectrumDatasetOnOff  # noqa: E402


def main():
    out = Path(sys.argv[1])
    records = []
    for pha in sys.argv[2:]:
        stem = Path(pha).name.split(".")[0]
        records.append(describe(pha))
        onoff = SpectrumDatasetOnOff.read(pha)
        onoff_path = out / f"{stem}_onoff.fits"
        onoff.write(onoff_path, overwrite=True)
        records.append(describe_dataset(SpectrumDatasetOnOff.read(onoff_path, format="gadf"),
                                        onoff_path))
        cash = onoff.to_spectrum_dataset(name=f"{stem}_cash")
        cash_path = out / f"{stem}_cash.fits"
        cash.write(cash_path, overwrite=True)
        records.append(describe_dataset(SpectrumDataset.read(cash_path), cash_path))
    (out / "gammapy.json").write_text(json.dumps({"datasets": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
