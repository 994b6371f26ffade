"""Binary classification metrics with sample weights: ROC-AUC, PR-AUC, log loss, Brier.

All functions take ``y`` (0/1 labels), ``p`` (scores or probabilities of the positive class)
and an optional non-negative ``sample_weight`` (the fraud benchmark re-weights legitimate rows).
They are plain numpy and agree with scikit-learn's ``roc_auc_score``,
``average_precision_score``, ``log_loss`` and ``brier_score_loss`` (checked by property tests).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.errors import DataError
from storemind.evaluation._checks import as_1d_float, as_binary, same_length, weights

__all__ = ["roc_auc", "pr_auc", "log_loss", "brier"]


def _inputs(y: Any, p: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_arr = as_binary(y, "y")
    p_arr = as_1d_float(p, "p")
    n = same_length(y=y_arr, p=p_arr)
    w = weights(sample_weight, n)
    return y_arr, p_arr, w


def _per_score(
    y: np.ndarray, p: np.ndarray, w: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weight at each distinct score, ascending by score."""
    keep = w > 0
    y, p, w = y[keep], p[keep], w[keep]
    _, inverse = np.unique(p, return_inverse=True)
    pos = np.bincount(inverse, weights=w * y)
    neg = np.bincount(inverse, weights=w * (1.0 - y))
    if pos.sum() <= 0 or neg.sum() <= 0:
        raise DataError(
            f"{metric}: expected both classes (0 and 1) with positive weight in y, got "
            f"positive weight {pos.sum():g} and negative weight {neg.sum():g}"
        )
    return pos, neg


def roc_auc(y: Any, p: Any, sample_weight: Any = None) -> float:
    """Area under the ROC curve.

    The probability that a random positive scores above a random negative, ties counting one
    half, each pair weighted by the product of its rows' weights:
    ``sum_i sum_j w_i w_j [y_i=1][y_j=0] (1[p_i>p_j] + 0.5 1[p_i=p_j]) / (W_pos W_neg)``.
    This equals the trapezoidal area under the weighted ROC curve (scikit-learn's
    ``roc_auc_score``).

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0 or 1.
    p : array-like of shape (n,)
        Scores; higher means more likely positive.
    sample_weight : array-like of shape (n,), optional
        Non-negative row weights.

    Returns
    -------
    float
        AUC in [0, 1].

    Raises
    ------
    DataError
        If the inputs differ in length, hold NaN, or ``y`` lacks one of the classes.
    """
    pos, neg = _per_score(*_inputs(y, p, sample_weight), metric="roc_auc")
    neg_below = np.cumsum(neg) - neg
    return float(np.sum(pos * (neg_below + 0.5 * neg)) / (pos.sum() * neg.sum()))


def pr_auc(y: Any, p: Any, sample_weight: Any = None) -> float:
    """Area under the precision-recall curve as average precision.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds in descending order,
    where ``P_n`` and ``R_n`` are the (weighted) precision and recall of predicting positive
    every row scoring at least the n-th threshold (scikit-learn's ``average_precision_score``;
    no interpolation). Rows of zero weight are ignored.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0 or 1.
    p : array-like of shape (n,)
        Scores; higher means more likely positive.
    sample_weight : array-like of shape (n,), optional
        Non-negative row weights.

    Returns
    -------
    float
        Average precision in [0, 1]; a random scorer gets about the positive rate.
    """
    pos, neg = _per_score(*_inputs(y, p, sample_weight), metric="pr_auc")
    tp = np.cumsum(pos[::-1])
    fp = np.cumsum(neg[::-1])
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def log_loss(y: Any, p: Any, sample_weight: Any = None) -> float:
    """Weighted mean negative log-likelihood of binary labels.

    ``-sum_i w_i (y_i log p_i + (1 - y_i) log(1 - p_i)) / sum_i w_i`` with ``p`` clipped to
    ``[eps, 1 - eps]``, ``eps`` the float64 machine epsilon (as scikit-learn's ``log_loss``).

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0 or 1.
    p : array-like of shape (n,)
        Predicted probabilities of the positive class, in [0, 1].
    sample_weight : array-like of shape (n,), optional
        Non-negative row weights.

    Returns
    -------
    float
        Log loss (natural log), >= 0; lower is better.
    """
    y_arr, p_arr, w = _inputs(y, p, sample_weight)
    _check_probabilities(p_arr)
    eps = np.finfo(np.float64).eps
    q = np.clip(p_arr, eps, 1.0 - eps)
    losses = -(y_arr * np.log(q) + (1.0 - y_arr) * np.log1p(-q))
    return float(np.sum(w * losses) / w.sum())


def brier(y: Any, p: Any, sample_weight: Any = None) -> float:
    """Weighted mean squared error of probabilities: ``sum_i w_i (p_i - y_i)^2 / sum_i w_i``.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0 or 1.
    p : array-like of shape (n,)
        Predicted probabilities of the positive class, in [0, 1].
    sample_weight : array-like of shape (n,), optional
        Non-negative row weights.

    Returns
    -------
    float
        Brier score in [0, 1]; lower is better.
    """
    y_arr, p_arr, w = _inputs(y, p, sample_weight)
    _check_probabilities(p_arr)
    return float(np.sum(w * (p_arr - y_arr) ** 2) / w.sum())


def _check_probabilities(p: np.ndarray) -> None:
    bad = (p < 0) | (p > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"p: expected probabilities in [0, 1], got {p[first]} at position {first}"
        )
