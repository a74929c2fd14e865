# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""The extracted templates against gammapy's own sums of the whole datasets: the models' summed
signal, the statistic and the predicted counts."""

import numpy as np
import pytest
from gammapy.modeling.models import SkyModel

from fluxpoints._templates import DatasetTemplates

# The same sums in another order.
SUM_REL = 1e-12


@pytest.mark.parametrize("name", ["spectrum_onoff", "spectrum_cash", "map_three", "map_onoff"])
def test_templates_reproduce_gammapy_sums(request, name):
    dataset = request.getfixturevalue(name)
    t = DatasetTemplates(dataset)
    # Every model's counts placed where gammapy's Map.stack puts them, added in gammapy's order.
    signal = dataset.npred_signal().data.reshape(t.shape)
    np.testing.assert_array_equal(t.signal, signal)
    mask = dataset.mask.data.reshape(t.shape)
    assert np.isclose(t.stat[mask].sum(), dataset.stat_sum(), rtol=SUM_REL, atol=0)
    npred = dataset.npred().data.reshape(t.shape)
    np.testing.assert_allclose(t.npred, npred, rtol=SUM_REL, atol=1e-300)


def test_source_bins_are_the_source_counts(map_three):
    t = DatasetTemplates(map_three)
    group = t.group(0, t.shape[0])
    names = [m.name for m in map_three.models if isinstance(m, SkyModel)]
    assert len(names) == 3
    for name in names:
        bins = group.source_bins(name)
        own = map_three.npred_signal(model_names=[name]).data
        # The kept bins carry all of the source's counts; the rest of the prediction is "other".
        assert np.isclose(bins["s"].sum(), own.sum(), rtol=SUM_REL)
        assert np.all(bins["s"] != 0)
