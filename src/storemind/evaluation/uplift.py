"""Uplift metrics: Qini and uplift curves, Qini coefficient, AUUC, uplift@k.

Inputs everywhere: ``y`` the outcome (0/1 for the normalised scores), ``treatment`` 0/1 (1 =
received the treatment/offer), ``score`` the predicted uplift (higher = target first).

The definitions follow scikit-uplift 0.5.1 (``sklift.metrics``) so that our numbers can be put
next to published scikit-uplift numbers; the code is our own:

* curves are evaluated at each distinct score (rows with tied scores enter together), with a
  point (0, 0) prepended;
* :func:`qini_coefficient` is sklift's ``qini_auc_score``: the area between the model's Qini
  curve and the random line, divided by the same area for the perfect model;
* :func:`auuc` is sklift's ``uplift_auc_score`` (the same normalisation on the uplift curve);
* :func:`uplift_at_k` is sklift's ``uplift_at_k`` (``strategy="overall"`` by default).
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from storemind.errors import DataError
from storemind.evaluation._checks import as_1d_float, as_binary, same_length

__all__ = [
    "qini_curve",
    "perfect_qini_curve",
    "uplift_curve",
    "perfect_uplift_curve",
    "qini_coefficient",
    "auuc",
    "uplift_at_k",
]


def _inputs(
    y: Any, treatment: Any, score: Any | None, binary_y: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y_arr = as_binary(y, "y") if binary_y else as_1d_float(y, "y")
    t_arr = as_binary(treatment, "treatment")
    arrays = {"y": y_arr, "treatment": t_arr}
    s_arr = None
    if score is not None:
        s_arr = as_1d_float(score, "score")
        arrays["score"] = s_arr
    same_length(**arrays)
    n_t = int(t_arr.sum())
    if n_t == 0 or n_t == len(t_arr):
        raise DataError(
            f"treatment: expected both treated (1) and control (0) rows, got {n_t} treated "
            f"of {len(t_arr)}"
        )
    return y_arr, t_arr, s_arr


def _descending(score: np.ndarray) -> np.ndarray:
    """Order by descending score; among equal scores the later row comes first (as sklift)."""
    return np.argsort(score, kind="stable")[::-1]


def _cumulative(
    y: np.ndarray, treatment: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts and outcome sums of the top n rows, at each distinct-score threshold."""
    order = _descending(score)
    y, treatment, score = y[order], treatment[order], score[order]
    ends = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]
    n_all = (ends + 1).astype(np.float64)
    n_t = np.cumsum(treatment)[ends]
    y_t = np.cumsum(y * treatment)[ends]
    y_c = np.cumsum(y * (1.0 - treatment))[ends]
    return n_all, n_t, n_all - n_t, y_t, y_c


def _start_at_origin(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, x], np.r_[0.0, v]


def qini_curve(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve (Radcliffe, 2007): incremental responders when targeting by descending score.

    ``Q(n) = Y_t(n) - Y_c(n) * N_t(n) / N_c(n)`` where, among the n highest-scored rows,
    ``Y_t``/``Y_c`` are the summed outcomes of treated/control rows and ``N_t``/``N_c`` their
    counts (``Q = Y_t`` while ``N_c = 0``). Evaluated at every distinct score, from (0, 0).

    Parameters
    ----------
    y : array-like of shape (n,)
        Outcomes (binary or continuous).
    treatment : array-like of shape (n,)
        1 for treated rows, 0 for control rows.
    score : array-like of shape (n,)
        Predicted uplift.

    Returns
    -------
    n_targeted : ndarray
        Number of rows targeted at each point (0 first, n last).
    qini : ndarray
        ``Q(n)`` at each point.
    """
    y_arr, t_arr, s_arr = _inputs(y, treatment, score, binary_y=False)
    n_all, n_t, n_c, y_t, y_c = _cumulative(y_arr, t_arr, s_arr)
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c > 0)
    return _start_at_origin(n_all, y_t - y_c * ratio)


def uplift_curve(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: ``U(n) = (Y_t(n) / N_t(n) - Y_c(n) / N_c(n)) * n``.

    The response-rate difference among the n highest-scored rows, scaled by n (a rate whose
    group is empty counts as 0). Evaluated at every distinct score, from (0, 0).

    Parameters
    ----------
    y, treatment, score
        As in :func:`qini_curve`.

    Returns
    -------
    n_targeted, uplift : ndarray
    """
    y_arr, t_arr, s_arr = _inputs(y, treatment, score, binary_y=False)
    n_all, n_t, n_c, y_t, y_c = _cumulative(y_arr, t_arr, s_arr)
    rate_t = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t > 0)
    rate_c = np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c > 0)
    return _start_at_origin(n_all, (rate_t - rate_c) * n_all)


