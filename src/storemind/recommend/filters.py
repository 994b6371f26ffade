"""Business rules over the item index: masks (True = drop) and score adjustments.

Every function returns an array over the fitted items, so rules compose with plain numpy:
``exclude = out_of_stock(...) | category_mask(...)``. :func:`combine` turns masks and
boost/bury adjustments into one array for ``Recommender.recommend(filter_items=...)``: a bool
array when there are only masks, else a float array added to the scores (-inf drops).
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.recommend._base import check_users
from storemind.recommend._interactions import Interactions

__all__ = [
    "already_seen",
    "out_of_stock",
    "category_mask",
    "price_mask",
    "boost",
    "bury",
    "combine",
]


def already_seen(
    interactions: Interactions, users: np.ndarray | int,
    event_types: Iterable[str] | str = ("purchase",),
) -> np.ndarray:
    """Per user, the items they had an event of ``event_types`` with: bool (len(users), n_items).

    For example ``("purchase",)`` drops what each user already bought but keeps what they only
    viewed. Users outside ``interactions`` get an all-False row.
    """
    users = check_users(users)
    seen = interactions.seen(event_types)
    out = np.zeros((len(users), interactions.n_items), dtype=bool)
    known = users < interactions.n_users
    out[known] = seen[users[known]].toarray() > 0
    return out


def _align(item_ids: np.ndarray, frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """``frame[column]`` re-indexed to the fitted ``item_ids`` (NaN where absent)."""
    for col in ("item_id", column):
        if col not in frame.columns:
            raise DataError(
                f"{what} needs columns item_id and {column}; got {list(frame.columns)}"
            )
    dedup = frame.drop_duplicates("item_id", keep="last")
    series = pd.Series(dedup[column].to_numpy(), index=dedup["item_id"].astype(str).to_numpy())
    return series.reindex(np.asarray(item_ids, dtype=str))


def out_of_stock(
    item_ids: np.ndarray, stock: pd.DataFrame, *, min_on_hand: float = 1.0,
    unknown_in_stock: bool = True,
) -> np.ndarray:
    """Items whose latest stock snapshot has ``on_hand < min_on_hand``: bool (n_items,).

    ``stock`` is the canonical ``stock`` table (item_id, ts, on_hand); the last row by ``ts``
    of each item counts. Items without a snapshot are kept unless ``unknown_in_stock=False``.
    """
    frame = stock.sort_values("ts", kind="stable") if "ts" in stock.columns else stock
    on_hand = pd.to_numeric(_align(item_ids, frame, "on_hand", "out_of_stock"), errors="coerce")
    missing = on_hand.isna().to_numpy()
    drop = (on_hand.fillna(0).to_numpy() < min_on_hand)
    return np.where(missing, not unknown_in_stock, drop)


def category_mask(
    item_ids: np.ndarray, items: pd.DataFrame, *, include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None, column: str = "category",
) -> np.ndarray:
    """Drop items outside ``include`` or inside ``exclude``: bool (n_items,).

    ``items`` is the catalogue (item_id and ``column``); items not in it count as category
    missing (dropped by ``include``, kept by ``exclude``).
    """
    cat = _align(item_ids, items, column, "category_mask").astype("string")
    drop = np.zeros(len(cat), dtype=bool)
    if include is not None:
        drop |= ~cat.isin([str(c) for c in include]).fillna(False).to_numpy(dtype=bool)
    if exclude is not None:
        drop |= cat.isin([str(c) for c in exclude]).fillna(False).to_numpy(dtype=bool)
    return drop


def price_mask(
    item_ids: np.ndarray, items: pd.DataFrame, *, min_price: float | None = None,
    max_price: float | None = None, unknown_price: bool = False,
) -> np.ndarray:
    """Drop items priced below ``min_price`` or above ``max_price``: bool (n_items,).

    Items without a price are dropped unless ``unknown_price=True``.
    """
    price = pd.to_numeric(_align(item_ids, items, "price", "price_mask"),
                          errors="coerce").to_numpy(dtype=np.float64)
    drop = np.zeros(len(price), dtype=bool)
    if min_price is not None:
        drop |= price < float(min_price)
    if max_price is not None:
        drop |= price > float(max_price)
    if min_price is not None or max_price is not None:
        drop |= np.isnan(price) & (not unknown_price)
    return drop


def boost(mask: np.ndarray, amount: float) -> np.ndarray:
    """Score adjustment: ``+amount`` on items where ``mask`` is True, 0 elsewhere (float32).

    Amounts are in the model's score units (look at ``recommend``'s scores to size them).
    """
    if amount < 0:
        raise DataError(f"boost amount must be >= 0 (use bury to push down), got {amount}")
    return np.where(np.asarray(mask, dtype=bool), np.float32(amount), np.float32(0))


def bury(mask: np.ndarray, amount: float) -> np.ndarray:
    """Score adjustment: ``-amount`` on items where ``mask`` is True, 0 elsewhere (float32)."""
    if amount < 0:
        raise DataError(f"bury amount must be >= 0, got {amount}")
    return np.where(np.asarray(mask, dtype=bool), np.float32(-amount), np.float32(0))


def combine(*rules: np.ndarray) -> np.ndarray:
    """One ``filter_items`` argument from masks (bool, True = drop) and adjustments (float).

    Shapes broadcast ((n_items,) with (n_users, n_items)). Only masks -> their OR (bool);
    any adjustment -> the summed adjustments, with -inf where any mask drops.
    """
    if not rules:
        raise DataError("combine needs at least one mask or adjustment")
    arrays = [np.asarray(r) for r in rules]
    masks = [a for a in arrays if a.dtype == bool]
    adjust = [a for a in arrays if a.dtype != bool]
    dropped = functools.reduce(np.logical_or, masks) if masks else None
    if not adjust:
        return dropped
    total = np.sum(np.broadcast_arrays(*[a.astype(np.float32) for a in adjust]), axis=0)
    if dropped is not None:
        total, dropped = np.broadcast_arrays(total, dropped)
        total = np.where(dropped, -np.inf, total).astype(np.float32)
    return total.astype(np.float32)
