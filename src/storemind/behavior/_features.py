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

__all__ = ["snapshot", "snapshots", "sequences", "snapshot_sequences", "FEATURES",
           "MODEL_FEATURES", "CATEGORICAL", "NUMERIC", "CHURN_MONOTONE"]

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
    # whole seconds, as Spark counts them (DuckDB keeps the fraction): one answer per engine
    secs = lit.epoch_seconds() - ev.ts.epoch_seconds().floor()
    ew = ev.group_by("user_id").aggregate(
        events_7=(secs < 7 * 86400).cast("int64").sum(),
        events_30=(secs < 30 * 86400).cast("int64").sum(),
        purchases_30=((secs < 30 * 86400) & (ev.event_type == "purchase")).cast("int64").sum(),
        views_30=((secs < 30 * 86400) & (ev.event_type == "view")).cast("int64").sum(),
        carts_30=((secs < 30 * 86400) & (ev.event_type == "cart")).cast("int64").sum(),
        sessions_30=ibis.ifelse(secs < 30 * 86400, ev.session_id, ibis.null()).nunique(),
        # seconds here, days in pandas: Spark SQL reads 86400.0 as a decimal and keeps 7 places
        seconds_since_event=secs.min(),
        active_days=ev.ts.truncate("D").nunique(),
    )
    events = store.execute(ew).set_index("user_id")
    events["days_since_event"] = events.pop("seconds_since_event").astype(float) / 86400.0
    feats = store.execute(ow).set_index("user_id").join(events, how="outer")
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
    # a sum of money comes back as 194.9 from one engine and 194.89999999999998 from another
    # (the order of the additions): rounded, equal values rank alike on DuckDB and Spark
    out[list(NUMERIC)] = out[list(NUMERIC)].apply(pd.to_numeric, errors="coerce").round(9)
    pct = out[list(NUMERIC)].rank(pct=True)
    out = pd.concat([out, pct.add_suffix("_pct")], axis=1)
    if label:
        end = ibis.literal((cut + timedelta(days=horizon_days)).to_pydatetime()).cast("timestamp")
        after = sales.filter((sales.ts >= lit) & (sales.ts < end))
        buyers = store.execute(after.select("user_id").distinct())["user_id"]
        out["purchased"] = out.index.isin(set(buyers)).astype(int)
        out["churned"] = 1 - out["purchased"]
    return out


def sequences(store: Any, cutoff: Any, users: pd.Index, max_len: int = 64) -> dict[str, Any]:
    """The last ``max_len`` steps of each user before ``cutoff`` as padded arrays.

    A step is the user's events of one type at one instant: a checkout logs one purchase
    event per line at the same time, and those become one step (so 32 steps reach back 32
    baskets, not the last basket's 32 lines). Arrays: ``kind`` (event type, 1..6; 0 =
    padding), ``cat`` (the step's item category index, the first by name when it spans
    several; 0 = none), ``gap`` (log1p days since the previous step), ``age`` (log1p days
    before the cutoff), ``value`` (log1p of the step's summed value), ``count`` (log1p of the
    events in the step) and the list of ``categories``. Users without events get an
    all-padding row."""
    from storemind.store.schema import EVENT_TYPES

    cut = _ts(cutoff)
    lit = ibis.literal(cut.to_pydatetime()).cast("timestamp")
    ev = store.table("events")
    ev = ev.filter(ev.ts < lit)
    items = store.table("items").select("item_id", "category")
    ev = ev.left_join(items, "item_id")
    steps = ev.group_by(["user_id", "ts", "event_type"]).aggregate(
        value=ev.value.fill_null(0).sum(), category=ev.category.min(), n=ev.count())
    ranked = steps.mutate(rn=ibis.row_number().over(
        group_by=steps.user_id, order_by=[ibis.desc(steps.ts), ibis.desc(steps.event_type)]))
    ranked = ranked.filter(ranked.rn < max_len)
    f = store.execute(ranked)
    f = f[f.user_id.isin(users)]
    cats = sorted(c for c in f.category.dropna().unique())
    cat_idx = {c: i + 1 for i, c in enumerate(cats)}
    n = len(users)
    out = {k: np.zeros((n, max_len), dtype=np.int64) for k in ("kind", "cat")}
    out.update({k: np.zeros((n, max_len), dtype=np.float32)
                for k in ("gap", "age", "value", "count")})
    if len(f):
        f = f.sort_values(["user_id", "rn"], ascending=[True, False])  # oldest step first
        row = pd.Index(users).get_indexer(f.user_id)
        pos_from_end = f["rn"].to_numpy()
        length = f.groupby("user_id")["rn"].transform("max").to_numpy() + 1
        col = (max_len - length) + (length - 1 - pos_from_end)  # left-padded, oldest first
        # seconds since the epoch whatever the backend's time unit (DuckDB gives microseconds)
        tsec = pd.to_datetime(f.ts).to_numpy().astype("datetime64[ns]").astype("int64") / 1e9
        prev = np.r_[np.nan, tsec[:-1]]
        first = np.r_[True, f.user_id.to_numpy()[1:] != f.user_id.to_numpy()[:-1]]
        g = np.where(first, 0.0, (tsec - prev) / 86400.0)
        types = {t: i + 1 for i, t in enumerate(EVENT_TYPES)}
        out["kind"][row, col] = f.event_type.map(types).fillna(0).astype(int).to_numpy()
        out["cat"][row, col] = f.category.map(cat_idx).fillna(0).astype(int).to_numpy()
        out["gap"][row, col] = np.log1p(np.maximum(g, 0))
        out["age"][row, col] = np.log1p(np.maximum(cut.timestamp() - tsec, 0) / 86400.0)
        out["value"][row, col] = np.log1p(np.maximum(f.value.to_numpy(dtype=float), 0))
        out["count"][row, col] = np.log1p(f.n.to_numpy(dtype=float))
    return {**out, "categories": cats}


def snapshot_sequences(store: Any, frame: pd.DataFrame, max_len: int = 64) -> dict[str, Any]:
    """:func:`sequences` for the rows of ``frame`` (stacked snapshots: its index is the user
    and its ``cutoff`` column the row's snapshot), in the rows' order, with one category
    vocabulary across the cutoffs (``categories``)."""
    if "cutoff" not in frame.columns:
        raise DataError("frame needs a 'cutoff' column (from storemind.behavior.snapshots)")
    cut = pd.to_datetime(frame["cutoff"]).to_numpy()
    rows = [np.flatnonzero(cut == c) for c in pd.unique(cut)]
    parts = [(pos, sequences(store, cut[pos[0]], frame.index[pos], max_len)) for pos in rows]
    cats = sorted({c for _, part in parts for c in part["categories"]})
    index = {c: i + 1 for i, c in enumerate(cats)}
    out = {k: np.zeros((len(frame), max_len), dtype=np.int64 if k in ("kind", "cat")
                       else np.float32) for k in ("kind", "cat", "gap", "age", "value", "count")}
    for pos, part in parts:
        remap = np.array([0, *(index[c] for c in part["categories"])], dtype=np.int64)
        for k in out:
            out[k][pos] = remap[part[k]] if k == "cat" else part[k]
    return {**out, "categories": cats}
