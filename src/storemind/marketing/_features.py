"""Store -> frames for marketing: a campaign's exposures with outcomes, customer features as of
the campaign's start, and click features of logged impressions.

Aggregations over the store's history are Ibis expressions (they run on DuckDB or Spark);
JSON attributes are parsed in pandas.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["pick_campaign", "campaign_exposures", "customer_features", "uplift_data",
           "click_features", "OUTCOMES"]

OUTCOMES = ("converted", "visited", "spend")
_CONTROL = ("control", "no e-mail", "no email", "holdout", "none")


def _attributes(values: pd.Series, prefix: str = "") -> pd.DataFrame:
    """JSON attribute strings -> columns (numbers kept numeric, nested values dropped)."""
    rows = []
    for v in values:
        try:
            d = json.loads(v) if isinstance(v, str) and v else {}
        except json.JSONDecodeError:
            d = {}
        rows.append({f"{prefix}{k}": x for k, x in (d if isinstance(d, dict) else {}).items()
                     if isinstance(x, str | int | float | bool) or x is None})
    out = pd.DataFrame(rows, index=values.index)
    for c in out.columns:
        num = pd.to_numeric(out[c], errors="coerce")
        if num.notna().sum() == out[c].notna().sum():
            out[c] = num.astype(float)
        else:
            out[c] = out[c].astype("object").where(out[c].notna(), None)
    return out


def pick_campaign(store: Any, campaign_id: str | None = None) -> str:
    """The campaign to learn from: ``campaign_id``, or the one with the most exposures that has a
    control arm and recorded conversions or visits."""
    if "exposures" not in store.tables or store.count("exposures") == 0:
        raise DataError("marketing needs a randomised campaign in the 'exposures' table "
                        "(campaign_id, user_id, arm, converted/visited); the store has none")
    t = store.table("exposures")
    f = t.filter(t.user_id.notnull() & (t.converted.notnull() | t.visited.notnull()))
    per = store.execute(f.group_by(["campaign_id", "arm"]).aggregate(n=f.count()))
    ok = per.groupby("campaign_id").filter(
        lambda g: g.arm.str.strip().str.lower().isin(_CONTROL).any() and len(g) >= 2)
    if campaign_id is not None:
        if campaign_id not in set(per.campaign_id):
            raise DataError(f"campaign {campaign_id!r} has no exposures with outcomes; "
                            f"campaigns with outcomes: {sorted(set(per.campaign_id))}")
        return campaign_id
    if ok.empty:
        raise DataError("marketing needs a campaign with a control arm (named one of "
                        f"{list(_CONTROL)}) and outcomes; found arms {per.arm.unique().tolist()}")
    return str(ok.groupby("campaign_id").n.sum().idxmax())


def campaign_exposures(store: Any, campaign_id: str) -> pd.DataFrame:
    """One row per exposed customer of ``campaign_id``: user_id, arm, ts and the outcomes."""
    t = store.table("exposures")
    cols = ["user_id", "arm", "ts", *OUTCOMES]
    frame = store.execute(t.filter((t.campaign_id == campaign_id) & t.user_id.notnull())
                          .select(cols).order_by("user_id"))
    return frame.drop_duplicates("user_id", keep="first").reset_index(drop=True)


def customer_features(store: Any, user_ids: Any, as_of: Any = None) -> pd.DataFrame:
    """Features per customer (index user_id), from what the store knew before ``as_of``:

    - the ``users`` columns country / device / source and every JSON attribute (Hillstrom's
      recency, history, mens, womens, zip_code, newbie, channel);
    - order history: orders, spend, mean order value, days since the last order;
    - browsing: events per type, the mean price of the items behind each event type, and the
      share of each of the 8 commonest item categories.
    """
    ids = pd.Index(pd.unique(pd.Series(list(user_ids), dtype=object)), name="user_id")
    out = pd.DataFrame(index=ids)
    tables = set(store.tables)
    if "users" in tables and store.count("users"):
        u = store.frame("users").drop_duplicates("user_id").set_index("user_id")
        u = u.reindex(ids)
        for c in ("country", "device", "source"):
            if c in u and u[c].notna().any():
                out[c] = u[c].astype("object").where(u[c].notna(), None)
        if "attributes" in u and u["attributes"].notna().any():
            out = out.join(_attributes(u["attributes"]))
    as_of = pd.Timestamp(as_of) if as_of is not None and not pd.isna(as_of) else None
    id_list = list(ids)
    if "orders" in tables and store.count("orders"):
        o = store.table("orders")
        o = o.filter(o.user_id.isin(id_list))
        if as_of is not None:
            o = o.filter(o.ts < as_of)
        agg = store.execute(o.group_by("user_id").aggregate(
            orders=o.count(), spend=o.total.sum(), last=o.ts.max())).set_index("user_id")
        agg = agg.reindex(ids)
        ref = as_of if as_of is not None else agg["last"].max()
        out["orders"] = agg["orders"].fillna(0).astype(float)
        out["order_spend"] = agg["spend"].fillna(0).astype(float)
        out["order_value"] = (out["order_spend"] / out["orders"].where(out["orders"] > 0))
        out["days_since_order"] = ((ref - pd.to_datetime(agg["last"])).dt.total_seconds()
                                   / 86400.0)
    if "events" in tables and store.count("events"):
        e = store.table("events")
        e = e.filter(e.user_id.isin(id_list))
        if as_of is not None:
            e = e.filter(e.ts < as_of)
        per_type = store.execute(e.group_by(["user_id", "event_type"]).aggregate(n=e.count()))
        if len(per_type):
            wide = per_type.pivot(index="user_id", columns="event_type", values="n")
            wide = wide.reindex(ids).fillna(0).astype(float).add_prefix("n_")
            out = out.join(wide)
        if "items" in tables and store.count("items"):
            it = store.table("items")
            j = e.join(it, e.item_id == it.item_id).select(e.user_id, e.event_type,
                                                           it.category, it.price)
            prices = store.execute(j.group_by(["user_id", "event_type"]).aggregate(
                p=j.price.mean()))
            if len(prices):  # the price level a customer browses and buys (price sensitivity)
                wide = prices.pivot(index="user_id", columns="event_type", values="p")
                out = out.join(wide.reindex(ids).astype(float).add_prefix("price_"))
            per_cat = store.execute(j.group_by(["user_id", "category"]).aggregate(n=j.count()))
            if len(per_cat):
                top = per_cat.groupby("category").n.sum().nlargest(8).index
                wide = per_cat[per_cat.category.isin(top)].pivot(
                    index="user_id", columns="category", values="n").reindex(ids).fillna(0)
                share = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0)
                out = out.join(share.add_prefix("share_").astype(float))
    if out.shape[1] == 0:
        raise DataError("no customer features: the store has no users attributes, orders or "
                        "events for the campaign's customers")
    out.columns = [str(c) for c in out.columns]
    return out


def uplift_data(store: Any, campaign_id: str | None = None, outcome: str = "converted"
                ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(features, exposures, campaign id) for the campaign, features as of its start."""
    if outcome not in OUTCOMES:
        raise DataError(f"outcome must be one of {OUTCOMES}; got {outcome!r}")
    cid = pick_campaign(store, campaign_id)
    exp = campaign_exposures(store, cid)
    exp = exp[exp[outcome].notna()].reset_index(drop=True)
    if exp.empty:
        raise DataError(f"campaign {cid!r} has no exposures with {outcome!r} recorded")
    start = exp["ts"].min() if "ts" in exp and exp["ts"].notna().any() else None
    X = customer_features(store, exp["user_id"], as_of=start).reindex(exp["user_id"])
    return X.reset_index(drop=True), exp, cid


