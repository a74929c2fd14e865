# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""fluxpoints.FluxPointsEstimator: gammapy's FluxPointsEstimator with the fits done by the engine.

The class derives from gammapy's, so construction, `copy()`, `selection_optional`,
`get_scale_model` and the counting helpers are gammapy's own. What changes is
where the likelihood is minimised: gammapy's evaluators give, per dataset, the source's predicted
counts at norm 1 and everything else's; the engine then solves every energy group (and, with
`estimate_sources`, every source) in one batch.
"""

import logging

import numpy as np
from astropy import units as u
from astropy.table import Table
from gammapy.datasets import Datasets
from gammapy.datasets.flux_points import _get_reference_model
from gammapy.estimators import FluxPoints
from gammapy.estimators import FluxPointsEstimator as GammapyFluxPointsEstimator
from gammapy.maps import MapAxis
from gammapy.modeling.models import ScaleSpectralModel

from . import _batch, _engine
from ._nuisances import nuisances_for
from ._templates import (
    NORM_LIKE_PARAMETERS,
    DatasetTemplates,
    check_dataset,
    find_source,
    snap_groups,
)

log = logging.getLogger(__name__)

BACKENDS = ("auto", "cpu", "cuda")


class FluxPointsEstimator(GammapyFluxPointsEstimator):
    """Flux points, as gammapy's `~gammapy.estimators.FluxPointsEstimator` computes them.

    Same constructor and results as gammapy 2.1's estimator (see its documentation), plus
    ``backend``. Differences:

    * ``fit`` is accepted and kept, but its optimiser settings do not apply: norms are solved to
      about 1e-12 (gammapy's MIGRAD stops at EDM < 2e-4, ~0.02 sigma).
    * ``n_jobs`` is the number of CPU worker threads of the engine (None: every core);
      ``parallel_backend`` is accepted and ignored. Results do not depend on either.
    * ``reoptimize=True`` re-fits, in each energy group, the other models' free parameters that
      the predicted counts are proportional to (other sources' amplitudes, background and
      template norms) exactly, on either backend; any other free parameter (an index, a
      position) is refused with an error naming it. The step-by-step methods
      (``estimate_best_fit`` ...) support ``reoptimize=False`` only.
    * A scan grid based on the fit error (``norm.scan_min``/``scan_max`` of None) is not supported.

    Parameters
    ----------
    energy_edges, source, n_sigma, n_sigma_ul, n_sigma_sensitivity, selection_optional, fit,
    reoptimize, sum_over_energy_groups, n_jobs, parallel_backend, norm, allow_multiple_telescopes
        As gammapy's FluxPointsEstimator.
    backend : {"auto", "cpu", "cuda"}
        Engine backend: "auto" uses a CUDA GPU when one is usable, else the CPU.
    device : int
        Which CUDA GPU: an index among the devices this process sees, after
        ``CUDA_VISIBLE_DEVICES`` (the command line's ``--device``; default 0). With
        ``backend="cuda"`` an index out of range is an error naming the index and the device
        count; ``"auto"`` then uses the CPU and says why (`backend_info`).

    After `run` or `run_sources`, ``last_status`` holds for each source the engine's verdict on
    each energy group: "ok", or why a quantity is missing or computed differently (e.g. "ok
    (minimum on a kink: error from the delta-stat = 1 interval)").
    """

    tag = "FluxPointsEstimator"

    def __init__(
        self,
        energy_edges=[1, 10] * u.TeV,
        source=0,
        n_sigma=1,
        n_sigma_ul=2,
        n_sigma_sensitivity=5,
        selection_optional=None,
        fit=None,
        reoptimize=False,
        sum_over_energy_groups=False,
        n_jobs=None,
        parallel_backend=None,
        norm=None,
        allow_multiple_telescopes=False,
        backend="auto",
        device=0,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
        _check_device(device)
        kwargs = dict(
            source=source,
            n_sigma=n_sigma,
            n_sigma_ul=n_sigma_ul,
            n_sigma_sensitivity=n_sigma_sensitivity,
            selection_optional=selection_optional,
            reoptimize=reoptimize,
            norm=norm,
        )
        if fit is not None:
            kwargs["fit"] = fit
        super().__init__(
            energy_edges=energy_edges,
            sum_over_energy_groups=sum_over_energy_groups,
            n_jobs=n_jobs,
            parallel_backend=parallel_backend,
            allow_multiple_telescopes=allow_multiple_telescopes,
            **kwargs,
        )
        self.backend = backend
        self.device = int(device)
        self.last_status = {}

    @property
    def config_parameters(self):
        """Configuration parameters (gammapy's, plus ``backend``; not the last run's status)."""
        pars = super().config_parameters
        pars.pop("last_status", None)
        return pars

    # --- the whole estimate -----------------------------------------------------------------

    def run(self, datasets):
        """Flux points of `source` in every energy group, as a gammapy `FluxPoints`.

        Parameters
        ----------
        datasets : `~gammapy.datasets.Datasets` or list of datasets
            SpectrumDatasetOnOff, SpectrumDataset, MapDatasetOnOff or MapDataset, jointly.

        Returns
        -------
        flux_points : `~gammapy.estimators.FluxPoints`
        """
        return self._run_sources(datasets, [self.source])[0]

    def run_sources(self, datasets, sources):
        """Flux points of several sources (names or indices into ``datasets.models``), every
        energy group of every source solved in one engine batch.

        Returns
        -------
        flux_points : dict
            ``{source name: FluxPoints}`` in the order of `sources`; each equals
            ``run(datasets)`` with ``source`` set to that source.
        """
        datasets = Datasets(datasets)
        models = datasets.models  # built anew at each access: once
        names = [find_source(models, s).name for s in sources]
        return dict(zip(names, self._run_sources(datasets, list(sources))))

    def estimate_flux_point(self, datasets, energy_min, energy_max):
        """The result dict of one energy group, with gammapy's keys (see its estimator)."""
        datasets = self._checked_datasets(datasets)
        edges = u.Quantity([energy_min, energy_max])
        rows_per_source, _ = self._rows(datasets, [self.source], edges, exact_reference=True)
        return rows_per_source[0][0]

    # --- one flux point, step by step (gammapy's ParameterEstimator surface) -----------------
    #
    # `datasets` are prepared as gammapy's FluxEstimator.run prepares them (sliced to the group,
    # the source's spectral model scaled by `parameter`). Each call extracts the problem again
    # and solves it on the engine; like gammapy's fits, the calls that fit leave `parameter` at
    # the best fit.

    def estimate_best_fit(self, datasets, parameter):
        """Best-fit value, its error, the statistic and `success` (gammapy's keys)."""
        q = self._solve_parameter(datasets, parameter, _batch.Options())
        if q is None:
            value, stat, success, error = np.nan, 0.0, False, np.nan
        else:
            value, stat, success, error = q["norm"], q["stat"], q["success"], q["norm_err"]
            self._leave_at(parameter, q)
        return {
            f"{parameter.name}": value,
            "stat": stat,
            "success": success,
            f"{parameter.name}_err": error,
        }

    def estimate_ts(self, datasets, parameter):
        """TS of the parameter's current value against 0, `npred` and `stat_null`."""
        datasets = Datasets(datasets)
        npred = self.estimate_npred(datasets=datasets)
        value = parameter.value
        options = _batch.Options(scan_values=np.array([value, self.null_value], dtype=float))
        q = self._solve_parameter(datasets, parameter, options)
        parameter.value = value
        if q is None:
            # No bin in any mask: no fit (stat NaN); the null statistic is a sum over no bin.
            npred["npred"][...] = np.nan
            stat, stat_null = np.nan, 0.0
        else:
            stat, stat_null = q["stat_scan"]
        return {"ts": stat_null - stat, "npred": npred["npred"], "stat_null": stat_null}

    def estimate_errn_errp(self, datasets, parameter):
        """Distances to the Delta-stat = n_sigma^2 crossings below and above the best fit."""
        q = self._solve_parameter(datasets, parameter, _batch.Options(errn_errp=True))
        if q is None:
            return {f"{parameter.name}_errp": np.nan, f"{parameter.name}_errn": np.nan}
        self._leave_at(parameter, q)
        return {f"{parameter.name}_errp": q["norm_errp"], f"{parameter.name}_errn": q["norm_errn"]}

    def estimate_ul(self, datasets, parameter):
        """Upper limit: the crossing of Delta-stat = n_sigma_ul^2 above the best fit."""
        q = self._solve_parameter(datasets, parameter, _batch.Options(ul=True))
        if q is None:
            return {f"{parameter.name}_ul": np.nan}
        self._leave_at(parameter, q)
        return {f"{parameter.name}_ul": q["norm_ul"]}

    def estimate_scan(self, datasets, parameter):
        """The statistic at each of the parameter's scan values."""
        scan_values = parameter.scan_values
        q = self._solve_parameter(datasets, parameter, _batch.Options(scan_values=scan_values))
        if q is None:
            return {f"{parameter.name}_scan": scan_values, "stat_scan": scan_values * np.nan}
        self._leave_at(parameter, q)
        return {f"{parameter.name}_scan": scan_values, "stat_scan": q["stat_scan"]}

    def estimate_sensitivity(self, datasets, parameter):
        """Norm at which the Asimov dataset reaches n_sigma_sensitivity (solved exactly; gammapy
        stops at 1% relative)."""
        q = self._solve_parameter(datasets, parameter, _batch.Options(sensitivity=True))
        value = np.nan if q is None else q["norm_sensitivity"]
        return {f"{parameter.name}_sensitivity": value}

    # --- internals ----------------------------------------------------------------------------

    def _options(self):
        norm = self.norm
        selection = self.selection_optional
        scan = None
        if "scan" in selection:
            # gammapy's Parameter derives a missing scan_min/scan_max from the fitted value and
            # error, a different grid in every group: not a batch the engine solves.
            if norm._scan_values is None and (norm._scan_min is None or norm._scan_max is None):
                raise NotImplementedError(
                    "fluxpoints: a norm scan grid from the fit error (scan_min or scan_max None) "
                    "differs per energy group; give norm scan_min and scan_max, or scan_values"
                )
            scan = np.asarray(norm.scan_values, dtype=float)
        if self.reoptimize and "sensitivity" in selection:
            raise NotImplementedError(
                "fluxpoints: the sensitivity is not computed with reoptimize=True"
            )
        return _batch.Options(
            n_sigma=float(self.n_sigma),
            n_sigma_ul=float(self.n_sigma_ul),
            errn_errp="errn-errp" in selection,
            ul="ul" in selection,
            scan_values=scan,
            sensitivity="sensitivity" in selection,
            n_sigma_sensitivity=float(self.n_sigma_sensitivity),
            norm_value=float(norm.value),
            norm_min=float(norm.min),
            norm_max=float(norm.max),
            backend=self.backend,
            workers=self._workers(),
            device=self.device,
        )

    def _workers(self):
        n = self._n_jobs
        if n is None:
            return 0
        if n < 1:
            raise ValueError(f"n_jobs must be a positive integer or None, got {n}")
        return int(n)

    def _checked_datasets(self, datasets):
        datasets = Datasets(datasets)
        for d in datasets:
            check_dataset(d)
        if self.energy_edges is None:
            raise ValueError("energy_edges must be given")
        if not datasets.energy_axes_are_aligned:
            raise ValueError("All datasets must have aligned energy axes.")
        telescopes = []
        for d in datasets:
            if d.meta_table is not None and "TELESCOP" in d.meta_table.colnames:
                telescopes.extend(list(d.meta_table["TELESCOP"].flatten()))
        if len(np.unique(telescopes)) > 1 and not self.allow_multiple_telescopes:
            raise ValueError("All datasets must use the same value of the 'TELESCOP' meta keyword.")
        return datasets

    def _run_sources(self, datasets, sources):
        """FluxPoints of each source (in order), all problems in one engine batch."""
        datasets = self._checked_datasets(datasets)
        edges = u.Quantity(self.energy_edges)
        rows_per_source, models = self._rows(datasets, sources, edges)
        meta = {
            "n_sigma": self.n_sigma,
            "n_sigma_ul": self.n_sigma_ul,
            "sed_type_init": "likelihood",
        }
        out = []
        for rows, model in zip(rows_per_source, models):
            table = Table(rows, meta=meta)
            reference = _get_reference_model(model, self.energy_edges)
            out.append(
                FluxPoints.from_table(
                    table=table,
                    reference_model=reference.copy(),
                    gti=datasets.gti,
                    format="gadf-sed",
                )
            )
        return out

    def _rows(self, datasets, sources, edges, exact_reference=False):
        """gammapy's row dicts of every (source, group), solved in one batch.

        The rows' reference fluxes are only read back by FluxPoints to recognise the SED type
        (it recomputes them from the reference model), so for a whole run they are computed for
        all groups of a source at once; `exact_reference` computes them group by group, as
        gammapy's estimate_flux_point returns them.
        """
        all_models = datasets.models  # built anew at each access: once
        models = [find_source(all_models, source) for source in sources]
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ValueError(f"sources must be distinct, got {names}")
        options = self._options()
        n_groups = len(edges) - 1
        nuisances = [self._nuisances(all_models, model) for model in models]

        # Per group: the datasets that overlap it, each as its GroupTemplates.
        parts_per_group = self._group_parts(datasets, edges)
        group_edges = [self._snapped_edges(parts) if parts else None for parts in parts_per_group]
        solved = [g for g in range(n_groups) if parts_per_group[g]]

        problems = []
        for model, model_nuisances in zip(models, nuisances):
            for g in solved:
                label = f"{model.name}, {edges[g]:.4g} - {edges[g + 1]:.4g}"
                problems.append(
                    _batch.Problem(model.name, label, parts_per_group[g], nuisances=model_nuisances)
                )
        results = iter(_batch.solve(problems, options))

        all_rows = []
        self.last_status = {}
        for model in models:
            scale = ScaleSpectralModel(model.spectral_model)
            scale.norm = self.norm.copy()
            if solved:
                reference = self._reference_rows(
                    scale, [group_edges[g] for g in solved], exact_reference
                )
            rows, status = [], []
            for g in range(n_groups):
                if g not in solved:
                    log.warning(f"No dataset contribute in range {edges[g]}-{edges[g + 1]}")
                    rows.append(self._nan_row(datasets, model, edges[g], edges[g + 1]))
                    status.append("no dataset contributes in this energy range")
                    continue
                q = next(results)
                row = reference[solved.index(g)]
                rows.append(self._row(row, parts_per_group[g], q, options))
                status.append(q["status"])
            all_rows.append(rows)
            self.last_status[model.name] = status
        return all_rows, models

    def _nuisances(self, all_models, model):
        """reoptimize=True: the parameters re-fitted with the source's norm (None: reoptimize is
        off)."""
        return nuisances_for(all_models, model) if self.reoptimize else None

    @staticmethod
    def _snapped_edges(parts):
        """The group's edges after snapping: the widest over the datasets (gammapy's
        Datasets.energy_ranges of the sliced datasets)."""
        e_min = u.Quantity([p.templates.energy_axis.edges[p.i0] for p in parts]).min()
        e_max = u.Quantity([p.templates.energy_axis.edges[p.i1] for p in parts]).max()
        return e_min, e_max

    @staticmethod
    def _reference_rows(scale, group_edges, exact):
        """The reference-flux entries of each solved row (gammapy's reference_fluxes keys),
        warning like gammapy where the reference model predicts a negative flux."""
        axes = [MapAxis.from_energy_edges(u.Quantity([lo, hi])) for lo, hi in group_edges]
        edges = u.Quantity([axis.edges for axis in axes])
        if np.any(scale(edges.ravel()).value < 0.0):
            log.warning(
                "Reference source model predicts negative flux. Results of estimator should be "
                "interpreted with caution"
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            if exact:
                fluxes = [scale.reference_fluxes(axis) for axis in axes]
                return [{key: value.item() for key, value in f.items()} for f in fluxes]
            e_min, e_max = edges[:, 0], edges[:, 1]
            e_ref = u.Quantity([axis.center[0] for axis in axes])
            dnde = scale(e_ref)
            columns = {
                "e_ref": e_ref,
                "e_min": e_min,
                "e_max": e_max,
                "ref_dnde": dnde,
                "ref_flux": scale.integral(e_min, e_max),
                "ref_eflux": scale.energy_flux(e_min, e_max),
                "ref_e2dnde": dnde * e_ref**2,
            }
        return [{key: value[i] for key, value in columns.items()} for i in range(len(axes))]

    def _group_parts(self, datasets, edges):
        n_groups = len(edges) - 1
        parts = [[] for _ in range(n_groups)]
        if self.sum_over_energy_groups:
            # gammapy's own slicing and summing (to_image), then the same extraction per group.
            for g in range(n_groups):
                sliced = datasets.slice_by_energy(energy_min=edges[g], energy_max=edges[g + 1])
                if len(sliced) == 0:
                    continue
                sliced = Datasets([d.to_image(name=d.name) for d in sliced])
                sliced.models = datasets.models._slice_by_energy(
                    energy_min=edges[g], energy_max=edges[g + 1], sum_over_energy_groups=True
                )
                for d in sliced:
                    parts[g].append(DatasetTemplates(d).group(0, 1))
            return parts
        for d in datasets:
            groups = snap_groups(d._geom.axes["energy"], edges)
            if all(gr is None for gr in groups):
                continue
            templates = DatasetTemplates(d)
            for g, gr in enumerate(groups):
                if gr is not None:
                    parts[g].append(templates.group(*gr))
        return parts

    def _row(self, reference, parts, q, options):
        """The dict gammapy's estimate_flux_point returns for a solved group, keys in its order."""
        row = dict(reference)
        row.update(
            {
                "norm": q["norm"],
                "stat": q["stat"],
                "success": q["success"],
                "norm_err": q["norm_err"],
                "ts": q["ts"],
                "npred": q["npred"],
                "stat_null": q["stat_null"],
            }
        )
        selection = self.selection_optional
        if "errn-errp" in selection:
            row.update({"norm_errp": q["norm_errp"], "norm_errn": q["norm_errn"]})
        if "ul" in selection:
            row.update({"norm_ul": q["norm_ul"]})
        if "scan" in selection:
            row.update({"norm_scan": options.scan_values, "stat_scan": q["stat_scan"]})
        if "sensitivity" in selection:
            row.update({"norm_sensitivity": q["norm_sensitivity"]})
        names = [p.templates.name for p in parts]
        row.update({"counts": q["counts"], "datasets": names})
        # gammapy sums the source's masked counts in single precision.
        row.update(
            {"npred_excess": np.asarray(q["npred_excess"], dtype=np.float32), "datasets": names}
        )
        return row

    def _nan_row(self, datasets, model, energy_min, energy_max):
        """gammapy's row for a group no dataset overlaps (requested edges, NaN quantities)."""
        reference = _get_reference_model(model, self.energy_edges)
        return self._nan_result(datasets, reference, energy_min, energy_max)

    def _solve_parameter(self, datasets, parameter, options):
        """One problem: `datasets` whole, the model owning `parameter` as the source with
        `parameter` as its norm. None when no dataset has a bin in its mask."""
        datasets = Datasets(datasets)
        if self.reoptimize:
            raise NotImplementedError(
                "fluxpoints: the step-by-step methods (estimate_best_fit, estimate_ts, ...) "
                "support reoptimize=False only; run() supports reoptimize=True"
            )
        if parameter.name not in NORM_LIKE_PARAMETERS:
            raise ValueError(
                f"parameter {parameter.name!r} is not norm-like "
                f"({', '.join(NORM_LIKE_PARAMETERS)}):"
                " the engine fits parameters the predicted counts are proportional to"
            )
        owner = None
        for model in datasets.models or []:
            if any(p is parameter for p in model.parameters):
                owner = model
                break
        if owner is None:
            raise ValueError(f"parameter {parameter.name!r} belongs to no model of the datasets")
        base = self._options()
        options.n_sigma, options.n_sigma_ul = base.n_sigma, base.n_sigma_ul
        options.n_sigma_sensitivity = base.n_sigma_sensitivity
        options.norm_value = float(parameter.value)
        options.norm_min, options.norm_max = float(parameter.min), float(parameter.max)
        options.backend, options.workers, options.device = base.backend, base.workers, base.device
        value = parameter.value
        try:
            # The source counts "at norm 1" of this parameter.
            parameter.value = 1.0
            parts = [DatasetTemplates(d).group(0, d._geom.axes["energy"].nbin) for d in datasets]
        finally:
            parameter.value = value
        problem = _batch.Problem(owner.name, owner.name, parts)
        q = _batch.solve([problem], options)[0]
        return None if q["kind"] == _batch.EMPTY_MASK else q

    def _leave_at(self, parameter, q):
        """Leave the parameter where gammapy's fit leaves it: at the best fit, with its error."""
        if np.isfinite(q["norm"]):
            parameter.value = q["norm"]
        parameter.error = q["norm_err"] / self.n_sigma


def estimate_sources(datasets, sources, energy_edges=[1, 10] * u.TeV, **kwargs):
    """Flux points of several sources, all their energy groups solved as one batch.

    Each result equals
    ``FluxPointsEstimator(source=name, energy_edges=..., **kwargs).run(datasets)``.

    Parameters
    ----------
    datasets : `~gammapy.datasets.Datasets` or list of datasets
    sources : list of str or int
        Source models (names or indices into ``datasets.models``), distinct.
    energy_edges : `~astropy.units.Quantity`
    **kwargs
        Any other FluxPointsEstimator argument (n_sigma, selection_optional, norm, backend,
        device, ...). ``device`` picks the CUDA GPU by index, as the command line's ``--device``.

    Returns
    -------
    flux_points : dict
        ``{source name: FluxPoints}``, in the order of `sources`.
    """
    if "source" in kwargs:
        raise TypeError("estimate_sources takes `sources`, not `source`")
    sources = list(sources)
    if not sources:
        return {}
    estimator = FluxPointsEstimator(energy_edges=energy_edges, source=sources[0], **kwargs)
    return estimator.run_sources(datasets, sources)


def backend_info(backend="auto", workers=0, device=0):
    """(name, why) of the engine backend `backend` resolves to on this machine (`device`: the
    CUDA device index)."""
    _check_device(device)
    return _engine.backend_name(backend, workers, int(device))


def _check_device(device):
    """A CUDA device index is an integer >= 0 (bool is not one)."""
    if isinstance(device, bool) or not isinstance(device, (int, np.integer)) or device < 0:
        raise ValueError(f"device must be a CUDA device index (an integer >= 0), got {device!r}")
