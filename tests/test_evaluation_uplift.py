"""Uplift metrics: hand-computed Qini example, scikit-uplift golden numbers, properties."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError
from storemind.evaluation import (
    auuc,
    perfect_qini_curve,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)

# Tiny example worked by hand (rows: treated responder, treated non-responder, control
# responder, control non-responder). Descending score: rows 0, 2, 3, 1.
Y4 = [1, 0, 1, 0]
T4 = [1, 1, 0, 0]
S4 = [0.9, 0.1, 0.5, 0.3]

# 20 rows for golden numbers from scikit-uplift 0.5.1
Y = np.array([1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0])
T = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0])
S = np.array([0.9, 0.3, 0.2, 0.1, 0.5, 0.8, 0.4, 0.6, 0.2, 0.7,
              0.6, 0.3, 0.95, 0.05, 0.45, 0.35, 0.25, 0.15, 0.55, 0.65])


def test_qini_curve_by_hand() -> None:
    # n=1: Y_t=1, N_c=0 -> 1; n=2: 1 - 1*1/1 = 0; n=3: 1 - 1*1/2 = 0.5; n=4: 1 - 1*2/2 = 0
    x, q = qini_curve(Y4, T4, S4)
    np.testing.assert_allclose(x, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(q, [0, 1, 0, 0.5, 0])


def test_perfect_qini_curve_and_coefficient_by_hand() -> None:
    # perfect scores +1 (treated responder), 0, 0, -1 (control responder): points n=1,3,4
    x, q = perfect_qini_curve(Y4, T4)
    np.testing.assert_allclose(x, [0, 1, 3, 4])
    np.testing.assert_allclose(q, [0, 1, 1, 0])
    # model area 1.5, perfect area 3, random line ends at Q(4)=0 (area 0) -> 0.5
    assert qini_coefficient(Y4, T4, S4) == pytest.approx(0.5)


def test_uplift_curve_by_hand() -> None:
    # U(n) = (Y_t/N_t - Y_c/N_c) * n: n=1: 1; n=2: (1-1)*2=0; n=3: (1-0.5)*3=1.5; n=4: 0
    x, u = uplift_curve(Y4, T4, S4)
    np.testing.assert_allclose(x, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(u, [0, 1, 0, 1.5, 0])


def test_tied_scores_enter_together() -> None:
    x, q = qini_curve([1, 0, 0, 1], [1, 0, 1, 0], [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(x, [0, 2, 4])
    np.testing.assert_allclose(q, [0, 1, 0])


def test_uplift_at_k_by_hand() -> None:
    # top 2 of 4 (k=0.5): rows 0 (treated, 1) and 2 (control, 1) -> 1 - 1 = 0
    assert uplift_at_k(Y4, T4, S4, k=0.5) == 0.0
    # top 3 (k=3): treated mean 1, control mean (1 + 0) / 2 -> 0.5
    assert uplift_at_k(Y4, T4, S4, k=3) == 0.5


# Golden numbers from scikit-uplift 0.5.1 (the `bench` extra) on the Y, S, T above, measured with
# `python3.11 -m venv /tmp/sklref && /tmp/sklref/bin/pip install scikit-uplift==0.5.1 --no-deps`
# and `PYTHONPATH=.venv/lib/python3.11/site-packages /tmp/sklref/bin/python`:
#   sklift.metrics.qini_auc_score(Y, S, T)                       -> 0.6634353741496598
#   sklift.metrics.qini_auc_score(Y, S, T, negative_effect=False) -> 2.3220238095238095
#   sklift.metrics.uplift_auc_score(Y, S, T)                     -> 0.6380504979769687
#   sklift.metrics.uplift_at_k(Y, S, T, strategy="overall", k=k) -> 1.0 (k=0.3), 1.0 (k=7),
#       0.8333333333333334 (k=0.5), 0.2698412698412699 (k=0.8)
#   sklift.metrics.uplift_at_k(Y, S, T, strategy="by_group", k=0.5) -> 0.8
# (A 300-case random comparison of all of these, ties included, agreed to 3e-12.)
def test_matches_scikit_uplift_golden_numbers() -> None:
    assert qini_coefficient(Y, T, S) == pytest.approx(0.6634353741496598, rel=1e-12)
    assert qini_coefficient(Y, T, S, negative_effect=False) == pytest.approx(
        2.3220238095238095, rel=1e-12
    )
    assert auuc(Y, T, S) == pytest.approx(0.6380504979769687, rel=1e-12)
    assert uplift_at_k(Y, T, S, k=0.3) == pytest.approx(1.0)
    assert uplift_at_k(Y, T, S, k=7) == pytest.approx(1.0)
    assert uplift_at_k(Y, T, S, k=0.5) == pytest.approx(0.8333333333333334)
    assert uplift_at_k(Y, T, S, k=0.8) == pytest.approx(0.2698412698412699)
    assert uplift_at_k(Y, T, S, k=0.5, strategy="by_group") == pytest.approx(0.8)


@st.composite
def experiments(draw):
    n = draw(st.integers(4, 60))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    t = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    # one of each kind first: treated responder, control non-responder, treated
    # non-responder, control responder (so no curve is degenerate)
    y[:4], t[:4] = [1, 0, 0, 1], [1, 0, 1, 0]
    return y, t


@settings(max_examples=60, deadline=None)
@given(experiments())
def test_perfect_scores_give_one_and_curves_end_at_overall_effect(data) -> None:
    y, t = data
    perfect = y * t - y * (1 - t)
    assert qini_coefficient(y, t, perfect) == pytest.approx(1.0)
    x, q = qini_curve(y, t, np.random.default_rng(0).random(len(y)))
    assert x[0] == 0 and q[0] == 0 and x[-1] == len(y)
    overall = y[t == 1].sum() - y[t == 0].sum() * (t == 1).sum() / (t == 0).sum()
    assert q[-1] == pytest.approx(overall)


@settings(max_examples=60, deadline=None)
@given(experiments(), st.integers(0, 2**31))
def test_scores_depend_only_on_ranking(data, seed) -> None:
    y, t = data
    s = np.random.default_rng(seed).normal(size=len(y))
    for metric in (qini_coefficient, auuc):
        assert metric(y, t, np.exp(s) * 3 + 1) == pytest.approx(metric(y, t, s))


def test_errors_are_clear() -> None:
    with pytest.raises(DataError, match="both treated"):
        qini_coefficient([1, 0], [1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="binary"):
        auuc([2, 0], [1, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="one length"):
        qini_curve([1, 0, 1], [1, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="k: expected"):
        uplift_at_k(Y4, T4, S4, k=1.5)
    with pytest.raises(DataError, match="both groups"):
        uplift_at_k(Y4, T4, S4, k=1)  # the top row is treated only
    with pytest.raises(DataError, match="no area"):
        qini_coefficient([0, 0, 0, 0], T4, S4)
