"""The experiments page: experiment list, results with intervals, SRM warnings, and the
sequential monitoring chart (always-valid confidence sequence against the naive interval)."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from storemind._plots import chart_html
from storemind.errors import DataError, NotFoundError
from storemind.experiments.pipeline import analyze, watch

__all__ = ["page"]


def _experiments(store: Any) -> list[dict[str, Any]]:
    ex = store.table("exposures")
    counts = store.execute(ex.group_by("campaign_id").aggregate(units=ex.count(),
                                                                 arms=ex.arm.nunique()))
    camps = store.frame("campaigns").set_index("campaign_id")
    out = []
    for row in counts.sort_values("units", ascending=False).itertuples():
        name = camps.name.get(row.campaign_id) if "name" in camps else None
        out.append({"key": row.campaign_id, "name": name or "", "units": int(row.units),
                    "arms": int(row.arms)})
    return out


def _forest(frame: Any) -> str:
    frame = frame[frame.lift.notna()]
    labels = [f"{m} / {v}" for m, v in zip(frame.metric, frame.variant, strict=True)]
    fig = go.Figure(go.Scatter(
        x=frame.lift * 100, y=labels, mode="markers",
        error_x={"type": "data", "symmetric": False,
                 "array": (frame.lift_ci_high - frame.lift) * 100,
                 "arrayminus": (frame.lift - frame.lift_ci_low) * 100},
        marker={"size": 10, "color": ["#1f7a4d" if s else "#777" for s in frame.significant]},
    ))
    fig.add_vline(x=0, line_dash="dot")
    fig.update_layout(xaxis_title="relative lift vs control, % (95% interval)")
    return chart_html(fig, "experiment-lifts", height=max(220, 60 * len(labels)))


def _monitor(store: Any, key: str, metric: str) -> str:
    path = watch(store, key, metric)
    if path.look.nunique() < 2:  # one point is no sequence: say why instead of drawing it
        raise DataError(f"every exposure of {key!r} has the same time ({path.look.iloc[0]}), "
                        "so there is one look only; exposures logged as they happen give one "
                        "point per day")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=path.look, y=path["diff"], name="difference", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=path.look, y=path.cs_high, name="always-valid CS",
                             line={"color": "#1f7a4d"}))
    fig.add_trace(go.Scatter(x=path.look, y=path.cs_low, name="always-valid CS (low)",
                             line={"color": "#1f7a4d"}, showlegend=False))
    fig.add_trace(go.Scatter(x=path.look, y=path.ci_high, line={"color": "#b55", "dash": "dot"},
                             name="naive 95% CI (invalid when peeking)"))
    fig.add_trace(go.Scatter(x=path.look, y=path.ci_low, showlegend=False,
                             line={"color": "#b55", "dash": "dot"}))
    fig.add_hline(y=0, line_dash="dot")
    fig.update_layout(yaxis_title=f"{metric}: variant - control")
    return chart_html(fig, "experiment-monitor")


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """Context for ``experiments.html``; ``?key=`` picks the experiment."""
    experiments = _experiments(store)
    if not experiments:
        raise NotFoundError("no experiment has exposures yet; log exposures through "
                            "GET /v1/experiments/{key}/assignment or ingest an exposures file")
    key = request.query_params.get("key") or experiments[0]["key"]
    if key not in {e["key"] for e in experiments}:
        raise NotFoundError(f"no experiment {key!r} with exposures")
    report = analyze(store, key)
    frame = report.to_frame()
    monitor, monitor_note = "", ""
    try:
        monitor = _monitor(store, key, frame.metric.iloc[0])
    except (DataError, NotFoundError) as exc:
        monitor_note = f"No sequential chart: {exc}"
    if not monitor and not monitor_note:
        monitor_note = "No sequential chart: exposures carry no timestamps."
    return "experiments.html", {
        "experiments": experiments, "key": key, "report": report,
        "rows": frame.to_dict("records"), "forest": _forest(frame),
        "monitor": monitor, "monitor_note": monitor_note,
    }
