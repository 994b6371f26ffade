"""The customers dashboard page: segment map, segment sizes and value over time, movements
between segments, clusters, and one customer's page (``?user=<id>``)."""
from __future__ import annotations

from typing import Any

import pandas as pd

from storemind._plots import chart_html
from storemind.customers import pipeline
from storemind.customers.segments import SEGMENTS

__all__ = ["page"]


def _charts(registry: Any) -> dict[str, str]:
    import plotly.graph_objects as go

    table = pipeline.segment_table(registry)
    fig = go.Figure(go.Treemap(
        labels=table.segment, parents=[""] * len(table), values=table.customers,
        customdata=table[["clv", "monetary"]].to_numpy(),
        hovertemplate="%{label}<br>%{value} customers<br>CLV %{customdata[0]:,.0f}"
                      "<extra></extra>", textinfo="label+value"))
    out = {"segment_map": chart_html(fig, "segment-map", height=380)}
    sizes, moves = pipeline.load_history(registry)
    fig = go.Figure()
    for seg in [s for s in SEGMENTS if s in set(sizes.segment)]:
        part = sizes[sizes.segment == seg]
        fig.add_trace(go.Bar(x=part.as_of, y=part.customers, name=seg))
    fig.update_layout(barmode="stack", yaxis_title="customers")
    out["sizes"] = chart_html(fig, "segment-sizes")
    fig = go.Figure()
    for seg in [s for s in SEGMENTS if s in set(sizes.segment)]:
        part = sizes[sizes.segment == seg]
        fig.add_trace(go.Scatter(x=part.as_of, y=part.value, name=seg, mode="lines+markers"))
    fig.update_layout(yaxis_title="spend to date")
    out["value"] = chart_html(fig, "segment-value")
    if len(moves):
        labels = [f"{s} (before)" for s in moves.from_segment.unique()] + \
                 [f"{s} (now)" for s in moves.to_segment.unique()]
        idx = {lab: i for i, lab in enumerate(labels)}
        fig = go.Figure(go.Sankey(
            node={"label": labels, "pad": 12},
            link={"source": [idx[f"{s} (before)"] for s in moves.from_segment],
                  "target": [idx[f"{s} (now)"] for s in moves.to_segment],
                  "value": moves.customers.tolist()}))
        out["moves"] = chart_html(fig, "segment-moves", height=460)
    else:
        out["moves"] = ""
    return out


def _customer(request: Any, store: Any, registry: Any, user_id: str) -> dict[str, Any]:
    row = pipeline.profile_of(registry, user_id)
    if row is None:
        return {"user_id": user_id, "found": False}
    row = pipeline._jsonable(row)
    churn = None
    try:
        from storemind.behavior.pipeline import customer_churn

        churn = customer_churn(registry, user_id)
    except Exception:  # behaviour not trained or customer unknown to it
        churn = None
    hist = pipeline.history_of(store, user_id, limit=20)
    hist["ts"] = pd.to_datetime(hist.ts).dt.strftime("%Y-%m-%d %H:%M")
    return {"user_id": user_id, "found": True, "row": row, "churn": churn,
            "history": hist.astype(object).where(hist.notna(), "").to_dict("records")}


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """(template, context) for ``/dashboard/customers``."""
    table = pipeline.segment_table(registry)
    clusters = pipeline.load_clusters(registry)
    user = request.query_params.get("user") if request is not None else None
    scores = pipeline.load_scores(registry)
    top = scores.nlargest(10, "clv")[["user_id", "segment", "frequency", "monetary", "clv",
                                      "p_alive"]]
    ctx = {
        "segments": table.to_dict("records"),
        "clusters": clusters.to_dict("records"),
        "top_customers": top.to_dict("records"),
        "customer": _customer(request, store, registry, user) if user else None,
        "charts": _charts(registry),
    }
    return "customers.html", ctx
