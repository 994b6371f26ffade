"""Train and evaluate the operations capability from the store; reorder plans and alerts.

``train`` reads demand (sale order lines per item and day, or the aggregated ``sales`` table
per item x location and week), holds out the last ``horizon`` periods to measure the
forecaster (WAPE, MASE, interval coverage) and the inventory policy (a replay of the held-out
days), refits on everything, derives the (s, S) policy per product from the forecast and the
lead times of the newest stock snapshot, and registers forecaster, forecast, policy and the
held-out forecast (for the dashboard and the forecast alerts).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.evaluation import wape
from storemind.operations._features import (
    daily_demand,
    demand_source,
    has_rows,
    item_groups,
    item_titles,
    latest_stock,
    order_lines,
    sales_demand,
)
from storemind.operations._grid import check_demand_frame, to_grid
from storemind.operations.backtest import score_backtest
from storemind.operations.forecaster import DemandForecaster
from storemind.operations.monitor import ALERT_COLUMNS, forecast_alerts, order_alerts
from storemind.operations.policy import reorder_policy
from storemind.operations.replay import replay_policy

__all__ = ["train", "evaluate", "reorder_plan", "alerts", "load_demand", "load_forecaster",
           "DAILY_MODELS", "WEEKLY_MODELS", "SERVICE_LEVEL", "REVIEW_PERIOD_DAYS",
           "DEFAULT_LEAD_TIME_DAYS"]

DAILY_MODELS = ("seasonal_naive", "croston", "adida", "gbm")
WEEKLY_MODELS = ("seasonal_naive", "lowrank_naive", "gbm")
SERVICE_LEVEL = 0.95
REVIEW_PERIOD_DAYS = 7.0
DEFAULT_LEAD_TIME_DAYS = 7.0
CAP = "operations"


def load_demand(store: Any) -> tuple[pd.DataFrame, str, int]:
    """(demand frame with a ``group`` column, freq, season length) from the store."""
    source = demand_source(store)
    if source == "orders":
        d = daily_demand(store)
        groups = item_groups(store)
        d["group"] = d["series_id"].map(groups).fillna("unknown")
        return d, "D", 7
    d = sales_demand(store)
    step = d["ts"].drop_duplicates().sort_values().diff().median()
    freq, season = ("W", 52) if step >= pd.Timedelta(days=6) else ("D", 7)
    d["group"] = d["item_id"]
    return d.drop(columns=["item_id", "location_id"]), freq, season


def _forecaster(freq: str, season: int, horizon: int, models: tuple[str, ...] | None,
                seed: int, criterion: str = "absolute") -> DemandForecaster:
    daily = freq == "D"
    return DemandForecaster(
        freq=freq, season_length=season, horizon=horizon,
        models=models or (DAILY_MODELS if daily else WEEKLY_MODELS),
        covariates=("price", "promo", "is_holiday"),
        gbm_params={"objective": "tweedie" if daily else "l1", "n_estimators": 100,
                    "max_rows": 30_000 if daily else 200_000,
                    "origin_step": 1 if daily else 2},
        criterion=criterion, n_jobs=2, random_state=seed)


def _lead_times(store: Any) -> pd.Series:
    stock = latest_stock(store)
    if stock.empty:
        return pd.Series(dtype=float)
    return stock.set_index(stock["item_id"].astype(str))["lead_time_days"].astype(float)


def _holdout(frame: pd.DataFrame, freq: str, season: int, horizon: int,
             models: tuple[str, ...] | None, seed: int, criterion: str = "absolute"
             ) -> tuple[pd.DataFrame, dict, Any, DemandForecaster]:
    """Fit on everything; score the backtest's last window (the last ``horizon`` periods,
    forecast from the history before them) against what was sold."""
    dates = np.sort(frame["ts"].dt.normalize().unique())
    if len(dates) < horizon + max(season + 2, 8):
        raise DataError(f"operations needs at least {horizon + max(season + 2, 8)} "
                        f"periods of demand history; the store has {len(dates)}")
    f = _forecaster(freq, season, horizon, models, seed, criterion).fit(frame)
    lw = f.last_window()
    cut = lw["ts"].min()
    train = frame[frame["ts"] < cut]
    grid = to_grid(check_demand_frame(train), freq)
    actual = frame[frame["ts"] >= cut].groupby(["series_id", "ts"], as_index=False)["y"].sum()
    hold = lw.merge(actual, on=["series_id", "ts"], how="left")
    hold["y"] = hold["y"].fillna(0.0)
    hold = hold[hold["series_id"].isin(grid.ids)].reset_index(drop=True)
    m = score_backtest(hold.assign(origin=pd.Timestamp(cut)), train, season)
    metrics = {"holdout_wape": m["wape"], "holdout_mae": m["mae"], "holdout_mase": m["mase"],
               "holdout_periods": float(horizon), "holdout_series": float(len(grid.ids)),
               "holdout_interval_coverage_in_sample": float(
                   ((hold["y"] >= hold["lower"]) & (hold["y"] <= hold["upper"])).mean())}
    if not (hold["y"] == 0).all():
        metrics["holdout_wape"] = wape(hold["y"], hold["yhat"])
    return hold, metrics, grid, f


def evaluate(store: Any, settings: Any = None, *, horizon: int | None = None,
             models: tuple[str, ...] | None = None, criterion: str = "absolute"
             ) -> dict[str, float]:
    """Hold out the last ``horizon`` periods: forecast WAPE, MAE, MASE and interval
    coverage, and (daily demand) the replay of the policy over them. ``criterion`` is the
    forecaster's model-choice error (see :class:`DemandForecaster`)."""
    frame, freq, season = load_demand(store)
    seed = int(getattr(settings, "seed", 0) or 0)
    H = horizon or (14 if freq == "D" else 13)
    hold, metrics, grid, _ = _holdout(frame, freq, season, H, models, seed, criterion)
    if freq == "D":
        metrics.update(_replay_metrics(hold, grid, _lead_times(store)))
    return metrics


