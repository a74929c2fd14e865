# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Per-bin likelihood inputs of gammapy datasets ("templates"), asked from gammapy's own evaluators.

For every dataset this module computes once, on the whole reconstructed-energy axis:

* the counts, the analysis mask, and per bin the statistic and total predicted counts of the
  dataset's current model (these bins' contribution when the source predicts nothing there);
* the background (Cash) or OFF counts and alpha (WStat);
* each sky model's predicted counts on the cutout where its evaluator puts them, and their sum.

A flux-point problem (source x energy group) then only needs the bins where the source predicts
something: there the source counts at norm 1 are the source's own predicted counts, and everything
else is the total minus the source. The other bins of the group add a constant to the statistic,
taken from the per-bin values above.
"""

from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.nddata.utils import NoOverlapError, overlap_slices
from gammapy.datasets import MapDataset, MapDatasetOnOff
from gammapy.maps import Map
from gammapy.modeling.models import SkyModel

from . import _engine

CASH = 0
WSTAT = 1

# The dataset classes the adapter reads; subclasses (SpectrumDataset, SpectrumDatasetOnOff) are
# covered by isinstance.
SUPPORTED_DATASETS = "SpectrumDatasetOnOff, SpectrumDataset, MapDatasetOnOff, MapDataset"
NORM_LIKE_PARAMETERS = ("amplitude", "norm", "const")


def check_dataset(dataset):
    """Raise a clear error for a dataset the adapter cannot read."""
    if not isinstance(dataset, MapDataset):
        raise TypeError(
            f"dataset {getattr(dataset, 'name', '?')!r}: {type(dataset).__name__} is not supported "
            f"by fluxpoints (supported: {SUPPORTED_DATASETS})"
        )
    expected = "wstat" if isinstance(dataset, MapDatasetOnOff) else "cash"
    if dataset.stat_type != expected:
        raise ValueError(
            f"dataset {dataset.name!r}: stat_type {dataset.stat_type!r} is not supported "
            f"(fluxpoints computes {expected!r} for {type(dataset).__name__})"
        )
    if dataset.counts is None:
        raise ValueError(f"dataset {dataset.name!r} has no counts")
    if dataset._geom.is_hpx:
        raise ValueError(f"dataset {dataset.name!r}: HEALPix geometries are not supported")
    if isinstance(dataset, MapDatasetOnOff) and (
        dataset.counts_off is None or dataset.acceptance is None or dataset.acceptance_off is None
    ):
        raise ValueError(
            f"dataset {dataset.name!r}: an On/Off dataset needs counts_off, acceptance and "
            "acceptance_off"
        )


def find_source(models, source):
    """The source's SkyModel in `models` (by name or index), with a clear error otherwise."""
    names = [] if models is None else list(models.names)
    if models is None or len(models) == 0:
        raise ValueError(f"source {source!r}: the datasets have no models")
    try:
        model = models[source]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ValueError(
            f"source {source!r} is not a model of the datasets (models: {', '.join(names)})"
        ) from None
    if not isinstance(model, SkyModel):
        raise TypeError(
            f"source {source!r} is a {type(model).__name__}, not a SkyModel: flux points are "
            "computed for sky models"
        )
    spectral = model.spectral_model
    if (
        spectral is None
        or spectral.is_norm_spectral_model
        or not any(p.name in NORM_LIKE_PARAMETERS for p in spectral.parameters)
    ):
        kind = type(spectral).__name__ if spectral is not None else "no spectral model"
        raise ValueError(
            f"source {model.name!r}: its spectral model ({kind}) has no norm-like parameter "
            f"({', '.join(NORM_LIKE_PARAMETERS)}), so it is not a reference flux fluxpoints "
            "can scale"
        )
    return model


def snap_groups(energy_axis, energy_edges):
    """Reco-bin range [i0, i1) of each requested group on `energy_axis`, or None where the group
    has no bin: gammapy's snapping (MapAxis.group_table on the pair of edges)."""
    pix = np.clip(energy_axis.coord_to_pix(energy_edges), -0.5, energy_axis.nbin - 0.5)
    groups = []
    for lo, hi in zip(pix[:-1], pix[1:]):
        edges_idx = np.unique(np.round(np.array([lo, hi]) + 0.5) - 0.5)
        if len(edges_idx) < 2:
            groups.append(None)
        else:
            groups.append((int(edges_idx[0] + 0.5), int(edges_idx[1] - 0.5) + 1))
    return groups


