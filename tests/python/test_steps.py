# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""The step-by-step surface (estimate_flux_point, estimate_best_fit, estimate_ts,
estimate_errn_errp, estimate_ul, estimate_scan) against gammapy's, on datasets prepared as
gammapy's FluxEstimator.run prepares them."""

import numpy as np
from astropy import units as u
from gammapy.datasets import Datasets
from gammapy.estimators import FluxPointsEstimator as GammapyEstimator

import fluxpoints
from compare import CROSSING_REL, NORM_ERR_FRACTION, NORM_REL, STAT_REL, TS_ABS

EDGES = [1, 10] * u.TeV


def prepared(dataset, estimator):
    """The group [1, 10] TeV of `dataset`, its source scaled by a copy of the estimator's norm,
    every other parameter frozen (reoptimize=False): what FluxEstimator.run fits."""
    datasets = Datasets([dataset]).slice_by_energy(*EDGES)
    models = dataset.models.copy()
    scale = estimator.get_scale_model(models)
    models[estimator.source].parameters.freeze_all()
    models[estimator.source].spectral_model = scale
    datasets.models = models
    datasets.parameters.freeze_all()
    scale.norm.frozen = False
    return datasets, scale.norm


def test_steps_match_gammapy(spectrum_onoff):
    kwargs = dict(source="src", energy_edges=EDGES, selection_optional="all")
    ours, theirs = fluxpoints.FluxPointsEstimator(**kwargs), GammapyEstimator(**kwargs)
    d_ours, norm_ours = prepared(spectrum_onoff, ours)
    d_theirs, norm_theirs = prepared(spectrum_onoff, theirs)

    fit_o = ours.estimate_best_fit(d_ours, norm_ours)
    fit_t = theirs.estimate_best_fit(d_theirs, norm_theirs)
    assert list(fit_o) == list(fit_t) == ["norm", "stat", "success", "norm_err"]
    assert abs(fit_o["norm"] - fit_t["norm"]) <= max(
        NORM_REL * abs(fit_t["norm"]), NORM_ERR_FRACTION * fit_t["norm_err"]
    )
    assert fit_o["success"] and fit_t["success"]
    assert norm_ours.value == fit_o["norm"]  # left at the best fit, as a gammapy fit does

    # At the same parameter value the TS and the null statistic are the same numbers.
    norm_ours.value = norm_theirs.value
    ts_o, ts_t = ours.estimate_ts(d_ours, norm_ours), theirs.estimate_ts(d_theirs, norm_theirs)
    assert list(ts_o) == list(ts_t) == ["ts", "npred", "stat_null"]
    assert abs(ts_o["ts"] - ts_t["ts"]) <= STAT_REL * abs(ts_t["ts"])
    assert abs(ts_o["stat_null"] - ts_t["stat_null"]) <= STAT_REL * abs(ts_t["stat_null"])
    np.testing.assert_allclose(ts_o["npred"], ts_t["npred"], rtol=STAT_REL)

    errs_o = ours.estimate_errn_errp(d_ours, norm_ours)
    errs_t = theirs.estimate_errn_errp(d_theirs, norm_theirs)
    assert list(errs_o) == list(errs_t)
    for key in errs_t:
        assert abs(errs_o[key] - errs_t[key]) <= CROSSING_REL * errs_t[key], key
    ul_o, ul_t = ours.estimate_ul(d_ours, norm_ours), theirs.estimate_ul(d_theirs, norm_theirs)
    assert abs(ul_o["norm_ul"] - ul_t["norm_ul"]) <= CROSSING_REL * ul_t["norm_ul"]
    scan_o = ours.estimate_scan(d_ours, norm_ours)
    scan_t = theirs.estimate_scan(d_theirs, norm_theirs)
    np.testing.assert_array_equal(scan_o["norm_scan"], scan_t["norm_scan"])
    np.testing.assert_allclose(scan_o["stat_scan"], scan_t["stat_scan"], rtol=STAT_REL)

    npred_o = ours.estimate_npred_excess(d_ours)  # gammapy's own method, inherited
    assert set(npred_o) == {"npred_excess", "datasets"}


def test_estimate_flux_point_has_gammapy_keys(spectrum_cash):
    kwargs = dict(source="src", energy_edges=EDGES, selection_optional=["errn-errp", "ul", "scan"])
    row_o = fluxpoints.FluxPointsEstimator(**kwargs).estimate_flux_point(
        Datasets([spectrum_cash]), *EDGES
    )
    row_t = GammapyEstimator(**kwargs).estimate_flux_point(Datasets([spectrum_cash]), *EDGES)
    assert list(row_o) == list(row_t)
    for key in ("e_min", "e_max", "e_ref", "ref_dnde", "ref_flux", "ref_eflux", "ref_e2dnde"):
        assert u.isclose(row_o[key], row_t[key], rtol=1e-12), key
    assert abs(row_o["stat_null"] - row_t["stat_null"]) <= STAT_REL * abs(row_t["stat_null"])
    assert abs(row_o["ts"] - row_t["ts"]) <= TS_ABS
    np.testing.assert_array_equal(row_o["counts"], row_t["counts"])
    assert row_o["datasets"] == row_t["datasets"]