def _replay_metrics(hold: pd.DataFrame, grid: Any, lead: pd.Series,
                    service_level: float = SERVICE_LEVEL,
                    review_period: float = REVIEW_PERIOD_DAYS,
                    fill_rate: float | None = None,
                    **policy_options: Any) -> dict[str, float]:
    """The policy, as trained, replayed over the held-out block."""
    pol = reorder_policy(hold, grid.Y, lead_time=lead if len(lead) else DEFAULT_LEAD_TIME_DAYS,
                         review_period=review_period, service_level=service_level,
                         fill_rate=fill_rate, series_ids=grid.ids, **policy_options)
    D = hold.pivot(index="series_id", columns="ts", values="y").reindex(pol["series_id"])
    r = replay_policy(D.to_numpy(), pol["reorder_point"].to_numpy(),
                      lead_time=pol["lead_time_days"].to_numpy(),
                      order_up_to=pol["order_up_to"].to_numpy(),
                      review_period=max(int(review_period), 1))
    return {"replay_fill_rate": r["fill_rate"], "replay_stockout_share": r["stockout_share"],
            "replay_avg_inventory_units": r["avg_inventory_units"]}


def _cold_start(fc: pd.DataFrame, frame: pd.DataFrame, store: Any) -> pd.DataFrame:
    """Forecast rows for catalogue items without any demand yet: the median forecast of
    their category per step (``models = 'category fallback'``)."""
    groups = item_groups(store)
    new = groups[~groups.index.isin(frame["series_id"].unique())]
    if new.empty:
        return fc
    g = fc.assign(group=fc["series_id"].map(groups).fillna("unknown"))
    med = g.groupby(["group", "step", "ts"], as_index=False)[["yhat", "lower", "upper"]].median()
    rows = pd.DataFrame({"series_id": new.index, "group": new.to_numpy()}).merge(med, on="group")
    rows["demand_class"] = "intermittent"
    rows["models"] = "category fallback"
    return pd.concat([fc, rows.drop(columns="group")[fc.columns]], ignore_index=True)


