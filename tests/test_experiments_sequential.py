"""A/A simulations: false positives of the fixed-horizon, naive-peeking and sequential tests,
and the always-valid confidence sequence's contract."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.experiments import (
    always_valid_p,
    confidence_sequence,
    cs_multiplier,
    sequential_path,
    welch_from_stats,
)

RUNS, DAYS, PER_DAY, RATE = 600, 14, 400, 0.05


def aa_daily(seed: int = 0):
    """Cumulative daily conversions of two identical arms: (diff, se, n) arrays (RUNS, DAYS)."""
    rng = np.random.default_rng(seed)
    n = PER_DAY * np.arange(1, DAYS + 1)
    xt = rng.binomial(PER_DAY, RATE, (RUNS, DAYS)).cumsum(1)
    xc = rng.binomial(PER_DAY, RATE, (RUNS, DAYS)).cumsum(1)
    pt, pc = xt / n, xc / n
    w = welch_from_stats(pt, pt * (1 - pt) * n / (n - 1), n, pc, pc * (1 - pc) * n / (n - 1), n)
    return w, 2 * n


def binomial_band(p: float, runs: int = RUNS, k: float = 3.0) -> tuple[float, float]:
    se = np.sqrt(p * (1 - p) / runs)
    return p - k * se, p + k * se


def test_aa_false_positive_rates():
    w, n = aa_daily()
    fixed = float(np.mean(w["p_value"][:, -1] < 0.05))
    naive = float(np.mean((w["p_value"] < 0.05).any(axis=1)))
    lo, hi = confidence_sequence(w["diff"], w["se"], n, 0.05, t_star=PER_DAY * 2 * DAYS)
    seq = float(np.mean(((lo > 0) | (hi < 0)).any(axis=1)))
    # fixed horizon: 0.05 within 3 binomial standard errors of 600 runs
    lo_band, hi_band = binomial_band(0.05)
    assert lo_band <= fixed <= hi_band, fixed
    # peeking daily with the naive test inflates the rate far above 0.05 (about 0.2 here)
    assert naive > 0.12, naive
    # the confidence sequence keeps it at or below 0.05 under daily peeking
    assert seq <= hi_band, seq


def test_confidence_sequence_is_wider_than_fixed_interval_and_p_agrees():
    n = np.array([100, 1_000, 10_000, 100_000])
    m = cs_multiplier(n, 0.05, t_star=10_000)
    assert (m > 1.96).all()
    assert np.argmin(np.abs(np.diff(m))) >= 0  # finite and ordered numbers
    diff, se = 0.3, 0.1
    for k in n:
        low, high = confidence_sequence(diff, se, k)
        p = always_valid_p(diff, se, k)
        assert (p < 0.05) == (low > 0 or high < 0)


def test_sequential_path_intersects_and_keeps_running_minimum():
    looks = pd.DataFrame({"n": [100, 200, 300], "diff": [0.5, -0.2, 0.1],
                          "se": [0.3, 0.2, 0.15]})
    out = sequential_path(looks)
    assert (np.diff(out.cs_low) >= 0).all() and (np.diff(out.cs_high) <= 0).all()
    assert (np.diff(out.p_value) <= 0).all()
    with pytest.raises(Exception, match="needs columns"):
        sequential_path(pd.DataFrame({"n": [1]}))
