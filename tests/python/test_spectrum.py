# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""SpectrumDatasetOnOff (WStat) and SpectrumDataset (Cash) against live gammapy 2.1."""

import numpy as np
from astropy import units as u
from gammapy.datasets import Datasets
from gammapy.modeling.models import ScaleSpectralModel
from gammapy.modeling.selection import NestedModelSelection

from compare import SENSITIVITY_REL, assert_matches_gammapy
from conftest import SELECTION, SPECTRUM_EDGES, run_both


def test_onoff_one_source(spectrum_onoff):
    r = run_both(
        [spectrum_onoff], source="src", energy_edges=SPECTRUM_EDGES, selection_optional=SELECTION
    )
    assert_matches_gammapy(r)
    # The last group lies above the dataset's axis: gammapy's NaN row, requested edges.
    t = r.ours.to_table(sed_type="likelihood")
    assert not t["success"][-1] and np.isnan(t["stat"][-1])
    assert np.isclose(t["e_min"].quantity[-1].to_value("TeV"), 100)


def asimov_sigma(dataset, source, energy_min, energy_max, norm):
    """sqrt(TS) of gammapy's Asimov dataset of one group with the source scaled by `norm`,
    computed by gammapy (NestedModelSelection.ts_asimov, as its sensitivity estimator does)."""
    sliced = Datasets([dataset]).slice_by_energy(energy_min, energy_max)
    models = dataset.models.copy()
    scale = ScaleSpectralModel(models[source].spectral_model)
    scale.norm.value = norm
    models[source].spectral_model = scale
    sliced.models = models
    return np.sqrt(NestedModelSelection([scale.norm], [0]).ts_asimov(sliced))


def test_onoff_selection_all_with_sensitivity(spectrum_onoff):
    edges = [0.3, 1, 3, 10] * u.TeV
    r = run_both(
        [spectrum_onoff],
        source="src",
        energy_edges=edges,
        selection_optional="all",
        n_sigma=2,
        n_sigma_ul=3,
        n_sigma_sensitivity=5,
    )
    assert_matches_gammapy(r)
    mine = r.ours.to_table(sed_type="likelihood")["norm_sensitivity"].data
    gp = r.theirs.to_table(sed_type="likelihood")["norm_sensitivity"].data
    found = np.isfinite(gp)
    assert found.sum() >= 2
    assert np.allclose(mine[found], gp[found], rtol=SENSITIVITY_REL)
    # Where gammapy's grid search finds no root, ours is checked against gammapy's own Asimov
    # significance at that norm.
    for g in np.flatnonzero(~found):
        assert np.isfinite(mine[g])
        sigma = asimov_sigma(spectrum_onoff, "src", edges[g], edges[g + 1], mine[g])
        assert abs(sigma - 5) < 1e-6, (g, mine[g], sigma)


def test_cash_one_source(spectrum_cash):
    r = run_both(
        [spectrum_cash], source=0, energy_edges=SPECTRUM_EDGES, selection_optional=SELECTION
    )
    assert_matches_gammapy(r)


def test_cash_norm_bounds_and_scan_values(spectrum_cash):
    norm = {"min": 0, "max": 10, "scan_values": np.linspace(0, 3, 7)}
    r = run_both(
        [spectrum_cash],
        source="src",
        energy_edges=[0.3, 3, 30] * u.TeV,
        selection_optional=SELECTION,
        norm=norm,
    )
    assert_matches_gammapy(r)


def test_masks(spectrum_onoff, spectrum_cash):
    """mask_safe below 0.5 TeV (the first group has no safe bin: gammapy's empty-mask row) and a
    mask_fit that removes one bin inside a group."""
    for dataset in (spectrum_onoff, spectrum_cash):
        d = dataset.copy(name=dataset.name)
        d.models = dataset.models.copy()
        energy = d.counts.geom.axes["energy"].center
        d.mask_safe.data[...] = (energy > 0.5 * u.TeV).reshape(-1, 1, 1)
        d.mask_fit = d.mask_safe.copy()
        d.mask_fit.data[5] = False
        r = run_both(
            [d], source="src", energy_edges=[0.1, 0.4, 3, 30] * u.TeV, selection_optional=SELECTION
        )
        assert_matches_gammapy(r)
        t = r.ours.to_table(sed_type="likelihood")
        assert not t["success"][0] and t["stat"][0] == 0 and np.isnan(t["ts"][0])


def test_sum_over_energy_groups(spectrum_onoff, spectrum_cash):
    for dataset in (spectrum_onoff, spectrum_cash):
        r = run_both(
            [dataset],
            source="src",
            energy_edges=[0.1, 1, 10, 100] * u.TeV,
            selection_optional=SELECTION,
            sum_over_energy_groups=True,
        )
        assert_matches_gammapy(r)


def test_source_predicting_nothing(spectrum_cash):
    """A reference spectrum of amplitude 0: the statistic does not depend on the norm; gammapy's
    fit fails with ts 0 and a flat scan."""
    d = spectrum_cash.copy(name="zero")
    models = spectrum_cash.models.copy()
    models["src"].spectral_model.amplitude.value = 0
    d.models = models
    r = run_both([d], source="src", energy_edges=[0.3, 3, 30] * u.TeV, selection_optional=SELECTION)
    assert_matches_gammapy(r)
    t = r.ours.to_table(sed_type="likelihood")
    assert not np.any(t["success"]) and np.all(t["ts"] == 0)
