"""Customer feature pipelines as Ibis expressions: one definition, run on DuckDB or Spark."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import ibis

__all__ = ["rfm"]


class _Readable(Protocol):
    def table(self, name: str) -> ibis.Table: ...


def rfm(store: _Readable, as_of: datetime | Any | None = None) -> ibis.Table:
    """Per-customer recency, frequency and monetary value from sale orders before ``as_of``.

    Columns: user_id, first_ts, last_ts, recency_days (whole days from the last order to
    ``as_of``), tenure_days, frequency (distinct orders), monetary (sum of order totals),
    avg_order_value. ``as_of`` defaults to the latest order's timestamp.
    """
    orders = store.table("orders")
    sales = orders.filter(
        orders.user_id.notnull() & (orders.kind.isnull() | (orders.kind == "sale"))
    )
    if as_of is None:
        as_of_expr = sales.ts.max().as_scalar()
    else:
        as_of_expr = ibis.literal(as_of).cast("timestamp")
        sales = sales.filter(sales.ts < as_of_expr)
    per_user = sales.group_by("user_id").aggregate(
        first_ts=sales.ts.min(),
        last_ts=sales.ts.max(),
        frequency=sales.order_id.nunique(),
        monetary=sales.total.fill_null(0).sum(),
    )
    now = as_of_expr.epoch_seconds()
    return per_user.mutate(
        recency_days=((now - per_user.last_ts.epoch_seconds()) // 86400).cast("int64"),
        tenure_days=((now - per_user.first_ts.epoch_seconds()) // 86400).cast("int64"),
        avg_order_value=per_user.monetary / per_user.frequency,
    ).order_by("user_id")
