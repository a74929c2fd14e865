# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Two sources sharing spectrum datasets, for the field-catalog comparison with gammapy
(tests/test_catalog_fields.cpp): two On/Off spectra (OGIP files) both see "src" and "src2"
(different spectral shapes, so both amplitudes are measurable in each energy group); only the
amplitudes are free (min 0). Writes OUT/obs1.fits, OUT/obs2.fits (+ their BKG/ARF/RMF),
OUT/models.yaml and OUT/gammapy.json with gammapy 2.1's flux points of both sources with
reoptimize False and True.

usage: field_two_sources.py OUT_DIR
"""

import json
import sys
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from gammapy.datasets import Datasets, SpectrumDataset, SpectrumDatasetOnOff
from gammapy.estimators import FluxPointsEstimator
from gammapy.irf import EDispKernelMap
from gammapy.maps import Map, MapAxis, RegionGeom
from gammapy.modeling.models import (
    LogParabolaSpectralModel,
    Models,
    PowerLawSpectralModel,
    SkyModel,
)
from regions import CircleSkyRegion

ENERGY_EDGES = [0.3, 3, 30] * u.TeV
SELECTION = ["errn-errp", "ul"]
COLUMNS = ["norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "stat", "stat_null"]


def sky_models():
    # A hard power law and a soft log-parabola: each dominates one end of the spectrum, and
    # both are detected in both energy groups (their amplitudes stay away from the bound 0, where
    # gammapy's re-fits inside the crossing searches stop short).
    src = SkyModel(PowerLawSpectralModel(index=2.0, amplitude="2e-12 cm-2 s-1 TeV-1"), name="src")
    src2 = SkyModel(
        LogParabolaSpectralModel(
            alpha=2.6, beta=0.1, amplitude="3e-12 cm-2 s-1 TeV-1", reference="1 TeV"
        ),
        name="src2",
    )
    return Models([src, src2])


def dataset(name, seed, models):
    energy = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", nbin=12, name="energy")
    energy_true = MapAxis.from_energy_bounds("0.05 TeV", "200 TeV", nbin=24, name="energy_true")
    region = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), radius=0.1 * u.deg)
    geom = RegionGeom.create(region=region, axes=[energy])
    ds = SpectrumDataset.create(geom=geom, energy_axis_true=energy_true, name=name)
    ds.exposure.data[...] = 3e9
    ds.exposure.meta["livetime"] = 1 * u.h  # OGIP files need it
    ds.edisp = EDispKernelMap.from_gauss(
        energy_axis=energy, energy_axis_true=energy_true, sigma=0.15, bias=0.0, geom=geom
    )
    ds.background.data[...] = np.geomspace(20.0, 0.5, 12)[:, None, None]
    ds.mask_safe = Map.from_geom(geom, data=True, dtype=bool)
    ds.models = models.copy()
    out = SpectrumDatasetOnOff.from_spectrum_dataset(dataset=ds, acceptance=1, acceptance_off=5, name=name
    )
    out.models = models.copy()
    out.fake(npred_background=ds.npred_background(), random_state=np.random.RandomState(seed))
    return out


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    truth = sky_models()
    datasets = Datasets([dataset("obs1", 11, truth), dataset("obs2", 12, truth)])
    for d in datasets:
        d.write(out / f"{d.name}.fits", overwrite=True, format="ogip")
    # The reference models, away from the truth; only the amplitudes free (min 0).
    models = sky_models()
    models["src"].spectral_model.amplitude.value *= 0.8
    models["src2"].spectral_model.amplitude.value *= 1.3
    for m in models:
        for p in m.parameters:
            p.frozen = p.name != "amplitude"
            if not p.frozen:
                p.min = 0
    models.write(out / "models.yaml", overwrite=True, write_covariance=False)
    # Read back as fluxpoints reads them.
    datasets = Datasets(
        [SpectrumDatasetOnOff.read(out / f"{name}.fits", format="ogip") for name in ("obs1", "obs2")]
    )
    result = {}
    for reoptimize in (False, True):
        per_source = {}
        for source in ("src", "src2"):
            datasets.models = Models.read(out / "models.yaml")
            fpe = FluxPointsEstimator(
                energy_edges=ENERGY_EDGES,
                source=source,
                selection_optional=SELECTION,
                reoptimize=reoptimize,
            )
            table = fpe.run(datasets).to_table(sed_type="likelihood")
            per_source[source] = {c: [float(v) for v in np.ravel(table[c])] for c in COLUMNS}
        result["reoptimize" if reoptimize else "fixed"] = per_source
    (out / "gammapy.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
