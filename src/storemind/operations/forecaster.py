"""Demand forecasts per product: several models, chosen per demand class by a rolling-origin
backtest, with conformal prediction intervals from the backtest's residuals.

1. **Backtest.** The last ``n_windows`` blocks of ``horizon`` periods are held out in turn;
   every model is fitted on the history before each block and forecasts it.
2. **Choice.** Series are split into *smooth* and *intermittent* demand (average interval
   between non-zero periods above 1.32, Syntetos-Boylan). For each class the candidate with
   the smallest error over the backtest wins; candidates are each model alone and the
   equal-weight mean of every pair and of all models. The error is absolute by default (the
   big sellers dominate it, as they dominate WAPE and WMAE) or, with ``criterion="scaled"``,
   each series' absolute error divided by its in-sample seasonal-naive error (every product
   counts alike, as in MASE).
3. **Intervals.** The chosen forecast's backtest errors, divided by each series' recent mean
   level, give per-class, per-step quantiles (split conformal); the final interval is the
   forecast plus those quantiles times the series' level, cut at zero.
4. **Refit** of the chosen models on the whole history.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.operations._base import Forecaster, lowrank_naive
from storemind.operations._grid import FREQS, Grid
from storemind.operations.baselines import STAT_MODELS, stat_forecast
from storemind.operations.gbm import GBMForecaster

__all__ = ["DemandForecaster", "MODELS", "demand_class"]

MODELS = (*STAT_MODELS, "lowrank_naive", "gbm")
CLASSES = ("smooth", "intermittent")


def demand_class(Y: np.ndarray) -> np.ndarray:
    """1 for intermittent series (mean interval between non-zero periods > 1.32), else 0."""
    Z = np.nan_to_num(Y)
    n_valid = (~np.isnan(Y)).sum(1)
    n_pos = (Z > 0).sum(1)
    adi = n_valid / np.maximum(n_pos, 1)
    return (adi > 1.32).astype(int)


def _level(Y: np.ndarray, window: int) -> np.ndarray:
    Z = Y[:, -window:]
    n = (~np.isnan(Z)).sum(1)
    m = np.nansum(np.clip(Z, 0, None), 1) / np.maximum(n, 1)
    pos = m[m > 0]
    floor = max(float(np.median(pos)) * 0.01, 1e-6) if len(pos) else 1.0
    return np.maximum(m, floor)


def _naive_scale(Y: np.ndarray, season: int) -> np.ndarray:
    """Each series' mean absolute seasonal-naive error in sample (MASE's denominator), from
    its first observed period; lag 1 where the history is not longer than a season, and the
    median positive scale where a series' own is 0 or undefined (a series that never moved)."""
    out = np.full(Y.shape[0], np.nan)
    for i, row in enumerate(Y):
        obs = ~np.isnan(row)
        if not obs.any():
            continue
        y = np.nan_to_num(row[int(np.argmax(obs)):])
        lag = season if len(y) > season else 1
        if len(y) > lag:
            out[i] = float(np.mean(np.abs(y[lag:] - y[:-lag])))
    pos = out[np.isfinite(out) & (out > 0)]
    fill = float(np.median(pos)) if len(pos) else 1.0
    return np.where(np.isfinite(out) & (out > 0), out, fill)


