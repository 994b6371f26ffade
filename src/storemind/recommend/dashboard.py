"""The recommendations page: model comparison from the registry, and a customer explorer
(history next to recommendations with their reasons). The live page is ``SUBPAGES["live"]``."""
from __future__ import annotations

from typing import Any

import ibis
import plotly.graph_objects as go

from storemind._plots import chart_html
from storemind.recommend.dashboard_live import live_page

__all__ = ["page", "SUBPAGES"]

_METRICS = ("ndcg@10", "recall@20", "coverage@10")


def comparison_rows(metrics: dict[str, Any], served: str = "hybrid") -> list[dict[str, Any]]:
    """One row per model from a registry version's metrics (``<model>.<metric>`` keys; the
    unprefixed ones are the served model's), best NDCG@10 first."""
    models: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        model, _, metric = key.rpartition(".")
        if metric in _METRICS and isinstance(value, int | float):
            models.setdefault(model or served, {})[metric] = float(value)
    rows = [{"model": m, **{k: v.get(k) for k in _METRICS}} for m, v in models.items()]
    return sorted(rows, key=lambda r: -(r["ndcg@10"] or 0.0))


def _history(store: Any, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
    e = store.table("events")
    i = store.table("items")
    mine = e.filter(e.user_id == user_id).order_by(e.ts.desc()).limit(limit)
    joined = mine.left_join(i, mine.item_id == i.item_id).select(
        mine.ts, mine.event_type, mine.item_id, i.title, i.category)
    # ordered again after the join: a join does not keep the order of its input
    frame = store.execute(joined.order_by(ibis.desc("ts")))
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame.to_dict("records")


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """Context for ``recommend.html``; ``?user=`` opens the explorer for one customer."""
    version = registry.get("recommend")
    served = version.params.get("served") or "hybrid"
    rows = comparison_rows(version.metrics, served)
    fig = go.Figure(go.Bar(x=[r["model"] for r in rows], y=[r["ndcg@10"] for r in rows],
                           marker_color=["#1f7a4d" if r["model"] == served else "#8aa"
                                         for r in rows]))
    fig.update_layout(yaxis_title="NDCG@10 on the time holdout")
    user = (request.query_params.get("user") or "").strip()
    explorer = None
    if user:
        from storemind.recommend.api import service_of

        answer = service_of(request.app).recommend(user, k=10)
        explorer = {"user": user, "history": _history(store, user), "answer": answer}
    e = store.table("events")
    latest = store.execute(e.order_by(e.ts.desc()).select("user_id").limit(1))
    return "recommend.html", {
        "rows": rows, "metrics": _METRICS, "model_version": version.version,
        "served": served,
        "sample_user": latest.user_id.iloc[0] if len(latest) else "",
        "chart": chart_html(fig, "model-comparison", height=300),
        "explorer": explorer, "user": user,
    }


SUBPAGES = {"live": live_page}
