# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Several datasets fitted jointly, against live gammapy 2.1."""

from astropy import units as u

import simulated
from compare import assert_matches_gammapy
from conftest import SELECTION, SPECTRUM_EDGES, run_both


def test_spectra_of_three_observations():
    """Two On/Off observations and one with a background model, the same source in all."""
    datasets = [
        simulated.spectrum_dataset(name="obs1", seed=31, on_off=True),
        simulated.spectrum_dataset(name="obs2", seed=32, on_off=True, exposure=1e9),
        simulated.spectrum_dataset(name="obs3", seed=33, on_off=False),
    ]
    models = datasets[0].models
    for d in datasets:
        d.models = models
    r = run_both(datasets, source="src", energy_edges=SPECTRUM_EDGES, selection_optional=SELECTION)
    assert_matches_gammapy(r)


def test_map_and_onoff_map():
    """A MapDataset and a MapDatasetOnOff of the same sky, two sources."""
    cash = simulated.map_dataset(name="cash", seed=41, n_sources=2)
    onoff = simulated.map_dataset(name="onoff", seed=42, n_sources=2, on_off=True)
    models = cash.models.copy()
    cash.models = models
    onoff.models = [m for m in models if m.tag != "FoVBackgroundModel"]
    r = run_both(
        [cash, onoff],
        source="src1",
        energy_edges=[0.1, 1, 100] * u.TeV,
        selection_optional=SELECTION,
    )
    assert_matches_gammapy(r)
