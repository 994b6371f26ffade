"""Frequency / recency / age summaries of transaction logs, as BTYD models expect them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["rfm_summary"]

_UNITS = {"D": 1.0, "W": 7.0, "M": 30.0}


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_col: str = "user_id",
    time_col: str = "ts",
    value_col: str | None = "value",
    calibration_end: str | pd.Timestamp | None = None,
    holdout_end: str | pd.Timestamp | None = None,
    unit: str = "W",
) -> pd.DataFrame:
    """Per customer: ``frequency`` (repeat purchase periods), ``recency`` (first to last
    purchase), ``T`` (first purchase to the end of calibration), ``monetary_value`` (mean value
    of the repeat purchases; 0 without repeats), and with ``holdout_end`` the holdout's
    ``frequency_holdout`` and ``duration_holdout``.

    Purchases on the same day count once (their values are summed), as in Fader, Hardie & Lee
    (2005). Times are in ``unit``: 'D', 'W' (default) or 'M' (30 days).
    """
    missing = [c for c in (customer_col, time_col) if c not in transactions.columns]
    if value_col and value_col not in transactions.columns:
        missing.append(value_col)
    if missing:
        raise DataError(
            f"transactions lack column(s) {missing}; they have {list(transactions.columns)}"
        )
    if unit not in _UNITS:
        raise DataError(f"unit must be one of {sorted(_UNITS)}; got {unit!r}")
    days = _UNITS[unit]
    tx = transactions[[customer_col, time_col] + ([value_col] if value_col else [])].copy()
    tx[time_col] = pd.to_datetime(tx[time_col]).dt.normalize()
    if value_col is None:
        tx["_value"] = 0.0
        value_col = "_value"
    daily = tx.groupby([customer_col, time_col], sort=True)[value_col].sum().reset_index()
    cal_end = (pd.Timestamp(calibration_end) if calibration_end is not None
               else daily[time_col].max())
    cal = daily[daily[time_col] <= cal_end]
    if cal.empty:
        raise DataError(f"no transactions on or before the calibration end {cal_end.date()}")
    g = cal.groupby(customer_col, sort=True)
    first = g[time_col].min()
    last = g[time_col].max()
    n = g[time_col].count()
    total = g[value_col].sum()
    first_value = cal.sort_values(time_col).groupby(customer_col)[value_col].first()
    out = pd.DataFrame({
        "frequency": (n - 1).astype(float),
        "recency": (last - first).dt.days / days,
        "T": (cal_end - first).dt.days / days,
    })
    repeat_total = total - first_value
    out["monetary_value"] = np.where(out.frequency > 0,
                                     repeat_total / out.frequency.replace(0, np.nan), 0.0)
    if holdout_end is not None:
        hold_end = pd.Timestamp(holdout_end)
        hold = daily[(daily[time_col] > cal_end) & (daily[time_col] <= hold_end)]
        out["frequency_holdout"] = hold.groupby(customer_col)[time_col].count().reindex(
            out.index, fill_value=0).astype(float)
        out["monetary_value_holdout"] = hold.groupby(customer_col)[value_col].mean().reindex(
            out.index, fill_value=0.0)
        out["duration_holdout"] = (hold_end - cal_end).days / days
    out.index.name = customer_col
    return out
