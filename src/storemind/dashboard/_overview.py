"""What the overview page shows, gathered from the Store and the Registry."""
from __future__ import annotations

from typing import Any

import pandas as pd

from storemind.dashboard._charts import chart_html
from storemind.registry import Registry
from storemind.store import TABLES, Store

__all__ = ["table_rows", "quarantine_rows", "events_chart", "model_rows"]


def _fmt_ts(ts: pd.Timestamp | None) -> str:
    return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M")


def table_rows(store: Store) -> list[dict[str, Any]]:
    """One row per table: name, description, row count, first and last timestamp."""
    counts = store.counts()
    out = []
    for name in [*TABLES, "quarantine"]:
        n = counts.get(name, 0)
        lo = hi = None
        if name != "quarantine" and n and TABLES[name].time_column:
            lo, hi = store.time_range(name)
        out.append({
            "name": name,
            "description": TABLES[name].description if name in TABLES else "Rejected rows.",
            "rows": n,
            "first": _fmt_ts(lo),
            "last": _fmt_ts(hi),
        })
    return out


def quarantine_rows(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Quarantined rows counted by table, source and reason (largest first)."""
    frame = store.quarantine_summary()
    return frame.head(limit).to_dict("records")


def events_chart(store: Store) -> str | None:
    """Events per day by type as a Plotly chart (HTML fragment), or None without events."""
    frame = store.events_per_day()
    if frame.empty:
        return None
    import plotly.graph_objects as go

    fig = go.Figure()
    for event_type, part in frame.groupby("event_type", sort=True):
        fig.add_trace(go.Scatter(x=part["day"], y=part["events"], mode="lines",
                                 name=str(event_type)))
    fig.update_layout(xaxis_title=None, yaxis_title="events per day")
    return chart_html(fig, "events-per-day")


def model_rows(registry: Registry, capabilities: list[str],
               present: set[str] | None = None) -> list[dict[str, Any]]:
    """The current model version of each capability, with its headline metrics; ``present``
    names the capabilities installed (default: all)."""
    out = []
    for cap in capabilities:
        version = registry.current_version(cap)
        row: dict[str, Any] = {"capability": cap, "version": version or "", "created": "",
                               "metrics": "", "present": present is None or cap in present}
        if version:
            try:
                mv = registry.get(cap, version)
            except Exception:  # a half-written registry must not take the page down
                row["metrics"] = "(meta.json unreadable)"
            else:
                row["created"] = mv.created_at.replace("T", " ")[:16]
                row["metrics"] = ", ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in list(mv.metrics.items())[:4]
                    if isinstance(v, (int, float, str))
                )
        out.append(row)
    return out
