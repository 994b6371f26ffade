"""What the overview page shows, gathered from the Store and the Registry."""
from __future__ import annotations

from typing import Any

import pandas as pd

from storemind.dashboard._charts import chart_html
from storemind.registry import Registry
from storemind.store import TABLES, Store

__all__ = ["table_rows", "quarantine_rows", "events_figure", "events_chart", "model_rows"]


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


#: The overview's chart shows at most this many days, up to the latest event.
CHART_DAYS = 365


def events_figure(store: Store, days: int = CHART_DAYS) -> tuple[Any, str | None]:
    """Events per day by type over the last ``days`` days of data: (Plotly figure, note), or
    (None, None) without events. Days without events count 0, so a gap shows as one rather
    than as a straight line across it. Events older than the window (an epoch-0 time from a
    broken export, say) are counted in the note instead of stretching the axis over decades."""
    frame = store.events_per_day()
    if frame.empty:
        return None, None
    import plotly.graph_objects as go

    frame["day"] = pd.to_datetime(frame["day"])
    last = frame["day"].max()
    start = last - pd.Timedelta(days=days - 1)
    before = frame[frame["day"] < start]
    frame = frame[frame["day"] >= start]
    span = pd.date_range(frame["day"].min(), last, freq="D")
    wide = (frame.pivot_table(index="day", columns="event_type", values="events",
                              aggfunc="sum")
            .reindex(span, fill_value=0).fillna(0))
    fig = go.Figure()
    for event_type in sorted(wide.columns):
        fig.add_trace(go.Scatter(x=wide.index, y=wide[event_type], mode="lines",
                                 name=str(event_type)))
    fig.update_layout(xaxis_title=None, yaxis_title="events per day")
    note = None
    if len(before):
        note = (f"{int(before['events'].sum()):,} older events are not shown: the chart covers "
                f"the last {days} days of data, and the earliest event is from "
                f"{before['day'].min():%Y-%m-%d}.")
    return fig, note


def events_chart(store: Store, days: int = CHART_DAYS) -> tuple[str | None, str | None]:
    """:func:`events_figure` as an HTML fragment for the overview, with its note."""
    fig, note = events_figure(store, days)
    return (None if fig is None else chart_html(fig, "events-per-day")), note


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
