"""The recommender base class: top-k with seen-item exclusion, filters and a cold fallback.

A subclass implements ``_fit(interactions, rng)`` and ``_score_known(users)`` (scores of known
users, float32 (len(users), n_items)); the base class validates, remembers what each user has
seen, answers cold users with popularity, and turns scores into top-k.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError
from storemind.recommend._interactions import Interactions

__all__ = ["Recommender", "top_k", "check_users", "check_items"]

_CHUNK = 1024  # users scored at once in recommend()
_SPARSE_PARTS = ("data", "indices", "indptr")


class Recommender(Estimator):
    """Base of every recommender. Users and items are dense indices of the fitted Interactions.

    Learned state common to all: ``n_users_``, ``n_items_``, ``seen_`` (CSR user x item, the
    events of the training data with weight > 0) and ``popularity_`` (users per item, the
    fallback for cold users).
    """

    random_state: Any = None

    # -- to implement ----------------------------------------------------------------------
    def _fit(self, interactions: Interactions, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- public ----------------------------------------------------------------------------
    def fit(self, interactions: Interactions) -> Recommender:
        """Learn from ``interactions``; returns ``self``.

        Raises
        ------
        DataError
            ``interactions`` is not an :class:`Interactions` or has no weighted event.
        """
        check_interactions(interactions, type(self).__name__)
        self._fit_base(interactions)
        self._fit(interactions, check_random_state(getattr(self, "random_state", None)))
        return self

    def score(self, users: np.ndarray | int) -> np.ndarray:
        """Scores of every item for each user, float32 (len(users), n_items), higher = better.

        Users beyond the fitted ones (cold) get the popularity fallback.
        """
        self._check_fitted()
        users = check_users(users)
        out = np.empty((len(users), self.n_items_), dtype=np.float32)
        known = users < self.n_users_
        if known.any():
            out[known] = self._score_known(users[known])
        if (~known).any():
            out[~known] = self._fallback_scores()
        return out

    def recommend(
        self,
        users: np.ndarray | int,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        filter_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for each user.

        Parameters
        ----------
        users : array of int
            Dense user indices (>= 0); indices beyond the fitted users get the fallback.
        k : int
            Items per user.
        exclude_seen : bool
            Drop items the user had an event with in the training data.
        filter_items : bool array, optional
            True = drop. Shape (n_items,) for everyone or (len(users), n_items) per user (see
            :mod:`storemind.recommend.filters`). A float array is added to the scores instead
            (boost > 0, bury < 0, -inf drops).

        Returns
        -------
        items : int64 array (len(users), k)
            Item indices, best first, padded with -1 when fewer than ``k`` are left.
        scores : float32 array (len(users), k)
            Their scores, padded with -inf.
        """
        self._check_fitted()
        users = check_users(users)
        k = _check_k(k)
        if filter_items is not None:
            filter_items = np.asarray(filter_items)
            if filter_items.shape[-1] != self.n_items_ or filter_items.ndim not in (1, 2) or (
                filter_items.ndim == 2 and filter_items.shape[0] != len(users)
            ):
                raise DataError(
                    f"filter_items must have shape ({self.n_items_},) or "
                    f"({len(users)}, {self.n_items_}); got {filter_items.shape}"
                )
        items_out = np.full((len(users), k), -1, dtype=np.int64)
        scores_out = np.full((len(users), k), -np.inf, dtype=np.float32)
        for start in range(0, len(users), _CHUNK):
            sl = slice(start, start + _CHUNK)
            batch = users[sl]
            scores = self.score(batch)
            if exclude_seen:
                known = np.flatnonzero(batch < self.n_users_)
                if len(known):
                    rows = self.seen_[batch[known]]
                    r, c = rows.nonzero()
                    scores[known[r], c] = -np.inf
            if filter_items is not None:
                f = filter_items if filter_items.ndim == 1 else filter_items[sl]
                if f.dtype == bool:
                    scores[np.broadcast_to(f, scores.shape)] = -np.inf
                else:
                    scores += f.astype(np.float32)
            items_out[sl], scores_out[sl] = top_k(scores, k)
        return items_out, scores_out

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to each item (itself excluded), where the model can."""
        raise NotImplementedError(f"{type(self).__name__} does not rank similar items")

    # -- shared pieces ---------------------------------------------------------------------
    def _fit_base(self, interactions: Interactions) -> None:
        self.n_users_ = interactions.n_users
        self.n_items_ = interactions.n_items
        self.seen_ = _positive(interactions.matrix())
        self.popularity_ = np.asarray(
            (self.seen_ > 0).sum(axis=0), dtype=np.float32
        ).ravel()

    def _fallback_scores(self) -> np.ndarray:
        return self.popularity_

    def _user_rows(self, users: np.ndarray) -> sp.csr_matrix:
        return self.seen_[users]

    def _similar_from(
        self, sim: np.ndarray | sp.spmatrix, items: np.ndarray | int, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k of rows of an item x item similarity, the item itself excluded."""
        self._check_fitted()
        items = check_items(items, self.n_items_)
        k = _check_k(k)
        rows = sim[items]
        rows = rows.toarray() if sp.issparse(rows) else np.array(rows, dtype=np.float32)
        rows = rows.astype(np.float32, copy=False)
        if sp.issparse(sim):
            rows[rows == 0] = -np.inf  # not a neighbour at all
        rows[np.arange(len(items)), items] = -np.inf
        return top_k(rows, k)

    # -- persistence of sparse matrices ------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = {}, {}
        for key, value in vars(self).items():
            if not key.endswith("_") or key.startswith("_"):
                continue
            if sp.issparse(value):
                csr = value.tocsr()
                for part in _SPARSE_PARTS:
                    arrays[f"{key}__{part}"] = getattr(csr, part)
                values[f"{key}__shape"] = list(csr.shape)
            elif isinstance(value, np.ndarray):
                arrays[key] = value
            else:
                values[key] = value
        return arrays, values

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key.endswith("__shape"):
                name = key[: -len("__shape")]
                setattr(self, name, sp.csr_matrix(
                    tuple(arrays[f"{name}__{p}"] for p in _SPARSE_PARTS), shape=tuple(value)
                ))
            else:
                setattr(self, key, value)
        for key, value in arrays.items():
            if not any(key.endswith(f"__{p}") for p in _SPARSE_PARTS):
                setattr(self, key, value)