class DemandForecaster(Forecaster):
    """Per-product demand forecaster with model choice and conformal intervals.

    Parameters
    ----------
    freq : {"D", "W"}
        Period of the series.
    season_length : int
        Periods in a season (7 daily, 52 weekly).
    horizon : int
        Periods forecast ahead, and the length of each backtest window.
    models : tuple of str
        Among ``seasonal_naive``, ``ets``, ``theta``, ``croston``, ``adida`` (statsforecast),
        ``lowrank_naive`` (seasonal naive on the history smoothed by a low-rank approximation
        across the series of each ``group``, rank chosen on the history) and ``gbm``
        (:class:`GBMForecaster`).
    covariates : tuple of str
        Known-in-advance columns passed to the GBM.
    n_windows : int
        Backtest windows (rolling origin).
    level : float
        Coverage of the prediction interval, e.g. 0.9.
    criterion : {"absolute", "scaled"}
        What the model choice minimises over the backtest: the summed absolute error
        (volume-weighted, like WAPE or WMAE) or each series' absolute error over its mean
        in-sample seasonal-naive error (each series alike, like MASE).
    gbm_params : dict, optional
        Extra :class:`GBMForecaster` settings.
    n_jobs : int
        Processes / threads for statsforecast and LightGBM.
    random_state : int, optional
        Seed of the GBM.
    """

    def __init__(self, freq: str = "D", season_length: int = 7, horizon: int = 14,
                 models: tuple[str, ...] = ("seasonal_naive", "ets", "croston", "gbm"),
                 covariates: tuple[str, ...] = ("price", "promo", "is_holiday"),
                 n_windows: int = 1, level: float = 0.9, criterion: str = "absolute",
                 gbm_params: dict | None = None, n_jobs: int = 1,
                 random_state: int | None = None):
        self.freq = freq
        self.season_length = season_length
        self.horizon = horizon
        self.models = models
        self.covariates = covariates
        self.n_windows = n_windows
        self.level = level
        self.criterion = criterion
        self.gbm_params = gbm_params
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- pieces ---------------------------------------------------------------------------
    def _check(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise DataError(f"models must be a non-empty subset of {MODELS}; got {self.models}")
        if not 0 < float(self.level) < 1:
            raise DataError(f"level must be in (0, 1); got {self.level}")
        if int(self.n_windows) < 1:
            raise DataError(f"n_windows must be >= 1; got {self.n_windows}")
        if self.criterion not in ("absolute", "scaled"):
            raise DataError(f"criterion must be 'absolute' or 'scaled'; got {self.criterion!r}")

    def _run(self, grid: Grid, names: list[str], h: int) -> dict[str, np.ndarray]:
        out = stat_forecast(grid.Y, h, int(self.season_length),
                            [m for m in names if m in STAT_MODELS], n_jobs=int(self.n_jobs))
        gbm_params = dict(self.gbm_params or {})
        if "lowrank_naive" in names:
            out["lowrank_naive"], self.rank_ = lowrank_naive(grid.Y, h, int(self.season_length),
                                                             grid.groups)
            gbm_params.setdefault("lowrank", self.rank_)  # the same history: no second search
        if "gbm" in names:
            g = GBMForecaster(freq=self.freq, season_length=self.season_length, horizon=h,
                              covariates=self.covariates, n_jobs=max(int(self.n_jobs), 1),
                              random_state=self.random_state, **gbm_params)
            out["gbm"] = g.predict_grid(grid, h)
        return out

    @staticmethod
    def _cut(grid: Grid, c: int, h: int) -> Grid:
        keep = (~np.isnan(grid.Y[:, :c])).any(1)
        X = {k: v[keep, :c + h] for k, v in grid.X.items()}
        dates = grid.dates[:c]
        return Grid(grid.ids[keep], pd.DatetimeIndex(dates, freq=grid.dates.freq),
                    grid.Y[keep, :c], X, None if grid.groups is None else grid.groups[keep])

    def _candidates(self) -> list[tuple[str, ...]]:
        ms = list(self.models)
        cands = [(m,) for m in ms] + list(itertools.combinations(ms, 2))
        if len(ms) > 2:
            cands.append(tuple(ms))
        return cands

    # -- fit ------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, future: pd.DataFrame | None = None) -> DemandForecaster:
        """Backtest, choose, calibrate the intervals and forecast the next ``horizon``
        periods of every series in ``frame`` (``series_id, ts, y`` plus covariates and an
        optional ``group`` column for the GBM); ``future`` holds covariates ahead."""
        self._check()
        grid = self._grid(frame, future)
        H, season, T = int(self.horizon), int(self.season_length), grid.T
        window = season if season >= 13 else 4 * season
        cands = self._candidates()
        err = {c: np.zeros(2) for c in cands}
        res_by_cand: dict[tuple[str, ...], list[np.ndarray]] = {c: [] for c in cands}
        cls_rows: list[np.ndarray] = []
        n_done = 0
        for w in range(int(self.n_windows), 0, -1):
            c = T - w * H
            if c < max(season + 2, 8):
                continue
            sub = self._cut(grid, c, H)
            P = self._run(sub, list(self.models), H)
            A = grid.Y[(~np.isnan(grid.Y[:, :c])).any(1), c:c + H]
            cls = demand_class(sub.Y)
            lev = _level(sub.Y, window)
            ok = ~np.isnan(A)
            scale = _naive_scale(sub.Y, season) if self.criterion == "scaled" else None
            for cand in cands:
                Pc = np.mean([P[m] for m in cand], 0)
                e = np.where(ok, np.abs(np.nan_to_num(A) - Pc), 0.0)
                if scale is not None:
                    e = e / scale[:, None]
                err[cand] += np.bincount(cls, weights=e.sum(1), minlength=2)
                res_by_cand[cand].append(np.where(ok, (np.nan_to_num(A) - Pc), np.nan)
                                         / lev[:, None])
            cls_rows.append(cls)
            n_done += 1
            last_window = (c, P, A, cls, lev, np.flatnonzero((~np.isnan(grid.Y[:, :c])).any(1)))
        if n_done == 0:
            raise DataError(f"history too short for a backtest: {T} periods, need at least "
                            f"{max(season + 2, 8) + H} for horizon {H}")
        choice = {}
        for k, name in enumerate(CLASSES):
            best = min(cands, key=lambda cand: (err[cand][k], len(cand)))
            choice[name] = list(best)
        cls_all = np.concatenate(cls_rows)
        alpha = 1 - float(self.level)
        q = np.zeros((2, H, 2))
        for k, name in enumerate(CLASSES):
            R = np.concatenate(res_by_cand[tuple(choice[name])])[cls_all == k]
            pooled = R[~np.isnan(R)]
            for s in range(H):
                col = R[:, s][~np.isnan(R[:, s])] if len(R) else np.array([])
                use = col if len(col) >= 50 else pooled
                if len(use) == 0:
                    q[k, s] = (-1.0, 1.0)
                else:
                    q[k, s] = np.quantile(use, [alpha / 2, 1 - alpha / 2])
        c, Pw, Aw, clw, levw, rows_w = last_window
        yw = np.zeros_like(Aw)
        for k, name in enumerate(CLASSES):
            yw[clw == k] = np.mean([Pw[m][clw == k] for m in choice[name]], 0)
        self.last_window_ = {"start": str(grid.dates[c]), "rows": rows_w.tolist()}
        self.last_window_yhat_ = yw
        self.last_window_lower_ = np.clip(yw + q[clw, :, 0] * levw[:, None], 0, None)
        self.last_window_upper_ = np.maximum(yw + q[clw, :, 1] * levw[:, None], yw)
        self.backtest_ = {f"{CLASSES[k]}:{'+'.join(c)}": float(err[c][k]) for c in cands
                          for k in range(2)}
        self.choice_ = choice
        self.interval_q_ = q
        # refit on everything with the models chosen
        needed = sorted({m for v in choice.values() for m in v})
        P = self._run(grid, needed, H)
        cls = demand_class(grid.Y)
        lev = _level(grid.Y, window)
        yhat = np.zeros((grid.Y.shape[0], H))
        for k, name in enumerate(CLASSES):
            rows = cls == k
            yhat[rows] = np.mean([P[m][rows] for m in choice[name]], 0)
        self.classes_ = cls
        self.level_ = lev
        self.lower_ = np.clip(yhat + q[cls, :, 0] * lev[:, None], 0, None)
        self.upper_ = np.maximum(yhat + q[cls, :, 1] * lev[:, None], yhat)
        self._store(grid, yhat)
        return self

    def forecast(self, h: int | None = None) -> pd.DataFrame:
        """``series_id, ts, step, yhat, lower, upper, demand_class, models`` for the next
        ``h`` periods (default ``horizon``)."""
        out = super().forecast(h)
        h = len(out) // max(len(self.series_ids_), 1)
        out["lower"] = self.lower_[:, :h].ravel()
        out["upper"] = self.upper_[:, :h].ravel()
        cls = np.repeat(self.classes_, h)
        out["demand_class"] = np.asarray(CLASSES, dtype=object)[cls]
        names = np.asarray(["+".join(self.choice_[c]) for c in CLASSES], dtype=object)
        out["models"] = names[cls]
        return out

    def last_window(self) -> pd.DataFrame:
        """The last backtest window: ``series_id, ts, step, yhat, lower, upper`` forecast
        from the history before it by the chosen models (its intervals were calibrated on
        these residuals, so their coverage here is in-sample)."""
        self._check_fitted()
        rows = np.asarray(self.last_window_["rows"], dtype=int)
        ids = self.series_ids_[rows]
        H = self.last_window_yhat_.shape[1]
        dates = pd.date_range(self.last_window_["start"], periods=H, freq=FREQS[self.freq])
        return pd.DataFrame({
            "series_id": np.repeat(ids, H), "ts": np.tile(dates.to_numpy(), len(ids)),
            "step": np.tile(np.arange(1, H + 1), len(ids)),
            "yhat": self.last_window_yhat_.ravel(), "lower": self.last_window_lower_.ravel(),
            "upper": self.last_window_upper_.ravel(),
            "demand_class": np.asarray(CLASSES, dtype=object)[np.repeat(self.classes_[rows], H)],
        })

    @property
    def freq_offset(self) -> Any:
        """The pandas offset of one period."""
        return pd.tseries.frequencies.to_offset(FREQS[self.freq])
