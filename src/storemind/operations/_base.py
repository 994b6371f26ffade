"""What every forecaster of this package shares: the fit-and-forecast contract.

A forecaster's ``fit(frame, future=None)`` learns from a long demand frame (``series_id``,
``ts``, ``y``, covariates) and forecasts the next ``horizon`` periods of every series at once,
keeping the forecast as learned state; ``forecast(h)`` returns the first ``h`` periods as a
frame ``series_id, ts, step, yhat``. Keeping the forecast (not a pickled model) makes save and
load exact. ``future`` gives covariates known in advance (holidays, planned promotions).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator
from storemind.errors import DataError
from storemind.operations._grid import FREQS, Grid, check_demand_frame, to_grid

__all__ = ["Forecaster", "lowrank_naive", "low_rank", "seasonal_naive"]

#: ranks :func:`lowrank_naive` tries; 0 keeps the history as it is
RANKS = (0, 3, 5, 8, 12)


def seasonal_naive(Y: np.ndarray, h: int, season: int) -> np.ndarray:
    """Repeat each series' last season; a series with less than one season of history gets
    the mean of what it has. NaN (before a series starts) counts as no history."""
    n, T = Y.shape
    Z = np.clip(np.nan_to_num(Y), 0, None)
    valid = (~np.isnan(Y)).sum(1)
    seas = Z[:, T - season + np.arange(h) % season] if T >= season else np.zeros((n, h))
    mean = Z.sum(1) / np.maximum(valid, 1)
    return np.where((valid >= season)[:, None], seas, mean[:, None])


def low_rank(Y: np.ndarray, groups: np.ndarray | None, rank: int) -> np.ndarray:
    """Each group's series (rows of ``Y`` sharing a ``groups`` value, e.g. one department
    across stores) replaced by the group's mean plus the best rank-``rank`` approximation of
    the deviations from it (truncated SVD): what the stores share stays, week-to-week noise
    goes. Groups with ``rank`` or fewer series, and ``rank`` 0, are left as they are; NaN
    (before a series starts) stays NaN. ``groups`` None treats all rows as one group."""
    if rank <= 0:
        return Y
    Z = np.nan_to_num(Y)
    out = Z.copy()
    keys = np.zeros(len(Y), dtype=int) if groups is None else pd.factorize(groups)[0]
    for g in np.unique(keys):
        rows = np.flatnonzero(keys == g)
        if len(rows) <= rank:
            continue
        M = Z[rows]
        mu = M.mean(0, keepdims=True)
        U, s, Vt = np.linalg.svd(M - mu, full_matrices=False)
        out[rows] = mu + (U[:, :rank] * s[:rank]) @ Vt[:rank]
    return np.where(np.isnan(Y), np.nan, out)


def lowrank_naive(Y: np.ndarray, h: int, season: int, groups: np.ndarray | None,
                  ranks: tuple[int, ...] = RANKS, windows: int = 2
                  ) -> tuple[np.ndarray, int]:
    """Seasonal naive on the low-rank history of :func:`low_rank` (the SVD smoothing the
    winners of Kaggle's Walmart competition applied per department across stores). The rank
    is chosen among ``ranks`` on the history itself: each rank forecasts each of the last
    ``windows`` blocks of ``h`` periods from the periods before it and the smallest total
    absolute error wins (0, no smoothing, is a candidate). Returns the forecast and the
    rank used."""
    T = Y.shape[1]
    origins = [T - w * h for w in range(1, int(windows) + 1) if T - w * h >= season + 1]
    best = ranks[0] if ranks else 0
    if origins and len(ranks) > 1:
        err = np.zeros(len(ranks))
        for c in origins:
            past, actual = Y[:, :c], Y[:, c:c + h]
            ok = ~np.isnan(actual)
            for j, r in enumerate(ranks):
                P = seasonal_naive(low_rank(past, groups, r), h, season)
                err[j] += float(np.abs(np.nan_to_num(actual) - P)[ok].sum())
        best = ranks[int(np.argmin(err))]
    return seasonal_naive(low_rank(Y, groups, best), h, season), best


class Forecaster(Estimator):
    """Base of the forecasters: validation, the grid and the stored forecast."""

    freq: str
    horizon: int
    covariates: tuple[str, ...] = ()

    def _grid(self, frame: Any, future: Any = None) -> Grid:
        if getattr(self, "freq", "D") not in FREQS:
            raise DataError(f"freq must be one of {sorted(FREQS)}; got {self.freq!r}")
        if int(self.horizon) < 1:
            raise DataError(f"horizon must be a positive number of periods; got {self.horizon}")
        frame = check_demand_frame(frame)
        cov = [c for c in self.covariates if c in frame.columns]
        return to_grid(frame, self.freq, cov, future=future,
                       group_col="group" if "group" in frame.columns else None)

    def _store(self, grid: Grid, P: np.ndarray) -> None:
        self.series_ids_ = np.asarray(grid.ids, dtype=str)
        self.start_ = str(grid.dates[-1] + pd.tseries.frequencies.to_offset(FREQS[self.freq]))
        self.forecast_ = np.asarray(P, dtype=float)

    def forecast(self, h: int | None = None) -> pd.DataFrame:
        """The next ``h`` periods (default ``horizon``) per series: ``series_id, ts, step,
        yhat``."""
        self._check_fitted()
        H = self.forecast_.shape[1]
        h = H if h is None else int(h)
        if not 1 <= h <= H:
            raise DataError(f"h must be between 1 and the fitted horizon {H}; got {h}")
        dates = pd.date_range(self.start_, periods=h, freq=FREQS[self.freq])
        n = len(self.series_ids_)
        return pd.DataFrame({
            "series_id": np.repeat(self.series_ids_, h),
            "ts": np.tile(dates.to_numpy(), n),
            "step": np.tile(np.arange(1, h + 1), n),
            "yhat": self.forecast_[:, :h].ravel(),
        })
