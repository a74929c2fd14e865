# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""The result is a real gammapy FluxPoints: SED types, plots, write and read back."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from astropy import units as u  # noqa: E402
from gammapy.estimators import FluxPoints  # noqa: E402

import fluxpoints  # noqa: E402
from conftest import SELECTION  # noqa: E402

EDGES = [0.1, 0.3, 1, 3, 10, 100] * u.TeV


@pytest.fixture(scope="module")
def flux_points(spectrum_onoff):
    return fluxpoints.FluxPointsEstimator(
        source="src", energy_edges=EDGES, selection_optional=SELECTION
    ).run([spectrum_onoff])


def test_is_gammapy_flux_points(flux_points):
    assert isinstance(flux_points, FluxPoints)
    assert flux_points.sed_type_init == "likelihood"
    assert flux_points.energy_axis.nbin == len(EDGES) - 1
    for sed_type in ("dnde", "e2dnde", "flux", "eflux"):
        t = flux_points.to_table(sed_type=sed_type)
        assert sed_type in t.colnames and f"{sed_type}_ul" in t.colnames
    assert flux_points.reference_model.spectral_model.tag[0] == "PowerLawSpectralModel"


def test_plots(flux_points):
    fig, ax = plt.subplots()
    flux_points.plot(ax=ax, sed_type="e2dnde")
    flux_points.plot_ts_profiles(ax=ax, sed_type="e2dnde")
    assert len(ax.get_lines()) + len(ax.collections) + len(ax.images) > 0
    plt.close(fig)


@pytest.mark.parametrize("suffix", ["fits", "ecsv"])
def test_write_read_round_trip(flux_points, tmp_path, suffix):
    path = tmp_path / f"fp.{suffix}"
    flux_points.write(path, sed_type="likelihood")
    back = FluxPoints.read(path, reference_model=flux_points.reference_model)
    a = flux_points.to_table(sed_type="likelihood")
    b = back.to_table(sed_type="likelihood")
    assert a.colnames == b.colnames
    for name in a.colnames:
        np.testing.assert_allclose(
            np.asarray(a[name], float),
            np.asarray(b[name], float),
            rtol=1e-6 if name == "npred_excess" else 1e-12,
            err_msg=name,
        )
    with pytest.raises(OSError):  # gammapy refuses to overwrite unless asked
        flux_points.write(path, sed_type="likelihood")
