"""Golden numbers for every test statistic and interval of storemind.experiments.

Each reference number was produced by scipy 1.17.1 / statsmodels 0.15.0 with the call written
next to it, on the same seeded data built here.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError
from storemind.experiments import (
    benjamini_hochberg,
    cuped_test,
    power_means,
    power_proportions,
    proportion_test,
    ratio_test,
    sample_size_means,
    sample_size_proportions,
    srm_test,
    welch_test,
)

REL = 1e-9


def gamma_arms():
    rng = np.random.default_rng(7)
    return rng.gamma(2.0, 3.0, 40) + 0.8, rng.gamma(2.0, 3.0, 55)


def test_welch_matches_scipy():
    y_t, y_c = gamma_arms()
    r = welch_test(y_t, y_c)
    # scipy.stats.ttest_ind(y_t, y_c, equal_var=False) -> statistic, pvalue, df;
    # .confidence_interval(0.95) -> low, high
    assert r.statistic == pytest.approx(0.9448204875694723, rel=REL)
    assert r.p_value == pytest.approx(0.34749426836191066, rel=REL)
    assert r.df == pytest.approx(82.95811362347273, rel=REL)
    assert r.ci_low == pytest.approx(-0.7486757320454884, rel=REL)
    assert r.ci_high == pytest.approx(2.103579457647249, rel=REL)


def test_relative_lift_matches_statsmodels_delta_method():
    y_t, y_c = gamma_arms()
    r = welch_test(y_t, y_c)
    # statsmodels.stats._delta_method.NonlinearDeltaCov(lambda b: b[0]/b[1] - 1,
    #   [mean_t, mean_c], diag([var_t/n_t, var_c/n_c])): predicted, se_vectorized, conf_int(0.05)
    assert r.lift == pytest.approx(0.13348551, rel=1e-7)
    assert r.lift_se == pytest.approx(0.1492822, rel=1e-6)
    assert r.lift_ci_low == pytest.approx(-0.15910224, rel=1e-7)
    assert r.lift_ci_high == pytest.approx(0.42607325, rel=1e-7)


def test_proportions_match_statsmodels():
    r = proportion_test(130, 1000, 101, 980)
    # statsmodels.stats.proportion.proportions_ztest([130, 101], [1000, 980])
    assert r.statistic == pytest.approx(1.8669065932004472, rel=REL)
    assert r.p_value == pytest.approx(0.06191463298941761, rel=REL)
    # confint_proportions_2indep(130, 1000, 101, 980, method="wald", compare="diff")
    assert r.ci_low == pytest.approx(-0.0012892060157377074, rel=1e-8)
    assert r.ci_high == pytest.approx(0.055166757036145875, rel=REL)


def test_ratio_metric_matches_statsmodels_delta_method():
    rng = np.random.default_rng(11)
    x_t = rng.poisson(3, 300) + 1
    y_t = rng.gamma(1.0, 5.0, 300) * x_t * 1.1
    x_c = rng.poisson(3, 320) + 1
    y_c = rng.gamma(1.0, 5.0, 320) * x_c
    r = ratio_test(y_t, x_t, y_c, x_c)
    # per arm: NonlinearDeltaCov(lambda b: b[0]/b[1], [mean_y, mean_x], np.cov([y, x]) / n)
    # variant 5.510011135128296 (se 0.3248189793627285), control 5.107912350602404
    # (se 0.31549134711361104); the difference's se is the hypot of the two.
    assert r.mean_t == pytest.approx(5.510011135128296, rel=REL)
    assert r.mean_c == pytest.approx(5.107912350602404, rel=REL)
    assert r.diff == pytest.approx(0.4020987845258919, rel=REL)
    assert r.se == pytest.approx(0.4528158118460592, rel=REL)
    assert r.p_value == pytest.approx(0.3745427189827085, rel=1e-8)


def test_cuped_equals_ancova_regression():
    rng = np.random.default_rng(3)
    n = 500
    x = rng.normal(10, 3, 2 * n)
    t = np.r_[np.ones(n), np.zeros(n)]
    y = 2 + 0.8 * x + 0.5 * t + rng.normal(0, 1.5, 2 * n)
    c = cuped_test(y[:n], x[:n], y[n:], x[n:])
    # statsmodels.api.OLS(y, add_constant(column_stack([t, x]))).fit(cov_type="HC1"):
    # params [1.88103956, 0.52826723, 0.81286058], bse [0.17213345, 0.09284663, 0.01526315]
    assert c.result.diff == pytest.approx(0.52826723, rel=1e-7)
    assert c.theta == pytest.approx(0.81286058, rel=1e-7)
    assert c.result.se == pytest.approx(0.09284663, rel=1e-3)  # Welch on adjusted vs HC1
    raw = welch_test(y[:n], y[n:])
    assert c.result.se == pytest.approx(raw.se * np.sqrt(1 - c.variance_reduction), rel=1e-2)
    assert c.variance_reduction == pytest.approx(0.7370028688619888, rel=1e-9)


def test_srm_matches_scipy_chisquare_and_flags():
    s = srm_test({"a": 5050, "b": 4950, "c": 10240}, {"a": 1, "b": 1, "c": 2})
    # scipy.stats.chisquare([5050, 4950, 10240], [5060, 5060, 10120])
    assert s.statistic == pytest.approx(3.83399209486166, rel=REL)
    assert s.p_value == pytest.approx(0.14704802462463717, rel=REL)
    assert not s.flagged
    bad = srm_test({"control": 10321, "treatment": 9679})
    # scipy.stats.chisquare([10321, 9679]) -> 20.6082, p 5.635422090724276e-06
    assert bad.statistic == pytest.approx(20.6082, rel=REL)
    assert bad.p_value == pytest.approx(5.635422090724276e-06, rel=1e-8)
    assert bad.flagged and "MISMATCH" in bad.message


def test_benjamini_hochberg_matches_statsmodels():
    pv = [0.01, 0.04, 0.03, 0.005, 0.2, 0.049]
    reject, adj = benjamini_hochberg(pv)
    # statsmodels.stats.multitest.multipletests(pv, alpha=0.05, method="fdr_bh")
    assert reject.tolist() == [True, False, False, True, False, False]
    np.testing.assert_allclose(adj, [0.03, 0.0588, 0.0588, 0.03, 0.2, 0.0588], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_bh_adjusted_values_are_monotone_and_bounded(pv):
    _, adj = benjamini_hochberg(pv)
    p = np.asarray(pv)
    assert (adj >= p - 1e-15).all() and (adj <= 1).all()
    order = np.argsort(p, kind="stable")
    assert (np.diff(adj[order]) >= -1e-12).all()


def test_power_and_sample_size_match_statsmodels():
    # statsmodels.stats.power.NormalIndPower().solve_power(effect_size=0.1, alpha=0.05,
    #   power=0.8, ratio=1.0) -> 1569.77 ; ratio=2.0 -> 1177.33 (we round up)
    assert sample_size_means(0.2, 2.0) == 1570
    assert sample_size_means(0.2, 2.0, ratio=2.0) == 1178
    # NormalIndPower().power(effect_size=0.1, nobs1=1000, alpha=0.05, ratio=1.5)
    assert float(power_means(0.2, 2.0, 1000, ratio=1.5)) == pytest.approx(0.687770420076401,
                                                                          rel=1e-10)
    # statsmodels.stats.proportion.power_proportions_2indep(diff=-0.01, prop2=0.06,
    #   nobs1=5000, ratio=1.0).power  (p1 = 0.05 is our control) ; ratio=2.0 -> 0.70982...
    assert float(power_proportions(0.05, 0.01, 5000)) == pytest.approx(0.5922382906747239,
                                                                        rel=1e-10)
    assert float(power_proportions(0.05, 0.01, 5000, ratio=2.0)) == pytest.approx(
        0.7098207867308672, rel=1e-10)
    # samplesize_proportions_2indep_onetail(diff=-0.01, prop2=0.06, power=0.8, ratio=1,
    #   alpha=0.05, alternative="two-sided") -> 8157.73
    assert sample_size_proportions(0.05, 0.01) == 8158
    assert sample_size_proportions(0.05, 0.2, relative=True) == 8158


def test_clear_errors_on_bad_input():
    with pytest.raises(DataError, match="at least 2 units"):
        welch_test([1.0], [1.0, 2.0])
    with pytest.raises(DataError, match="missing/infinite"):
        welch_test([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(DataError, match="successes"):
        proportion_test(5, 3, 1, 10)
    with pytest.raises(DataError, match="no designed weight"):
        srm_test({"a": 1, "b": 2, "zz": 3}, {"a": 1, "b": 1})
    with pytest.raises(DataError, match="one covariate value per unit"):
        cuped_test([1, 2, 3], [1, 2], [1, 2], [1, 2])
    with pytest.raises(DataError, match="in \\[0, 1\\]"):
        benjamini_hochberg([0.1, 1.5])
    with pytest.raises(DataError, match="proportions must lie"):
        power_proportions(0.95, 0.1, 100)
