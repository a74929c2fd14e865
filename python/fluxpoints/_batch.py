# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Flux-point problems (source x energy group) flattened into one engine batch, and the engine's
answers turned back into gammapy's per-problem quantities.

Only the bins where the source predicts counts go to the engine; every other bin of a group adds
the same value to the statistic at every norm. That constant is added back here, so that `stat`,
`stat_null` and `stat_scan` are gammapy's absolute values, and so are the per-dataset `npred`.
"""

from dataclasses import dataclass, field

import numpy as np

from . import _engine

# Problem kinds, after gammapy's rules for groups without usable data.
SOLVED = "solved"
EMPTY_MASK = "empty mask"  # datasets overlap the group but no bin is inside their masks
NO_SOURCE_COUNTS = "no source counts"  # bins in the mask, but the source predicts none there


@dataclass
class Problem:
    """One flux point: the source and, per dataset overlapping the group (in dataset order), that
    dataset's GroupTemplates."""

    source: str
    label: str
    parts: list

    # reoptimize=True: the nuisance parameters (_nuisances.Nuisance) re-fitted with the norm.
    nuisances: list = None

    kind: str = SOLVED
    constant_stat: float = 0.0
    constant_npred: list = field(default_factory=list)
    n_bins: int = 0


@dataclass
class Options:
    n_sigma: float = 1.0
    n_sigma_ul: float = 2.0
    errn_errp: bool = False
    ul: bool = False
    scan_values: object = None  # numpy array or None
    sensitivity: bool = False
    n_sigma_sensitivity: float = 5.0
    norm_value: float = 1.0
    norm_min: float = np.nan
    norm_max: float = np.nan
    backend: str = "auto"
    workers: int = 0
    device: int = 0  # CUDA device index (the command line's --device)


# Problems per engine call. solve() prepares the next group of problems (the Python side's
# folding: each part's source bins) while the engine solves the previous one; every problem is
# solved by the same code whatever group it is in, so the results do not depend on this.
PROBLEMS_PER_SOLVE = 2048


def solve(problems, options, problems_per_solve=None):
    """Solves every problem. Returns one dict per problem with the
    quantities of gammapy's ParameterEstimator (norm, norm_err, stat, success, ts, stat_null,
    norm_errn/errp, norm_ul, stat_scan, norm_sensitivity) and per part counts, npred and
    npred_excess. Problems with `nuisances` (reoptimize=True) re-fit them with the norm; their
    fitted values come back as "nuisance" ({label: value}).

    The problems go to the engine in groups of `problems_per_solve` (default PROBLEMS_PER_SOLVE):
    group k + 1 is prepared while the engine solves group k (the GIL is released meanwhile)."""
    size = problems_per_solve or PROBLEMS_PER_SOLVE
    quantities = []
    pending = None
    for start in range(0, len(problems), size):
        group = problems[start : start + size]
        flat = _flatten(group, options)  # while the previous group solves
        if pending is not None:
            quantities.extend(_collect(*pending))
        pending = (group, _engine.submit(*flat.arrays, **flat.keywords), flat, options)
    if pending is not None:
        quantities.extend(_collect(*pending))
    return quantities


@dataclass
class _Flat:
    """A group of problems as the engine's arguments, and the offsets _collect reads back."""

    arrays: tuple
    keywords: dict
    problem_segments: list
    problem_nuisances: list
    has_nuisances: bool


