# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""End to end on a crowded field: a simulated MapDataset with three sources whose PSFs overlap
and a FoV background with a free norm -> fluxpoints.write_catalog -> `fluxpoints batch` ->
fluxpoints.read_results, against gammapy 2.1's FluxPointsEstimator with reoptimize False and True
(the tolerances of compare.py), and against the Python estimator (same engine, same problems);
the same with sum_over_energy_groups stored in the catalog.
"""

import os
import subprocess

import h5py
import numpy as np
import pytest
from astropy import units as u

import fluxpoints
from compare import assert_matches_gammapy
from conftest import Result
from test_reoptimize import SCAN_NORM, crowded_map  # noqa: F401 (fixture)
from test_results import fluxpoints_exe

EDGES = [0.1, 1, 100] * u.TeV
# reoptimize=False: gammapy is quick, every optional quantity is compared. reoptimize=True: its
# crossing searches re-fit every free amplitude at each step (minutes on this map, see
# test_reoptimize.py), so the best fit, ts, stat_null, npred and the scan are compared.
SELECTION = {False: ["errn-errp", "ul", "scan"], True: ["scan"]}
SOURCES = {False: ["src0", "src1", "src2"], True: ["src0", "src2"]}
# batch and the Python estimator solve the same problems with the same engine; they differ only
# by the order of the sums that build them (the catalog's components vs the estimator's dense
# maps) and by the PSF rounding noise the catalog leaves out of Cash templates (~1e-8 of a
# model's peak counts).
SAME_PROBLEM_REL = 1e-6
# ... and near zero (a norm or ts close to 0) that noise in absolute terms.
SAME_PROBLEM_ABS = 1e-8


def _batch(catalog, output, *extra):
    args = [fluxpoints_exe(), "batch", str(catalog), "-o", str(output), "--backend", "cpu",
            "--no-progress", *extra]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr}"


def _batch_reads_fields():
    """`batch` of this build reads catalog format 2 (it then has --reoptimize)."""
    done = subprocess.run([fluxpoints_exe(), "batch", "--help"], capture_output=True, text=True)
    if "--reoptimize" not in done.stdout + done.stderr:
        reason = "this build's `fluxpoints batch` does not read catalog format 2 (fields) yet"
        if os.environ.get("FLUXPOINTS_REQUIRE_ALL_TESTS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def _field_results(datasets, directory, **write_options):
    """Results of batch on the catalog of `datasets`, reoptimize off (the catalog's option) and
    on (the command line's override)."""
    _batch_reads_fields()
    d = directory
    catalog = d / "field.h5"
    fluxpoints.write_catalog(catalog, datasets, energy_edges=EDGES,
                             selection_optional=SELECTION[False], **write_options)
    out = {}
    for reoptimize in (False, True):
        path = d / f"results_{int(reoptimize)}.h5"
        extra = ["--selection", ",".join(SELECTION[reoptimize]),
                 "--norm-values", ",".join(repr(float(v)) for v in _scan_values())]
        if reoptimize:
            extra.append("--reoptimize")
        _batch(catalog, path, *extra)
        out[reoptimize] = path
    return out


@pytest.fixture(scope="module")
def field_results(crowded_map, tmp_path_factory):
    return _field_results([crowded_map], tmp_path_factory.mktemp("field_batch"))


def _masked_copy(dataset):
    d = dataset.copy(name=dataset.name)
    d.models = dataset.models.copy()
    return d


@pytest.fixture(scope="module")
def summed_field(crowded_map):
    """The crowded field with mask_fit leaving out reco bin 1 (one of the three bins of the
    second energy group): summed groups OR the masks, so that bin is still summed."""
    d = _masked_copy(crowded_map)
    d.mask_fit = d.counts.copy(data=np.ones(d.counts.data.shape, dtype=bool))
    d.mask_fit.data[1] = False
    return d


@pytest.fixture(scope="module")
def summed_field_results(summed_field, tmp_path_factory):
    return _field_results([summed_field], tmp_path_factory.mktemp("field_summed"),
                          sum_over_energy_groups=True)


def _scan_values():
    """The scan grid the estimators use for SCAN_NORM (gammapy's norm parameter, log spaced)."""
    norm = fluxpoints.FluxPointsEstimator(norm=SCAN_NORM).norm
    return np.asarray(norm.scan_values, dtype=float)


def _check_against_gammapy(datasets, results, reoptimize, **options):
    for source in SOURCES[reoptimize]:
        kwargs = dict(source=source, energy_edges=EDGES, selection_optional=SELECTION[reoptimize],
                      norm=SCAN_NORM, reoptimize=reoptimize, **options)
        r = Result(datasets, kwargs)  # the Python estimator and gammapy
        python = r.ours
        r.ours = fluxpoints.read_results(results[reoptimize], source)
        # A result file states sqrt_ts_threshold_ul (as `estimate`'s files do); gammapy's run
        # leaves it to the default of its property. The same value either way:
        assert r.ours.sqrt_ts_threshold_ul == r.theirs.sqrt_ts_threshold_ul
        if "sqrt_ts_threshold_ul" not in r.theirs.meta:
            del r.ours.meta["sqrt_ts_threshold_ul"]
        assert_matches_gammapy(r, reoptimize=reoptimize)
        a = r.ours.to_table(sed_type="likelihood")
        b = python.to_table(sed_type="likelihood")
        assert a.colnames == b.colnames
        for name in b.colnames:
            np.testing.assert_allclose(np.asarray(a[name], float), np.asarray(b[name], float),
                                       rtol=SAME_PROBLEM_REL, atol=SAME_PROBLEM_ABS, equal_nan=True,
                                       err_msg=f"{source} {name}")


@pytest.mark.parametrize("reoptimize", [False, True])
def test_batch_on_a_field_equals_gammapy(crowded_map, field_results, reoptimize):
    _check_against_gammapy([crowded_map], field_results, reoptimize)


def test_write_catalog_stores_sum_over_energy_groups(crowded_map, tmp_path):
    for value in (False, True):
        path = tmp_path / f"sum_{int(value)}.h5"
        fluxpoints.write_catalog(path, [crowded_map], energy_edges=EDGES,
                                 sum_over_energy_groups=value)
        with h5py.File(path, "r") as f:
            assert f.attrs["sum_over_energy_groups"] == int(value)


def test_summed_groups_refuse_unsafe_map_bins(crowded_map, tmp_path):
    """gammapy 2.1's MapDataset.to_image sums the counts over the safe bins but the sources'
    predicted counts over all bins of the group: refused by name."""
    d = _masked_copy(crowded_map)
    d.mask_safe.data[1] = False
    with pytest.raises(ValueError, match="'field': with sum_over_energy_groups a map dataset"):
        fluxpoints.write_catalog(tmp_path / "x.h5", [d], sum_over_energy_groups=True)
    fluxpoints.write_catalog(tmp_path / "y.h5", [d])  # without summing: fine


@pytest.mark.parametrize("reoptimize", [False, True])
def test_batch_with_summed_groups_equals_gammapy(summed_field, summed_field_results, reoptimize):
    _check_against_gammapy([summed_field], summed_field_results, reoptimize,
                           sum_over_energy_groups=True)
    # Summing changes the problem: other norms than the per-bin fit of the same field.
    summed = fluxpoints.read_results(summed_field_results[reoptimize], "src0")
    per_bin = fluxpoints.FluxPointsEstimator(
        source="src0", energy_edges=EDGES, selection_optional=[], reoptimize=reoptimize
    ).run([summed_field])
    assert not np.allclose(summed.norm.data.ravel(), per_bin.norm.data.ravel(), rtol=1e-6)
