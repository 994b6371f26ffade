"""The risk dashboard page: score distribution, alert queue, rule hits and precision/recall
at the current threshold."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind._plots import chart_html

__all__ = ["page"]


def _chart(fig: Any, div_id: str) -> str:
    return chart_html(fig, div_id, height=320)


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """(template, context) for ``/dashboard/risk``; NotFoundError before training."""
    import plotly.graph_objects as go

    from storemind.risk.api import live_risk

    mv = registry.get("risk")
    hold = pd.read_parquet(mv.path / "holdout_scores.parquet")
    live = live_risk(request)
    live.ensure_model()
    live.current_rules()
    summary = live.summary()
    thresholds = {"review": mv.metrics.get("review_threshold"),
                  "block": mv.metrics.get("block_threshold")}
    fig = go.Figure()
    # one set of bins over [0, 1] for every trace: binned each on its own range, legitimate
    # scores (nearly all under 0.01) made 50 bars too thin to see
    bins = {"start": 0.0, "end": 1.0, "size": 0.02}
    for label, name in ((0, "legitimate"), (1, "fraud")):
        s = hold.loc[hold.is_fraud == label, "score"]
        fig.add_trace(go.Histogram(x=s, name=f"holdout {name}", xbins=bins, opacity=0.7,
                                   histnorm="probability"))
    scores = [d["score"] for d in live.decisions.values()]
    if scores:
        fig.add_trace(go.Histogram(x=scores, name="live", xbins=bins, opacity=0.5,
                                   histnorm="probability"))
    if thresholds["review"] is not None and thresholds["review"] <= 1:
        fig.add_vline(x=thresholds["review"], line_dash="dash", annotation_text="review")
    fig.update_layout(barmode="overlay", xaxis_title="fraud probability",
                      yaxis_title="share of payments")
    rules_hold = {k.removeprefix("rule_hits_"): v for k, v in mv.metrics.items()
                  if k.startswith("rule_hits_")}
    rule_rows = [{"name": r.name, "action": r.action, "reason": r.reason, "when": r.when,
                  "holdout_hits": int(rules_hold.get(r.name, 0)),
                  "live_hits": int(summary["rule_hits"].get(r.name, 0))}
                 for r in (live.rules.rules if live.rules else [])]
    m = mv.metrics
    quality = [(name, m.get(key)) for name, key in (
        ("holdout payments", "holdout_rows"), ("holdout frauds", "holdout_frauds"),
        ("ROC-AUC", "holdout_roc_auc"), ("PR-AUC", "holdout_pr_auc"),
        ("review threshold", "review_threshold"), ("share reviewed", "holdout_review_rate"),
        ("precision at threshold", "holdout_precision"),
        ("recall at threshold", "holdout_recall"))]
    quality += [("live precision (labelled)", summary["live_precision"]),
                ("live recall (labelled)", summary["live_recall"])]
    quality = [(k, "–" if v is None or (isinstance(v, float) and np.isnan(v))
                else (f"{v:,.4g}" if isinstance(v, float) else v)) for k, v in quality]
    return "risk.html", {
        "score_chart": _chart(fig, "risk-scores"),
        "alerts": live.alerts(limit=200),
        "rule_rows": rule_rows,
        "quality": quality,
        "summary": summary,
        "rules_path": str(live.rules_path),
    }