def _flatten(problems, options):
    """The problems' bins where the source predicts counts, flattened into the engine's arrays
    (LikelihoodBatch's layout); the rest of each group's bins becomes the problem's constants."""
    columns = {name: [] for name in ("counts", "s", "other", "counts_off", "alpha")}
    segment_bins = [0]
    segment_kind = []
    problem_segments = [0]
    # Nuisance arrays (LikelihoodBatch's layout); used when some problem has nuisances.
    problem_nuisances = [0]
    template_offset = []
    template_values = []  # one array per active nuisance
    n_template_values = 0
    nuisance_start, nuisance_min, nuisance_max = [], [], []
    n_bins = 0
    for problem in problems:
        problem.constant_npred = []
        constant_stat = 0.0
        # The part's bins where the source (or a nuisance) predicts counts go to the engine; the
        # rest of the group's masked bins is a constant.
        if problem.nuisances is None:
            part_bins = [part.source_bins(problem.source) for part in problem.parts]
        else:
            part_bins = [
                part.nuisance_bins(problem.source, problem.nuisances) for part in problem.parts
            ]
            if not any(b is not None and np.any(b["s"] != 0) for b in part_bins):
                # The source predicts nothing: no norm to fit (see NO_SOURCE_COUNTS).
                part_bins = [None] * len(part_bins)
        problem_bins = 0
        for part, bins in zip(problem.parts, part_bins):
            stat_constant, npred_constant = part.stat_sum, part.npred_sum
            if bins is not None:
                for name in columns:
                    columns[name].append(bins[name])
                problem_bins += len(bins["s"])
                stat_constant -= bins["stat"].sum()
                npred_constant -= bins["npred"].sum()
            constant_stat += stat_constant
            n_bins += 0 if bins is None else len(bins["s"])
            segment_bins.append(n_bins)
            segment_kind.append(part.templates.kind)
            problem.constant_npred.append(npred_constant)
        problem_segments.append(len(segment_kind))
        problem.constant_stat = constant_stat
        problem.n_bins = problem_bins
        if not any(part.contributes_to_stat for part in problem.parts):
            problem.kind = EMPTY_MASK
        elif problem_bins == 0:
            problem.kind = NO_SOURCE_COUNTS
        else:
            problem.kind = SOLVED
        # The problem's nuisances that predict counts in its bins, template-major.
        template_offset.append(n_template_values)
        problem.active_nuisances = []
        kept = [b["t"] for b in part_bins if b is not None] if problem.nuisances else []
        if kept:
            t = np.concatenate(kept, axis=0)
            for k, nuisance in enumerate(problem.nuisances):
                if np.any(t[:, k] != 0):
                    problem.active_nuisances.append(nuisance)
                    template_values.append(t[:, k])
                    n_template_values += len(t)
                    lo, hi = nuisance.bounds()
                    nuisance_start.append(1.0)
                    nuisance_min.append(lo)
                    nuisance_max.append(hi)
        problem_nuisances.append(problem_nuisances[-1] + len(problem.active_nuisances))

    def stacked(parts):
        return np.concatenate(parts) if parts else np.zeros(0)

    nuisance_arrays = {}
    if problem_nuisances[-1] > 0:
        nuisance_arrays = dict(
            problem_nuisances=np.asarray(problem_nuisances, dtype=np.int64),
            template_offset=np.asarray(template_offset, dtype=np.int64),
            template_values=stacked(template_values),
            nuisance_start=np.asarray(nuisance_start, dtype=float),
            nuisance_min=np.asarray(nuisance_min, dtype=float),
            nuisance_max=np.asarray(nuisance_max, dtype=float),
        )

    arrays = (
        stacked(columns["counts"]),
        stacked(columns["s"]),
        stacked(columns["other"]),
        stacked(columns["counts_off"]),
        stacked(columns["alpha"]),
        np.asarray(segment_bins, dtype=np.int64),
        np.asarray(segment_kind, dtype=np.uint8),
        np.asarray(problem_segments, dtype=np.int64),
    )
    keywords = dict(
        n_sigma=options.n_sigma,
        n_sigma_ul=options.n_sigma_ul,
        errn_errp=options.errn_errp,
        ul=options.ul,
        scan_values=(
            None if options.scan_values is None else np.asarray(options.scan_values, dtype=float)
        ),
        norm_value=options.norm_value,
        norm_min=options.norm_min,
        norm_max=options.norm_max,
        n_sigma_sensitivity=options.n_sigma_sensitivity if options.sensitivity else None,
        backend=options.backend,
        workers=options.workers,
        device=options.device,
        labels=[p.label for p in problems],
        **nuisance_arrays,
    )
    return _Flat(arrays, keywords, problem_segments, problem_nuisances, bool(nuisance_arrays))


def _collect(problems, pending, flat, options):
    """Waits for a group's solve and turns it into per-problem quantities."""
    problem_segments, problem_nuisances = flat.problem_segments, flat.problem_nuisances
    result = pending.result()
    quantities = [
        _quantities(p, i, problem_segments, result, options) for i, p in enumerate(problems)
    ]
    if flat.has_nuisances:
        phi = result["nuisance"]
        for i, (p, q) in enumerate(zip(problems, quantities)):
            first = problem_nuisances[i]
            q["nuisance"] = {
                n.label: float(phi[first + k]) * n.value for k, n in enumerate(p.active_nuisances)
            }
    return quantities


def _quantities(problem, i, problem_segments, r, options):
    seg = slice(problem_segments[i], problem_segments[i + 1])
    c = problem.constant_stat
    n_scan = 0 if options.scan_values is None else len(options.scan_values)
    q = {
        "kind": problem.kind,
        "counts": np.array([part.counts_sum for part in problem.parts], dtype=int),
        "status": _engine.describe(int(r["status"][i]), int(r["notes"][i])),
    }
    if problem.kind == EMPTY_MASK:
        # gammapy skips the fit: stat 0 and stat_null 0 (sums over no bin), everything else NaN.
        q.update(
            norm=np.nan,
            norm_err=np.nan,
            stat=0.0,
            success=False,
            ts=np.nan,
            stat_null=0.0,
            norm_errn=np.nan,
            norm_errp=np.nan,
            norm_ul=np.nan,
            stat_scan=np.full(n_scan, np.nan),
            norm_sensitivity=np.nan,
            npred=np.full(len(problem.parts), np.nan),
            npred_excess=np.zeros(len(problem.parts)),
        )
        q["status"] = "no bin inside the dataset masks in this energy range"
        return q
    if problem.kind == NO_SOURCE_COUNTS:
        # The statistic does not depend on the norm: gammapy's fit keeps the start value and
        # fails (no curvature); ts is exactly 0 and the scan is flat.
        q.update(
            norm=options.norm_value,
            norm_err=np.nan,
            stat=c,
            success=False,
            ts=0.0,
            stat_null=c,
            norm_errn=np.nan,
            norm_errp=np.nan,
            norm_ul=np.nan,
            stat_scan=np.full(n_scan, c),
            norm_sensitivity=np.nan,
            npred=np.array(problem.constant_npred, dtype=float),
            npred_excess=np.zeros(len(problem.parts)),
        )
        q["status"] = "the source predicts no counts inside the masks in this energy range"
        return q
    q.update(
        norm=float(r["norm"][i]),
        norm_err=float(r["norm_err"][i]),
        stat=float(r["stat"][i]) + c,
        success=bool(r["success"][i]),
        ts=float(r["ts"][i]),
        stat_null=float(r["stat_null"][i]) + c,
        norm_errn=float(r["norm_errn"][i]),
        norm_errp=float(r["norm_errp"][i]),
        norm_ul=float(r["norm_ul"][i]),
        stat_scan=r["stat_scan"][i] + c,
        norm_sensitivity=float(r["norm_sensitivity"][i]) if options.sensitivity else np.nan,
        npred=r["npred"][seg] + np.array(problem.constant_npred, dtype=float),
        npred_excess=np.array(r["npred_excess"][seg]),
    )
    return q
