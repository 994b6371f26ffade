"""Store -> demand frames, stock positions and order facts (Ibis expressions on the store).

* :func:`daily_demand`: units sold per item and day from ``order_items`` joined with
  ``orders`` of kind ``sale`` (returns and cancellations are not demand: the goods come back).
* :func:`sales_demand`: the ``sales`` table (aggregated demand per item, location and period,
  e.g. Walmart's weekly sales per store and department) as one series per item x location.
* :func:`latest_stock`: the last stock snapshot per item (on hand, lead time, unit cost).
* :func:`item_groups`: item -> category (the fallback group of new products).
"""
from __future__ import annotations

import json
from typing import Any

import ibis
import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["daily_demand", "sales_demand", "latest_stock", "item_groups", "order_lines",
           "has_rows", "demand_source"]


def has_rows(store: Any, name: str) -> bool:
    """Whether the store's canonical table ``name`` has any row."""
    try:
        return store.count(name) > 0
    except Exception:  # noqa: BLE001 - a backend without the table
        return False


def demand_source(store: Any) -> str:
    """``"orders"`` when the store has sale order lines, ``"sales"`` when it has only the
    aggregated ``sales`` table; :class:`DataError` when it has neither."""
    if has_rows(store, "order_items") and has_rows(store, "orders"):
        return "orders"
    if has_rows(store, "sales"):
        return "sales"
    raise DataError("operations needs demand history: rows in orders + order_items (kind "
                    "'sale') or in the sales table; the store has neither")


def daily_demand(store: Any, until: Any = None) -> pd.DataFrame:
    """Units sold per item and day: ``series_id, ts, y, price`` (mean unit price of the day's
    sales), from sale orders only. Days without sales are absent (the grid fills zeros)."""
    orders = store.table("orders")
    lines = store.table("order_items")
    sale = orders.filter((orders.kind == "sale") | orders.kind.isnull())
    if until is not None:
        sale = sale.filter(sale.ts < ibis.literal(pd.Timestamp(until)).cast("timestamp"))
    j = lines.join(sale.select("order_id", "ts"), "order_id")
    day = j.ts.truncate("D")
    expr = (j.mutate(day=day, amount=j.quantity * j.unit_price.fill_null(0.0))
            .group_by(["item_id", "day"])
            .aggregate(y=ibis._.quantity.sum(), amount=ibis._.amount.sum()))
    df = store.execute(expr)
    if df.empty:
        raise DataError("no sale order lines in the store (orders.kind = 'sale' joined with "
                        "order_items); operations needs demand history")
    price = np.where(df["y"] > 0, df["amount"] / df["y"].where(df["y"] > 0), np.nan)
    out = pd.DataFrame({"series_id": df["item_id"].astype(str), "ts": pd.to_datetime(df["day"]),
                        "y": df["y"].astype(float), "price": price})
    out.loc[out["price"] <= 0, "price"] = np.nan
    return out.sort_values(["series_id", "ts"], ignore_index=True)


def sales_demand(store: Any, value: str = "auto") -> pd.DataFrame:
    """The ``sales`` table as ``series_id`` (``location_id/item_id``), ``ts``, ``y``
    (``quantity``, or ``revenue`` where quantity is empty), ``item_id``, ``location_id``,
    ``price``, ``promo`` (0 where absent), ``is_holiday`` (0/1)."""
    df = store.frame("sales")
    if df.empty:
        raise DataError("the sales table is empty")
    if value == "auto":
        value = "quantity" if df["quantity"].notna().any() else "revenue"
    if value not in ("quantity", "revenue"):
        raise DataError(f"value must be 'quantity', 'revenue' or 'auto'; got {value!r}")
    return pd.DataFrame({
        "series_id": df["location_id"].astype(str) + "/" + df["item_id"].astype(str),
        "ts": pd.to_datetime(df["ts"]),
        "y": df[value].astype(float).fillna(0.0),
        "item_id": df["item_id"].astype(str),
        "location_id": df["location_id"].astype(str),
        "price": df["price"].astype(float),
        "promo": df["promo"].astype(float).fillna(0.0),
        "is_holiday": df["is_holiday"].fillna(False).astype(float),
    })


def latest_stock(store: Any) -> pd.DataFrame:
    """The newest ``stock`` row per item: ``item_id, ts, on_hand, lead_time_days,
    unit_cost`` (empty frame when the store has no stock snapshots)."""
    cols = ["item_id", "ts", "on_hand", "lead_time_days", "unit_cost"]
    if not has_rows(store, "stock"):
        return pd.DataFrame(columns=cols)
    s = store.table("stock")
    last = s.group_by("item_id").aggregate(last_ts=s.ts.max())
    expr = s.join(last, [s.item_id == last.item_id, s.ts == last.last_ts]).select(*cols)
    return store.execute(expr)


def item_groups(store: Any) -> pd.Series:
    """Category per item id (``"unknown"`` where missing)."""
    if not has_rows(store, "items"):
        return pd.Series(dtype=object)
    it = store.frame("items", ["item_id", "category", "title"])
    return pd.Series(it["category"].fillna("unknown").to_numpy(dtype=object),
                     index=it["item_id"].astype(str))


def item_titles(store: Any) -> pd.Series:
    """Title per item id."""
    if not has_rows(store, "items"):
        return pd.Series(dtype=object)
    it = store.frame("items", ["item_id", "title"])
    return pd.Series(it["title"].to_numpy(dtype=object), index=it["item_id"].astype(str))


def order_lines(store: Any, since: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(orders, lines) of kind sale (or no kind) since ``since`` for order monitoring."""
    orders = store.table("orders")
    if since is not None:
        orders = orders.filter(orders.ts >= ibis.literal(pd.Timestamp(since)).cast("timestamp"))
    o = store.execute(orders.select("order_id", "user_id", "ts", "status", "total", "kind"))
    lines = store.table("order_items")
    ids = orders.select("order_id")
    li = store.execute(lines.join(ids, "order_id").select(
        "order_id", "item_id", "quantity", "unit_price"))
    return o, li


def parse_attributes(values: pd.Series) -> pd.DataFrame:
    """JSON ``attributes`` text -> a frame (one column per key)."""
    return pd.DataFrame([json.loads(v) if isinstance(v, str) and v else {} for v in values],
                        index=values.index)