def click_features(exposures: pd.DataFrame) -> pd.DataFrame:
    """Features of logged impressions (Open Bandit shape): the item, the slot, the campaign,
    the user's hashed features and past clicks on the shown item (``affinity`` in attributes),
    and the hour of day."""
    need = ["item_id", "position"]
    missing = [c for c in need if c not in exposures.columns]
    if missing:
        raise DataError(f"impressions need columns {need}; missing {missing}")
    X = pd.DataFrame({"item_id": exposures["item_id"].astype(str).to_numpy(),
                      "position": pd.to_numeric(exposures["position"]).to_numpy(dtype=float)})
    if "campaign_id" in exposures:
        X["campaign_id"] = exposures["campaign_id"].astype(str).to_numpy()
    if "ts" in exposures and exposures["ts"].notna().any():
        X["hour"] = pd.to_datetime(exposures["ts"]).dt.hour.to_numpy(dtype=float)
    if "attributes" in exposures:
        feats, affinity = [], []
        for a, item in zip(exposures["attributes"], X["item_id"], strict=True):
            d = json.loads(a) if isinstance(a, str) and a else {}
            aff = d.pop("affinity", {}) or {}
            key = item.split("-", 1)[-1]
            affinity.append(float(aff.get(key, 0.0)))
            feats.append({k: str(v) for k, v in d.items() if not isinstance(v, dict | list)})
        F = pd.DataFrame(feats)
        for c in F.columns:
            X[c] = F[c].to_numpy(dtype=object)
        X["affinity"] = np.asarray(affinity, dtype=float)
    return X
