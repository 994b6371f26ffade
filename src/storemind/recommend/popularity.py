"""Most popular items, with an optional exponential time decay."""
from __future__ import annotations

import numpy as np

from storemind.errors import DataError
from storemind.recommend._base import Recommender
from storemind.recommend._interactions import Interactions

__all__ = ["Popularity"]

_DAY = 86_400.0


class Popularity(Recommender):
    """Items ranked by their summed event weights, recent events counting more.

    An event ``t`` seconds before the last training event weighs
    ``weight * 0.5 ** (t / (half_life_days * 86400))``; ``half_life_days=None`` turns the decay
    off. Every user gets the same scores (seen items are still excluded per user).

    Parameters
    ----------
    half_life_days : float or None
        Days after which an event counts half.
    count_users : bool
        Count each (user, item) pair once (its most recent event) instead of summing every
        event's weight, so that a few heavy users cannot dominate.
    random_state : int, optional
        Unused (the model is deterministic); kept for the shared estimator interface.
    """

    def __init__(
        self,
        half_life_days: float | None = 7.0,
        count_users: bool = True,
        random_state: int | None = None,
    ) -> None:
        self.half_life_days = half_life_days
        self.count_users = count_users
        self.random_state = random_state

    def _fit(self, interactions: Interactions, rng: np.random.Generator) -> None:
        hl = self.half_life_days
        if hl is not None and not (float(hl) > 0):
            raise DataError(f"half_life_days must be > 0 or None, got {hl!r}")
        pos = interactions.weights > 0
        items = interactions.items[pos]
        users = interactions.users[pos]
        ts = interactions.ts[pos].astype(np.float64)
        weight = interactions.weights[pos].astype(np.float64)
        self.now_ = int(ts.max())
        decay = np.ones_like(ts) if hl is None else 0.5 ** ((self.now_ - ts) / (float(hl) * _DAY))
        if self.count_users:
            # last event of each (user, item) pair: events are in time order
            key = users.astype(np.int64) * interactions.n_items + items
            _, last = np.unique(key[::-1], return_index=True)
            idx = len(key) - 1 - last
            score = np.bincount(items[idx], weights=decay[idx], minlength=interactions.n_items)
        else:
            score = np.bincount(items, weights=weight * decay, minlength=interactions.n_items)
        self.item_scores_ = score.astype(np.float32)

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores_, (len(users), self.n_items_)).copy()

    def _fallback_scores(self) -> np.ndarray:
        return self.item_scores_
