"""Rolling-origin evaluation of any forecasting function on a demand frame.

The last ``n_folds * horizon`` periods are held out; fold ``k`` trains on everything before
its origin and forecasts the next ``horizon`` periods. Covariates of the forecast periods
(known in advance: holidays, planned markdowns) are handed over as ``future``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.evaluation import mase, wape, wmae

__all__ = ["rolling_origin", "score_backtest"]


def rolling_origin(frame: pd.DataFrame, fn: Callable[[pd.DataFrame, pd.DataFrame],
                                                      pd.DataFrame],
                   n_folds: int, horizon: int, covariates: tuple[str, ...] = ()
                   ) -> pd.DataFrame:
    """Run ``fn(train, future) -> frame(series_id, ts, yhat)`` at each origin; returns
    ``series_id, ts, y, yhat, fold, origin`` (plus the covariates) for the held-out periods.
    Series without history before an origin are left out of that fold."""
    dates = np.sort(frame["ts"].unique())
    if len(dates) <= n_folds * horizon:
        raise DataError(f"{len(dates)} periods cannot hold out {n_folds} x {horizon}")
    out = []
    for k in range(n_folds):
        origin = dates[len(dates) - (n_folds - k) * horizon]
        end = dates[min(len(dates) - (n_folds - k - 1) * horizon, len(dates)) - 1]
        train = frame[frame["ts"] < origin]
        test = frame[(frame["ts"] >= origin) & (frame["ts"] <= end)]
        test = test[test["series_id"].isin(train["series_id"].unique())]
        fut = test[["series_id", "ts", *[c for c in covariates if c in test.columns]]]
        fc = fn(train, fut)
        m = test.merge(fc[["series_id", "ts", "yhat"]], on=["series_id", "ts"], how="left")
        m["yhat"] = m["yhat"].fillna(0.0)
        m["fold"] = k
        m["origin"] = origin
        out.append(m)
    return pd.concat(out, ignore_index=True)


def score_backtest(result: pd.DataFrame, history: pd.DataFrame, season: int,
                   holiday_weight: float | None = None) -> dict[str, float]:
    """WAPE, MAE, mean MASE over series x folds (series whose seasonal-naive scale is
    defined) and, with ``holiday_weight``, WMAE with that weight on ``is_holiday`` rows."""
    y, yhat = result["y"].to_numpy(float), result["yhat"].to_numpy(float)
    out = {"wape": wape(y, yhat), "mae": float(np.mean(np.abs(y - yhat))),
           "rows": float(len(result))}
    if holiday_weight is not None:
        w = np.where(result["is_holiday"].astype(bool), holiday_weight, 1.0)
        out["wmae"] = wmae(y, yhat, w)
    hist = history.sort_values("ts")
    scores = [(sid, origin, g) for (sid, origin), g in
              result.groupby(["series_id", "origin"], sort=False)]
    # vectorised MASE: per series, the in-sample seasonal naive MAE up to each origin
    piv = hist.pivot_table(index="series_id", columns="ts", values="y", aggfunc="sum")
    cols = piv.columns
    vals = []
    for sid, origin, g in scores:
        if sid not in piv.index:
            continue
        row = piv.loc[sid, cols[cols < origin]].to_numpy(float)
        row = row[np.argmax(~np.isnan(row)):] if (~np.isnan(row)).any() else row[:0]
        row = np.nan_to_num(row)
        if len(row) <= season:
            continue
        try:
            vals.append(mase(g["y"].to_numpy(float), g["yhat"].to_numpy(float), row, season))
        except DataError:  # scale 0: MASE undefined for this series
            continue
    out["mase"] = float(np.mean(vals)) if vals else float("nan")
    out["mase_series"] = float(len(vals))
    return out
