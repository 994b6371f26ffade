"""The operations dashboard page: forecast vs actual with intervals for any product, the
reorder plan and the alert list."""
from __future__ import annotations

from typing import Any

import pandas as pd

from storemind._plots import chart_html
from storemind.errors import DataError

__all__ = ["page"]


def _history(store: Any, series_id: str, freq: str, since: pd.Timestamp) -> pd.DataFrame:
    from storemind.operations.pipeline import load_demand

    d, _, _ = load_demand(store)
    d = d[(d["series_id"] == series_id) & (d["ts"] >= since)]
    return d.groupby("ts", as_index=False)["y"].sum()


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """(template, context) for ``/dashboard/operations``; ``?item=<id>`` picks the product."""
    import plotly.graph_objects as go

    from storemind.operations.pipeline import REVIEW_PERIOD_DAYS, alerts, reorder_plan

    mv = registry.get("operations")
    fc = pd.read_parquet(mv.path / "forecast.parquet")
    hold = pd.read_parquet(mv.path / "holdout_forecast.parquet")
    ids = sorted(fc["series_id"].unique())
    busiest = hold.groupby("series_id")["y"].sum().sort_values(ascending=False)
    item = request.query_params.get("item") or (busiest.index[0] if len(busiest) else ids[0])
    if item not in set(ids):
        raise DataError(f"no forecast for {item!r}")
    freq = mv.params.get("freq", "D")
    span = pd.Timedelta(days=56 if freq == "D" else 364)
    h = hold[hold["series_id"] == item]
    f = fc[fc["series_id"] == item]
    start = (h["ts"].min() if len(h) else f["ts"].min()) - span
    hist = _history(store, item, freq, start)
    fig = go.Figure()
    for part, name, color in ((h, "held-out forecast", "#ff7f0e"), (f, "forecast", "#2ca02c")):
        if part.empty:
            continue
        fig.add_trace(go.Scatter(x=list(part["ts"]) + list(part["ts"][::-1]),
                                 y=list(part["upper"]) + list(part["lower"][::-1]),
                                 fill="toself", fillcolor=color, opacity=0.2, line={"width": 0},
                                 name=f"{name} interval ({mv.params.get('level', 0.9):.0%})"))
        fig.add_trace(go.Scatter(x=part["ts"], y=part["yhat"], name=name,
                                 line={"color": color}))
    fig.add_trace(go.Scatter(x=hist["ts"], y=hist["y"], name="actual", mode="lines+markers",
                             line={"color": "#1f77b4"}))
    fig.update_layout(xaxis_title="period", yaxis_title="demand")
    plan_rows, plan_problem = [], None
    try:
        plan_rows = reorder_plan(store, registry).head(100).to_dict(orient="records")
    except DataError as exc:
        plan_problem = str(exc)
    alert_rows = alerts(store, registry).head(100).to_dict(orient="records")
    m, p = mv.metrics, mv.params
    quality = [(k, f"{m[k]:,.4g}") for k in (
        "holdout_wape", "holdout_mase", "holdout_interval_coverage_in_sample",
        "replay_fill_rate", "replay_avg_inventory_units", "train_seconds") if k in m]
    if "service_level" in p:  # the policy as trained (older versions lack the newer keys)
        target = (f"fill rate {p['fill_rate']:g}" if p.get("fill_rate")
                  else f"service level {p['service_level']:g}")
        review = float(p.get("review_period_days") or REVIEW_PERIOD_DAYS)
        cover = max(review, float(p.get("order_cycle_days") or 0))  # as reorder_policy does
        quality.append(("policy", f"{target}; review every {review:g} d; orders cover "
                                  f"{cover:g} d; demand level from "
                                  f"{p.get('demand_level', 'forecast')}"))
    return "operations.html", {
        "forecast_chart": chart_html(fig, "operations-forecast"),
        "item": item, "item_ids": ids[:2000], "plan": plan_rows, "plan_problem": plan_problem,
        "alerts": alert_rows, "quality": quality, "chosen": mv.params.get("chosen", {}),
    }