def train(store: Any, registry: Any, settings: Any = None, *, horizon: int | None = None,
          models: tuple[str, ...] | None = None, service_level: float = SERVICE_LEVEL,
          review_period: float = REVIEW_PERIOD_DAYS, random_state: int | None = None,
          criterion: str = "absolute", fill_rate: float | None = None,
          order_cycle: float | None = None, demand_level: str = "forecast") -> Any:
    """Evaluate on a held-out block, refit, derive the inventory policy and register all of
    it; returns the new ``ModelVersion``. ``criterion``: the forecaster's model choice by
    summed absolute error (``"absolute"``, the big sellers decide) or by each product's
    scaled error (``"scaled"``, every product alike; see :class:`DemandForecaster`).
    ``fill_rate``: target the share of demand served from stock instead of the cycle
    ``service_level``; ``order_cycle``: days of demand one order covers; ``demand_level``:
    the policy's daily demand from the forecast or from the last 90 days (``"recent"``;
    see :func:`reorder_policy`)."""
    policy_options = {"order_cycle": order_cycle, "demand_level": demand_level}
    t0 = time.perf_counter()
    seed = random_state if random_state is not None else int(getattr(settings, "seed", 0) or 0)
    frame, freq, season = load_demand(store)
    H = horizon or (14 if freq == "D" else 13)
    hold, metrics, hgrid, f = _holdout(frame, freq, season, H, models, seed, criterion)
    lead = _lead_times(store)
    if freq == "D":
        metrics.update(_replay_metrics(hold, hgrid, lead, service_level, review_period,
                                       fill_rate, **policy_options))
    fc = f.forecast()
    policy = None
    if freq == "D":
        grid = to_grid(check_demand_frame(frame), freq)
        fc = _cold_start(fc, frame, store)
        policy = reorder_policy(fc, grid.Y, series_ids=grid.ids,
                                lead_time=lead if len(lead) else DEFAULT_LEAD_TIME_DAYS,
                                review_period=review_period, service_level=service_level,
                                fill_rate=fill_rate, **policy_options)
    metrics.update(train_seconds=time.perf_counter() - t0, series=float(len(f.series_ids_)))
    for k, name in enumerate(("smooth", "intermittent")):
        metrics[f"share_{name}"] = float((f.classes_ == k).mean())

    def write(folder: Path) -> None:
        f.save(folder / "forecaster")
        fc.to_parquet(folder / "forecast.parquet", index=False)
        hold.to_parquet(folder / "holdout_forecast.parquet", index=False)
        if policy is not None:
            policy.to_parquet(folder / "policy.parquet", index=False)

    params = {"freq": freq, "season_length": season, "horizon": H,
              "models": list(f.models), "chosen": f.choice_, "criterion": f.criterion,
              "level": f.level,
              "service_level": service_level, "fill_rate": fill_rate,
              "review_period_days": review_period, "order_cycle_days": order_cycle,
              "demand_level": demand_level,
              "random_state": seed, "forecast_strategy": "direct multi-step (GBM)"}
    return registry.register(CAP, write, params=params, metrics=metrics,
                             data={"rows": int(len(frame)), "series": int(len(f.series_ids_)),
                                   "first": str(frame["ts"].min()),
                                   "last": str(frame["ts"].max())})


def load_forecaster(registry: Any, version: str | None = None) -> DemandForecaster:
    """The registered forecaster (current by default)."""
    mv = registry.get(CAP, version)
    return DemandForecaster.load(mv.path / "forecaster")


