# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Shared fixtures: simulated datasets (built once per session) and gammapy's own answers."""

import logging

import pytest
from astropy import units as u
from gammapy.datasets import Datasets
from gammapy.estimators import FluxPointsEstimator as GammapyEstimator
from gammapy.modeling.models import ScaleSpectralModel

import fluxpoints
import simulated

# Groups of the spectrum cases: five inside the axis (0.1 - 100 TeV), the last one fully above
# it (no dataset overlaps it: gammapy's NaN row).
SPECTRUM_EDGES = [0.1, 0.3, 1, 3, 10, 100, 300] * u.TeV
MAP_EDGES = [0.1, 1, 100] * u.TeV
SELECTION = ["errn-errp", "ul", "scan"]
# gammapy's own parallelism over energy groups (processes), to keep the suite short.
GAMMAPY_PROCESSES = 2


@pytest.fixture(autouse=True)
def quiet_gammapy(caplog):
    # gammapy logs a warning per NaN row; the tests check those rows themselves.
    caplog.set_level(logging.ERROR)


class Result:
    """fluxpoints' and gammapy's FluxPoints for the same datasets and arguments, fluxpoints'
    status text per group, and gammapy's statistic of a group as a function of the norm."""

    def __init__(self, datasets, kwargs):
        self.datasets = Datasets(datasets)
        self.kwargs = kwargs
        estimator = fluxpoints.FluxPointsEstimator(**kwargs)
        self.ours = estimator.run(self.datasets)
        self.status = next(iter(estimator.last_status.values()))
        # gammapy runs its groups in processes (its results do not depend on that).
        self.theirs = GammapyEstimator(n_jobs=GAMMAPY_PROCESSES, **kwargs).run(self.datasets)

    def gammapy_stat(self, group, norm):
        """gammapy's total statistic of energy group `group` with the source scaled by `norm`:
        the datasets sliced and the model scaled as gammapy's estimator does it."""
        edges = u.Quantity(self.kwargs["energy_edges"])
        sliced = self.datasets.slice_by_energy(edges[group], edges[group + 1])
        models = self.datasets.models.copy()
        source = models[self.kwargs.get("source", 0)]
        scale = ScaleSpectralModel(source.spectral_model)
        scale.norm.value = norm
        source.spectral_model = scale
        sliced.models = models
        return sliced.stat_sum()


def run_both(datasets, **kwargs):
    """fluxpoints and gammapy on the same datasets with the same arguments (see Result)."""
    return Result(datasets, kwargs)


@pytest.fixture(scope="session")
def spectrum_onoff():
    return simulated.spectrum_dataset(name="onoff", seed=11, on_off=True)


@pytest.fixture(scope="session")
def spectrum_cash():
    return simulated.spectrum_dataset(name="cash", seed=12, on_off=False)


@pytest.fixture(scope="session")
def map_one():
    return simulated.map_dataset(name="map1", seed=21, n_sources=1)


@pytest.fixture(scope="session")
def map_three():
    """Three sources (point/PL, Gaussian/PL, point/log-parabola) within 0.15 deg of each other,
    PSF sigma 0.1 deg: their predicted counts overlap."""
    return simulated.map_dataset(name="map3", seed=22, n_sources=3)


@pytest.fixture(scope="session")
def map_onoff():
    return simulated.map_dataset(name="maponoff", seed=23, n_sources=2, on_off=True)
