"""Regression and forecast metrics: MAE, RMSE, MASE, WAPE, WMAE.

Every function takes the actual values ``y`` and the predictions ``yhat`` as 1-D arrays of one
length (one series, or many series concatenated where the metric allows it).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.errors import DataError
from storemind.evaluation._checks import as_1d_float, same_length
from storemind.evaluation._checks import weights as check_weights

__all__ = ["mae", "rmse", "mase", "wape", "wmae"]


def _pair(y: Any, yhat: Any) -> tuple[np.ndarray, np.ndarray]:
    y_arr = as_1d_float(y, "y")
    yhat_arr = as_1d_float(yhat, "yhat")
    same_length(y=y_arr, yhat=yhat_arr)
    return y_arr, yhat_arr


def mae(y: Any, yhat: Any) -> float:
    """Mean absolute error: ``mean(|y - yhat|)``.

    Parameters
    ----------
    y, yhat : array-like of shape (n,)
        Actual and predicted values.

    Returns
    -------
    float
    """
    y_arr, yhat_arr = _pair(y, yhat)
    return float(np.mean(np.abs(y_arr - yhat_arr)))


def rmse(y: Any, yhat: Any) -> float:
    """Root mean squared error: ``sqrt(mean((y - yhat)^2))``.

    Parameters
    ----------
    y, yhat : array-like of shape (n,)
        Actual and predicted values.

    Returns
    -------
    float
    """
    y_arr, yhat_arr = _pair(y, yhat)
    return float(np.sqrt(np.mean((y_arr - yhat_arr) ** 2)))


def mase(y: Any, yhat: Any, y_train: Any, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman and Koehler, 2006).

    ``MAE(y, yhat) / mean_t |y_train[t] - y_train[t - season]|``: the forecast's MAE divided by
    the in-sample MAE of the seasonal naive forecast on the training series. Below 1 beats the
    seasonal naive method (in sample).

    Parameters
    ----------
    y, yhat : array-like of shape (h,)
        Actual and predicted values over the forecast horizon of one series.
    y_train : array-like of shape (T,)
        The training history of the same series, oldest first; ``T > season``.
    season : int, default 1
        Seasonal period (1: naive; 52: weekly data with a yearly season).

    Returns
    -------
    float

    Raises
    ------
    DataError
        If ``y_train`` is not longer than ``season`` or is constant at that lag (scale 0).
    """
    y_arr, yhat_arr = _pair(y, yhat)
    train = as_1d_float(y_train, "y_train")
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise DataError(f"season: expected an integer >= 1, got {season!r}")
    if len(train) <= season:
        raise DataError(
            f"y_train: expected more than season={season} values to compute the seasonal naive "
            f"scale, got {len(train)}"
        )
    scale = float(np.mean(np.abs(train[season:] - train[:-season])))
    if scale == 0.0:
        raise DataError(
            f"y_train: the seasonal naive error at lag {season} is 0 (the training series repeats "
            "exactly), so MASE is undefined; use mae or wape for this series"
        )
    return float(np.mean(np.abs(y_arr - yhat_arr)) / scale)


def wape(y: Any, yhat: Any) -> float:
    """Weighted absolute percentage error: ``sum|y - yhat| / sum|y|``.

    Parameters
    ----------
    y, yhat : array-like of shape (n,)
        Actual and predicted values (several series may be concatenated).

    Returns
    -------
    float

    Raises
    ------
    DataError
        If every actual value is 0.
    """
    y_arr, yhat_arr = _pair(y, yhat)
    total = float(np.sum(np.abs(y_arr)))
    if total == 0.0:
        raise DataError("y: WAPE is undefined when every actual value is 0 (sum |y| = 0)")
    return float(np.sum(np.abs(y_arr - yhat_arr)) / total)


def wmae(y: Any, yhat: Any, weights: Any) -> float:
    """Weighted mean absolute error: ``sum_i w_i |y_i - yhat_i| / sum_i w_i``.

    The Walmart recruiting competition scores forecasts with weight 5 on holiday weeks and 1
    otherwise.

    Parameters
    ----------
    y, yhat : array-like of shape (n,)
        Actual and predicted values.
    weights : array-like of shape (n,)
        Non-negative weights with a positive sum.

    Returns
    -------
    float
    """
    y_arr, yhat_arr = _pair(y, yhat)
    w = check_weights(weights, len(y_arr), "weights")
    return float(np.sum(w * np.abs(y_arr - yhat_arr)) / w.sum())
