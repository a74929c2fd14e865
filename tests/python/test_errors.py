# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Bad input gets a clear Python exception naming what is wrong."""

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table
from gammapy.datasets import FluxPointsDataset
from gammapy.estimators import FluxPoints
from gammapy.modeling.models import SkyModel, TemplateSpectralModel

import fluxpoints
from fluxpoints import _engine

EDGES = [0.3, 3, 30] * u.TeV


def estimator(**kwargs):
    kwargs.setdefault("energy_edges", EDGES)
    return fluxpoints.FluxPointsEstimator(**kwargs)


def test_unsupported_dataset_type(spectrum_cash):
    table = Table(
        {
            "e_ref": [1.0, 3.0] * u.TeV,
            "dnde": [1e-12, 1e-13] * u.Unit("cm-2 s-1 TeV-1"),
            "dnde_err": [1e-13, 1e-14] * u.Unit("cm-2 s-1 TeV-1"),
        }
    )
    data = FluxPoints.from_table(table, sed_type="dnde")
    other = FluxPointsDataset(data=data, name="fp-data", models=spectrum_cash.models)
    with pytest.raises(TypeError, match="'fp-data': FluxPointsDataset is not supported"):
        estimator(source="src").run([spectrum_cash, other])


def test_unknown_source_name(spectrum_cash):
    with pytest.raises(ValueError, match="source 'nope' is not a model of the datasets"):
        estimator(source="nope").run([spectrum_cash])
    with pytest.raises(ValueError, match="'nope'"):
        fluxpoints.estimate_sources([spectrum_cash], ["src", "nope"], energy_edges=EDGES)


def test_source_without_norm_like_parameter(spectrum_cash):
    # A tabulated spectrum has no parameter at all to scale.
    spectral = TemplateSpectralModel(
        energy=[1, 10] * u.TeV, values=[1e-12, 1e-14] * u.Unit("cm-2 s-1 TeV-1")
    )
    d = spectrum_cash.copy(name="no-norm")
    d.models = [SkyModel(spectral_model=spectral, name="odd")]
    with pytest.raises(ValueError, match="source 'odd'.*no norm-like parameter"):
        estimator(source="odd").run([d])


def test_reoptimize_in_the_step_methods_is_not_supported(spectrum_cash):
    # run() re-fits the other models (test_reoptimize.py); the step-by-step methods do not.
    fpe = estimator(source="src", reoptimize=True)
    parameter = spectrum_cash.models["src"].spectral_model.amplitude
    with pytest.raises(NotImplementedError, match="reoptimize=False only"):
        fpe.estimate_best_fit([spectrum_cash], parameter)


def test_scan_grid_from_the_fit_error_is_not_supported(spectrum_cash):
    fpe = estimator(source="src", selection_optional=["scan"], norm={"scan_min": None})
    with pytest.raises(NotImplementedError, match="scan_min or scan_max None"):
        fpe.run([spectrum_cash])


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend 'tpu'"):
        fluxpoints.FluxPointsEstimator(backend="tpu")


def test_cuda_backend_without_gpu_says_why(spectrum_cash):
    available, reason = fluxpoints.cuda_device_available()
    if available:
        pytest.skip("a CUDA device is present: the cuda backend works here")
    with pytest.raises(RuntimeError, match="cuda"):
        estimator(source="src", backend="cuda").run([spectrum_cash])
    assert reason


def test_device_index(spectrum_cash):
    """device=N picks the CUDA GPU as the command line's --device; a bad index is a clear error."""
    for bad in (-1, 1.5, "0", True):
        with pytest.raises(ValueError, match="device must be a CUDA device index"):
            fluxpoints.estimate_sources([spectrum_cash], ["src"], energy_edges=EDGES, device=bad)
    # GPU 99 exists nowhere: an error naming the index where there are GPUs, else the reason
    # there is none (the existing "cuda" error).
    available, _ = fluxpoints.cuda_device_available()
    with pytest.raises(
        RuntimeError, match="CUDA device index 99 is out of range" if available else "cuda"
    ):
        fluxpoints.estimate_sources(
            [spectrum_cash], ["src"], energy_edges=EDGES, backend="cuda", device=99
        )
    name, why = fluxpoints.backend_info("auto", device=99)
    assert name.startswith("cpu") and "using the CPU" in why
    # The CPU backend ignores the index: the same numbers as without it.
    kwargs = dict(energy_edges=EDGES, backend="cpu")
    a = fluxpoints.estimate_sources([spectrum_cash], ["src"], device=3, **kwargs)["src"]
    b = fluxpoints.estimate_sources([spectrum_cash], ["src"], **kwargs)["src"]
    np.testing.assert_array_equal(a.norm.data, b.norm.data)
    assert fluxpoints.FluxPointsEstimator(device=2).device == 2


def test_engine_rejects_malformed_batches():
    one = np.ones(3)
    ok = dict(
        segment_bins=np.array([0, 3]),
        segment_kind=np.array([0], dtype=np.uint8),
        problem_segments=np.array([0, 1]),
    )
    _engine.solve(one, one, one, one, one, **ok)  # well formed
    bad = dict(ok, segment_bins=np.array([0, 4]))
    with pytest.raises(ValueError, match="segment_bins"):
        _engine.solve(one, one, one, one, one, **bad)
    bad = dict(ok, segment_kind=np.array([9], dtype=np.uint8))
    with pytest.raises(ValueError, match="segment_kind\\[0\\] is 9"):
        _engine.solve(one, one, one, one, one, **bad)
    with pytest.raises(ValueError, match="npred_ref has 2 entries"):
        _engine.solve(one, np.ones(2), one, one, one, **ok)
    with pytest.raises(ValueError, match="counts .*negative"):
        _engine.solve(-one, one, one, one, one, **ok)
    # Arrays are read in place: another dtype is refused rather than silently copied.
    with pytest.raises(TypeError):
        _engine.solve(one.astype(np.float32), one, one, one, one, **ok)
