"""A readable reason for each recommended item, from the model that produced it.

- :class:`~storemind.recommend.BoughtTogether`: "often bought together with X" (the item in
  the user's history with the strongest rule to the recommendation);
- neighbourhood and factor models (ItemKNN, EASE, ALS, BPR, and any model with
  ``similar_items``): "similar to Y that you viewed" (the history item contributing most);
- popularity, cold users, or no contributing neighbour: "popular in Z this week".
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storemind.errors import DataError
from storemind.recommend._base import Recommender, check_items, check_users
from storemind.recommend._interactions import EVENT_CODES, Interactions

__all__ = ["Reason", "explain", "categories_for", "strongest_events", "verbs_for", "VERBS"]

VERBS = {
    "view": "viewed", "click": "clicked", "cart": "put in your cart", "purchase": "bought",
    "rating": "rated", "search": "searched for",
}
_NAME_OF_CODE = {code: name for name, code in EVENT_CODES.items()}
_DAY = 86_400
#: how strongly each event type speaks for an item, weakest first; a reason names a history
#: item by the strongest thing the customer did with it ("that you bought")
_STRENGTH = ("search", "view", "click", "rating", "cart", "purchase")


def strongest_events(interactions: Interactions) -> sp.csr_matrix:
    """User x item matrix (int8) of 1 + the strength (index in ``_STRENGTH``) of the strongest
    event each customer had with each item, over events with a positive weight."""
    ok = interactions.weights > 0
    by_code = np.zeros(max(EVENT_CODES.values()) + 1, np.int8)
    for name, code in EVENT_CODES.items():
        by_code[code] = _STRENGTH.index(name) if name in _STRENGTH else 0
    n_users, n_items = interactions.n_users, max(interactions.n_items, 1)
    # one int64 sort: (user, item) pair then strength, so a pair's strongest event comes last
    pair = interactions.users[ok].astype(np.int64) * n_items + interactions.items[ok]
    keys = np.sort(pair * 8 + by_code[interactions.event_types[ok]])
    pair = keys >> 3
    last = np.r_[pair[1:] != pair[:-1], True] if len(keys) else np.zeros(0, bool)
    pair, strength = pair[last], (keys[last] & 7) + 1
    indptr = np.r_[0, np.cumsum(np.bincount(pair // n_items, minlength=n_users))]
    return sp.csr_matrix((strength.astype(np.int8), (pair % n_items).astype(np.int32), indptr),
                         shape=(n_users, interactions.n_items))


def verbs_for(strongest: sp.csr_matrix, user: int, items: Iterable[int],
              live: Iterable[tuple[int, str]] = ()) -> dict[int, str]:
    """The verb of the strongest event customer ``user`` had with each of ``items`` (item
    positions): in training (``strongest_events``' row; ``user`` -1 for none) or live
    (``(item, event type)`` pairs). Items with neither are left out."""
    want = set(items)
    level: dict[int, int] = {}
    if 0 <= user < strongest.shape[0]:
        a, b = strongest.indptr[user], strongest.indptr[user + 1]
        row = strongest.indices[a:b]
        for j in want:
            k = int(np.searchsorted(row, j))
            if k < len(row) and row[k] == j:
                level[j] = int(strongest.data[a + k]) - 1
    for j, kind in live:
        if j in want and kind in _STRENGTH:
            level[j] = max(level.get(j, -1), _STRENGTH.index(kind))
    return {j: VERBS[_STRENGTH[n]] for j, n in level.items()}


@dataclass(frozen=True)
class Reason:
    """Why one item was recommended.

    Attributes
    ----------
    item : int
        The recommended item (dense index).
    kind : str
        "bought_together", "similar" or "popular".
    text : str
        The sentence to show.
    because : int
        The history item behind it (dense index), -1 for "popular".
    """

    item: int
    kind: str
    text: str
    because: int = -1


def categories_for(item_ids: np.ndarray, items: pd.DataFrame,
                   column: str = "category") -> np.ndarray:
    """The catalogue's ``column`` aligned to the fitted ``item_ids`` (object array, None where
    unknown), for :func:`explain`'s ``categories``."""
    if "item_id" not in items.columns or column not in items.columns:
        raise DataError(f"categories_for needs columns item_id and {column}; "
                        f"got {list(items.columns)}")
    dedup = items.drop_duplicates("item_id", keep="last")
    series = pd.Series(dedup[column].to_numpy(), index=dedup["item_id"].astype(str).to_numpy())
    out = series.reindex(np.asarray(item_ids, dtype=str)).to_numpy(dtype=object)
    return np.array([None if pd.isna(c) else str(c) for c in out], dtype=object)


