"""The behaviour dashboard page: funnel charts (by week, category, segment), churn model
quality against its baselines, the reliability table, and the customers most at risk."""
from __future__ import annotations

from typing import Any

import pandas as pd

from storemind._plots import chart_html
from storemind.behavior import pipeline
from storemind.behavior.funnels import funnel

__all__ = ["page"]


def _funnel_charts(store: Any, registry: Any) -> dict[str, str]:
    import plotly.graph_objects as go

    out: dict[str, str] = {}
    total = funnel(store, "all")
    if not total["views"].iloc[0]:  # an order export alone: there is no funnel to draw
        buys = int(total["purchases"].iloc[0])
        return {"note": f"This store has no product views (and {buys:,} purchase events): the "
                        "funnel needs the shop's view and cart events, e.g. `storemind ingest "
                        "events clickstream.csv`."}
    fig = go.Figure(go.Funnel(y=["view", "cart", "purchase"],
                              x=total[["views", "carts", "purchases"]].iloc[0].tolist(),
                              textinfo="value+percent initial"))
    out["funnel"] = chart_html(fig, "funnel-all", height=300)
    weekly = funnel(store, "week")
    if len(weekly):  # the last 52 weeks of data: one stray old time must not squash the rest
        weeks = pd.to_datetime(weekly.group)
        weekly = weekly[weeks >= weeks.max() - pd.Timedelta(weeks=51)]
    fig = go.Figure()
    for col in ("view_to_cart", "cart_to_purchase", "view_to_purchase"):
        fig.add_trace(go.Scatter(x=weekly.group, y=weekly[col], name=col.replace("_", " "),
                                 mode="lines+markers"))
    fig.update_layout(yaxis_tickformat=".0%")
    out["weekly"] = chart_html(fig, "funnel-week")
    cat = funnel(store, "category").sort_values("view_to_purchase")
    fig = go.Figure(go.Bar(x=cat.view_to_purchase, y=cat.group, orientation="h"))
    fig.update_layout(xaxis_tickformat=".0%", xaxis_title="view to purchase")
    out["category"] = chart_html(fig, "funnel-category")
    try:
        from storemind.customers.pipeline import load_scores

        seg = funnel(store, "segment", segments=load_scores(registry)[["user_id", "segment"]])
        fig = go.Figure(go.Bar(x=seg.group, y=seg.view_to_purchase))
        fig.update_layout(yaxis_tickformat=".0%", yaxis_title="view to purchase")
        out["segment"] = chart_html(fig, "funnel-segment")
    except Exception:  # customers not trained
        out["segment"] = ""
    return out


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """(template, context) for ``/dashboard/behavior``."""
    mv = registry.get("behavior")
    scores = pipeline.load_scores(registry)
    at_risk = scores.dropna(subset=["churn_risk"]).nlargest(15, "churn_risk")
    rel = pd.read_csv(mv.path / "reliability.csv")
    m = mv.metrics
    quality = [
        {"model": "LightGBM (ours)", "roc_auc": m.get("churn_roc_auc"),
         "pr_auc": m.get("churn_pr_auc"), "log_loss": m.get("churn_log_loss"),
         "brier": m.get("churn_brier")},
        {"model": "transformer over events (ours)", "roc_auc": m.get("sequence_roc_auc"),
         "pr_auc": m.get("sequence_pr_auc"), "log_loss": m.get("sequence_log_loss"),
         "brier": m.get("sequence_brier")},
        {"model": "logistic regression on RFM", "roc_auc": m.get("baseline_rfm_logit_roc_auc"),
         "pr_auc": m.get("baseline_rfm_logit_pr_auc"),
         "log_loss": m.get("baseline_rfm_logit_log_loss"),
         "brier": m.get("baseline_rfm_logit_brier")},
        {"model": "BG/NBD 1 - P(alive)", "roc_auc": m.get("baseline_bgnbd_alive_roc_auc"),
         "pr_auc": None, "log_loss": None, "brier": None},
    ]
    ctx = {
        "horizon": mv.params.get("horizon_days"),
        "quality": [q for q in quality if q["roc_auc"] is not None],
        "reliability": rel.to_dict("records"),
        "at_risk": at_risk[["user_id", "churn_risk", "purchase_propensity"]].to_dict("records"),
        "charts": _funnel_charts(store, registry),
    }
    return "behavior.html", ctx
