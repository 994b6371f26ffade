"""A LightGBM global forecaster: one model for every series and every step ahead.

Strategy: **direct multi-step** with the step as a feature (no recursion, so errors do not
feed back). A training row is (series, forecast origin ``o``, step ``h``); its features are
known at ``o`` (recent means, the value one or two seasons before the target, zero share,
trend; with groups, the same seasonal lags smoothed across the group's series) or known in
advance for the target period (calendar, holiday, price, promotion and any other covariate
given), and its target is the demand at ``o + h``. Everything is divided by the
series' recent mean level (its *scale*) so small and large series share one model; rows are
weighted by that scale, so the loss matches the absolute error of the original series.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from storemind._base import check_random_state
from storemind.errors import DataError
from storemind.operations._base import Forecaster, low_rank, lowrank_naive
from storemind.operations._grid import Grid

__all__ = ["GBMForecaster", "gbm_features"]


def _cal(dates: pd.DatetimeIndex, freq: str) -> dict[str, np.ndarray]:
    iso = dates.isocalendar()
    out = {"week_of_year": iso["week"].to_numpy(float), "month": dates.month.to_numpy(float)}
    if freq == "D":
        out.update(day_of_week=dates.dayofweek.to_numpy(float),
                   day_of_month=dates.day.to_numpy(float))
    return out


def _carry(M: np.ndarray, width: int, forward: bool) -> np.ndarray:
    """Pad a covariate matrix to ``width`` periods; ``forward`` carries the last known value
    on (a price observed only on days with sales must not reveal which days had sales)."""
    if M.shape[1] < width:
        M = np.hstack([M, np.full((M.shape[0], width - M.shape[1]), np.nan)])
    if forward:
        M = pd.DataFrame(M).ffill(axis=1).bfill(axis=1).to_numpy()
    return M


class _Windows:
    """Cumulative sums for fast window means over a grid."""

    def __init__(self, Y: np.ndarray):
        self.valid = ~np.isnan(Y)
        self.Z = np.clip(np.nan_to_num(Y), 0, None)
        pad = np.zeros((Y.shape[0], 1))
        self.cs = np.hstack([pad, np.cumsum(self.Z, 1)])
        self.cq = np.hstack([pad, np.cumsum(self.Z ** 2, 1)])
        self.cn = np.hstack([pad, np.cumsum(self.valid, 1)])
        self.cp = np.hstack([pad, np.cumsum(self.Z > 0, 1)])

    def window(self, i: np.ndarray, o: np.ndarray, w: int) -> tuple[np.ndarray, ...]:
        """(mean, std, count, share of positive values) over periods ``(o - w, o]``."""
        lo = np.clip(o - w + 1, 0, None)
        hi = np.clip(o + 1, 0, None)
        n = self.cn[i, hi] - self.cn[i, lo]
        m = np.where(n > 0, (self.cs[i, hi] - self.cs[i, lo]) / np.maximum(n, 1), np.nan)
        q = (self.cq[i, hi] - self.cq[i, lo]) / np.maximum(n, 1)
        sd = np.sqrt(np.clip(q - np.nan_to_num(m) ** 2, 0, None))
        pos = (self.cp[i, hi] - self.cp[i, lo]) / np.maximum(n, 1)
        return m, sd, n, pos

    def at(self, i: np.ndarray, t: np.ndarray, upto: np.ndarray) -> np.ndarray:
        """Value at period ``t`` where ``0 <= t <= upto`` and observed, else NaN."""
        ok = (t >= 0) & (t <= upto)
        tt = np.clip(t, 0, self.Z.shape[1] - 1)
        return np.where(ok & self.valid[i, tt], self.Z[i, tt], np.nan)


def gbm_features(grid: Grid, W: _Windows, i: np.ndarray, o: np.ndarray, h: np.ndarray,
                 season: int, freq: str, floor: float, group_codes: np.ndarray | None,
                 dates: pd.DatetimeIndex, smooth: _Windows | None = None
                 ) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature rows for (series ``i``, origin ``o``, step ``h``) and each row's scale;
    ``smooth`` (windows over the low-rank history) adds its seasonal lags."""
    sw = season if season >= 13 else 4 * season
    short = 4 if freq == "W" else 7
    m, sd, n, pos = W.window(i, o, sw)
    scale = np.maximum(np.nan_to_num(m), floor)
    t = o + h
    k = np.ceil(h / season).astype(int)
    lag = W.at(i, t - k * season, o)
    near = np.stack([W.at(i, t - k * season + d, o) for d in (-1, 0, 1)])
    cnt = (~np.isnan(near)).sum(0)
    around = np.where(cnt > 0, np.nansum(near, 0) / np.maximum(cnt, 1), np.nan)
    lag2 = W.at(i, t - (k + 1) * season, o)
    ms, _, _, _ = W.window(i, o, short)
    mprev, _, nprev, _ = W.window(i, o - sw, sw)
    F = {
        "step": h.astype(float),
        "history": n + (W.cn[i, np.clip(o - sw + 1, 0, None)]),
        "level": np.log1p(scale),
        "zero_share": 1 - pos,
        "cv": sd / scale,
        "last": W.at(i, o, o) / scale,
        "mean_short": ms / scale,
        "trend": np.where(nprev > 0, mprev / scale, np.nan),
        "lag_season": lag / scale,
        "lag_season_smooth": around / scale,
        "lag_2season": lag2 / scale,
    }
    for name, v in _cal(dates, freq).items():
        F[name] = v[t]
    for name, M in grid.X.items():
        x = M[i, t]
        F[name] = x
        if name == "price":
            F["price_ratio"] = x / (M[i, o] + 1e-9)
    if group_codes is not None:
        F["group"] = group_codes[i].astype(float)
    if smooth is not None:  # the same two lags, from the group's low-rank history
        F["lag_season_lr"] = smooth.at(i, t - k * season, o) / scale
        near = np.stack([smooth.at(i, t - k * season + d, o) for d in (-1, 0, 1)])
        cnt = (~np.isnan(near)).sum(0)
        F["lag_season_smooth_lr"] = np.where(cnt > 0, np.nansum(near, 0) / np.maximum(cnt, 1),
                                             np.nan) / scale
    return pd.DataFrame(F), scale


