# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""reoptimize=True (and False) against live gammapy 2.1: the other models' free amplitudes and
the background norm re-fitted in each energy group, as nuisance parameters of the engine.

* spectrum datasets shared by two sources: a Cash and an On/Off dataset both see "src"; "src2"
  (another spectral shape) is in the Cash dataset only, so that its amplitude and src's norm are
  both measurable in each group;
* a simulated MapDataset with three overlapping sources and a free FoV background norm;
* parameters fluxpoints cannot re-fit exactly (an index, a position) are refused by name.
"""

import numpy as np
import pytest
from astropy import units as u
from gammapy.datasets import Datasets
from gammapy.modeling.models import Models, PowerLawSpectralModel, SkyModel

import fluxpoints
import simulated
from compare import assert_matches_gammapy
from conftest import run_both

# Few groups keep gammapy's re-fits (MIGRAD at the best fit, the null and every scan point,
# L-BFGS-B inside every crossing search) short.
SPECTRUM_EDGES = [0.3, 3, 30] * u.TeV
MAP_EDGES = [0.1, 1, 100] * u.TeV
SELECTION = ["errn-errp", "ul", "scan"]
SCAN_NORM = {"scan_min": 0.5, "scan_max": 2, "scan_n_values": 3}
# On the map every statistic gammapy evaluates convolves three sources again: its crossing
# searches with re-fits take minutes there (about 5 per group for errn-errp and ul), so the map
# cases compare the best fit, ts, stat_null, npred and the scan; the crossings are compared on
# the spectrum datasets.
MAP_SELECTION = ["scan"]


def _only_amplitudes_free(models, keep_background=True):
    """Freeze every parameter of the sky models but their amplitudes (the positions and indices
    gammapy would otherwise re-fit too); the FoV background norm stays free. The free amplitudes
    and norms get min = 0, as physical amplitudes usually do: unbounded, gammapy's crossing
    search (an upper bracket end at 1e5 times the norm, the others re-fitted there by L-BFGS-B
    from the best fit) returns errp = 0 and an upper limit equal to the norm in these cases,
    where the exact profile has its crossings at finite distances."""
    for m in models:
        for p in m.parameters:
            if isinstance(m, SkyModel):
                p.frozen = p.name != "amplitude"
            elif not keep_background or p.name != "norm":
                p.frozen = True
            if not p.frozen:
                p.min = 0
    return models


@pytest.fixture(scope="module")
def shared_spectra():
    cash = simulated.spectrum_dataset(name="cash2", seed=31, n_energy=12)
    onoff = simulated.spectrum_dataset(name="onoff2", seed=32, n_energy=12, on_off=True)
    src = cash.models["src"].copy(name="src")
    src2 = SkyModel(
        PowerLawSpectralModel(index=1.7, amplitude="1e-12 cm-2 s-1 TeV-1"),
        name="src2",
        datasets_names=["cash2"],
    )
    # The Cash counts again, now with both sources.
    cash.models = Models([src.copy(name="src"), src2.copy(name="src2")])
    cash.fake(random_state=np.random.RandomState(33))
    datasets = Datasets([cash, onoff])
    models = Models([src, src2])
    src2.spectral_model.amplitude.value *= 1.3  # away from the truth: the re-fit has to move it
    datasets.models = _only_amplitudes_free(models)
    return datasets


@pytest.fixture(scope="module")
def crowded_map():
    ds = simulated.map_dataset(name="field", seed=41, n_sources=3, npix=14, n_energy=4)
    _only_amplitudes_free(ds.models)
    return ds


@pytest.mark.parametrize("reoptimize", [True, False])
def test_spectrum_datasets_shared_by_two_sources(shared_spectra, reoptimize):
    r = run_both(
        shared_spectra,
        source="src",
        energy_edges=SPECTRUM_EDGES,
        selection_optional=SELECTION,
        norm=SCAN_NORM,
        reoptimize=reoptimize,
    )
    assert_matches_gammapy(r, reoptimize=reoptimize)


def test_map_three_sources_and_background_norm(crowded_map):
    r = run_both(
        [crowded_map],
        source="src0",
        energy_edges=MAP_EDGES,
        selection_optional=MAP_SELECTION,
        norm=SCAN_NORM,
        reoptimize=True,
    )
    assert_matches_gammapy(r, reoptimize=True)


def test_map_reoptimize_false_with_free_amplitudes(crowded_map):
    r = run_both(
        [crowded_map],
        source="src1",
        energy_edges=MAP_EDGES,
        selection_optional=SELECTION,
        norm=SCAN_NORM,
        reoptimize=False,
    )
    assert_matches_gammapy(r)


def test_reoptimize_changes_the_answer(crowded_map):
    """The re-fit is not a no-op: with the others' amplitudes free, the norm and its error move
    (the neighbours absorb part of the counts and widen the profile)."""
    kwargs = dict(source="src0", energy_edges=MAP_EDGES)
    on = fluxpoints.FluxPointsEstimator(reoptimize=True, **kwargs).run([crowded_map])
    off = fluxpoints.FluxPointsEstimator(reoptimize=False, **kwargs).run([crowded_map])
    err_on = np.asarray(on.norm_err.data).ravel()
    err_off = np.asarray(off.norm_err.data).ravel()
    assert np.all(err_on > err_off)


def test_free_index_is_refused_by_name():
    ds = simulated.map_dataset(name="field_index", seed=42, n_sources=3, npix=12, n_energy=4)
    _only_amplitudes_free(ds.models)
    ds.models["src1"].spectral_model.index.frozen = False
    est = fluxpoints.FluxPointsEstimator(source="src0", energy_edges=MAP_EDGES, reoptimize=True)
    with pytest.raises(ValueError, match=r"'src1\.index'"):
        est.run([ds])
    # The source's own free parameters are frozen, as gammapy does: no error for them.
    ds.models["src1"].spectral_model.index.frozen = True
    ds.models["src0"].spatial_model.lon_0.frozen = False
    est.run([ds])


def test_free_position_is_refused_by_name():
    ds = simulated.map_dataset(name="field_pos", seed=43, n_sources=2, npix=12, n_energy=4)
    _only_amplitudes_free(ds.models)
    ds.models["src1"].spatial_model.lat_0.frozen = False
    est = fluxpoints.FluxPointsEstimator(source="src0", energy_edges=MAP_EDGES, reoptimize=True)
    with pytest.raises(ValueError, match=r"'src1\.lat_0'"):
        est.run([ds])


def test_nothing_free_to_refit_is_an_error(map_one):
    ds = map_one.copy(name="alone")
    ds.models = map_one.models.copy()
    _only_amplitudes_free(ds.models, keep_background=False)
    est = fluxpoints.FluxPointsEstimator(source="src0", energy_edges=MAP_EDGES, reoptimize=True)
    with pytest.raises(ValueError, match="no other model has a free parameter"):
        est.run([ds])
