"""Classification metrics against scikit-learn on random weighted inputs, plus known answers."""
from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError
from storemind.evaluation import brier, log_loss, pr_auc, roc_auc


@st.composite
def labelled(draw, weighted: bool = True):
    n = draw(st.integers(2, 80))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    y[0], y[1] = 0, 1  # both classes
    # probabilities on a grid of 21 values, so that ties are common
    p = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))) / 20
    w = None
    if weighted and draw(st.booleans()):
        w = np.array(draw(st.lists(st.floats(0.5, 10), min_size=n, max_size=n)))
        if draw(st.booleans()):  # zero weights, but both classes keep weight
            w[2:][: n // 3] = 0.0
    return y, p, w


@settings(max_examples=100, deadline=None)
@given(labelled())
def test_roc_auc_matches_sklearn(data) -> None:
    y, p, w = data
    assert roc_auc(y, p, w) == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=1e-10)


@settings(max_examples=100, deadline=None)
@given(labelled())
def test_pr_auc_matches_sklearn(data) -> None:
    y, p, w = data
    expected = skm.average_precision_score(y, p, sample_weight=w)
    assert pr_auc(y, p, w) == pytest.approx(expected, abs=1e-10)


@settings(max_examples=100, deadline=None)
@given(labelled())
def test_log_loss_and_brier_match_sklearn(data) -> None:
    y, p, w = data
    assert log_loss(y, p, w) == pytest.approx(skm.log_loss(y, p, sample_weight=w), rel=1e-9)
    assert brier(y, p, w) == pytest.approx(
        skm.brier_score_loss(y, p, sample_weight=w), abs=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(labelled(weighted=False), st.integers(0, 2**31))
def test_auc_is_invariant_to_monotone_transforms_and_order(data, seed) -> None:
    y, p, _ = data
    perm = np.random.default_rng(seed).permutation(len(y))
    assert roc_auc(y[perm], p[perm]) == pytest.approx(roc_auc(y, p))
    assert roc_auc(y, np.exp(3 * p)) == pytest.approx(roc_auc(y, p))
    assert pr_auc(y, 2 * p + 1) == pytest.approx(pr_auc(y, p))
    assert roc_auc(y, -p) == pytest.approx(1 - roc_auc(y, p))
    for value in (roc_auc(y, p), pr_auc(y, p), brier(y, p)):
        assert 0.0 <= value <= 1.0


def test_known_answers() -> None:
    y = [0, 0, 1, 1]
    assert roc_auc(y, [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc(y, [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert roc_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    # positive-negative pairs ordered right: 0.3>0.1, 0.4>0.1, 0.4>0.35 (not 0.3>0.35)
    assert roc_auc(y, [0.1, 0.35, 0.3, 0.4]) == pytest.approx(3 / 4)
    # ranking 1, 0, 1: AP = 0.5 * 1 + 0.5 * 2/3
    assert pr_auc([1, 0, 1], [0.9, 0.5, 0.1]) == pytest.approx(0.5 + 1 / 3)
    assert brier([0, 1], [0.5, 0.5]) == pytest.approx(0.25)
    assert log_loss([0, 1], [0.5, 0.5]) == pytest.approx(np.log(2))


def test_weights_equal_to_repeating_rows() -> None:
    y, p = np.array([0, 1, 0, 1, 1]), np.array([0.2, 0.6, 0.7, 0.4, 0.9])
    w = np.array([3, 1, 2, 1, 2])
    rep_y, rep_p = np.repeat(y, w), np.repeat(p, w)
    for metric in (roc_auc, pr_auc, log_loss, brier):
        assert metric(y, p, w) == pytest.approx(metric(rep_y, rep_p))


def test_errors_are_clear() -> None:
    with pytest.raises(DataError, match="both classes"):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="binary"):
        pr_auc([0, 2], [0.1, 0.2])
    with pytest.raises(DataError, match="one length"):
        brier([0, 1], [0.1])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        log_loss([0, 1], [0.1, 1.2])
    with pytest.raises(DataError, match="NaN"):
        roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(DataError, match="weights >= 0"):
        brier([0, 1], [0.1, 0.2], sample_weight=[1, -1])