class GBMForecaster(Forecaster):
    """LightGBM global forecaster, direct multi-step (see the module docstring).

    Parameters
    ----------
    freq : {"D", "W"}
        Period of the series.
    season_length : int
        Periods in a season (7 daily, 52 weekly).
    horizon : int
        Periods forecast at fit time; also the largest step trained.
    covariates : tuple of str
        Columns of the demand frame (and of ``future``) known in advance, e.g. ``price``,
        ``promo``, ``is_holiday``. Missing ones are ignored.
    origin_step : int
        Spacing of the training forecast origins, in periods.
    max_rows : int
        Training rows kept (a seeded random sample when there are more).
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    objective : str
        LightGBM objective on the scaled target (``"l1"`` targets the median, ``"l2"`` the
        mean).
    lowrank : bool or int
        With a ``group`` column, also give the seasonal lags of the history smoothed across
        each group's series by :func:`~storemind.operations._base.low_rank`. True: the rank
        is chosen on the history by :func:`~storemind.operations._base.lowrank_naive`; an
        int is the rank to use (one already chosen on the same history); False or 0: off.
        ``rank_`` after fitting (0 when no smoothing is used).
    n_jobs : int
        LightGBM threads.
    random_state : int, optional
        Seed of the row sample and of LightGBM.
    """

    def __init__(self, freq: str = "D", season_length: int = 7, horizon: int = 14,
                 covariates: tuple[str, ...] = ("price", "promo", "is_holiday"),
                 origin_step: int = 1, max_rows: int = 300_000, n_estimators: int = 300,
                 learning_rate: float = 0.05, num_leaves: int = 31,
                 min_child_samples: int = 50, objective: str = "l1", lowrank: bool | int = True,
                 n_jobs: int = 2, random_state: int | None = None):
        self.freq = freq
        self.season_length = season_length
        self.horizon = horizon
        self.covariates = covariates
        self.origin_step = origin_step
        self.max_rows = max_rows
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.objective = objective
        self.lowrank = lowrank
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame, future: pd.DataFrame | None = None) -> GBMForecaster:
        """Train on every origin of ``frame`` and keep the next ``horizon`` periods;
        ``future`` holds the covariates of those periods (``series_id, ts, <covariates>``)."""
        grid = self._grid(frame, future)
        P = self.predict_grid(grid, int(self.horizon))
        self._store(grid, P)
        return self

    def _codes(self, grid: Grid) -> np.ndarray | None:
        if grid.groups is None:
            return None
        return pd.factorize(grid.groups, sort=True)[0]

    def predict_grid(self, grid: Grid, h: int) -> np.ndarray:
        """Train on ``grid`` and forecast (n_series, h); keeps the booster in ``model_text_``."""
        import lightgbm as lgb

        rng = check_random_state(self.random_state)
        season, T = int(self.season_length), grid.T
        H = max(int(self.horizon), h)
        W = _Windows(grid.Y)
        started = W.cn[:, -1] > 0
        if not started.any():
            raise DataError("no series has any observed demand to learn from")
        pos_scale = W.cs[:, -1] / np.maximum(W.cn[:, -1], 1)
        floor = float(max(np.median(pos_scale[pos_scale > 0]) * 0.01, 1e-6)) \
            if (pos_scale > 0).any() else 1.0
        dates = pd.date_range(grid.dates[0], periods=T + H,
                              freq=grid.dates.freq or pd.infer_freq(grid.dates))
        grid.X = {name: _carry(M, T + H, forward=name == "price") for name, M in grid.X.items()}
        codes = self._codes(grid)
        first = max(min(season, T // 3), 2) - 1
        origins = np.arange(T - 2, first - 1, -max(int(self.origin_step), 1))
        oo, hh = [], []
        for o in origins:
            steps = np.arange(1, min(H, T - 1 - o) + 1)
            oo.append(np.full(len(steps), o))
            hh.append(steps)
        if not oo:
            raise DataError(f"the history ({T} periods) is too short to train; need at least "
                            f"{first + 2}")
        o_all, h_all = np.concatenate(oo), np.concatenate(hh)
        n_series = grid.Y.shape[0]
        i_all = np.repeat(np.arange(n_series), len(o_all))
        o_all, h_all = np.tile(o_all, n_series), np.tile(h_all, n_series)
        keep = W.valid[i_all, o_all] & W.valid[i_all, o_all + h_all]
        idx = np.flatnonzero(keep)
        if len(idx) > int(self.max_rows):
            idx = np.sort(rng.choice(idx, int(self.max_rows), replace=False))
        i_t, o_t, h_t = i_all[idx], o_all[idx], h_all[idx]
        Ws = None
        self.rank_ = 0
        if self.lowrank is not False and grid.groups is not None:
            self.rank_ = (lowrank_naive(grid.Y, H, season, grid.groups)[1]
                          if self.lowrank is True else int(self.lowrank))
            Ws = _Windows(low_rank(grid.Y, grid.groups, self.rank_)) if self.rank_ else None
        X, scale = gbm_features(grid, W, i_t, o_t, h_t, season, self.freq, floor, codes, dates, Ws)
        y = W.Z[i_t, o_t + h_t] / scale
        params = {"objective": self.objective, "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_child_samples,
                  "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
                  "seed": int(rng.integers(2**31 - 1)), "num_threads": self.n_jobs,
                  "verbose": -1, "deterministic": True, "force_row_wise": True}
        cat = ["group"] if "group" in X.columns else "auto"
        data = lgb.Dataset(X, y, weight=scale, categorical_feature=cat, free_raw_data=True)
        booster = lgb.train(params, data, num_boost_round=int(self.n_estimators))
        self.model_text_ = booster.model_to_string()
        self.features_ = list(X.columns)
        i_p = np.repeat(np.arange(n_series), h)
        o_p = np.full(len(i_p), T - 1)
        h_p = np.tile(np.arange(1, h + 1), n_series)
        Xp, sp = gbm_features(grid, W, i_p, o_p, h_p, season, self.freq, floor, codes, dates, Ws)
        P = np.clip(booster.predict(Xp) * sp, 0, None).reshape(n_series, h)
        return np.where(started[:, None], P, 0.0)

    def feature_importance(self) -> pd.Series:
        """Total gain per feature of the fitted booster, largest first."""
        import lightgbm as lgb

        self._check_fitted()
        b = lgb.Booster(model_str=self.model_text_)
        return pd.Series(b.feature_importance("gain"), index=self.features_).sort_values(
            ascending=False)

