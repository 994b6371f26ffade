"""The marketing dashboard page: holdout Qini curves, learner comparison, segment insights."""
from __future__ import annotations

import json
from typing import Any

__all__ = ["page"]


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """(template, context) for ``/dashboard/marketing``; NotFoundError before training."""
    import plotly.graph_objects as go

    from storemind._plots import chart_html

    mv = registry.get("marketing")
    curves = json.loads((mv.path / "curves.json").read_text())
    fig = go.Figure()
    for arm, c in curves.items():
        fig.add_trace(go.Scatter(x=c["x"], y=c["y"], mode="lines", name=arm))
    ends = [c["y"][-1] for c in curves.values() if c["y"]]
    if ends:
        for arm, c in curves.items():
            fig.add_trace(go.Scatter(x=[0, 1], y=[0, c["y"][-1]], mode="lines",
                                     line={"dash": "dot"}, name=f"{arm} (random)"))
    fig.update_layout(xaxis_title="share of customers targeted (by predicted uplift)",
                      yaxis_title="incremental conversions (Qini)")
    insights = json.loads((mv.path / "insights.json").read_text())
    metrics = [(k, f"{v:.4f}") for k, v in sorted(mv.metrics.items())
               if k.startswith("holdout_")]
    return "marketing.html", {"qini_chart": chart_html(fig, "marketing-qini"),
                              "insights": insights, "quality": metrics,
                              "params": mv.meta["params"]}