def perfect_qini_curve(
    y: Any, treatment: Any, negative_effect: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve of the perfect model for binary outcomes (as sklift's ``perfect_qini_curve``).

    With ``negative_effect=True`` the perfect model scores treated responders first (+1),
    control responders last (-1) and everyone else in between (0). With ``False`` the curve
    rises straight to the overall incremental gain ``Q(N)`` at ``x = Q(N)`` and stays flat.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcomes.
    treatment : array-like of shape (n,)
        1 for treated rows, 0 for control rows.
    negative_effect : bool, default True
        Whether the perfect curve includes the negative effect of treating control responders.

    Returns
    -------
    n_targeted, qini : ndarray
    """
    y_arr, t_arr, _ = _inputs(y, treatment, None, binary_y=True)
    if not isinstance(negative_effect, bool):
        raise DataError(f"negative_effect: expected True or False, got {negative_effect!r}")
    if negative_effect:
        return qini_curve(y_arr, t_arr, y_arr * t_arr - y_arr * (1.0 - t_arr))
    total = y_arr[t_arr == 1].sum() - (t_arr == 1).sum() * y_arr[t_arr == 0].mean()
    if total <= 0:
        raise DataError(
            f"perfect_qini_curve: with negative_effect=False the overall incremental gain must "
            f"be positive, got Q(N) = {total:g}"
        )
    return np.array([0.0, total, float(len(y_arr))]), np.array([0.0, total, total])


def perfect_uplift_curve(y: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve of the perfect model for binary outcomes (as sklift's).

    The perfect score ranks treated responders and control non-responders first, then the
    larger of the two "negative" groups is split off last: the score is
    ``2 * [y == treatment] + (y if control responders outnumber treated non-responders else
    treatment)``.

    Parameters
    ----------
    y, treatment
        As in :func:`perfect_qini_curve`.

    Returns
    -------
    n_targeted, uplift : ndarray
    """
    y_arr, t_arr, _ = _inputs(y, treatment, None, binary_y=True)
    control_responders = np.sum((y_arr == 1) & (t_arr == 0))
    treated_nonresponders = np.sum((y_arr == 0) & (t_arr == 1))
    summand = y_arr if control_responders > treated_nonresponders else t_arr
    return uplift_curve(y_arr, t_arr, 2.0 * (y_arr == t_arr) + summand)


def _normalised_area(
    actual: tuple[np.ndarray, np.ndarray], perfect: tuple[np.ndarray, np.ndarray], metric: str
) -> float:
    x_end, v_end = perfect[0][-1], perfect[1][-1]
    random_area = 0.5 * x_end * v_end  # the straight line from (0, 0) to (N, curve(N))
    perfect_area = float(np.trapezoid(perfect[1], perfect[0])) - random_area
    if perfect_area == 0.0:
        raise DataError(
            f"{metric}: the perfect model's curve encloses no area above the random line "
            "(no responder that treatment could have gained), so the score is undefined"
        )
    return (float(np.trapezoid(actual[1], actual[0])) - random_area) / perfect_area


def qini_coefficient(y: Any, treatment: Any, score: Any, negative_effect: bool = True) -> float:
    """Normalised Qini coefficient, as scikit-uplift's ``qini_auc_score``.

    ``(A_model - A_random) / (A_perfect - A_random)`` where ``A`` is the trapezoidal area under
    a Qini curve (x = number of rows targeted), the random line runs from (0, 0) to
    ``(N, Q(N))`` and the perfect curve is :func:`perfect_qini_curve` (with negative effects by
    default). 1 is the perfect ranking, 0 random, below 0 worse than random.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcomes.
    treatment : array-like of shape (n,)
        1 for treated rows, 0 for control rows.
    score : array-like of shape (n,)
        Predicted uplift.
    negative_effect : bool, default True
        Passed to :func:`perfect_qini_curve`.

    Returns
    -------
    float
    """
    y_arr, t_arr, s_arr = _inputs(y, treatment, score, binary_y=True)
    return _normalised_area(
        qini_curve(y_arr, t_arr, s_arr),
        perfect_qini_curve(y_arr, t_arr, negative_effect),
        "qini_coefficient",
    )


def auuc(y: Any, treatment: Any, score: Any) -> float:
    """Normalised area under the uplift curve, as scikit-uplift's ``uplift_auc_score``.

    ``(A_model - A_random) / (A_perfect - A_random)`` on :func:`uplift_curve`, the random line
    running from (0, 0) to ``(N, U(N))`` and the perfect curve :func:`perfect_uplift_curve`.

    Parameters
    ----------
    y, treatment, score
        As in :func:`qini_coefficient`.

    Returns
    -------
    float
    """
    y_arr, t_arr, s_arr = _inputs(y, treatment, score, binary_y=True)
    return _normalised_area(
        uplift_curve(y_arr, t_arr, s_arr), perfect_uplift_curve(y_arr, t_arr), "auuc"
    )


def uplift_at_k(
    y: Any,
    treatment: Any,
    score: Any,
    k: float | int = 0.3,
    strategy: Literal["overall", "by_group"] = "overall",
) -> float:
    """Response-rate difference, treated minus control, among the top-scored rows.

    ``strategy="overall"``: take the ``floor(k * n)`` highest-scored rows (or ``k`` rows when
    ``k`` is an integer) and return ``mean(y | treated) - mean(y | control)`` among them.
    ``strategy="by_group"``: take the top ``floor(k * n_t)`` treated and top ``floor(k * n_c)``
    control rows separately. Rows with tied scores are ordered as scikit-uplift orders them
    (later row first), so results match ``sklift.metrics.uplift_at_k``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcomes.
    treatment : array-like of shape (n,)
        1 for treated rows, 0 for control rows.
    score : array-like of shape (n,)
        Predicted uplift.
    k : float in (0, 1) or int in [1, n), default 0.3
        Fraction or number of rows to target.
    strategy : {"overall", "by_group"}, default "overall"

    Returns
    -------
    float

    Raises
    ------
    DataError
        If ``k`` is out of range or the top rows hold no treated or no control row.
    """
    y_arr, t_arr, s_arr = _inputs(y, treatment, score, binary_y=True)
    n = len(y_arr)
    if strategy not in ("overall", "by_group"):
        raise DataError(f"strategy: expected 'overall' or 'by_group', got {strategy!r}")
    is_int = isinstance(k, int | np.integer) and not isinstance(k, bool)
    is_float = isinstance(k, float | np.floating)
    if not ((is_int and 0 < k < n) or (is_float and 0.0 < k < 1.0)):
        raise DataError(
            f"k: expected a fraction in (0, 1) or an integer in [1, {n}), got {k!r}"
        )
    order = _descending(s_arr)
    y_o, t_o = y_arr[order], t_arr[order]
    if strategy == "overall":
        size = int(k) if is_int else int(n * k)
        top_y, top_t = y_o[:size], t_o[:size]
        treated, control = top_y[top_t == 1], top_y[top_t == 0]
    else:
        y_treated, y_control = y_o[t_o == 1], y_o[t_o == 0]
        n_t = int(k) if is_int else int(len(y_treated) * k)
        n_c = int(k) if is_int else int(len(y_control) * k)
        if n_t > len(y_treated) or n_c > len(y_control):
            raise DataError(
                f"k={k}: larger than a group ({len(y_treated)} treated, {len(y_control)} control)"
            )
        treated, control = y_treated[:n_t], y_control[:n_c]
    if treated.size == 0 or control.size == 0:
        raise DataError(
            f"uplift_at_k: the top rows at k={k} hold {treated.size} treated and "
            f"{control.size} control rows; both groups are needed"
        )
    return float(treated.mean() - control.mean())