def explain(
    model: Recommender,
    interactions: Interactions,
    user: int,
    items: Sequence[int] | np.ndarray,
    *,
    names: Sequence[str] | Mapping[int, str] | None = None,
    categories: Sequence[str | None] | None = None,
    window_days: float = 7.0,
) -> list[Reason]:
    """One :class:`Reason` per item recommended to ``user`` by ``model``.

    Parameters
    ----------
    model : Recommender
        The fitted model that produced the items.
    interactions : Interactions
        The user's history (the data the model was fitted on, or newer with the same index).
    user : int
        Dense user index; unknown users (>= n_users) get "popular" reasons.
    items : sequence of int
        The recommended items (padding -1 is skipped).
    names : sequence or mapping of str, optional
        Display name per item index (default the item ids).
    categories : sequence of str, optional
        Category per item index (see :func:`categories_for`), used by "popular in Z".
    window_days : float
        What "this week" means: an item with events in the last ``window_days`` of
        ``interactions`` is "popular ... this week", else "popular ...".
    """
    model._check_fitted()
    user = int(check_users(user)[0])
    items = np.asarray(items)
    items = check_items(items[items >= 0], model.n_items_)
    history, verbs = _history(interactions, user)
    contrib = _contributions(model, history, items)
    recent = interactions.ts >= interactions.ts.max() - window_days * _DAY if len(
        interactions.ts) else np.zeros(0, dtype=bool)
    recent_items = set(np.unique(interactions.items[recent]).tolist())
    kind = "bought_together" if _is_bought_together(model) else "similar"
    out = []
    for col, item in enumerate(items):
        item = int(item)
        if contrib is not None and len(history) and contrib[:, col].max() > 0:
            src = int(history[int(np.argmax(contrib[:, col]))])
            if kind == "bought_together":
                text = f"often bought together with {_name(names, interactions, src)}"
            else:
                text = (f"similar to {_name(names, interactions, src)} "
                        f"that you {verbs[src]}")
            out.append(Reason(item, kind, text, src))
            continue
        cat = None if categories is None else categories[item]
        where = f" in {cat}" if cat else ""
        when = " this week" if item in recent_items else ""
        out.append(Reason(item, "popular", f"popular{where}{when}"))
    return out


def _history(interactions: Interactions, user: int) -> tuple[np.ndarray, dict[int, str]]:
    """The user's items (weight > 0) and, per item, the verb of their strongest event."""
    if user >= interactions.n_users:
        return np.zeros(0, dtype=np.int64), {}
    mask = (interactions.users == user) & (interactions.weights > 0)
    items, types = interactions.items[mask], interactions.event_types[mask]
    verbs: dict[int, str] = {}
    best: dict[int, int] = {}
    for item, code in zip(items.tolist(), types.tolist(), strict=True):
        name = _NAME_OF_CODE[code]
        if _STRENGTH.index(name) >= best.get(item, -1):
            best[item] = _STRENGTH.index(name)
            verbs[item] = VERBS[name]
    return np.array(sorted(verbs), dtype=np.int64), verbs


def _is_bought_together(model: Recommender) -> bool:
    return hasattr(model, "rules_")


def _contributions(model: Recommender, history: np.ndarray,
                   items: np.ndarray) -> np.ndarray | None:
    """(len(history), len(items)) how much each history item pushed each recommendation."""
    if len(history) == 0 or len(items) == 0:
        return None
    for attr in ("rules_", "similarity_", "weights_"):
        mat = getattr(model, attr, None)
        if mat is not None and getattr(mat, "shape", None) == (model.n_items_, model.n_items_):
            block = mat[history][:, items]
            return np.asarray(block.toarray() if hasattr(block, "toarray") else block,
                              dtype=np.float64)
    factors = getattr(model, "item_factors_", None)
    if isinstance(factors, np.ndarray) and factors.shape[0] == model.n_items_:
        unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
        return unit[history] @ unit[items].T
    try:  # any other model: its own similar items
        near, scores = model.similar_items(history, k=min(100, model.n_items_))
    except NotImplementedError:
        return None
    out = np.zeros((len(history), len(items)))
    col = {int(j): c for c, j in enumerate(items)}
    for r in range(len(history)):
        for j, s in zip(near[r], scores[r], strict=True):
            if j in col and np.isfinite(s):
                out[r, col[int(j)]] = max(float(s), 1e-9)
    return out


def _name(names: Sequence[str] | Mapping[int, str] | None, interactions: Interactions,
          item: int) -> str:
    if names is None:
        return str(interactions.item_ids[item])
    return str(names[item])
