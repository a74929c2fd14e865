# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""The code of docs/tutorial-python.md, run end to end; it writes the tutorial's figures.

Usage (from the repository root, with the package installed):
    .venv/bin/python docs/figures/python_tutorial.py [--with-gammapy]
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# --- 1. A gammapy analysis: a MapDataset with three sources ---------------------------------
import numpy as np  # noqa: E402
from astropy import units as u  # noqa: E402
from gammapy.datasets import MapDataset  # noqa: E402
from gammapy.irf import EDispKernelMap, PSFMap  # noqa: E402
from gammapy.maps import Map, MapAxis, WcsGeom  # noqa: E402
from gammapy.modeling.models import (  # noqa: E402
    FoVBackgroundModel,
    GaussianSpatialModel,
    LogParabolaSpectralModel,
    Models,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
)

energy = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", nbin=12, name="energy")
energy_true = MapAxis.from_energy_bounds("0.05 TeV", "200 TeV", nbin=24, name="energy_true")
geom = WcsGeom.create(skydir=(0, 0), binsz=0.04, npix=50, frame="galactic", axes=[energy])

dataset = MapDataset.create(geom, energy_axis_true=energy_true, name="survey-field", binsz_irf=0.5)
dataset.exposure.data[...] = 5e9  # m2 s
irf_geom = dataset.exposure.geom.to_image().to_binsz(0.5)
dataset.psf = PSFMap.from_gauss(energy_axis_true=energy_true, sigma=0.08 * u.deg, geom=irf_geom)
dataset.edisp = EDispKernelMap.from_gauss(
    energy_axis=energy, energy_axis_true=energy_true, sigma=0.12, bias=0, geom=irf_geom
)
dataset.background.data[...] = 0.3 * np.geomspace(1, 0.01, 12)[:, None, None]
dataset.mask_safe = Map.from_geom(geom, data=True, dtype=bool)

models = Models(
    [
        SkyModel(
            PowerLawSpectralModel(index=2.3, amplitude="2e-12 cm-2 s-1 TeV-1"),
            PointSpatialModel(lon_0="0.2 deg", lat_0="0.1 deg", frame="galactic"),
            name="pwn",
        ),
        SkyModel(
            LogParabolaSpectralModel(
                alpha=2.0, beta=0.25, amplitude="1e-12 cm-2 s-1 TeV-1", reference="1 TeV"
            ),
            GaussianSpatialModel(lon_0="0 deg", lat_0="0 deg", sigma="0.15 deg", frame="galactic"),
            name="snr",
        ),
        SkyModel(
            PowerLawSpectralModel(index=2.7, amplitude="5e-13 cm-2 s-1 TeV-1"),
            PointSpatialModel(lon_0="-0.15 deg", lat_0="-0.2 deg", frame="galactic"),
            name="faint",
        ),
        FoVBackgroundModel(dataset_name="survey-field"),
    ]
)
dataset.models = models
dataset.fake(random_state=42)  # simulated counts; in a real analysis: counts from data, then a Fit

# --- 2. Flux points with fluxpoints: the same call as gammapy's --------------------------------
from fluxpoints import FluxPointsEstimator, estimate_sources  # noqa: E402

edges = [0.1, 0.3, 1, 3, 10, 30, 100] * u.TeV
estimator = FluxPointsEstimator(source="pwn", energy_edges=edges, selection_optional="all")
t0 = time.perf_counter()
flux_points = estimator.run([dataset])  # a gammapy.estimators.FluxPoints
t_run = time.perf_counter() - t0
print(
    flux_points.to_table(sed_type="e2dnde", formatted=True)[
        "e_ref", "e2dnde", "e2dnde_errn", "e2dnde_errp", "e2dnde_ul", "sqrt_ts", "is_ul"
    ]
)
print("status:", estimator.last_status["pwn"])

# --- 3. Every source at once ------------------------------------------------------------------
t0 = time.perf_counter()
all_points = estimate_sources(
    [dataset],
    ["pwn", "snr", "faint"],
    energy_edges=edges,
    selection_optional=["errn-errp", "ul", "scan"],
)
t_all = time.perf_counter() - t0
print(f"run(pwn): {t_run:.3f} s; estimate_sources(3 sources): {t_all:.3f} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--with-gammapy",
        action="store_true",
        help="also run gammapy's estimator for 'pwn' and overlay it",
    )
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()

    # --- 4. SED with the reference models ---------------------------------------------------
    fig, ax = plt.subplots(figsize=(7, 5))
    energy_bounds = [0.1, 100] * u.TeV
    for (name, points), color in zip(all_points.items(), ["C0", "C1", "C2"]):
        points.plot(ax=ax, sed_type="e2dnde", color=color, label=name)
        dataset.models[name].spectral_model.plot(
            energy_bounds, ax=ax, sed_type="e2dnde", color=color, ls=":", lw=1
        )
    if args.with_gammapy:
        from gammapy.estimators import FluxPointsEstimator as GammapyEstimator

        t0 = time.perf_counter()
        reference = GammapyEstimator(
            source="pwn", energy_edges=edges, selection_optional=["errn-errp", "ul", "scan"]
        ).run([dataset])
        print(f"gammapy run(pwn): {time.perf_counter() - t0:.1f} s")
        reference.plot(
            ax=ax, sed_type="e2dnde", color="k", marker="x", ls="none", label="pwn (gammapy)"
        )
    ax.set_ylim(1e-14, 3e-11)
    ax.legend()
    ax.set_title("Flux points from fluxpoints (dotted: the reference models)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "python-tutorial-sed.png"), dpi=100)

    # --- 5. Likelihood profiles ------------------------------------------------------------
    fig, ax = plt.subplots(figsize=(7, 5))
    flux_points.plot_ts_profiles(ax=ax, sed_type="e2dnde")
    flux_points.plot(ax=ax, sed_type="e2dnde", color="white")
    ax.set_title("'pwn': TS profiles (plot_ts_profiles) and flux points")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "python-tutorial-profiles.png"), dpi=100)
    print("figures written to", args.out)


if __name__ == "__main__":
    main()
