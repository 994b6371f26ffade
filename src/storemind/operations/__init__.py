"""Operations: demand forecasts per product, inventory policies and reorder plans, order
monitoring.

* forecasting: :class:`DemandForecaster` (model choice by rolling-origin backtest, conformal
  intervals), :class:`GBMForecaster` (LightGBM global, direct multi-step),
  :class:`StatsForecaster` (seasonal naive, AutoETS, AutoTheta, Croston, ADIDA)
* evaluation: :func:`rolling_origin`, :func:`score_backtest`
* inventory: :func:`reorder_policy`, :func:`replay_policy`
* monitoring: :func:`order_alerts`, :func:`forecast_alerts`
* store access: :func:`daily_demand`, :func:`sales_demand`, :func:`latest_stock`
"""
from __future__ import annotations

from storemind.operations._features import daily_demand, latest_stock, sales_demand
from storemind.operations.backtest import rolling_origin, score_backtest
from storemind.operations.baselines import STAT_MODELS, StatsForecaster
from storemind.operations.forecaster import MODELS, DemandForecaster, demand_class
from storemind.operations.gbm import GBMForecaster
from storemind.operations.monitor import STUCK_AFTER_HOURS, forecast_alerts, order_alerts
from storemind.operations.policy import reorder_policy
from storemind.operations.replay import replay_policy

__all__ = [
    "DemandForecaster", "GBMForecaster", "StatsForecaster", "MODELS", "STAT_MODELS",
    "demand_class", "rolling_origin", "score_backtest", "reorder_policy", "replay_policy",
    "order_alerts", "forecast_alerts", "STUCK_AFTER_HOURS", "daily_demand", "sales_demand",
    "latest_stock",
]
