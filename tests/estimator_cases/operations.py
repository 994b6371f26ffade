"""Shared-check cases for storemind.operations estimators."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.operations import DemandForecaster, GBMForecaster, StatsForecaster

_rng = np.random.default_rng(0)
_days = pd.date_range("2024-01-01", periods=70, freq="D")
_rows = []
for k in range(6):
    base = 2 + k + 2 * (np.arange(70) % 7 == 5)
    y = _rng.poisson(base if k < 4 else 0.3, 70).astype(float)
    _rows.append(pd.DataFrame({"series_id": f"s{k}", "ts": _days, "y": y, "price": 10.0 + k}))
_F = pd.concat(_rows, ignore_index=True)
_BAD = _F.assign(y="x")

CASES = [
    Case(
        name="DemandForecaster",
        make=lambda seed: DemandForecaster(horizon=7, models=("seasonal_naive", "croston", "gbm"),
                                           gbm_params={"n_estimators": 20}, random_state=seed),
        fit=lambda m: m.fit(_F),
        verb=lambda m: m.forecast(),
        bad_fit=lambda m: m.fit(_BAD),
    ),
    Case(
        name="GBMForecaster",
        make=lambda seed: GBMForecaster(horizon=7, n_estimators=20, random_state=seed),
        fit=lambda m: m.fit(_F),
        verb=lambda m: m.forecast(),
        bad_fit=lambda m: m.fit(_F.drop(columns="y")),
    ),
    Case(
        name="StatsForecaster",
        make=lambda seed: StatsForecaster(model="croston", horizon=7, random_state=seed),
        fit=lambda m: m.fit(_F),
        verb=lambda m: m.forecast(),
        bad_fit=lambda m: m.fit(_BAD),
    ),
]