@dataclass
class ModelCounts:
    """One sky model's predicted counts on a dataset: `data` (energy, y, x) placed at
    `parent` (a slice tuple into the dataset's arrays); `region` holds the flat image pixels
    gammapy's contribution test looks at (None: the model always contributes)."""

    parent: tuple
    data: np.ndarray
    contributes: object


def _contribution_test(dataset, model, evaluator):
    """A function mask_image -> bool answering gammapy's MapEvaluator question "does the model
    contribute where this mask is True" (SkyModel.contributes with the PSF width as margin), or
    None when gammapy never asks it (global evaluation). The pixels it looks at are found on the
    first call only: most analyses never need to ask."""
    if evaluator.evaluation_mode != "local":
        return None
    geom_image = dataset._geom.to_image()
    margin = u.Quantity(evaluator.psf_width)
    if geom_image.is_region:

        def region_test(mask_image):
            mask = Map.from_geom(geom_image, data=mask_image.reshape(geom_image.data_shape))
            return bool(model.contributes(mask=mask, margin=margin))

        return region_test

    pixels = []

    def wcs_test(mask_image):
        # gammapy's test is "any True pixel in a cutout around the model": find that cutout's
        # pixels with gammapy's own cutout of a map of pixel indices.
        if not pixels:
            from gammapy.datasets.evaluator import CUTOUT_MARGIN

            shape = geom_image.data_shape
            index = Map.from_geom(
                geom_image, data=np.arange(np.prod(shape)).reshape(shape), dtype=np.int64
            )
            try:
                cutout = index.cutout(
                    position=model.position,
                    width=2 * model.evaluation_radius + CUTOUT_MARGIN + margin,
                )
                pixels.append(np.asarray(cutout.data, dtype=np.int64).ravel())
            except (NoOverlapError, ValueError):  # gammapy's answer there: no contribution
                pixels.append(np.zeros(0, dtype=np.int64))
        return bool(mask_image.ravel()[pixels[0]].any())

    return wcs_test


def _wcs_offset(cutout, parent):
    """Integer pixel offset (dy, dx) of a cutout's WCS in its parent's, or None when the two WCS
    differ by more than a shift of the reference pixel."""
    a, b = cutout.wcs.wcs, parent.wcs.wcs
    if not (
        np.array_equal(a.crval, b.crval)
        and np.array_equal(a.cdelt, b.cdelt)
        and list(a.ctype) == list(b.ctype)
        and np.array_equal(a.get_pc(), b.get_pc())
    ):
        return None
    dx, dy = b.crpix - a.crpix
    if dx != round(dx) or dy != round(dy):
        return None
    return int(round(dy)), int(round(dx))


def _constant_bins(t, energies, signal):
    """Statistic and total predicted counts per bin in the reco bins `energies` (a slice) of
    DatasetTemplates `t`, for the sky models' signal `signal` there: what each bin adds at every
    norm where the source predicts nothing. Computed by the engine's own per-bin functions."""

    def flat(a):
        return np.ascontiguousarray(a).ravel()

    if t.kind == CASH:
        stat, npred = _engine.constant_bins(
            CASH, flat(t.counts[energies]), flat(t.background[energies] + signal)
        )
    else:
        stat, npred = _engine.constant_bins(
            WSTAT,
            flat(t.counts[energies]),
            flat(signal),
            flat(t.counts_off[energies]),
            flat(t.alpha[energies]),
        )
    return stat.reshape(signal.shape), npred.reshape(signal.shape)


