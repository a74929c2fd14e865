# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""The compiled module: results of a known problem, and the GIL released while it solves."""

import threading
import time

import numpy as np
import pytest

from fluxpoints import _engine

# A worked example with closed-form checks elsewhere (Cash, identity response): counts, source
# counts at norm 1 and background of two reco bins, and the exact best fit of this group.
COUNTS = np.array([95.0, 60.0])
SOURCE = np.array([54.52297653, 22.99214856])
BACKGROUND = np.array([20.0, 10.0])
EXACT_NORM = 1.606972  # to the 7 digits it is known with
EXACT_UL = 1.945584


def one_group(**kwargs):
    zeros = np.zeros(2)
    return _engine.solve(
        COUNTS,
        SOURCE,
        BACKGROUND,
        zeros,
        zeros,
        np.array([0, 2]),
        np.array([0], dtype=np.uint8),
        np.array([0, 1]),
        **kwargs,
    )


def test_known_group():
    r = one_group(ul=True, errn_errp=True, scan_values=np.array([1.0, 2.0]))
    assert abs(r["norm"][0] - EXACT_NORM) < 1e-6
    assert abs(r["norm_ul"][0] - EXACT_UL) < 1e-6
    # The scan is the Cash statistic itself at those norms.
    for j, norm in enumerate((1.0, 2.0)):
        mu = norm * SOURCE + BACKGROUND
        assert np.isclose(r["stat_scan"][0, j], 2 * np.sum(mu - COUNTS * np.log(mu)), rtol=1e-14)
    assert r["success"][0] == 1 and r["counts"][0] == 155


def test_gil_is_released_while_solving():
    """A Python thread keeps running while another thread's solve is inside the engine: with the
    GIL held for the whole solve it could not run at all in the middle of it."""
    rng = np.random.default_rng(7)
    n_problems, bins = 12_000, 64
    n = n_problems * bins
    s = rng.uniform(0.1, 5, n)
    b = rng.uniform(0.5, 5, n)
    counts = rng.poisson(s + b).astype(float)
    zeros = np.zeros(n)
    segment_bins = np.arange(0, n + 1, bins, dtype=np.int64)
    kind = np.zeros(n_problems, dtype=np.uint8)
    problems = np.arange(n_problems + 1, dtype=np.int64)
    window = {}

    def solve():
        window["start"] = time.perf_counter()
        _engine.solve(
            counts,
            s,
            b,
            zeros,
            zeros,
            segment_bins,
            kind,
            problems,
            errn_errp=True,
            ul=True,
            scan_values=np.geomspace(0.2, 5, 30),
            backend="cpu",
            workers=1,
        )
        window["end"] = time.perf_counter()

    thread = threading.Thread(target=solve)
    thread.start()
    ticks = []
    while thread.is_alive():
        ticks.append(time.perf_counter())
        sum(range(200))  # some Python work between ticks
    thread.join()
    duration = window["end"] - window["start"]
    assert duration > 0.2, f"solve took {duration:.3f} s: too short to tell"
    middle = [
        t for t in ticks if window["start"] + 0.2 * duration < t < window["end"] - 0.2 * duration
    ]
    assert len(middle) > 100, f"{len(middle)} Python iterations during the middle of the solve"


def one_group_args():
    zeros = np.zeros(2)
    return (
        COUNTS,
        SOURCE,
        BACKGROUND,
        zeros,
        zeros,
        np.array([0, 2]),
        np.array([0], dtype=np.uint8),
        np.array([0, 1]),
    )


def test_submit_returns_what_solve_returns():
    kwargs = dict(ul=True, errn_errp=True, scan_values=np.array([1.0, 2.0]), backend="cpu")
    pending = _engine.submit(*one_group_args(), **kwargs)
    submitted = pending.result()
    solved = _engine.solve(*one_group_args(), **kwargs)
    for key in ("norm", "norm_err", "norm_ul", "norm_errn", "norm_errp", "stat", "stat_scan"):
        np.testing.assert_array_equal(submitted[key], solved[key], err_msg=key)
    with pytest.raises(RuntimeError, match="already collected"):
        pending.result()


def test_second_submit_before_collecting_is_an_error_not_a_deadlock():
    first = _engine.submit(*one_group_args(), backend="cpu", workers=3)
    with pytest.raises(RuntimeError, match="not collected"):
        _engine.submit(*one_group_args(), backend="cpu", workers=3)
    assert abs(first.result()["norm"][0] - EXACT_NORM) < 1e-6
    # The turn is back: the next submit runs.
    assert abs(_engine.submit(*one_group_args(), backend="cpu", workers=3).result()["norm"][0]
               - EXACT_NORM) < 1e-6


def test_submit_errors_surface_in_result_or_at_once():
    bad = list(one_group_args())
    bad[5] = np.array([0, 3])  # a segment past the last bin
    with pytest.raises(ValueError):
        _engine.submit(*bad, backend="cpu").result()


def test_dropping_an_uncollected_solve_gives_the_backend_back():
    """A PendingSolve dropped without result() waits for its solve (which reads the arrays it
    holds) and frees the backend for the next submit."""
    pending = _engine.submit(*one_group_args(), backend="cpu", workers=3)
    del pending
    again = _engine.submit(*one_group_args(), backend="cpu", workers=3)
    assert abs(again.result()["norm"][0] - EXACT_NORM) < 1e-6
