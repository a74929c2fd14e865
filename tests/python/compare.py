# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Comparison of fluxpoints' FluxPoints with gammapy's, quantity by quantity, with the tolerances
below (each with the reason for its size)."""

import numpy as np

# gammapy's best fit is MIGRAD's, which stops at EDM < 2e-4 (tol 0.1): its norm is off the true
# minimum by up to ~0.02 sigma. fluxpoints solves the norm to ~1e-12. A norm agrees when it is
# within 1e-3 relative OR within 0.02 of its error.
NORM_REL = 1e-3
NORM_ERR_FRACTION = 0.02
# norm_err: gammapy's HESSE is a finite-difference curvature at MIGRAD's norm, up to 0.02 sigma
# from the exact minimum; for these low-count profiles the curvature changes by up to ~2e-3
# relative over that distance.
NORM_ERR_REL = 3e-3
# A profile counts as quadratic around its minimum when the curvature error is within 20% of the
# half-width of the Delta-stat = n_sigma^2 interval (the two are equal for a parabola).
QUADRATIC_REL = 0.2
# One-sided second differences of gammapy's statistic with a step of 1e-4 of the error: the
# truncation error is ~1e-4 relative, the round-off of a statistic of ~1e3 about 1e-5.
CURVATURE_STEP = 1e-4
CURVATURE_REL = 2e-3
# errn, errp, ul: gammapy's Brent roots are solved to 2e-12, at the level S(best fit) + n^2
# where its best fit is within the MIGRAD tolerance of the exact one.
CROSSING_REL = 1e-3
# ts = stat_null - stat: the MIGRAD minimum is within EDM 2e-4 of the true one.
TS_ABS = 1e-3
# stat_null and stat_scan are the statistic at fixed norms: the same sums in another order.
STAT_REL = 1e-6
# stat at the best fit: within 1e-6 relative, or gammapy's above ours by no more than MIGRAD's
# EDM bound (ours is the exact minimum, so gammapy's can only be higher).
MIGRAD_EDM = 2e-4
# reoptimize=True: npred also holds the re-fitted nuisances, which MIGRAD leaves within its EDM
# tolerance of the minimum like the norm (~0.02 sigma of each); over the counts of these small
# test datasets that moves a dataset's npred by well under 1e-3 of it.
NUISANCE_NPRED_REL = 1e-3
# npred_excess / norm = the source's masked counts at norm 1: gammapy sums them in float32.
FLOAT32_SUM_REL = 1e-6
# norm_sensitivity: gammapy's root finder stops at rtol = 0.01.
SENSITIVITY_REL = 2e-2


def _column(fp, name):
    t = fp.to_table(sed_type="likelihood")
    return np.asarray(t[name], dtype=float) if name in t.colnames else None


def _same_nan(a, b, what):
    na, nb = np.isnan(a), np.isnan(b)
    assert np.array_equal(na, nb), f"{what}: NaN in different rows: gammapy {a}, fluxpoints {b}"
    return ~na


def assert_close(ours, theirs, what, rel=0.0, abs_=0.0):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    ok = _same_nan(theirs, ours, what)
    diff = np.abs(ours[ok] - theirs[ok])
    bound = abs_ + rel * np.abs(theirs[ok])
    assert np.all(
        diff <= bound
    ), f"{what}: gammapy {theirs[ok]}, fluxpoints {ours[ok]}, |diff| {diff} > {bound}"


def _assert_minimum(ours, theirs, what):
    """A statistic gammapy minimises with MIGRAD: within 1e-6 relative of ours, or above ours
    (the exact minimum) by no more than MIGRAD's EDM bound."""
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    ok = _same_nan(theirs, ours, what)
    close = np.abs(ours[ok] - theirs[ok]) <= STAT_REL * np.abs(theirs[ok])
    above = (theirs[ok] - ours[ok] >= -STAT_REL * np.abs(theirs[ok])) & (
        theirs[ok] - ours[ok] <= MIGRAD_EDM
    )
    assert np.all(close | above), f"{what}: gammapy {theirs[ok]}, fluxpoints {ours[ok]}"


