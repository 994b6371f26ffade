"""The marketing dashboard page: holdout Qini curves of every learner compared, a campaign plan
for a budget (``?budget=``), segment insights."""
from __future__ import annotations

import json
from typing import Any

__all__ = ["page"]


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """(template, context) for ``/dashboard/marketing``; NotFoundError before training."""
    import plotly.graph_objects as go

    from storemind._plots import chart_html

    mv = registry.get("marketing")
    saved = json.loads((mv.path / "curves.json").read_text())
    # models trained before the comparison was kept saved only the winner's curves
    models = saved["models"] if "models" in saved else {mv.meta["params"]["learner"]: saved}
    best = saved.get("best", mv.meta["params"]["learner"])
    fig = go.Figure()
    for name, curves in models.items():
        for arm, c in curves.items():
            fig.add_trace(go.Scatter(
                x=c["x"], y=c["y"], mode="lines", name=f"{name.upper()}-learner: {arm}",
                line={"width": 3 if name == best else 1.5}, opacity=1.0 if name == best else 0.6))
    for arm, c in models.get(best, {}).items():
        if c["y"]:
            fig.add_trace(go.Scatter(x=[0, 1], y=[0, c["y"][-1]], mode="lines",
                                     line={"dash": "dot", "color": "grey"},
                                     name=f"{arm}: random targeting"))
    fig.update_layout(xaxis_title="share of customers targeted (by predicted uplift)",
                      yaxis_title="incremental conversions (Qini)")
    insights = json.loads((mv.path / "insights.json").read_text())
    metrics = [(k, f"{v:.4f}") for k, v in sorted(mv.metrics.items())
               if k.startswith("holdout_")]
    return "marketing.html", {"qini_chart": chart_html(fig, "marketing-qini", height=520),
                              "insights": insights, "quality": metrics, "best": best,
                              "params": mv.meta["params"], **_plan_context(request, store,
                                                                           registry, mv)}


def _plan_context(request: Any, store: Any, registry: Any, mv: Any) -> dict[str, Any]:
    """A plan for ``?budget=`` (default: the cheapest offer for a fifth of the customers):
    totals per offer and the most profitable rows; a bad budget becomes a message."""
    from storemind.errors import StoremindError
    from storemind.marketing.pipeline import default_offers, plan

    offers = default_offers(mv)
    raw = request.query_params.get("budget")
    base = {"plan_error": None, "budget": raw,
            "offers": [{"name": o.name, "cost": o.cost, "margin": o.margin} for o in offers]}
    try:
        if raw is None:
            n = store.count("users") if "users" in store.tables else 0
            budget = max(min(o.cost for o in offers) * round(0.2 * n), 1.0)
        else:
            budget = float(raw)
        frame = plan(store, registry, budget=budget, offers=offers)
    except StoremindError as exc:  # before ValueError: DataError is one too
        return base | {"plan_error": str(exc)}
    except ValueError:
        return base | {"plan_error": f"budget must be a number; got {raw!r}"}
    treat = frame[frame.group == "treatment"]
    summary = [{"offer": offer, "customers": len(g), "cost": float(g.cost.sum()),
                "uplift": float(g.expected_uplift.sum()),
                "profit": float(g.expected_profit.sum())}
               for offer, g in treat.groupby("offer", sort=True)]
    top = treat.sort_values("expected_profit", ascending=False).head(15)
    return base | {"budget": f"{budget:g}", "plan_summary": summary,
                   "plan_holdout": int((frame.group == "holdout").sum()),
                   "plan_rows": top.to_dict("records")}
