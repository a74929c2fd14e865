# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""fluxpoints.write_catalog: gammapy datasets and models -> catalog format version 2.

* the file has the structure of docs/catalog-format.md (read with h5py);
* its components rebuild, per source, energy group and dataset, exactly the arrays the Python
  estimator hands the engine (counts, the source's counts at norm 1, everything else, the
  nuisance templates with reoptimize): the catalog's problems are the estimator's;
* what it cannot represent is refused with the dataset or model named.
"""

import h5py
import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table
from gammapy.datasets import Datasets, FluxPointsDataset
from gammapy.estimators import FluxPoints
from gammapy.modeling.models import Models, PowerLawNormSpectralModel

import fluxpoints
import simulated
from fluxpoints._nuisances import nuisances_for
from fluxpoints._templates import DatasetTemplates, snap_groups
# The reoptimize tests' datasets: three overlapping sources with free amplitudes and a FoV
# background with a free norm; two sources sharing spectrum datasets.
from test_reoptimize import crowded_map, shared_spectra  # noqa: F401 (fixtures)

MAP_EDGES = [0.1, 1, 100] * u.TeV
SPECTRUM_EDGES = [0.3, 3, 30] * u.TeV
# The catalog drops the PSF convolution's rounding noise from Cash templates (negative counts of
# ~1e-8 of a model's peak, see _templates.CONVOLUTION_NOISE); the estimator's "everything else"
# still holds that noise of the other models. Differences up to this fraction of the dataset's
# largest predicted counts are that noise.
NOISE = 1e-6
# Sums of a few float64 numbers in a different order.
ROUNDING = 1e-12


def _text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


class Catalog:
    """The catalog read back with h5py, and each source's problems rebuilt from it the way the
    catalog format says `batch` builds them."""

    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.attrs = dict(f.attrs)
            self.d = {k: f["datasets"][k][()] for k in f["datasets"]}
            self.c = {k: f["components"][k][()] for k in f["components"]}
            self.s = {k: f["sources"][k][()] for k in f["sources"]}
        self.dataset_names = [_text(n) for n in self.d["name"]]
        self.source_names = [_text(n) for n in self.s["name"]]
        self.models = [_text(n) for n in self.c["model"]]
        self.parameters = [_text(n) for n in self.c["parameter"]]

    def column(self, row, key, offsets="reco_offsets"):
        o = self.d[offsets]
        return self.d[key][o[row] : o[row + 1]]

    def n_pixels(self, row):
        return int(self.d["n_pixels"][row])

    def dense(self, i):
        """Component i's counts over its whole dataset (n_reco * n_pixels)."""
        row = int(self.c["dataset"][i])
        out = np.zeros(len(self.column(row, "counts")))
        o = self.c["bin_offsets"]
        out[self.c["bin_index"][o[i] : o[i + 1]]] = self.c["bin_value"][o[i] : o[i + 1]]
        return out

    def components_of(self, row):
        return [i for i in range(len(self.models)) if self.c["dataset"][i] == row]

    def source(self, name):
        k = self.source_names.index(name)
        o = self.s["dataset_offsets"]
        ds = self.s["dataset_index"][o[k] : o[k + 1]]
        own = self.s["component_index"][
            self.s["component_offsets"][k] : self.s["component_offsets"][k + 1]
        ]
        return list(ds), {int(self.c["dataset"][i]): int(i) for i in own}

    def problem_bins(self, source, row, i0, i1, reoptimize):
        """The bins of dataset `row` in reco bins [i0, i1) a problem of `source` uses (masked,
        where the source - or with reoptimize a free component - predicts counts) and its arrays
        there: counts, s, other, counts_off, alpha, and {nuisance label: template}."""
        _, own = self.source(source)
        p = self.n_pixels(row)
        group = np.zeros(len(self.column(row, "counts")), dtype=bool)
        group[i0 * p : i1 * p] = True
        mask = (self.column(row, "mask_safe") != 0) & (self.column(row, "mask_fit") != 0)
        s = self.dense(own[row])
        fixed = self.column(row, "background").copy()
        nuisances = {}
        for i in self.components_of(row):
            if self.models[i] == source:
                continue
            if reoptimize and self.c["free"][i]:
                label = f"{self.models[i]}.{self.parameters[i]}"
                nuisances[label] = nuisances.get(label, 0) + self.dense(i)
            else:
                fixed += self.dense(i)
        keep = s != 0
        for t in nuisances.values():
            keep |= t != 0
        keep &= group & mask
        out = {
            "counts": self.column(row, "counts")[keep],
            "s": s[keep],
            "other": fixed[keep],
            "counts_off": self.column(row, "counts_off")[keep],
            "acceptance": self.column(row, "acceptance")[keep],
            "acceptance_off": self.column(row, "acceptance_off")[keep],
            "t": {k: v[keep] for k, v in nuisances.items() if np.any(v[keep] != 0)},
        }
        return out


