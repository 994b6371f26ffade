"""Group-sequential tests with Lan-DeMets alpha spending: boundaries against published numbers
and an independent integrator, A/A false-positive rate under daily peeking, and power."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from storemind.errors import DataError
from storemind.experiments import (
    alpha_spent,
    crossing_probabilities,
    group_sequential_path,
    group_sequential_test,
    spending_boundaries,
    welch_from_stats,
)

FIVE = np.array([0.2, 0.4, 0.6, 0.8, 1.0])


def mvn_crossing(bounds, t, drift=0.0, side="upper", two_sided=True):
    """P(first crossing at each look) by scipy's Genz integration of the joint normal law of
    (Z_1, ..., Z_k), corr sqrt(t_j / t_k): an integrator independent of ours."""
    t = np.asarray(t, float)
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    out = []
    for k in range(t.size):
        mv = stats.multivariate_normal(drift * np.sqrt(t[: k + 1]), corr[: k + 1, : k + 1],
                                       abseps=1e-9, releps=1e-8, maxpts=10**5)
        lower = -bounds[:k] if two_sided else np.full(k, -np.inf)
        if side == "upper":
            lo, hi = np.r_[lower, bounds[k]], np.r_[bounds[:k], np.inf]
        else:
            lo, hi = np.r_[lower, -np.inf], np.r_[bounds[:k], -bounds[k]]
        out.append(mv.cdf(hi, lower_limit=lo))
    return np.array(out)


# --- golden numbers --------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, expected", [
    # rpact's unit tests, tests/testthat/test-f_design_group_sequential.R (rpact-com/rpact),
    # tolerance 1e-7 there:
    # x7e: getDesignGroupSequential(kMax=3, alpha=0.09, sided=2, typeOfDesign="asOF",
    #      informationRates=c(0.4, 0.65, 1), bindingFutility=FALSE, ...)$criticalValues
    (dict(info_fractions=[0.4, 0.65, 1], alpha=0.09), [2.9623919, 2.2442359, 1.7391729]),
    # x6a: getDesignGroupSequential(kMax=3, alpha=0.13, typeOfDesign="asP",
    #      informationRates=c(0.35, 0.7, 1), bindingFutility=FALSE, ...)  (one-sided)
    (dict(info_fractions=[0.35, 0.7, 1], alpha=0.13, spending="pocock", two_sided=False),
     [1.5446617, 1.4828682, 1.4620058]),
    # x6b: getDesignGroupSequential(informationRates=c(0.4, 0.7), typeOfDesign="asP")
    #      (one-sided alpha 0.025; the last look is at 70 % of the information)
    (dict(info_fractions=[0.4, 0.7], alpha=0.025, spending="pocock", two_sided=False),
     [2.223875, 2.3050796]),
    # dl1: getDesignGroupSequential(kMax=3, alpha=0.05, sided=1, typeOfDesign="asP",
    #      informationRates=c(0.4, 0.65, 1), bindingFutility=FALSE, ...)
    (dict(info_fractions=[0.4, 0.65, 1], alpha=0.05, spending="pocock", two_sided=False),
     [1.9405431, 2.0327662, 1.9734104]),
])
def test_boundaries_match_rpact(kwargs, expected):
    assert spending_boundaries(**kwargs) == pytest.approx(expected, abs=2e-7)


def test_obrien_fleming_four_and_five_looks_match_published_values():
    # R GroupSeq tests/testthat/test-GroupSeq.R (rpahl/GroupSeq, computeAlphaLevel test): the
    # Lan-DeMets OBF-type two-sided 0.05 bounds for 4 equal looks, from the ldbounds-style
    # Fortran grid (step 0.05, so agreement to about 1e-4).
    assert spending_boundaries(np.arange(1, 5) / 4) == pytest.approx(
        [4.332634, 2.963129, 2.35902, 2.014057], abs=1e-4)
    # 5 equal looks, the textbook ldbounds / gsDesign(k=5, test.type=2, sfu=sfLDOF) values
    assert spending_boundaries(FIVE).round(3) == pytest.approx(
        [4.877, 3.357, 2.680, 2.290, 2.031], abs=1e-9)
    # one look is the fixed-horizon test
    assert spending_boundaries([1.0])[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-8)


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_boundaries_spend_exactly_alpha_by_independent_integration(spending):
    b = spending_boundaries(FIVE, spending=spending)
    target = np.diff(alpha_spent(FIVE, 0.05, spending), prepend=0) / 2
    # scipy's multivariate-normal CDF (Genz) reproduces the per-look spending of our recursion
    assert mvn_crossing(b, FIVE) == pytest.approx(target, abs=2e-7)
    if spending == "pocock":
        # Pocock-type, 5 equal looks, two-sided 0.05 (measured here; same convention as rpact
        # "asP"/gsDesign sfLDPocock, checked by the Genz integration just above)
        assert b.round(4) == pytest.approx([2.4380, 2.4268, 2.4102, 2.3966, 2.3860], abs=1e-9)


def test_crossing_probabilities_under_drift_match_independent_integration():
    b = np.array([4.332634, 2.963129, 2.35902, 2.014057])
    t = np.arange(1, 5) / 4
    ours = crossing_probabilities(b, t, drift=0.5)
    assert ours["upper"].to_numpy() == pytest.approx(mvn_crossing(b, t, 0.5), abs=1e-7)
    assert ours["lower"].to_numpy() == pytest.approx(mvn_crossing(b, t, 0.5, "lower"), abs=1e-7)
    # under the null the boundaries of spending_boundaries spend alpha exactly
    t14 = np.arange(1, 15) / 14
    for sp in ("obrien_fleming", "pocock"):
        null = crossing_probabilities(spending_boundaries(t14, spending=sp), t14)
        assert null["cumulative"].iloc[-1] == pytest.approx(0.05, abs=1e-8)


def test_alpha_spent_shapes():
    t = np.linspace(0, 1.5, 16)
    for sp in ("obrien_fleming", "pocock"):
        a = alpha_spent(t, 0.05, sp)
        assert a[0] == 0 and (np.diff(a) >= 0).all() and a[-1] == pytest.approx(0.05)
        assert alpha_spent(1.0, 0.05, sp, two_sided=False) == pytest.approx(0.05)
    # OBF spends far less early than Pocock
    assert alpha_spent(0.2, spending="obrien_fleming") < alpha_spent(0.2, spending="pocock") / 100


# --- A/A under daily peeking, and power --------------------------------------------------------

RUNS, DAYS, PER_DAY, RATE = 1000, 14, 400, 0.05


def daily_z(rate_t: float, seed: int, per_day=PER_DAY, runs=RUNS):
    """Cumulative daily Welch z of a conversion experiment, shape (runs, DAYS)."""
    rng = np.random.default_rng(seed)
    n = per_day * np.arange(1, DAYS + 1)
    xt = rng.binomial(per_day, rate_t, (runs, DAYS)).cumsum(1)
    xc = rng.binomial(per_day, RATE, (runs, DAYS)).cumsum(1)
    pt, pc = xt / n, xc / n
    w = welch_from_stats(pt, pt * (1 - pt) * n / (n - 1), n, pc, pc * (1 - pc) * n / (n - 1), n)
    return w["diff"] / w["se"], 2 * n


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_aa_false_positive_rate_under_daily_peeking(spending):
    z, n = daily_z(RATE, seed=3)
    b = spending_boundaries(n / n[-1], spending=spending)
    fpr = float(np.mean((np.abs(z) >= b).any(axis=1)))
    se = np.sqrt(0.05 * 0.95 / RUNS)
    assert 0.05 - 3 * se <= fpr <= 0.05 + 3 * se, fpr
    # the same data with the naive daily test: far above 0.05
    assert float(np.mean((np.abs(z) >= 1.959964).any(axis=1))) > 0.12


def test_aa_with_unequal_daily_traffic_uses_observed_fractions():
    # Brownian motion observed at random, unequal daily sample sizes (weekend dips), each run
    # with its own boundaries from its own information fractions.
    rng = np.random.default_rng(5)
    runs, hits = 300, 0
    weekly = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.4])
    for _ in range(runs):
        per_day = rng.poisson(500 * np.tile(weekly, 2) * rng.uniform(0.5, 1.5))
        n = np.cumsum(per_day)
        s = np.cumsum(rng.normal(0, np.sqrt(per_day)))
        res = group_sequential_test(s / np.sqrt(n), n, spending="pocock")
        hits += res.significant
    se = np.sqrt(0.05 * 0.95 / runs)
    assert abs(hits / runs - 0.05) <= 3 * se, hits / runs


def test_power_real_effect_is_detected_and_matches_prediction():
    z, n = daily_z(0.065, seed=4, runs=400)  # +30 % on a 5 % conversion rate
    t = n / n[-1]
    b = spending_boundaries(t)
    rejected = (np.abs(z) >= b).any(axis=1)
    # drift = expected z at the end: diff / se with se from the binomial variances
    drift = 0.015 / np.sqrt((0.065 * 0.935 + 0.05 * 0.95) / (PER_DAY * DAYS))
    predicted = crossing_probabilities(b, t, drift)["cumulative"].iloc[-1]
    assert predicted > 0.85 and rejected.mean() > 0.8
    assert abs(rejected.mean() - predicted) <= 3 * np.sqrt(predicted * (1 - predicted) / 400)
    # the test often stops before the last day
    first = np.argmax(np.abs(z) >= b, axis=1)[rejected]
    assert np.mean(first < DAYS - 1) > 0.5


# --- the result object and bad input -----------------------------------------------------------

def test_group_sequential_test_result_and_path():
    n = np.array([1000, 2500, 4000, 6000])
    z = np.array([1.0, 3.5, 3.1, 1.0])  # boundaries 6.23, 3.84, 2.97, 2.36
    res = group_sequential_test(z, n, planned_n=8000)
    assert res.info_fractions[-1] == pytest.approx(0.75)
    assert res.alpha_spent[-1] < 0.05  # only the fractions reached are spent
    assert res.crossed.tolist() == [False, False, True, False]
    assert res.first_crossing == 2 and res.significant
    assert (res.nominal_alpha < 0.05).all()
    frame = res.to_frame()
    assert list(frame.columns[:4]) == ["n", "info_fraction", "z", "boundary"]
    assert res.to_dict()["first_crossing"] == 2
    none = group_sequential_test([0.5, -1.0], [100, 200])
    assert none.first_crossing is None and not none.significant
    # one-sided tests only cross upwards
    assert group_sequential_test([-5.0], [10], two_sided=False).first_crossing is None
    # more data than planned: the first look past the plan spends the rest, later ones nothing
    over = group_sequential_test([0.0, 0.0, 0.0], [50, 110, 150], planned_n=100)
    assert np.isfinite(over.boundaries[1]) and np.isinf(over.boundaries[2])
    looks = pd.DataFrame({"n": [1000, 2000], "diff": [0.1, 0.5], "se": [0.1, 0.1]})
    path = group_sequential_path(looks)
    assert path["z"].tolist() == pytest.approx([1.0, 5.0])
    assert path["significant"].tolist() == [False, True]


@pytest.mark.parametrize("call, match", [
    (lambda: spending_boundaries([0.5, 0.5, 1.0]), "strictly increasing"),
    (lambda: spending_boundaries([]), "non-empty"),
    (lambda: spending_boundaries([0.5, 1.0], spending="haybittle"), "spending must be"),
    (lambda: spending_boundaries([1.0], alpha=1.5), "alpha must be"),
    (lambda: group_sequential_test([1.0, 2.0], [10]), "one value per look"),
    (lambda: group_sequential_test([np.nan], [10]), "finite"),
    (lambda: group_sequential_test([1.0], [10], planned_n=0), "planned_n"),
    (lambda: crossing_probabilities([2.0], [0.5, 1.0]), "one per look"),
    (lambda: group_sequential_path(pd.DataFrame({"n": [1]})), "needs columns"),
    (lambda: group_sequential_path(pd.DataFrame({"n": [1], "diff": [1], "se": [0]})), "se"),
])
def test_bad_input_is_refused_with_a_clear_error(call, match):
    with pytest.raises(DataError, match=match):
        call()
