"""Score thresholds chosen from a business target: a review budget, a precision or a recall."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.errors import DataError

__all__ = ["choose_threshold", "precision_recall_at"]


def _arrays(y: Any, scores: Any, sample_weight: Any = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float).ravel()
    yy = np.zeros_like(s) if y is None else np.asarray(y, dtype=float).ravel()
    w = np.ones_like(s) if sample_weight is None else np.asarray(sample_weight, float).ravel()
    if not (s.size == yy.size == w.size) or s.size == 0:
        raise DataError(f"scores, labels and weights must be non-empty and of one length; got "
                        f"{s.size}, {yy.size}, {w.size}")
    if np.isnan(s).any():
        raise DataError("scores contain NaN")
    return yy, s, w


def precision_recall_at(y: Any, scores: Any, threshold: float,
                        sample_weight: Any = None) -> dict[str, float]:
    """Share flagged, precision and recall when payments scoring ``>= threshold`` are flagged."""
    yy, s, w = _arrays(y, scores, sample_weight)
    flag = s >= threshold
    tp = float((w * yy * flag).sum())
    flagged = float((w * flag).sum())
    pos = float((w * yy).sum())
    return {"threshold": float(threshold), "flagged_rate": flagged / float(w.sum()),
            "precision": tp / flagged if flagged else float("nan"),
            "recall": tp / pos if pos else float("nan")}


def choose_threshold(scores: Any, y: Any = None, *, review_rate: float | None = None,
                     precision: float | None = None, recall: float | None = None,
                     sample_weight: Any = None) -> float:
    """The score threshold (flag when ``score >= threshold``) that meets one target.

    Parameters
    ----------
    scores : array-like
        Scores of a representative set of payments (e.g. a recent holdout).
    y : array-like, optional
        Labels (1 = fraud); needed for ``precision`` and ``recall`` targets.
    review_rate : float, optional
        Flag at most this share of payments (a review budget such as 0.01); when the highest
        group of tied scores alone is larger, that group.
    precision : float, optional
        The lowest threshold whose precision reaches this (most recall at that precision);
        ``inf`` when no threshold does.
    recall : float, optional
        The highest threshold whose recall reaches this (fewest flags at that recall).
    sample_weight : array-like, optional

    Returns
    -------
    float
    """
    given = [v is not None for v in (review_rate, precision, recall)]
    if sum(given) != 1:
        raise DataError("give exactly one target: review_rate, precision or recall")
    target = next(v for v in (review_rate, precision, recall) if v is not None)
    if not 0 < float(target) <= 1:
        raise DataError(f"the target must be in (0, 1]; got {target}")
    if (precision is not None or recall is not None) and y is None:
        raise DataError("precision and recall targets need labels y")
    yy, s, w = _arrays(y, scores, sample_weight)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted, w_sorted = s[order], yy[order], w[order]
    # cut points: after the last of each run of equal scores
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    flagged = np.cumsum(w_sorted)[last]
    tp = np.cumsum(w_sorted * y_sorted)[last]
    cut_scores = s_sorted[last]
    if review_rate is not None:
        ok = flagged / w.sum() <= review_rate + 1e-12
        # when the top group of tied scores alone exceeds the budget, it is flagged anyway
        return float(cut_scores[ok][-1]) if ok.any() else float(cut_scores[0])
    if precision is not None:
        prec = tp / flagged
        ok = prec >= precision - 1e-12
        return float(cut_scores[ok][-1]) if ok.any() else float("inf")
    pos = w_sorted @ y_sorted
    if pos <= 0:
        raise DataError("a recall target needs at least one fraud label")
    ok = tp / pos >= float(recall) - 1e-12
    return float(cut_scores[ok][0])
