# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""fluxpoints.read_results: a batch result file back as gammapy FluxPoints, equal to what
`fluxpoints estimate` writes for the same source."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gammapy.estimators import FluxPoints

import fluxpoints

REPO = Path(__file__).resolve().parents[2]
MODELS_YAML = """components:
- name: bright
  type: SkyModel
  spectral:
    type: PowerLawSpectralModel
    parameters:
    - {name: index, value: 2.4}
    - {name: amplitude, value: 3.0e-11, unit: cm-2 s-1 TeV-1}
    - {name: reference, value: 1.0, unit: TeV}
"""
EDGES = "0.3,1,3,10,30"


def fluxpoints_exe():
    """The command-line program that tests/run_all.sh builds before running these tests."""
    exe = Path(os.environ.get("FLUXPOINTS_EXE", REPO / "build" / "fluxpoints"))
    if not exe.is_file():
        reason = f"the fluxpoints program is not built ({exe}); build it or set FLUXPOINTS_EXE"
        if os.environ.get("FLUXPOINTS_REQUIRE_ALL_TESTS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return str(exe)


def run(*args):
    proc = subprocess.run([fluxpoints_exe(), *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stderr}"


@pytest.fixture(scope="module")
def batch_and_estimate(tmp_path_factory):
    """results.h5 of `batch` on a converted catalog, and `estimate` of the same source."""
    d = tmp_path_factory.mktemp("results")
    (d / "models.yaml").write_text(MODELS_YAML)
    run("simulate", "--models", d / "models.yaml", "--source", "bright", "--n-obs", 2,
        "--seed", 5, "--name", "obs", "-o", d / "obs")
    phas = sorted((d / "obs").glob("obs_000?.fits"))
    common = ["--models", d / "models.yaml", "--source", "bright", "--energy-edges", EDGES,
              "--selection", "all"]
    run("convert", "--datasets", *phas, *common, "-o", d / "catalog.h5")
    run("batch", d / "catalog.h5", "-o", d / "results.h5")
    run("estimate", "--datasets", *phas, *common, "--energy-unit", "TeV", "-o", d / "fp.fits")
    return d / "results.h5", d / "fp.fits"


def test_read_results_equals_estimate(batch_and_estimate):
    results, fits = batch_and_estimate
    ours = fluxpoints.read_results(results, "bright")
    reference = FluxPoints.read(fits, sed_type="likelihood")
    assert isinstance(ours, FluxPoints)
    a = ours.to_table(sed_type="likelihood")
    b = reference.to_table(sed_type="likelihood")
    assert a.colnames == b.colnames
    assert a.meta["SED_TYPE"] == b.meta["SED_TYPE"]
    for name in b.colnames:
        # The same engine solved both: only the files' storage differs (float64 in both).
        np.testing.assert_allclose(np.asarray(a[name], dtype=float),
                                   np.asarray(b[name], dtype=float), rtol=1e-12, atol=0,
                                   equal_nan=True, err_msg=name)
        if b[name].unit is not None:
            assert a[name].unit.is_equivalent(b[name].unit), name
    # Every SED type converts, as for a file gammapy wrote.
    for sed_type in ("dnde", "e2dnde", "flux", "eflux"):
        ours.to_table(sed_type=sed_type)
    assert np.isfinite(ours.norm.data).sum() >= 3  # not a vacuous comparison


def test_reference_model_is_stored_in_the_results(batch_and_estimate, tmp_path):
    import h5py

    results, _ = batch_and_estimate
    with h5py.File(results, "r") as f:
        names = f["sources/parameter_names"][0].decode().split(",")
        values = f["sources/parameter_values"][0]
        assert "index" in names and values[names.index("index")] == 2.4
    ours = fluxpoints.read_results(results, "bright")
    model = ours.reference_model.spectral_model
    assert type(model).__name__ == "PowerLawSpectralModel"
    assert model.index.value == 2.4
    assert model.amplitude.quantity.to_value("cm-2 s-1 TeV-1") == pytest.approx(3e-11, rel=1e-15)

    # The catalog moved away: the result file alone still gives the model, without a warning.
    moved = tmp_path / "results.h5"
    moved.write_bytes(Path(results).read_bytes())
    with h5py.File(moved, "a") as f:
        f.attrs["catalog"] = "moved_away/catalog.h5"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = fluxpoints.read_results(moved, "bright")
    assert alone.reference_model.spectral_model.index.value == 2.4


def test_older_results_take_the_model_from_the_catalog(batch_and_estimate, tmp_path):
    """Result files written before the parameters were stored: the catalog gives the model."""
    import h5py

    results, _ = batch_and_estimate
    older = tmp_path / "results.h5"
    older.write_bytes(Path(results).read_bytes())
    with h5py.File(older, "a") as f:
        del f["sources/parameter_names"], f["sources/parameter_values"]
        f.attrs["catalog"] = str(Path(results).parent / "catalog.h5")
    ours = fluxpoints.read_results(older, "bright")
    assert ours.reference_model.spectral_model.index.value == 2.4
    # Its catalog moved away: a warning, and a template model with the same flux points.
    with h5py.File(older, "a") as f:
        f.attrs["catalog"] = "moved_away/catalog.h5"
    with pytest.warns(UserWarning, match="not found"):
        alone = fluxpoints.read_results(older, "bright")
    for sed_type in ("dnde", "flux", "eflux"):
        a = ours.to_table(sed_type=sed_type)
        b = alone.to_table(sed_type=sed_type)
        np.testing.assert_allclose(np.asarray(a[sed_type]), np.asarray(b[sed_type]), rtol=1e-12)
    # Given explicitly, the catalog is found again.
    again = fluxpoints.read_results(older, "bright", catalog=Path(results).parent / "catalog.h5")
    assert type(again.reference_model.spectral_model).__name__ == "PowerLawSpectralModel"


def test_read_results_errors_name_the_problem(batch_and_estimate, tmp_path):
    results, fits = batch_and_estimate
    with pytest.raises(KeyError, match="no source named 'nope'.*'bright'"):
        fluxpoints.read_results(results, "nope")
    with pytest.raises(ValueError, match="not a fluxpoints result file"):
        import h5py

        with h5py.File(tmp_path / "other.h5", "w") as f:
            f.attrs["format"] = "something-else"
        fluxpoints.read_results(tmp_path / "other.h5", "bright")
    assert fluxpoints.result_source_names(results) == ["bright"]