@pytest.fixture(scope="module")
def onoff_field():
    return simulated.map_dataset(name="onofffield", seed=44, n_sources=2, npix=12, n_energy=4,
                                 on_off=True)


def test_structure(tmp_path, crowded_map):
    path = tmp_path / "field.h5"
    fluxpoints.write_catalog(path, [crowded_map], energy_edges=MAP_EDGES,
                             selection_optional=["errn-errp", "ul"], reoptimize=True)
    cat = Catalog(path)
    a = cat.attrs
    assert _text(a["format"]) == "fluxpoints-catalog"
    assert a["format_version"] == 2 and a["reoptimize"] == 1
    assert a["n_sources"] == 3 and a["n_datasets"] == 1
    np.testing.assert_array_equal(a["energy_edges"], [0.1, 1, 100])
    assert _text(a["selection_optional"]) == "errn-errp,ul"

    # One flattened map dataset: n_reco x ny x nx, energy-major, no IRFs.
    assert cat.dataset_names == ["field"] and cat.n_pixels(0) == 14 * 14
    n = 4 * 14 * 14
    for key in ("counts", "background", "mask_safe", "mask_fit", "counts_off"):
        assert len(cat.column(0, key)) == n
    np.testing.assert_array_equal(cat.column(0, "counts"), crowded_map.counts.data.ravel())
    assert len(cat.column(0, "reco_edges", "reco_edge_offsets")) == 5
    assert len(cat.column(0, "exposure", "true_offsets")) == 0

    # Components: three sources (amplitude) and the background (norm, free); the background
    # column then holds 0.
    assert sorted(cat.models) == sorted(["src0", "src1", "src2", "field-bkg"])
    bkg = cat.models.index("field-bkg")
    assert cat.parameters[bkg] == "norm" and cat.c["free"][bkg] == 1
    assert not np.any(cat.column(0, "background"))
    np.testing.assert_allclose(cat.dense(bkg), crowded_map.npred_background().data.ravel(),
                               rtol=ROUNDING)
    for i, model in enumerate(cat.models):
        if model == "field-bkg":
            continue
        p = crowded_map.models[model].spectral_model.amplitude
        assert cat.parameters[i] == "amplitude" and cat.c["free"][i] == 1
        assert cat.c["value"][i] == p.value and cat.c["min"][i] == 0 and np.isnan(cat.c["max"][i])
    o = cat.c["bin_offsets"]
    assert o[0] == 0 and o[-1] == len(cat.c["bin_index"]) == len(cat.c["bin_value"])
    for i in range(len(cat.models)):
        index = cat.c["bin_index"][o[i] : o[i + 1]]
        assert np.all(np.diff(index) > 0) and index[0] >= 0 and index[-1] < n
        assert np.all(cat.c["bin_value"][o[i] : o[i + 1]] > 0)

    # Sources: their own component in their one dataset; the reference model's parameters.
    assert cat.source_names == ["src0", "src1", "src2"]
    for name in cat.source_names:
        rows, own = cat.source(name)
        assert rows == [0] and cat.models[own[0]] == name
    k = cat.source_names.index("src2")
    first = cat.s["parameter_offsets"][k]
    assert _text(cat.s["model_type"][k]) == "LogParabolaSpectralModel"
    assert _text(cat.s["parameter_name"][first]) == "amplitude"


def _assert_same_problem(ours, theirs, kind_cash, scale):
    np.testing.assert_array_equal(ours["counts"], theirs["counts"])
    np.testing.assert_allclose(ours["s"], theirs["s"], rtol=ROUNDING)
    np.testing.assert_allclose(ours["other"], theirs["other"], rtol=ROUNDING,
                               atol=NOISE * scale if kind_cash else ROUNDING * scale)
    if not kind_cash:
        np.testing.assert_array_equal(ours["counts_off"], theirs["counts_off"])
        alpha = ours["acceptance"] / ours["acceptance_off"]
        np.testing.assert_allclose(alpha, theirs["alpha"], rtol=ROUNDING)