def reorder_plan(store: Any, registry: Any, settings: Any = None, *,
                 only_orders: bool = False) -> pd.DataFrame:
    """What to order today, how much and why, from the current model's policy and the newest
    stock snapshot per item. On-order quantities are not in the store, so the position is the
    quantity on hand.

    Returns
    -------
    DataFrame
        ``item_id, title, order_now, order_qty, on_hand, reorder_point, order_up_to,
        daily_forecast, cover_days, lead_time_days, method, unit_cost, order_cost,
        stock_ts, reason``; items to order first, then by days of cover.
    """
    mv = registry.get(CAP)
    path = mv.path / "policy.parquet"
    if not path.exists():
        raise DataError("the current operations model has no inventory policy (it was trained "
                        "on weekly sales, not daily order lines)")
    if not has_rows(store, "stock"):
        raise DataError("a reorder plan needs stock snapshots (table stock: item_id, ts, "
                        "on_hand, lead_time_days); the store has none")
    pol = pd.read_parquet(path)
    stock = latest_stock(store)
    stock["item_id"] = stock["item_id"].astype(str)
    p = pol.merge(stock.rename(columns={"ts": "stock_ts", "lead_time_days": "stock_lead"}),
                  left_on="series_id", right_on="item_id", how="inner")
    on = p["on_hand"].astype(float)
    order = on <= p["reorder_point"]
    qty = np.where(order, np.ceil(np.maximum(p["order_up_to"] - on, 0)), 0.0)
    order = order & (qty > 0)
    cover = np.where(p["daily_mean"] > 0, on / p["daily_mean"].clip(lower=1e-9), np.inf)
    titles = item_titles(store)
    reasons = []
    for r, o, q, c in zip(p.itertuples(), order, qty, cover, strict=True):
        lt = f"{r.lead_time_days:g}-day lead time"
        base = (f"on hand {r.on_hand:g} vs reorder point {r.reorder_point:g} "
                f"({r.demand_lead_time:.1f} units expected over the {lt}; "
                f"{SERVICE_LEVEL:.0%} service, {r.method} demand)")
        if o:
            reasons.append(f"order {q:g}: {base}; brings stock up to {r.order_up_to:g}")
        else:
            cov = "no expected demand" if not np.isfinite(c) else f"{c:.0f} days of cover"
            reasons.append(f"no order: {base}; {cov}")
    out = pd.DataFrame({
        "item_id": p["series_id"], "title": p["series_id"].map(titles),
        "order_now": order.to_numpy(), "order_qty": qty, "on_hand": on,
        "reorder_point": p["reorder_point"], "order_up_to": p["order_up_to"],
        "daily_forecast": p["daily_mean"].round(4), "cover_days": np.round(cover, 1),
        "lead_time_days": p["lead_time_days"], "method": p["method"],
        "unit_cost": p["unit_cost"], "order_cost": np.round(qty * p["unit_cost"].fillna(0), 2),
        "stock_ts": p["stock_ts"], "reason": reasons,
    })
    out = out.sort_values(["order_now", "cover_days"], ascending=[False, True],
                          ignore_index=True)
    return out[out["order_now"]].reset_index(drop=True) if only_orders else out


def alerts(store: Any, registry: Any = None, settings: Any = None, *,
           stuck_after_hours: dict[str, float] | None = None, z: float = 5.0,
           recent_days: float = 7.0) -> pd.DataFrame:
    """The alert list: stuck orders, unusual quantities and amounts, and (once a model is
    registered) daily product demand far outside the forecast interval; columns
    ``kind, severity, ts, order_id, user_id, item_id, value, expected, reason``."""
    parts = []
    if has_rows(store, "orders"):
        o, li = order_lines(store)
        o = o[(o["kind"] == "sale") | o["kind"].isna()]
        parts.append(order_alerts(o, li, stuck_after_hours=stuck_after_hours, z=z,
                                  recent_days=recent_days))
    if registry is not None and registry.current_version(CAP) is not None:
        mv = registry.get(CAP)
        if mv.params.get("freq") == "D":
            fc = pd.read_parquet(mv.path / "forecast.parquet")
            actual = None
            if has_rows(store, "orders"):
                d = daily_demand(store)
                if (d["ts"] >= fc["ts"].min()).any():
                    actual = d[d["ts"] >= fc["ts"].min()]
                    fc = fc[fc["ts"] <= actual["ts"].max()]
            if actual is None:  # nothing after the model: check the held-out block
                fc = pd.read_parquet(mv.path / "holdout_forecast.parquet")
                actual = fc[["series_id", "ts", "y"]]
            parts.append(forecast_alerts(actual, fc))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    rank = out["severity"].map({"high": 0, "medium": 1, "low": 2})
    return out.assign(_r=rank).sort_values(["_r", "ts"], ascending=[True, False]) \
        .drop(columns="_r").reset_index(drop=True)
