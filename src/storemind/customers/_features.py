"""Customer feature pipelines as Ibis expressions: one definition, run on DuckDB or Spark."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import ibis

__all__ = ["rfm", "profiles", "category_shares", "browse_price_index"]


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
    # whole seconds, as Spark counts them (DuckDB keeps the fraction): one answer per engine
    now = as_of_expr.epoch_seconds().floor()
    return per_user.mutate(
        recency_days=((now - per_user.last_ts.epoch_seconds().floor()) // 86400).cast("int64"),
        tenure_days=((now - per_user.first_ts.epoch_seconds().floor()) // 86400).cast("int64"),
        avg_order_value=per_user.monetary / per_user.frequency,
    ).order_by("user_id")


def _as_of(store: _Readable, as_of: datetime | Any | None) -> Any:
    orders = store.table("orders")
    if as_of is None:
        return orders.ts.max().as_scalar()
    return ibis.literal(as_of).cast("timestamp")


def profiles(store: _Readable, as_of: datetime | Any | None = None) -> ibis.Table:
    """One row per customer with at least one sale order before ``as_of``: the RFM columns of
    :func:`rfm` plus

    - ``returns`` (return and cancellation orders) and ``return_rate`` = returns / (sales +
      returns);
    - ``basket_size`` (mean units per sale order) and ``lines_per_order``;
    - ``price_index``: mean of unit price paid / mean list price of the item's category
      (below 1 = buys the cheaper end of what it buys; a price-sensitivity proxy; NULL when the
      catalogue has no prices);
    - ``top_category`` / ``top_category_share`` and ``top_brand`` / ``top_brand_share`` (by
      units bought);
    - ``channel`` (most frequent order channel), ``device`` and ``country`` (from ``users``);
    - ``sessions``, ``views``, ``carts`` (browsing events before ``as_of``).

    Every column comes from one Ibis expression, so it runs on DuckDB and on Spark.
    """
    base = rfm(store, as_of)
    now = _as_of(store, as_of)
    orders = store.table("orders")
    orders = orders.filter(orders.user_id.notnull() & (orders.ts <= now))
    if as_of is not None:
        orders = orders.filter(orders.ts < now)
    is_sale = orders.kind.isnull() | (orders.kind == "sale")
    ret = orders.filter(~is_sale).group_by("user_id").aggregate(returns=ibis._.count())

    sales = orders.filter(is_sale)
    lines = store.table("order_items")
    items = store.table("items")
    sl = sales.select("order_id", "user_id").join(lines, "order_id").select(
        "user_id", "order_id", "item_id", "quantity", "unit_price")
    sl = sl.left_join(items.select("item_id", "category", "brand", "price"), "item_id").select(
        "user_id", "order_id", "quantity", "unit_price", "category", "brand", "price")
    cat_price = items.filter(items.price.notnull() & (items.price > 0)).group_by(
        "category").aggregate(cat_price=items.price.mean())
    sl = sl.left_join(cat_price, "category").select(
        "user_id", "order_id", "quantity", "unit_price", "category", "brand", "cat_price")
    basket = sl.group_by("user_id").aggregate(
        units=sl.quantity.sum(),
        lines=sl.count(),
        price_index=(sl.unit_price / sl.cat_price).mean(),
    )
    top_cat = _top(sl, "category", "quantity")
    top_brand = _top(sl, "brand", "quantity")
    channel = _top(sales.mutate(one=ibis.literal(1.0)), "channel", "one").select(
        "user_id", channel="top_channel")

    events = store.table("events")
    events = events.filter(events.ts <= now)
    if as_of is not None:
        events = events.filter(events.ts < now)
    browse = events.group_by("user_id").aggregate(
        sessions=events.session_id.nunique(),
        views=(events.event_type == "view").cast("int64").sum(),
        carts=(events.event_type == "cart").cast("int64").sum(),
    )
    users = store.table("users").select("user_id", "device", "country")

    out = base
    for extra in (ret, basket, top_cat, top_brand, channel, browse, users):
        cols = [c for c in extra.columns if c != "user_id"]
        out = out.left_join(extra, "user_id").select(*base.columns, *[
            c for c in out.columns if c not in base.columns], *cols)
    return out.mutate(
        returns=out.returns.fill_null(0),
        return_rate=out.returns.fill_null(0) / (out.frequency + out.returns.fill_null(0)),
        basket_size=out.units.fill_null(0) / out.frequency,
        lines_per_order=out.lines.fill_null(0) / out.frequency,
        sessions=out.sessions.fill_null(0),
        views=out.views.fill_null(0),
        carts=out.carts.fill_null(0),
    ).drop("units", "lines").order_by("user_id")


def _top(t: ibis.Table, key: str, weight: str) -> ibis.Table:
    """Per user: the value of ``key`` with the largest total ``weight`` and its share."""
    t = t.filter(t[key].notnull())
    per = t.group_by(["user_id", key]).aggregate(w=t[weight].sum())
    tot = per.group_by("user_id").aggregate(total=per.w.sum())
    ranked = per.mutate(rn=ibis.row_number().over(
        group_by=per.user_id, order_by=[ibis.desc(per.w), per[key]]))
    best = ranked.filter(ranked.rn == 0).join(tot, "user_id")
    return best.select("user_id", **{f"top_{key}": best[key],
                                     f"top_{key}_share": best.w / best.total})


def category_shares(store: _Readable, as_of: datetime | Any | None = None, *,
                    top: int = 12, event_types: tuple[str, ...] = ("view", "cart", "purchase"),
                    ) -> ibis.Table:
    """Long table (user_id, category, share): each customer's share of browsing and buying
    events per category, for the ``top`` most frequent categories (the rest pooled as
    ``"other"``). Events before ``as_of`` (default: all)."""
    events = store.table("events")
    if as_of is not None:
        events = events.filter(events.ts < ibis.literal(as_of).cast("timestamp"))
    events = events.filter(events.event_type.isin(list(event_types)) & events.item_id.notnull())
    items = store.table("items").select("item_id", "category")
    ev = events.select("user_id", "item_id").join(items, "item_id").select("user_id", "category")
    ev = ev.filter(ev.category.notnull())
    counts = ev.group_by("category").aggregate(n=ev.count())
    keep = counts.order_by([ibis.desc("n"), "category"]).limit(top).select("category")
    kept = ev.left_join(keep.mutate(k=ibis.literal(1)), "category").select(
        "user_id", category=ibis.ifelse(ibis._.k.notnull(), ibis._.category, "other"))
    per = kept.group_by(["user_id", "category"]).aggregate(n=kept.count())
    tot = per.group_by("user_id").aggregate(total=per.n.sum())
    j = per.join(tot, "user_id")
    return j.select("user_id", "category", share=j.n / j.total).order_by(["user_id", "category"])


def browse_price_index(store: _Readable, as_of: datetime | Any | None = None) -> ibis.Table:
    """Per user: mean list price of the items they viewed, carted or bought, relative to the
    mean price of each item's category (``browse_price_index``; below 1 = looks at the cheap
    end), from events before ``as_of``. A price-sensitivity signal that needs no purchases."""
    events = store.table("events")
    if as_of is not None:
        events = events.filter(events.ts < ibis.literal(as_of).cast("timestamp"))
    events = events.filter(events.item_id.notnull()
                           & events.event_type.isin(["view", "cart", "purchase"]))
    items = store.table("items")
    items = items.filter(items.price.notnull() & (items.price > 0))
    cat = items.group_by("category").aggregate(cat_price=items.price.mean())
    rel = items.join(cat, "category").select("item_id", rel=ibis._.price / ibis._.cat_price)
    ev = events.select("user_id", "item_id").join(rel, "item_id")
    return ev.group_by("user_id").aggregate(browse_price_index=ev.rel.mean()).order_by("user_id")
