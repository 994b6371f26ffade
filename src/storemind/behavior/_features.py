"""Behaviour features and labels from the store: profile and windowed behaviour as Ibis
expressions (DuckDB or Spark), the order-history features in pandas (``_history``).

A snapshot is taken at ``cutoff``: features use only what happened before it; the label looks
at the ``horizon_days`` after it. Besides the raw features (:data:`FEATURES`), each numeric
feature also comes as its percentile among the snapshot's customers (``<name>_pct``): models
fitted on the percentiles (:data:`MODEL_FEATURES`) compare customers with the others of their
own snapshot, which carries over from old snapshots (short histories) to new ones.
``churned`` = no sale order in (cutoff, cutoff + horizon]; ``purchased`` = the opposite.
Customers are those with a sale order before the cutoff (``population="buyers"``, for churn)
or with any event or order before it (``population="active"``, for purchase propensity).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd

from storemind.behavior._history import HISTORY_FEATURES, history_features, load_history
from storemind.customers._features import profiles
from storemind.errors import DataError

__all__ = ["snapshot", "snapshots", "sequences", "FEATURES", "MODEL_FEATURES", "CATEGORICAL",
           "NUMERIC", "CHURN_MONOTONE"]

CATEGORICAL = ("channel", "device", "top_category", "country")
NUMERIC = (
    "recency_days", "tenure_days", "frequency", "monetary", "avg_order_value", "basket_size",
    "lines_per_order", "return_rate", "price_index", "top_category_share", "top_brand_share",
    "sessions", "views", "carts", "orders_30", "orders_90", "spend_90", "events_7", "events_30",
    "purchases_30", "views_30", "carts_30", "sessions_30", "days_since_event", "active_days",
    "mean_gap_days", "orders_trend", *HISTORY_FEATURES,
)
FEATURES = (*NUMERIC, *CATEGORICAL)
MODEL_FEATURES = (*(f"{c}_pct" for c in NUMERIC), *CATEGORICAL)
#: Direction in which churn risk may move with a feature (percentile form); propensity: negate.
CHURN_MONOTONE = {
    "recency_days_pct": 1, "frequency_pct": -1, "monetary_pct": -1, "orders_90_pct": -1,
    "orders_180_pct": -1, "order_days_pct": -1, "spend_180_pct": -1, "bg_expected_pct": -1,
    "bg_alive_pct": -1,
}


def _ts(value: Any) -> pd.Timestamp:
    return pd.Timestamp(value)


def snapshot(store: Any, cutoff: Any, horizon_days: int = 90, *,
             population: str = "buyers", label: bool = True) -> pd.DataFrame:
    """Features of every customer at ``cutoff`` (one row each, indexed by ``user_id``): the
    raw :data:`FEATURES`, their percentiles (``<name>_pct``) and, with ``label``, the columns
    ``churned`` and ``purchased`` over the next ``horizon_days``."""
    return _snapshot(store, cutoff, horizon_days, population, label,
                     load_history(store, _ts(cutoff)))


def snapshots(store: Any, cutoffs: list[Any], horizon_days: int = 90, *,
              population: str = "buyers", label: bool = True) -> pd.DataFrame:
    """:func:`snapshot` at each of ``cutoffs``, stacked, with a ``cutoff`` column (the order
    history is read once)."""
    if len(cutoffs) == 0:
        raise DataError("snapshots needs at least one cutoff; got none")
    cuts = [_ts(c) for c in cutoffs]
    hist = load_history(store, max(cuts))
    return pd.concat([_snapshot(store, c, horizon_days, population, label, hist).assign(
        cutoff=c) for c in cuts])


def _snapshot(store: Any, cutoff: Any, horizon_days: int, population: str, label: bool,
              hist: dict[str, pd.DataFrame]) -> pd.DataFrame:
    if population not in ("buyers", "active"):
        raise DataError(f"population must be 'buyers' or 'active'; got {population!r}")
    cut = _ts(cutoff)
    lit = ibis.literal(cut.to_pydatetime()).cast("timestamp")
    orders = store.table("orders")
    sales = orders.filter(orders.user_id.notnull()
                          & (orders.kind.isnull() | (orders.kind == "sale")))
    prof = store.execute(profiles(store, cut.to_pydatetime())).set_index("user_id")

    before = sales.filter(sales.ts < lit)
    ow = before.group_by("user_id").aggregate(
        orders_30=(before.ts >= lit - ibis.interval(days=30)).cast("int64").sum(),
        orders_90=(before.ts >= lit - ibis.interval(days=90)).cast("int64").sum(),
        orders_90_180=((before.ts < lit - ibis.interval(days=90))
                       & (before.ts >= lit - ibis.interval(days=180))).cast("int64").sum(),
        spend_90=ibis.ifelse(before.ts >= lit - ibis.interval(days=90),
                             before.total.fill_null(0), 0.0).sum(),
    )
    ev = store.table("events")
    ev = ev.filter(ev.ts < lit)
    secs = lit.epoch_seconds() - ev.ts.epoch_seconds()
    ew = ev.group_by("user_id").aggregate(
        events_7=(secs < 7 * 86400).cast("int64").sum(),
        events_30=(secs < 30 * 86400).cast("int64").sum(),
        purchases_30=((secs < 30 * 86400) & (ev.event_type == "purchase")).cast("int64").sum(),
        views_30=((secs < 30 * 86400) & (ev.event_type == "view")).cast("int64").sum(),
        carts_30=((secs < 30 * 86400) & (ev.event_type == "cart")).cast("int64").sum(),
        sessions_30=ibis.ifelse(secs < 30 * 86400, ev.session_id, ibis.null()).nunique(),
        days_since_event=(secs.min() / 86400.0),
        active_days=ev.ts.truncate("D").nunique(),
    )
    feats = store.execute(ow).set_index("user_id").join(
        store.execute(ew).set_index("user_id"), how="outer")
    if population == "buyers":
        idx = prof.index
    else:
        idx = prof.index.union(feats.index)
    if len(idx) == 0:
        raise DataError(f"no customers with history before {cut}; choose a later cutoff")
    out = prof.reindex(idx).join(feats.reindex(idx))
    out["frequency"] = out["frequency"].fillna(0)
    out["orders_trend"] = (out["orders_90"].fillna(0) - out["orders_90_180"].fillna(0))
    out["mean_gap_days"] = out["tenure_days"] / np.maximum(out["frequency"] - 1, 1)
    out.loc[out["frequency"] <= 1, "mean_gap_days"] = np.nan
    for c in ("orders_30", "orders_90", "spend_90", "events_7", "events_30", "purchases_30",
              "views_30", "carts_30", "sessions_30", "active_days", "sessions", "views",
              "carts", "monetary"):
        out[c] = out[c].fillna(0.0)
    out = out.join(history_features(hist, cut, horizon_days, out.index))
    for c in FEATURES:
        if c not in out.columns:
            out[c] = np.nan
    out = out[list(FEATURES)].copy()
    out.index.name = "user_id"
    pct = out[list(NUMERIC)].apply(pd.to_numeric, errors="coerce").rank(pct=True)
    out = pd.concat([out, pct.add_suffix("_pct")], axis=1)
    if label:
        end = ibis.literal((cut + timedelta(days=horizon_days)).to_pydatetime()).cast("timestamp")
        after = sales.filter((sales.ts >= lit) & (sales.ts < end))
        buyers = store.execute(after.select("user_id").distinct())["user_id"]
        out["purchased"] = out.index.isin(set(buyers)).astype(int)
        out["churned"] = 1 - out["purchased"]
    return out


def sequences(store: Any, cutoff: Any, users: pd.Index, max_len: int = 64) -> dict[str, Any]:
    """The last ``max_len`` events of each user before ``cutoff`` as padded arrays:
    ``kind`` (event type, 1..6; 0 = padding), ``cat`` (item category index; 0 = none),
    ``gap`` (log1p days since the previous event), ``age`` (log1p days before the cutoff),
    ``value`` (log1p of the event value) and the list of ``categories``. Users without events
    get an all-padding row."""
    from storemind.store.schema import EVENT_TYPES

    cut = _ts(cutoff)
    lit = ibis.literal(cut.to_pydatetime()).cast("timestamp")
    ev = store.table("events")
    ev = ev.filter(ev.ts < lit)
    ranked = ev.mutate(rn=ibis.row_number().over(group_by=ev.user_id,
                                                 order_by=ibis.desc(ev.ts)))
    ranked = ranked.filter(ranked.rn < max_len)
    items = store.table("items").select("item_id", "category")
    expr = ranked.left_join(items, "item_id").select(
        "user_id", "event_type", "value", "ts", "category", "rn")
    f = store.execute(expr)
    f = f[f.user_id.isin(users)]
    cats = sorted(c for c in f.category.dropna().unique())
    cat_idx = {c: i + 1 for i, c in enumerate(cats)}
    n = len(users)
    kind = np.zeros((n, max_len), dtype=np.int64)
    cat = np.zeros((n, max_len), dtype=np.int64)
    gap = np.zeros((n, max_len), dtype=np.float32)
    age = np.zeros((n, max_len), dtype=np.float32)
    value = np.zeros((n, max_len), dtype=np.float32)
    if len(f):
        f = f.sort_values(["user_id", "ts"])
        row = pd.Index(users).get_indexer(f.user_id)
        pos_from_end = f["rn"].to_numpy()
        length = f.groupby("user_id")["rn"].transform("max").to_numpy() + 1
        col = (max_len - length) + (length - 1 - pos_from_end)  # left-padded, oldest first
        tsec = f.ts.astype("int64").to_numpy() / 1e9 if f.ts.dtype.kind == "M" else \
            pd.to_datetime(f.ts).astype("int64").to_numpy() / 1e9
        prev = np.r_[np.nan, tsec[:-1]]
        first = np.r_[True, f.user_id.to_numpy()[1:] != f.user_id.to_numpy()[:-1]]
        g = np.where(first, 0.0, (tsec - prev) / 86400.0)
        types = {t: i + 1 for i, t in enumerate(EVENT_TYPES)}
        kind[row, col] = f.event_type.map(types).fillna(0).astype(int).to_numpy()
        cat[row, col] = f.category.map(cat_idx).fillna(0).astype(int).to_numpy()
        gap[row, col] = np.log1p(np.maximum(g, 0))
        age[row, col] = np.log1p(np.maximum(cut.timestamp() - tsec, 0) / 86400.0)
        value[row, col] = np.log1p(np.maximum(f.value.fillna(0).to_numpy(dtype=float), 0))
    return {"kind": kind, "cat": cat, "gap": gap, "age": age, "value": value,
            "categories": cats}
