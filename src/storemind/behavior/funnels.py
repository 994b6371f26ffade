"""Conversion funnels: view -> cart -> purchase, by week, category or customer segment.

The unit is a session (``session_id``; events without one are grouped per user and day), or a
session and category for ``by="category"``. A unit reaches a step when it has at least one
event of that type; rates divide each step by the one before (``view_to_cart``,
``cart_to_purchase``) and purchases by views (``view_to_purchase``). Computed with Ibis, so it
runs on the store's engine.
"""
from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["funnel", "STEPS"]

STEPS = ("view", "cart", "purchase")
_BY = ("week", "category", "segment", "all")


def funnel(store: Any, by: str = "week", *, segments: pd.DataFrame | None = None,
           start: Any = None, end: Any = None) -> pd.DataFrame:
    """Units reaching each step and the conversion rates per group.

    Parameters
    ----------
    store : Store
    by : {"week", "category", "segment", "all"}
        Grouping; ``"segment"`` needs ``segments`` (columns ``user_id``, ``segment``; e.g.
        from :func:`storemind.customers.pipeline.load_scores`). Users without a segment count
        as ``"(no purchase yet)"``.
    start, end : optional
        Only events with ``start <= ts < end``.

    Returns
    -------
    DataFrame
        Columns ``group``, ``views``, ``carts``, ``purchases``, ``view_to_cart``,
        ``cart_to_purchase``, ``view_to_purchase``.
    """
    if by not in _BY:
        raise DataError(f"funnel by must be one of {list(_BY)}; got {by!r}")
    ev = store.table("events")
    ev = ev.filter(ev.event_type.isin(list(STEPS)))
    if start is not None:
        ev = ev.filter(ev.ts >= ibis.literal(pd.Timestamp(start).to_pydatetime()))
    if end is not None:
        ev = ev.filter(ev.ts < ibis.literal(pd.Timestamp(end).to_pydatetime()))
    unit = ibis.coalesce(ev.session_id, ev.user_id.concat("|", ev.ts.date().cast("string")))
    ev = ev.mutate(unit=unit)
    if by == "category":
        items = store.table("items").select("item_id", "category")
        ev = ev.left_join(items, "item_id").select(
            "unit", "event_type", "ts", group=ibis.coalesce(ibis._.category, "(none)"))
    elif by == "week":
        ev = ev.select("unit", "event_type", "ts",
                       group=ev.ts.min().over(group_by=ev.unit).truncate("W"))
    elif by == "segment":
        if segments is None or not {"user_id", "segment"} <= set(segments.columns):
            raise DataError("funnel by segment needs a `segments` frame with columns user_id "
                            "and segment (train customers first)")
        seg = ibis.memtable(segments[["user_id", "segment"]].astype(str))
        ev = ev.left_join(seg, "user_id").select(
            "unit", "event_type", "ts",
            group=ibis.coalesce(ibis._.segment, "(no purchase yet)"))
    else:
        ev = ev.select("unit", "event_type", "ts", group=ibis.literal("all"))
    per = ev.group_by(["group", "unit"]).aggregate(**{
        f"has_{s}": (ev.event_type == s).cast("int64").max() for s in STEPS})
    agg = per.group_by("group").aggregate(
        views=per.has_view.sum(), carts=per.has_cart.sum(), purchases=per.has_purchase.sum())
    out = store.execute(agg.order_by("group"))
    if out.empty:
        raise DataError("no view, cart or purchase events in the store for this funnel")
    for c in ("views", "carts", "purchases"):
        out[c] = out[c].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["view_to_cart"] = np.where(out.views > 0, out.carts / out.views, np.nan)
        out["cart_to_purchase"] = np.where(out.carts > 0, out.purchases / out.carts, np.nan)
        out["view_to_purchase"] = np.where(out.views > 0, out.purchases / out.views, np.nan)
    if by == "week":
        out["group"] = pd.to_datetime(out["group"]).dt.strftime("%Y-%m-%d")
    else:
        out["group"] = out["group"].astype(str)
    return out.reset_index(drop=True)