def assert_matches_gammapy(result, sensitivity=False, reoptimize=False):
    """Every quantity of fluxpoints' FluxPoints against gammapy's (a conftest.Result). With
    `reoptimize`, stat_null and stat_scan are minima over the nuisances too (gammapy's by MIGRAD,
    compared like stat), and npred holds the re-fitted nuisances (NUISANCE_NPRED_REL)."""
    ours, theirs, status = result.ours, result.theirs, result.status
    t_ours = ours.to_table(sed_type="likelihood")
    t_theirs = theirs.to_table(sed_type="likelihood")
    assert t_ours.colnames == t_theirs.colnames, (t_ours.colnames, t_theirs.colnames)
    for name in ("e_min", "e_max", "e_ref", "ref_dnde", "ref_flux", "ref_eflux"):
        assert_close(t_ours[name], t_theirs[name], name, rel=1e-12)
    assert ours.sed_type_init == theirs.sed_type_init
    for key in ("n_sigma", "n_sigma_ul", "sqrt_ts_threshold_ul"):
        assert ours.meta.get(key) == theirs.meta.get(key), key
    assert type(ours.reference_model) is type(theirs.reference_model)

    success = np.asarray(t_theirs["success"], dtype=bool)
    assert np.array_equal(
        np.asarray(t_ours["success"], dtype=bool), success
    ), f"success: gammapy {success}, fluxpoints {np.asarray(t_ours['success'])}"
    assert np.array_equal(np.asarray(t_ours["counts"]), np.asarray(t_theirs["counts"])), "counts"

    norm_o, norm_t = _column(ours, "norm"), _column(theirs, "norm")
    err_o, err_t = _column(ours, "norm_err"), _column(theirs, "norm_err")
    ok = _same_nan(norm_t, norm_o, "norm")
    bound = np.maximum(
        NORM_REL * np.abs(norm_t[ok]), NORM_ERR_FRACTION * np.fmax(err_t[ok], err_o[ok])
    )
    assert np.all(np.abs(norm_o[ok] - norm_t[ok]) <= bound), f"norm: {norm_t} vs {norm_o}"
    # norm_err = n_sigma sqrt(2 / S'') at the minimum. Where the profile is quadratic around
    # it, gammapy's HESSE (a finite difference with a step of about the error) agrees. Where it
    # is not - WStat bins with n_on = n_off = 0 have a kink where the signal crosses 0, and a
    # minimum can sit on one with other such kinks close by - HESSE averages over its step while
    # fluxpoints reports the curvature at the minimum: that is checked against gammapy's own
    # statistic by one-sided second differences on both sides (a tiny step, so that no other
    # kink lies inside). Where there is no curvature at all (a kink between linear pieces)
    # fluxpoints reports n_sigma x the half-width of the Delta-stat = n_sigma^2 interval.
    n_sigma = ours.meta["n_sigma"]
    kink = np.array(["kink" in s for s in status])
    quadratic = ~kink
    # With reoptimize the curvature check below would need gammapy's profile, not its statistic
    # at fixed nuisances: HESSE on all free parameters is compared directly.
    if "norm_errn" in t_theirs.colnames and not reoptimize:
        half_width = 0.5 * (
            np.asarray(t_theirs["norm_errn"], float) + np.asarray(t_theirs["norm_errp"], float)
        )
        with np.errstate(invalid="ignore"):
            quadratic &= ~(np.abs(err_o - half_width) > QUADRATIC_REL * half_width)
        if n_sigma == 1:  # then the crossings are those of Delta-stat = 1
            assert_close(err_o[kink], half_width[kink], "norm_err at a kink", rel=CROSSING_REL)
    assert_close(err_o[quadratic], err_t[quadratic], "norm_err", rel=NORM_ERR_REL)
    for g in np.flatnonzero(~quadratic & ~kink & np.isfinite(err_o)):
        theta = float(np.asarray(ours._data["norm"].data).ravel()[g])
        h = CURVATURE_STEP * err_o[g] / n_sigma
        stat = {k: result.gammapy_stat(g, theta + k * h) for k in (-2, -1, 0, 1, 2)}
        for side in (-1, 1):
            curvature = (stat[0] - 2 * stat[side] + stat[2 * side]) / h**2
            assert_close(
                err_o[g],
                n_sigma * np.sqrt(2 / curvature),
                f"norm_err (curvature of gammapy's statistic, side {side})",
                rel=CURVATURE_REL,
            )
    # errn and errp are distances from a best fit. gammapy re-runs MIGRAD before its crossing
    # search and measures from that point, which is usually much closer to the exact minimum
    # than the norm it reports (then the distances agree), and at a kink may stay at the
    # reported norm (then the crossing points agree). Either is agreement within 1e-3 of errn.
    raw_o = np.asarray(ours._data["norm"].data, float).ravel()
    raw_t = np.asarray(theirs._data["norm"].data, float).ravel()
    for name, sign in (("norm_errn", -1), ("norm_errp", 1)):
        if name in t_theirs.colnames:
            d_o, d_t = np.asarray(t_ours[name], float), np.asarray(t_theirs[name], float)
            ok = _same_nan(d_t, d_o, name)
            bound = CROSSING_REL * d_t[ok]
            same_distance = np.abs(d_o[ok] - d_t[ok]) <= bound
            crossing_o, crossing_t = raw_o[ok] + sign * d_o[ok], raw_t[ok] + sign * d_t[ok]
            crossing_bound = bound
            if reoptimize:
                # gammapy measures from the point its re-run of MIGRAD reaches, which in several
                # dimensions is no closer to the minimum than the norm it reports (within
                # NORM_ERR_FRACTION of the error): its crossing is known to that much.
                crossing_bound = bound + NORM_ERR_FRACTION * err_t[ok]
            same_crossing = np.abs(crossing_o - crossing_t) <= crossing_bound
            assert np.all(same_distance | same_crossing), (
                f"{name}: gammapy {d_t[ok]}, fluxpoints {d_o[ok]}; crossings gammapy "
                f"{crossing_t}, fluxpoints {crossing_o}"
            )
    if "norm_ul" in t_theirs.colnames:
        assert_close(t_ours["norm_ul"], t_theirs["norm_ul"], "norm_ul", rel=CROSSING_REL)
    assert_close(t_ours["ts"], t_theirs["ts"], "ts", abs_=TS_ABS)
    if reoptimize:
        _assert_minimum(t_ours["stat_null"], t_theirs["stat_null"], "stat_null")
    else:
        assert_close(t_ours["stat_null"], t_theirs["stat_null"], "stat_null", rel=STAT_REL)

    _assert_minimum(t_ours["stat"], t_theirs["stat"], "stat")

    if "stat_scan" in t_theirs.colnames:
        assert_close(t_ours["norm_scan"], t_theirs["norm_scan"], "norm_scan", rel=1e-15)
        if reoptimize:
            _assert_minimum(t_ours["stat_scan"], t_theirs["stat_scan"], "stat_scan")
        else:
            assert_close(t_ours["stat_scan"], t_theirs["stat_scan"], "stat_scan", rel=STAT_REL)

    # The per-dataset sums: the source's counts at norm 1 (npred_excess / norm) test the
    # extracted templates; npred (total prediction at the fitted norm) then differs by the norm
    # difference times those counts.
    exc_o = np.asarray(t_ours["npred_excess"], float)
    exc_t = np.asarray(t_theirs["npred_excess"], float)
    raw_norm_o = np.asarray(ours._data["norm"].data, float).reshape(len(norm_o), 1)
    raw_norm_t = np.asarray(theirs._data["norm"].data, float).reshape(len(norm_t), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_o, ref_t = exc_o / raw_norm_o, exc_t / raw_norm_t
    use = np.isfinite(ref_t) & (np.abs(raw_norm_t) > 1e-3)
    assert_close(ref_o[use], ref_t[use], "npred_excess / norm", rel=FLOAT32_SUM_REL, abs_=1e-6)
    npred_o, npred_t = np.asarray(t_ours["npred"], float), np.asarray(t_theirs["npred"], float)
    ok = _same_nan(npred_t, npred_o, "npred")
    slack = np.abs(raw_norm_o - raw_norm_t) * np.where(np.isfinite(ref_t), np.abs(ref_t), 0)
    slack = np.broadcast_to(slack, npred_t.shape)[ok]
    npred_rel = NUISANCE_NPRED_REL if reoptimize else STAT_REL
    assert np.all(
        np.abs(npred_o[ok] - npred_t[ok]) <= slack + npred_rel * np.abs(npred_t[ok]) + 1e-9
    ), f"npred: gammapy {npred_t}, fluxpoints {npred_o}"

    if sensitivity:
        assert_close(
            t_ours["norm_sensitivity"],
            t_theirs["norm_sensitivity"],
            "norm_sensitivity",
            rel=SENSITIVITY_REL,
        )
