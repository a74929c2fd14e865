# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""MapDataset (Cash, FoV background) and MapDatasetOnOff (WStat) against live gammapy 2.1: one
source, three sources with overlapping PSFs, masks, sum_over_energy_groups, a TemplateNPredModel
among the other models."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle
from gammapy.modeling.models import TemplateNPredModel

import fluxpoints
import simulated
from compare import assert_matches_gammapy
from conftest import MAP_EDGES, SELECTION, run_both


def test_one_source(map_one):
    r = run_both([map_one], source="src0", energy_edges=MAP_EDGES, selection_optional=SELECTION)
    assert_matches_gammapy(r)


@pytest.mark.parametrize("source", ["src0", "src1", "src2"])
def test_three_overlapping_sources(map_three, source):
    r = run_both([map_three], source=source, energy_edges=MAP_EDGES, selection_optional=SELECTION)
    assert_matches_gammapy(r)


def test_three_sources_in_one_batch_equal_single_runs(map_three):
    edges = MAP_EDGES
    together = fluxpoints.estimate_sources(
        [map_three], ["src0", "src1", "src2"], energy_edges=edges, selection_optional=SELECTION
    )
    for name, fp in together.items():
        alone = fluxpoints.FluxPointsEstimator(
            source=name, energy_edges=edges, selection_optional=SELECTION
        ).run([map_three])
        a, b = fp.to_table(sed_type="likelihood"), alone.to_table(sed_type="likelihood")
        for column in a.colnames:
            np.testing.assert_array_equal(a[column], b[column], err_msg=f"{name} {column}")


def test_onoff(map_onoff):
    # src1's second group has its minimum at a kink of the WStat profile (n_on = n_off = 0 bins
    # where the source's tail meets a negative norm): compare.py checks norm_err there.
    r = run_both([map_onoff], source="src1", energy_edges=MAP_EDGES, selection_optional=SELECTION)
    assert_matches_gammapy(r)


def test_mask_fit_hides_a_source_in_one_group():
    """Below 1 TeV mask_fit keeps only the half of the map with lon < 0; src2 sits at lon 0.45 deg.
    gammapy's evaluators of that group then see no mask pixel near src2 (its contribution test),
    although its PSF tail still reaches a few unmasked columns: src2 predicts nothing in that
    group, for itself (no source counts: ts 0, no fit) and in the prediction of src0 and src1.
    mask_safe also removes the highest energy bin."""
    positions = {"src0": (-0.4, 0.0), "src1": (-0.3, 0.1), "src2": (0.45, 0.0)}
    sources = simulated.map_sources(3, seed=24)
    for model in sources:
        lon, lat = positions[model.name]
        model.spatial_model.lon_0.value, model.spatial_model.lat_0.value = lon, lat
    d = simulated.map_dataset(name="masked", seed=25, npix=32, sources=sources)
    coords = d.counts.geom.get_coord()
    lon = Angle(coords.lon).wrap_at(180 * u.deg)
    d.mask_fit = d.counts.copy(data=~((coords["energy"] < 1 * u.TeV) & (lon > 0 * u.deg)))
    d.mask_safe.data[-1] = False
    for source in ("src2", "src0"):
        r = run_both([d], source=source, energy_edges=MAP_EDGES, selection_optional=["ul", "scan"])
        assert_matches_gammapy(r)
        if source == "src2":
            t = r.ours.to_table(sed_type="likelihood")
            assert not t["success"][0] and t["ts"][0] == 0 and t["success"][1]


def test_sum_over_energy_groups(map_one):
    r = run_both(
        [map_one],
        source="src0",
        energy_edges=MAP_EDGES,
        selection_optional=SELECTION,
        sum_over_energy_groups=True,
    )
    assert_matches_gammapy(r)


def test_template_npred_model_among_the_other_models(map_one):
    """A TemplateNPredModel (a precomputed predicted-counts cube, e.g. a diffuse emission
    template) next to the source: gammapy slices it per group, fluxpoints reads it through the
    dataset's evaluators."""
    d = map_one.copy(name=map_one.name)
    diffuse = TemplateNPredModel(
        map_one.background * 0.3, name="diffuse", datasets_names=[map_one.name]
    )
    d.models = list(map_one.models.copy()) + [diffuse]
    r = run_both([d], source="src0", energy_edges=MAP_EDGES, selection_optional=["ul", "scan"])
    assert_matches_gammapy(r)
