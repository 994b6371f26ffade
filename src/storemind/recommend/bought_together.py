"""Frequently bought together: item pairs that co-occur in the same order or session."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from storemind.errors import DataError
from storemind.recommend._base import Recommender, check_items, top_k
from storemind.recommend._interactions import Interactions

__all__ = ["BoughtTogether"]

BASKETS = ("session", "user_day", "user")
RANK_BY = ("confidence", "lift", "support")
_DAY = 86_400


class BoughtTogether(Recommender):
    """Association rules ``i -> j`` between items in the same basket, kept above thresholds.

    A basket is a session (or order) id, else a user's events of one day, else all of a user's
    events. For a pair seen together in ``support`` of ``N`` baskets, with ``n_i`` and ``n_j``
    baskets holding each item: ``confidence = support / n_i`` and
    ``lift = support * N / (n_i * n_j)``. Pairs with ``support >= min_support`` and
    ``lift >= min_lift`` are kept (the ``max_neighbors`` best per item by ``rank_by``) in
    ``rules_[i, j]``.

    Parameters
    ----------
    event_types : tuple of str
        Events that put an item in a basket.
    basket : {"session", "user_day", "user"}
        What a basket is; "session" falls back to "user_day" for events without a session.
    min_support : int
        Least number of baskets a pair must share.
    min_lift : float
        Least lift (1 = no better than chance).
    rank_by : {"confidence", "lift", "support"}
        Score of a kept rule.
    max_neighbors : int
        Rules kept per item.
    max_basket_size : int
        Larger baskets (bulk buyers, crawlers) are ignored.
    random_state : int, optional
        Unused (the model is deterministic).
    """

    def __init__(
        self,
        event_types: tuple[str, ...] = ("purchase", "cart"),
        basket: str = "session",
        min_support: int = 2,
        min_lift: float = 1.0,
        rank_by: str = "confidence",
        max_neighbors: int = 50,
        max_basket_size: int = 50,
        random_state: int | None = None,
    ) -> None:
        self.event_types = event_types
        self.basket = basket
        self.min_support = min_support
        self.min_lift = min_lift
        self.rank_by = rank_by
        self.max_neighbors = max_neighbors
        self.max_basket_size = max_basket_size
        self.random_state = random_state

    def _fit(self, interactions: Interactions, rng: np.random.Generator) -> None:
        if self.basket not in BASKETS:
            raise DataError(f"basket must be one of {BASKETS}, got {self.basket!r}")
        if self.rank_by not in RANK_BY:
            raise DataError(f"rank_by must be one of {RANK_BY}, got {self.rank_by!r}")
        ev = interactions.subset(interactions._type_mask(self.event_types))
        baskets = basket_matrix(ev, self.basket, int(self.max_basket_size))
        self.n_baskets_ = int(baskets.shape[0])
        if self.n_baskets_ == 0:
            raise DataError(
                f"BoughtTogether found no basket of event types {tuple(self.event_types)} "
                f"with 2..{self.max_basket_size} items"
            )
        self.item_baskets_ = np.asarray(baskets.sum(axis=0), dtype=np.float32).ravel()
        self.rules_ = association_rules(
            baskets, self.item_baskets_, int(self.min_support), float(self.min_lift),
            self.rank_by, int(self.max_neighbors),
        )

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        rows = self.seen_[users].astype(np.float32, copy=True)
        rows.data[:] = 1.0
        return np.asarray((rows @ self.rules_).todense(), dtype=np.float32)

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items most often bought with each item (-1 padded where fewer rules pass)."""
        self._check_fitted()
        return self._similar_from(self.rules_, items, k)

    def complete_basket(self, items: np.ndarray | list[int], k: int = 10) -> tuple[
        np.ndarray, np.ndarray
    ]:
        """The ``k`` items that best complete a basket (cart), the basket's items excluded.

        Scores are the summed rule scores from the basket's items; returns 1-D (items, scores),
        padded with -1 / -inf when fewer items have a rule.
        """
        self._check_fitted()
        basket = check_items(items, self.n_items_)
        if len(basket) == 0:
            raise DataError("complete_basket needs at least one item in the basket")
        row = np.asarray(self.rules_[basket].sum(axis=0), dtype=np.float32)
        has_rule = np.asarray((self.rules_[basket] > 0).sum(axis=0)).ravel() > 0
        row[0, ~has_rule] = -np.inf
        row[0, basket] = -np.inf
        found, scores = top_k(row, int(k))
        return found[0], scores[0]


def basket_matrix(ev: Interactions, basket: str, max_size: int) -> sp.csr_matrix:
    """Binary basket x item matrix of baskets with 2..max_size distinct items."""
    by_day = ev.users.astype(np.int64) * 1_000_000 + ev.ts // _DAY
    if basket == "user":
        key = ev.users.astype(np.int64)
    elif basket == "user_day" or ev.sessions is None:
        key = by_day
    else:  # sessions, with user-day baskets (negative, apart) for events without one
        key = np.where(ev.sessions >= 0, ev.sessions, -1 - by_day)
    _, code = np.unique(key, return_inverse=True)
    n = int(code.max()) + 1 if len(code) else 0
    m = sp.csr_matrix((np.ones(len(code), dtype=np.float32), (code, ev.items)),
                      shape=(n, ev.n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    size = np.diff(m.indptr)
    return m[(size >= 2) & (size <= max_size)]


def association_rules(
    baskets: sp.csr_matrix, n_item: np.ndarray, min_support: int, min_lift: float,
    rank_by: str, max_neighbors: int,
) -> sp.csr_matrix:
    """Sparse item x item rule scores from a binary basket x item matrix."""
    n_baskets = baskets.shape[0]
    co = sp.csr_matrix(baskets.T @ baskets, dtype=np.float32)
    co.setdiag(0)
    co.eliminate_zeros()
    co = co.tocoo()
    i, j, support = co.row, co.col, co.data
    lift = support * n_baskets / (n_item[i] * n_item[j])
    keep = (support >= min_support) & (lift >= min_lift)
    i, j, support, lift = i[keep], j[keep], support[keep], lift[keep]
    score = {"confidence": support / n_item[i], "lift": lift, "support": support}[rank_by]
    # max_neighbors best per row: sort by (row, -score), keep rank < max_neighbors
    order = np.lexsort((j, -score, i))
    i, j, score = i[order], j[order], score[order]
    start = np.searchsorted(i, i, side="left")
    rank = np.arange(len(i)) - start
    keep = rank < max_neighbors
    n = len(n_item)
    rules = sp.csr_matrix((score[keep].astype(np.float32), (i[keep], j[keep])), shape=(n, n))
    rules.sort_indices()
    return rules