def check_interactions(interactions: Any, who: str) -> None:
    """DataError unless ``interactions`` is a non-empty :class:`Interactions`."""
    if not isinstance(interactions, Interactions):
        raise DataError(
            f"{who}.fit expects an Interactions (Interactions.from_frame(events)), "
            f"got {type(interactions).__name__}"
        )
    if interactions.n_events == 0 or not (interactions.weights > 0).any():
        raise DataError(
            f"{who}.fit got no interaction with a positive weight "
            f"({interactions.n_events} events, {interactions.n_users} users, "
            f"{interactions.n_items} items)"
        )


def check_users(users: np.ndarray | int) -> np.ndarray:
    """1-D int64 array of user indices; DataError for negatives or non-integers."""
    arr = np.atleast_1d(np.asarray(users))
    if arr.ndim != 1:
        raise DataError(f"users must be a 1-D array of user indices, got shape {arr.shape}")
    if len(arr) and arr.dtype.kind not in "iu":
        raise DataError(f"users must be integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if len(arr) and arr.min() < 0:
        raise DataError(f"user index must be >= 0, got {int(arr.min())} (unknown id?)")
    return arr


def check_items(items: np.ndarray | int, n_items: int) -> np.ndarray:
    """1-D int64 array of known item indices; DataError otherwise."""
    arr = np.atleast_1d(np.asarray(items))
    if arr.ndim != 1 or (len(arr) and arr.dtype.kind not in "iu"):
        raise DataError(f"items must be a 1-D array of item indices, got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.int64)
    if len(arr) and (arr.min() < 0 or arr.max() >= n_items):
        bad = arr[(arr < 0) | (arr >= n_items)][0]
        raise DataError(f"item index {int(bad)} is outside the fitted items [0, {n_items})")
    return arr


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise DataError(f"k must be a positive integer, got {k!r}")
    return int(k)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns per row, best first; -inf entries become -1 / -inf padding.

    Among the selected items, equal scores are ordered by the lower item index.
    """
    n, m = scores.shape
    kk = min(k, m)
    items = np.full((n, k), -1, dtype=np.int64)
    out = np.full((n, k), -np.inf, dtype=np.float32)
    if kk == 0 or n == 0:
        return items, out
    scores = scores.astype(np.float32, copy=False)
    scores = np.where(np.isnan(scores), np.float32(-np.inf), scores)
    if kk < m:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    part = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    valid = np.isfinite(vals)
    items[:, :kk] = np.where(valid, part, -1)
    out[:, :kk] = np.where(valid, vals, -np.inf)
    return items, out


def _positive(m: sp.csr_matrix) -> sp.csr_matrix:
    m = m.copy()
    m.data[m.data < 0] = 0
    m.eliminate_zeros()
    return m