class DatasetTemplates:
    """The per-bin inputs of one gammapy dataset (see the module docstring)."""

    def __init__(self, dataset):
        check_dataset(dataset)
        self.dataset = dataset
        self.name = dataset.name
        self.kind = WSTAT if isinstance(dataset, MapDatasetOnOff) else CASH
        geom = dataset._geom
        self.energy_axis = geom.axes["energy"]
        self.shape = geom.data_shape  # (energy, [y, x]) as the maps store it
        if len(self.shape) == 1:
            self.shape = (self.shape[0], 1, 1)
        self.counts = np.ascontiguousarray(dataset.counts.data, dtype=np.float64).reshape(
            self.shape
        )
        mask = dataset.mask
        self.mask = None if mask is None else np.asarray(mask.data, dtype=bool).reshape(self.shape)

        if self.kind == CASH:
            background = dataset.npred_background() if dataset.background is not None else None
            self.background = (
                np.zeros(self.shape)
                if background is None
                else np.asarray(background.data, dtype=np.float64).reshape(self.shape)
            )
            self.counts_off = self.alpha = None
        else:
            self.background = None
            self.counts_off = np.ascontiguousarray(
                dataset.counts_off.data, dtype=np.float64
            ).reshape(self.shape)
            self.alpha = np.ascontiguousarray(dataset.alpha.data, dtype=np.float64).reshape(
                self.shape
            )

        self.models = {}
        self.signal = np.zeros(self.shape)
        mask_image = dataset.mask_image
        full_image = np.asarray(mask_image.data, dtype=bool)
        for name, evaluator in dataset.evaluators.items():
            if evaluator.needs_update:
                evaluator.update(dataset.exposure, dataset.psf, dataset.edisp, geom, mask_image)
            test = _contribution_test(dataset, evaluator.model, evaluator)
            if test is not None and not evaluator.contributes and test(full_image):
                # The evaluator was set up with an older mask: refresh it as a new one would be.
                evaluator.update(dataset.exposure, dataset.psf, dataset.edisp, geom, mask_image)
            if not evaluator.contributes:
                continue
            npred = evaluator.compute_npred()
            parent, data = self._placed(npred)
            self.signal[parent] += data
            self.models[name] = ModelCounts(parent, data, test)

        # Statistic and predicted counts per bin with the models as they are: the value of every
        # bin where the source of a problem predicts nothing.
        self.stat, self.npred = _constant_bins(self, slice(None), self.signal)
        self._groups = {}

    def _placed(self, npred):
        """Where a model's npred map sits in the dataset (gammapy's Map.stack rule) and its data
        there, non-finite values set to 0."""
        geom = self.dataset._geom
        if geom.is_region or (npred.data.shape[-2:] == geom.data_shape[-2:] and npred.geom == geom):
            parent = (Ellipsis,)
            data = npred.data
        else:
            offset = _wcs_offset(npred.geom, geom)
            if offset is not None:
                # A cutout of the dataset's own grid: the slices Map.stack computes from the
                # cutout's centre, without the sky-coordinate round trip.
                small = npred.data.shape[-2:]
                centre = [(n - 1) / 2 + o for n, o in zip(small, offset)]
                big, cut = overlap_slices(geom.data_shape[-2:], small, centre, mode="partial")
            else:
                slices = npred.geom.cutout_slices(geom)
                big, cut = slices["parent-slices"], slices["cutout-slices"]
            parent = (Ellipsis, big[0], big[1])
            data = npred.data[(Ellipsis, cut[0], cut[1])]
        data = np.array(data, dtype=np.float64).reshape(self.signal[parent].shape)
        data[~np.isfinite(data)] = 0.0
        return parent, data

    def group(self, i0, i1):
        """Sums and per-bin arrays of reco bins [i0, i1) (cached): see GroupTemplates."""
        key = (i0, i1)
        if key not in self._groups:
            self._groups[key] = GroupTemplates(self, i0, i1)
        return self._groups[key]


# Negative predicted counts down to this fraction of a model's largest value are rounding noise
# of the PSF convolution (observed: ~1e-8), not a prediction.
CONVOLUTION_NOISE = 1e-6


def _zero_convolution_noise(x):
    """Sets the rounding-noise negatives of predicted counts `x` to 0 (in place)."""
    if x.size:
        x[(x < 0) & (x >= -CONVOLUTION_NOISE * np.abs(x).max())] = 0.0


