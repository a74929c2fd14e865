# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""estimate_sources: many sources of the same datasets in one batch, each equal to a single run."""

import numpy as np
import pytest
from astropy import units as u

import fluxpoints
import simulated

N_SOURCES = 100
EDGES = [0.1, 1, 10, 100] * u.TeV


@pytest.fixture(scope="module")
def crowded_map():
    """A 2 x 2 deg MapDataset with 100 sources (points, Gaussians, log-parabolas)."""
    sources = simulated.map_sources(N_SOURCES, seed=51, spread=0.8)
    return simulated.map_dataset(name="crowded", seed=52, npix=40, binsz=0.05, sources=sources)


def test_hundred_sources_equal_hundred_single_runs(crowded_map):
    names = [f"src{i}" for i in range(N_SOURCES)]
    kwargs = dict(energy_edges=EDGES, selection_optional=["errn-errp", "ul", "scan"])
    together = fluxpoints.estimate_sources([crowded_map], names, **kwargs)
    assert list(together) == names
    for name in names:
        alone = fluxpoints.FluxPointsEstimator(source=name, **kwargs).run([crowded_map])
        a = together[name].to_table(sed_type="likelihood")
        b = alone.to_table(sed_type="likelihood")
        assert a.colnames == b.colnames
        for column in a.colnames:
            np.testing.assert_array_equal(a[column], b[column], err_msg=f"{name}: {column}")
    # Not all trivially equal: the sources differ.
    norms = np.array([together[n].to_table(sed_type="likelihood")["norm"][0] for n in names])
    assert np.unique(np.round(norms, 6)).size > N_SOURCES // 2


def test_sources_by_index_and_duplicates(crowded_map):
    out = fluxpoints.estimate_sources([crowded_map], [0, 1], energy_edges=EDGES)
    assert list(out) == ["src0", "src1"]
    with pytest.raises(ValueError, match="distinct"):
        fluxpoints.estimate_sources([crowded_map], ["src0", 0], energy_edges=EDGES)


def test_groups_solved_while_the_next_is_prepared_give_the_same_bits(crowded_map, monkeypatch):
    """estimate_sources hands the engine groups of problems, preparing group k + 1 while group k
    solves (_engine.submit); the results do not depend on the grouping."""
    names = [f"src{i}" for i in range(20)]
    kwargs = dict(energy_edges=EDGES, selection_optional=["errn-errp", "ul", "scan"])
    one_group = fluxpoints.estimate_sources([crowded_map], names, **kwargs)
    submitted = []
    submit = fluxpoints._batch._engine.submit
    monkeypatch.setattr(fluxpoints._batch, "PROBLEMS_PER_SOLVE", 7)
    monkeypatch.setattr(
        fluxpoints._batch._engine, "submit", lambda *a, **k: submitted.append(1) or submit(*a, **k)
    )
    grouped = fluxpoints.estimate_sources([crowded_map], names, **kwargs)
    assert len(submitted) == -(-len(names) * 3 // 7)  # 60 problems in groups of 7
    for name in names:
        a = one_group[name].to_table(sed_type="likelihood")
        b = grouped[name].to_table(sed_type="likelihood")
        for column in a.colnames:
            np.testing.assert_array_equal(a[column], b[column], err_msg=f"{name}: {column}")