def _compare(datasets, path, sources, edges, reoptimize):
    """Every (source, group, dataset) problem of the catalog against the estimator's."""
    cat = Catalog(path)
    models = datasets.models
    n_checked = 0
    for row, d in enumerate(datasets):
        t = DatasetTemplates(d)
        scale = max(np.abs(t.signal).max(), 1.0)
        cash = t.kind == 0
        for g, group in enumerate(snap_groups(t.energy_axis, edges)):
            if group is None:
                continue
            part = t.group(*group)
            for source in sources:
                if row not in cat.source(source)[0]:
                    continue
                ours = cat.problem_bins(source, row, *group, reoptimize)
                if not reoptimize:
                    theirs = part.source_bins(source)
                    if theirs is None:
                        assert len(ours["s"]) == 0
                        continue
                    if cash:  # the estimator keeps the PSF's rounding-noise bins here
                        keep = theirs["s"] > 0
                        theirs = {k: v[keep] for k, v in theirs.items()}
                else:
                    nuisances = nuisances_for(models, models[source])
                    theirs = part.nuisance_bins(source, nuisances)
                    labels = [n.label for n in nuisances]
                    assert sorted(ours["t"]) == sorted(
                        lab for k, lab in enumerate(labels) if np.any(theirs["t"][:, k] != 0)
                    ), (source, g)
                    for label, template in ours["t"].items():
                        np.testing.assert_allclose(
                            template, theirs["t"][:, labels.index(label)], rtol=ROUNDING
                        )
                _assert_same_problem(ours, theirs, cash, scale)
                n_checked += 1
    return n_checked


@pytest.mark.parametrize("reoptimize", [False, True])
def test_map_field_problems_equal_the_estimators(tmp_path, crowded_map, reoptimize):
    path = tmp_path / "field.h5"
    datasets = Datasets([crowded_map])
    sources = ["src0", "src1", "src2"]
    fluxpoints.write_catalog(path, datasets, energy_edges=MAP_EDGES, reoptimize=reoptimize)
    assert _compare(datasets, path, sources, MAP_EDGES, reoptimize) == 6


def test_onoff_map_problems_equal_the_estimators(tmp_path, onoff_field):
    path = tmp_path / "onoff.h5"
    datasets = Datasets([onoff_field])
    fluxpoints.write_catalog(path, datasets, energy_edges=MAP_EDGES)
    cat = Catalog(path)
    assert cat.d["on_off"][0] == 1 and not np.any(cat.column(0, "background"))
    assert _compare(datasets, path, ["src0", "src1"], MAP_EDGES, False) == 4


@pytest.mark.parametrize("reoptimize", [False, True])
def test_shared_spectra_problems_equal_the_estimators(tmp_path, shared_spectra, reoptimize):
    datasets = shared_spectra
    path = tmp_path / "spectra.h5"
    fluxpoints.write_catalog(path, datasets, energy_edges=SPECTRUM_EDGES, reoptimize=reoptimize)
    cat = Catalog(path)
    # src uses both datasets, src2 the Cash one only; spectrum datasets keep their IRFs.
    assert cat.source("src")[0] == [0, 1] and cat.source("src2")[0] == [0]
    assert list(cat.d["n_pixels"]) == [1, 1]
    assert len(cat.column(0, "exposure", "true_offsets")) > 0
    assert _compare(datasets, path, ["src", "src2"], SPECTRUM_EDGES, reoptimize) == 6


def test_source_predicting_nothing_in_a_dataset_gets_an_empty_template(tmp_path):
    far = simulated.map_sources(1, seed=5)[0].copy(name="far")
    far.spatial_model.lon_0.value = 30.0  # far outside the 12 x 0.05 deg map
    ds = simulated.map_dataset(name="m", seed=45, n_sources=1, npix=12, n_energy=4)
    ds.models = list(ds.models) + [far]
    path = tmp_path / "far.h5"
    fluxpoints.write_catalog(path, [ds], sources=["src0", "far"])
    cat = Catalog(path)
    rows, own = cat.source("far")
    assert rows == [0] and len(cat.dense(own[0]).nonzero()[0]) == 0