class GroupTemplates:
    """One dataset restricted to one energy group, as gammapy's sliced dataset sees it.

    The sliced dataset gets fresh evaluators whose contribution test uses the group's own mask:
    a model with no mask pixel near it in this group predicts nothing here. Such models are
    taken out of the group's prediction (`not_contributing`); usually there is none.
    """

    def __init__(self, t, i0, i1):
        self.templates = t
        self.i0, self.i1 = i0, i1
        sl = slice(i0, i1)
        mask = None if t.mask is None else t.mask[sl]
        self.mask = mask
        # gammapy: a dataset "contributes to the stat" if it has no mask or any True bin.
        self.contributes_to_stat = True if mask is None else bool(mask.any())
        self.not_contributing = set()
        if mask is not None:
            image = mask.any(axis=0)
        # With every pixel of the group in the mask, a fresh evaluator contributes exactly where
        # the dataset's does; otherwise ask gammapy's question with the group's mask.
        if mask is not None and not image.all():
            for name, m in t.models.items():
                if m.contributes is not None and not m.contributes(image):
                    self.not_contributing.add(name)

        if self.not_contributing:
            signal = t.signal[sl].copy()
            for name in self.not_contributing:
                m = t.models[name]
                signal[(slice(None),) + tuple(m.parent[1:])] -= m.data[sl]
            self.signal = signal
            self.stat, self.npred = _constant_bins(t, sl, signal)
        else:
            self.signal = t.signal[sl]
            self.stat = t.stat[sl]
            self.npred = t.npred[sl]

        if mask is None:
            self.counts_sum = t.counts[sl].sum()
            self.stat_sum = self.stat.sum()
            self.npred_sum = self.npred.sum()
        else:
            self.counts_sum = t.counts[sl][mask].sum()
            self.stat_sum = self.stat[mask].sum()
            self.npred_sum = self.npred[mask].sum()

    def source_bins(self, source_name):
        """The bins of this group where the source predicts counts and the mask is True, as a dict
        of 1-D arrays (counts, s, other, counts_off, alpha, stat, npred), or None when there is
        none. `other` is the rest of the prediction (Cash: background and every other model;
        WStat: the other models' signal); `stat` and `npred` are the bins' values of the
        dataset's current model, which the problem's constant leaves out."""
        t = self.templates
        m = t.models.get(source_name)
        if m is None or source_name in self.not_contributing:
            return None
        sl = slice(self.i0, self.i1)
        s_cut = m.data[sl]
        keep = s_cut != 0
        # The same bins of the group's arrays (which start at energy i0).
        parent = (slice(None),) + tuple(m.parent[1:])
        if self.mask is not None:
            keep &= self.mask[parent]
        if not keep.any():
            return None
        s = s_cut[keep]
        out = {"s": s}
        out["counts"] = t.counts[sl][parent][keep]
        signal = self.signal[parent][keep]
        if t.kind == CASH:
            out["other"] = t.background[sl][parent][keep] + (signal - s)
            out["counts_off"] = np.zeros(len(s))
            out["alpha"] = np.zeros(len(s))
        else:
            out["other"] = signal - s
            out["counts_off"] = t.counts_off[sl][parent][keep]
            out["alpha"] = t.alpha[sl][parent][keep]
        out["stat"] = self.stat[parent][keep]
        out["npred"] = self.npred[parent][keep]
        return out

    def nuisance_bins(self, source_name, nuisances):
        """source_bins for a problem with nuisance parameters (reoptimize=True, see
        _nuisances.py): the bins in the mask where the source or any nuisance predicts counts,
        with in addition "t", the nuisances' counts at their current values (one column each).
        `other` is then the rest of the prediction without them. None when there is no such
        bin."""
        from ._nuisances import group_template

        t = self.templates
        sl = slice(self.i0, self.i1)
        shape = self.signal.shape
        s_full = np.zeros(shape)
        m = t.models.get(source_name)
        if m is not None and source_name not in self.not_contributing:
            s_full[(slice(None),) + tuple(m.parent[1:])] += m.data[sl]
        templates = [group_template(n, self) for n in nuisances]
        if t.kind == CASH:
            # The engine needs the source's and the nuisances' counts >= 0 in Cash bins (every
            # prediction stays feasible when an amplitude grows). gammapy's PSF convolution
            # leaves values of ~1e-8 of a model's peak slightly negative: those are set to 0;
            # `other` below keeps the total prediction at the start values unchanged.
            for x in [s_full] + [x for x in templates if x is not None]:
                _zero_convolution_noise(x)
        keep = s_full != 0
        for x in templates:
            if x is not None:
                keep |= x != 0
        if self.mask is not None:
            keep &= self.mask
        if not keep.any():
            return None
        s = s_full[keep]
        columns = [np.zeros(len(s)) if x is None else x[keep] for x in templates]
        tmat = np.stack(columns, axis=1) if columns else np.zeros((len(s), 0))
        out = {"s": s, "t": tmat, "counts": t.counts[sl][keep]}
        total = self.signal[keep]
        if t.kind == CASH:
            total = total + t.background[sl][keep]
            out["counts_off"] = np.zeros(len(s))
            out["alpha"] = np.zeros(len(s))
        else:
            out["counts_off"] = t.counts_off[sl][keep]
            out["alpha"] = t.alpha[sl][keep]
        other = total - s - tmat.sum(axis=1)
        # Where the source and the nuisances are the whole prediction, the rest is 0 up to the
        # rounding of the subtraction.
        other[np.abs(other) <= 1e-12 * np.abs(total)] = 0.0
        out["other"] = other
        out["stat"] = self.stat[keep]
        out["npred"] = self.npred[keep]
        return out

