"""Seasonal naive and statsforecast's models (AutoETS, AutoTheta, CrostonOptimized, ADIDA)
behind the fit-and-forecast contract of :class:`~storemind.operations._base.Forecaster`."""
from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.operations._base import Forecaster, seasonal_naive
from storemind.operations._grid import Grid

__all__ = ["StatsForecaster", "STAT_MODELS", "stat_forecast"]

#: model names understood by :class:`StatsForecaster`
STAT_MODELS = ("seasonal_naive", "ets", "theta", "croston", "adida")


def _model(name: str, season: int) -> Any:
    from statsforecast.models import ADIDA, AutoETS, AutoTheta, CrostonOptimized

    if name == "ets":
        return AutoETS(season_length=season, alias="ets")
    if name == "theta":
        return AutoTheta(season_length=season, alias="theta")
    if name == "croston":
        return CrostonOptimized(alias="croston")
    if name == "adida":
        return ADIDA(alias="adida")
    raise DataError(f"unknown model {name!r}; expected one of {STAT_MODELS}")


def stat_forecast(Y: np.ndarray, h: int, season: int, names: list[str] | tuple[str, ...],
                  n_jobs: int = 1) -> dict[str, np.ndarray]:
    """Forecast every row of ``Y`` (NaN before a series starts) ``h`` steps with each named
    model; returns name -> (n_series, h) matrix, clipped at zero. Series too short for a
    model get the seasonal naive forecast (statsforecast's fallback)."""
    out: dict[str, np.ndarray] = {}
    if "seasonal_naive" in names:
        out["seasonal_naive"] = seasonal_naive(Y, h, season)
    others = [n for n in names if n != "seasonal_naive"]
    if not others:
        return out
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    n, T = Y.shape
    Z = np.clip(Y, 0, None)
    valid = ~np.isnan(Z)
    rows, cols = np.nonzero(valid)
    df = pd.DataFrame({"unique_id": rows, "ds": cols, "y": Z[rows, cols]})
    short = np.bincount(rows, minlength=n) < max(2 * season, 8)
    fb = seasonal_naive(Y, h, season)
    keep = df["unique_id"].isin(np.flatnonzero(~short))
    for name in others:
        out[name] = fb.copy()
    if keep.any():
        sf = StatsForecast(models=[_model(m, season) for m in others], freq=1, n_jobs=n_jobs,
                           fallback_model=SeasonalNaive(season_length=season))
        os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(df=df[keep], h=h)
        fc = fc.sort_values(["unique_id", "ds"])
        uid = fc["unique_id"].to_numpy().reshape(-1, h)[:, 0].astype(int)
        for name in others:
            vals = fc[name].to_numpy(float).reshape(-1, h)
            out[name][uid] = np.nan_to_num(vals)
    return {k: np.clip(v, 0, None) for k, v in out.items()}


class StatsForecaster(Forecaster):
    """One classical model per series, fitted and forecast at once.

    Parameters
    ----------
    model : str
        ``"seasonal_naive"``, ``"ets"`` (AutoETS), ``"theta"`` (AutoTheta), ``"croston"``
        (CrostonOptimized, intermittent demand) or ``"adida"`` (ADIDA, intermittent demand).
    freq : {"D", "W"}
        Period of the series (weekly periods end on Friday).
    season_length : int
        Periods in a season (7 for daily, 52 for weekly data).
    horizon : int
        Periods forecast at fit time.
    n_jobs : int
        Processes statsforecast may use.
    random_state : int, optional
        Unused (the models are deterministic); kept for the common interface.
    """

    def __init__(self, model: str = "ets", freq: str = "D", season_length: int = 7,
                 horizon: int = 14, n_jobs: int = 1, random_state: int | None = None):
        self.model = model
        self.freq = freq
        self.season_length = season_length
        self.horizon = horizon
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame, future: pd.DataFrame | None = None) -> StatsForecaster:
        """Fit on ``frame`` (``series_id, ts, y``) and keep the next ``horizon`` periods."""
        if self.model not in STAT_MODELS:
            raise DataError(f"model must be one of {STAT_MODELS}; got {self.model!r}")
        grid = self._grid(frame)
        P = self.predict_grid(grid, int(self.horizon))
        self._store(grid, P)
        return self

    def predict_grid(self, grid: Grid, h: int) -> np.ndarray:
        """Forecast matrix (n_series, h) for a grid (no state is kept)."""
        return stat_forecast(grid.Y, h, int(self.season_length), [self.model],
                             self.n_jobs)[self.model]