def test_models_argument_leaves_the_datasets_models(tmp_path, crowded_map):
    ds = crowded_map
    before = ds.models
    only = Models([m for m in before if m.name != "src2"]).copy()
    fluxpoints.write_catalog(tmp_path / "m.h5", [ds], models=only)
    cat = Catalog(tmp_path / "m.h5")
    assert "src2" not in cat.models and cat.source_names == ["src0", "src1"]
    assert ds.models.names == before.names


# --- refusals --------------------------------------------------------------------------------


def test_existing_file_is_not_overwritten(tmp_path, crowded_map):
    path = tmp_path / "x.h5"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="x.h5"):
        fluxpoints.write_catalog(path, [crowded_map])
    assert path.read_bytes() == b"keep"
    fluxpoints.write_catalog(path, [crowded_map], overwrite=True)
    assert Catalog(path).attrs["format_version"] == 2


def test_unsupported_dataset_type_is_named(tmp_path):
    table = Table({"e_ref": [1.0] * u.TeV, "dnde": [1e-12] * u.Unit("cm-2 s-1 TeV-1")})
    fp = FluxPointsDataset(data=FluxPoints.from_table(table, sed_type="dnde"), name="fp-data")
    with pytest.raises(ValueError, match="'fp-data'.*FluxPointsDataset"):
        fluxpoints.write_catalog(tmp_path / "x.h5", [fp])
    assert not (tmp_path / "x.h5").exists()


def test_source_without_norm_is_named(tmp_path, crowded_map):
    models = crowded_map.models.copy()
    models["src1"].spectral_model = PowerLawNormSpectralModel()
    with pytest.raises(ValueError, match="'src1'.*no norm-like parameter"):
        fluxpoints.write_catalog(tmp_path / "x.h5", [crowded_map], models=models)


def test_unknown_source_is_named(tmp_path, crowded_map):
    with pytest.raises(ValueError, match="'nope' is not a model"):
        fluxpoints.write_catalog(tmp_path / "x.h5", [crowded_map], sources=["nope"])


def test_free_nonlinear_parameter_with_reoptimize_is_named(tmp_path, crowded_map):
    models = crowded_map.models.copy()
    models["src1"].spectral_model.index.frozen = False
    fluxpoints.write_catalog(tmp_path / "off.h5", [crowded_map], models=models)  # fixed: fine
    with pytest.raises(ValueError, match=r"'src1\.index'"):
        fluxpoints.write_catalog(tmp_path / "x.h5", [crowded_map], models=models,
                                 reoptimize=True)
    assert not (tmp_path / "x.h5").exists()


def test_nonpositive_free_amplitude_is_named(tmp_path, crowded_map):
    models = crowded_map.models.copy()
    models["src2"].spectral_model.amplitude.value = 0.0
    with pytest.raises(ValueError, match="'src2'.*'amplitude' is 0.0"):
        fluxpoints.write_catalog(tmp_path / "x.h5", [crowded_map], models=models)


def test_linked_free_amplitudes_are_named(tmp_path, crowded_map):
    models = crowded_map.models.copy()
    models["src1"].spectral_model.amplitude = models["src0"].spectral_model.amplitude
    with pytest.raises(ValueError, match="'src0' and 'src1' share the free parameter"):
        fluxpoints.write_catalog(tmp_path / "x.h5", [crowded_map], models=models)


def test_gammapy_to_catalog_cli(tmp_path, crowded_map):
    """The command line over write_catalog, on what Datasets.write writes."""
    import subprocess
    import sys
    from pathlib import Path

    Datasets([crowded_map]).write(tmp_path / "datasets.yaml",
                                    filename_models=tmp_path / "models.yaml")
    tool = Path(__file__).resolve().parents[2] / "tools" / "gammapy_to_catalog.py"
    out = tmp_path / "cli.h5"
    args = [sys.executable, str(tool), "--datasets", str(tmp_path / "datasets.yaml"),
            "--models", str(tmp_path / "models.yaml"), "--energy-edges", "0.1,1,100",
            "--reoptimize", "--sum-over-energy-groups", "-o", str(out)]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    cat = Catalog(out)
    assert cat.attrs["reoptimize"] == 1 and cat.source_names == ["src0", "src1", "src2"]
    assert cat.attrs["sum_over_energy_groups"] == 1
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr
