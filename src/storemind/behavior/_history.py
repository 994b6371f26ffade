"""Order-history features of a snapshot, in pandas: inter-purchase gaps, windowed counts and
spend, product breadth, cancellations, BG/NBD per snapshot and two item-based scores.

Everything here looks only at what happened before the cutoff. The two item scores use labels
too, but only labels that were known at the cutoff: ``item_repeat`` is, per item, the share of
its orders (placed more than ``w`` days before the cutoff) that were followed by another order
of the same customer within ``w`` days; ``basket_score`` is a logistic regression on the bag of
items (and categories) each customer bought before ``cutoff - w``, fitted on "no order in
[cutoff - w, cutoff)", applied to the bags at the cutoff.
"""
from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["load_history", "history_features", "HISTORY_FEATURES"]

HISTORY_FEATURES = (
    "order_days", "orders_14", "orders_60", "orders_180", "spend_30", "spend_180",
    "spend_trend", "order_rate", "median_gap_days", "std_gap_days", "max_gap_days",
    "last_gap_days", "recency_gap_ratio", "distinct_items", "distinct_items_90",
    "cancelled_share", "bg_alive", "bg_expected", "item_repeat", "item_repeat_last",
    "item_popularity", "basket_score",
)
_DAY = 86400.0


def load_history(store: Any, before: Any) -> dict[str, pd.DataFrame]:
    """Customers' orders (sales and the rest), sale lines and item categories before
    ``before``, as pandas frames (one query each)."""
    lit = ibis.literal(pd.Timestamp(before).to_pydatetime()).cast("timestamp")
    o = store.table("orders")
    o = o.filter(o.user_id.notnull() & (o.ts < lit))
    orders = store.execute(o.select("order_id", "user_id", "ts", "total", "kind"))
    orders["sale"] = orders["kind"].isna() | (orders["kind"] == "sale")
    orders["ts"] = pd.to_datetime(orders["ts"])
    sales = o.filter(o.kind.isnull() | (o.kind == "sale")).select("order_id", "user_id", "ts")
    li = store.table("order_items")
    lines = store.execute(sales.join(li, "order_id").select(
        "order_id", "user_id", "ts", "item_id", "quantity"))
    lines["ts"] = pd.to_datetime(lines["ts"])
    items = store.execute(store.table("items").select("item_id", "category"))
    return {"orders": orders, "lines": lines, "items": items}


def history_features(hist: dict[str, pd.DataFrame], cutoff: Any, horizon_days: int,
                     users: pd.Index) -> pd.DataFrame:
    """The :data:`HISTORY_FEATURES` of ``users`` at ``cutoff`` (one row each)."""
    cut = pd.Timestamp(cutoff)
    o = hist["orders"]
    o = o[o.ts < cut]
    sales = o[o.sale]
    out = pd.DataFrame(index=pd.Index(users, name="user_id"))
    age = (cut - sales.ts).dt.total_seconds() / _DAY
    for w in (14, 60, 180):
        out[f"orders_{w}"] = sales[age < w].groupby("user_id").order_id.nunique()
    for w in (30, 180):
        out[f"spend_{w}"] = sales[age < w].groupby("user_id").total.sum()
    spend_90 = sales[age < 90].groupby("user_id").total.sum().reindex(out.index).fillna(0)
    out = out.fillna(0.0)
    out["spend_trend"] = spend_90 / np.maximum(out["spend_180"] - spend_90, 1.0)
    out = out.join(_gaps(sales, cut))
    out["order_days"] = out["order_days"].fillna(0.0)
    cancelled = o[~o.sale].groupby("user_id").total.sum()
    spent = sales.groupby("user_id").total.sum()
    out["cancelled_share"] = (cancelled.reindex(out.index).fillna(0)
                              / np.maximum(spent.reindex(out.index).fillna(0), 1.0))
    out = out.join(_bgnbd(sales, cut, horizon_days))
    lines = hist["lines"]
    lines = lines[lines.ts < cut]
    la = (cut - lines.ts).dt.total_seconds() / _DAY
    out["distinct_items"] = lines.groupby("user_id").item_id.nunique()
    out["distinct_items_90"] = lines[la < 90].groupby("user_id").item_id.nunique()
    has = out.index.isin(lines.user_id.unique())
    out.loc[has, "distinct_items_90"] = out.loc[has, "distinct_items_90"].fillna(0.0)
    w = int(max(7, 2 * horizon_days // 3))
    out = out.join(_item_repeat(sales, lines, cut, w))
    out["basket_score"] = _basket_score(sales, lines, hist["items"], cut,
                                        int(max(7, horizon_days // 3)))
    return out[list(HISTORY_FEATURES)]


def _gaps(sales: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Gaps in days between a customer's distinct order days."""
    days = sales.assign(day=sales.ts.dt.normalize())[["user_id", "day"]].drop_duplicates()
    days = days.sort_values(["user_id", "day"])
    days["gap"] = days.groupby("user_id").day.diff().dt.days
    g = days.dropna(subset=["gap"]).groupby("user_id").gap
    first = days.groupby("user_id").day.min()
    last = days.groupby("user_id").day.max()
    out = pd.DataFrame({"order_days": days.groupby("user_id").size().astype(float)})
    out["order_rate"] = out.order_days / np.maximum((cut - first).dt.days, 30) * 30
    out["median_gap_days"] = g.median()
    out["std_gap_days"] = g.std()
    out["max_gap_days"] = g.max()
    out["last_gap_days"] = g.last()
    recency = (cut - last).dt.total_seconds() / _DAY
    out["recency_gap_ratio"] = recency / g.mean()
    return out


def _bgnbd(sales: pd.DataFrame, cut: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """P(alive) and expected purchases in the horizon, BG/NBD fitted on this snapshot."""
    from storemind.customers import BGNBD, rfm_summary

    empty = pd.DataFrame(columns=["bg_alive", "bg_expected"], dtype=float)
    if sales.user_id.nunique() < 20:
        return empty
    s = rfm_summary(sales[["user_id", "ts"]], value_col=None,
                    calibration_end=cut - pd.Timedelta(seconds=1))
    try:
        m = BGNBD().fit(s.frequency, s.recency, s["T"])
    except DataError:
        return empty
    with np.errstate(all="ignore"):
        alive = m.probability_alive(s.frequency, s.recency, s["T"])
        expected = m.predict(horizon_days / 7.0, s.frequency, s.recency, s["T"])
    return pd.DataFrame({"bg_alive": alive, "bg_expected": expected}, index=s.index)


def _item_repeat(sales: pd.DataFrame, lines: pd.DataFrame, cut: pd.Timestamp, w: int,
                 prior: float = 20.0) -> pd.DataFrame:
    """Per customer: the mean repeat rate of the items they bought (all, and in their last
    order), and the mean number of distinct customers who bought those items in 90 days."""
    s = sales[["order_id", "user_id", "ts"]].sort_values(["user_id", "ts"])
    nxt = s.groupby("user_id").ts.shift(-1)
    rep = ((nxt - s.ts).dt.total_seconds() < w * _DAY).astype(float)
    known = s.ts < cut - pd.Timedelta(days=w)
    lab = pd.DataFrame({"order_id": s.order_id, "rep": rep})[known.to_numpy()]
    el = lines.merge(lab, on="order_id")
    cols = ["item_repeat", "item_repeat_last", "item_popularity"]
    if el.empty:
        return pd.DataFrame(columns=cols, dtype=float)
    base = float(el.rep.mean())
    g = el.groupby("item_id").rep.agg(["sum", "count"])
    rate = (g["sum"] + prior * base) / (g["count"] + prior)
    li = lines.assign(r=lines.item_id.map(rate).fillna(base))
    recent = li[li.ts >= cut - pd.Timedelta(days=90)]
    li["pop"] = li.item_id.map(recent.groupby("item_id").user_id.nunique()).fillna(0.0)
    last = s.groupby("user_id").order_id.last()
    return pd.DataFrame({
        "item_repeat": li.groupby("user_id").r.mean(),
        "item_repeat_last": li[li.order_id.isin(last)].groupby("user_id").r.mean(),
        "item_popularity": li.groupby("user_id")["pop"].mean(),
    })


def _basket_score(sales: pd.DataFrame, lines: pd.DataFrame, items: pd.DataFrame,
                  cut: pd.Timestamp, w: int) -> pd.Series:
    """Out-of-time logistic regression on customers' bags of items and categories."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    c0 = cut - pd.Timedelta(days=w)
    old = lines[lines.ts < c0]
    if old.user_id.nunique() < 50:
        return pd.Series(dtype=float)
    cat = items.dropna(subset=["category"]).set_index("item_id").category

    def tokens(lin: pd.DataFrame) -> pd.DataFrame:
        cats = lin.item_id.map(cat)
        return pd.concat([
            pd.DataFrame({"user_id": lin.user_id.to_numpy(),
                          "t": ("i:" + lin.item_id.astype(str)).to_numpy()}),
            pd.DataFrame({"user_id": lin.user_id[cats.notna()].to_numpy(),
                          "t": ("c:" + cats.dropna().astype(str)).to_numpy()})])

    tok_old = tokens(old)
    vocab = pd.Index(pd.unique(tok_old.t))

    def bag(tok: pd.DataFrame) -> tuple[pd.Index, Any]:
        j = vocab.get_indexer(tok.t)
        tok = tok[j >= 0]
        who = pd.Index(pd.unique(tok.user_id))
        m = sparse.csr_matrix((np.ones(len(tok)), (who.get_indexer(tok.user_id), j[j >= 0])),
                              shape=(len(who), len(vocab)))
        m.sum_duplicates()
        m.data = np.log1p(m.data)
        return who, m

    u0, x0 = bag(tok_old)
    buyers = set(sales.user_id[sales.ts >= c0])
    y0 = np.array([u not in buyers for u in u0], dtype=int)
    if y0.min() == y0.max():
        return pd.Series(dtype=float)
    tf = TfidfTransformer().fit(x0)
    lr = LogisticRegression(C=0.3, max_iter=1000).fit(tf.transform(x0), y0)
    u1, x1 = bag(tokens(lines))
    return pd.Series(lr.decision_function(tf.transform(x1)), index=u1)
