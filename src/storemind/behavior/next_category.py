"""Next action: the category a customer most likely buys (or browses) next.

A blend of three distributions over categories: the customer's own recent history (each past
event weighted by ``decay`` ** steps back), the first-order transition from their last
category (learned with add-one smoothing), and overall popularity. The blend weights are
chosen on the fitted data by top-1 accuracy over a small grid.
"""
from __future__ import annotations

from itertools import product

import numpy as np

from storemind._base import Estimator
from storemind.errors import DataError

__all__ = ["NextCategory"]


class NextCategory(Estimator):
    """Next-category model over category-index sequences (0 = padding / no category).

    Parameters
    ----------
    decay : float
        Weight of an event k steps before the last one: ``decay ** k``.
    """

    def __init__(self, decay: float = 0.8):
        self.decay = decay

    @staticmethod
    def _seqs(cat) -> np.ndarray:
        try:
            a = np.asarray(cat, dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"category sequences must be integers: {exc}") from None
        if a.ndim != 2:
            raise DataError(f"category sequences must be a 2-D array; got {a.ndim}-D")
        if np.any(a < 0):
            raise DataError("category indices must be >= 0 (0 = padding)")
        return a

    def _parts(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_cat = self.n_categories_
        a = np.where(a <= n_cat, a, 0)
        L = a.shape[1]
        w = float(self.decay) ** np.arange(L - 1, -1, -1)
        personal = np.zeros((len(a), n_cat + 1))
        np.add.at(personal, (np.repeat(np.arange(len(a)), L), a.ravel()),
                  np.tile(w, len(a)))
        personal[:, 0] = 0
        s = personal.sum(1, keepdims=True)
        personal = np.divide(personal, s, out=np.zeros_like(personal), where=s > 0)
        nz = a > 0
        last_pos = np.where(nz.any(1), L - 1 - np.argmax(nz[:, ::-1], axis=1), -1)
        last = np.where(last_pos >= 0, a[np.arange(len(a)), np.maximum(last_pos, 0)], 0)
        trans = self.transition_[last]
        glob = np.broadcast_to(self.popularity_, personal.shape)
        return personal, trans, glob

    def fit(self, cat_sequences, next_category, n_categories: int | None = None) -> NextCategory:
        """Fit on category sequences (rows, left-padded with 0, oldest first) and the index
        (1..n) of each row's next category."""
        a = self._seqs(cat_sequences)
        y = np.asarray(next_category, dtype=np.int64).ravel()
        if y.size != len(a):
            raise DataError(f"{len(a)} sequences but {y.size} next categories")
        if y.size == 0 or np.any(y < 1):
            raise DataError("next categories must be indices >= 1, at least one")
        n_cat = int(n_categories or max(a.max(), y.max()))
        self.n_categories_ = n_cat
        pop = np.bincount(a[a > 0].ravel(), minlength=n_cat + 1).astype(float)[: n_cat + 1]
        pop += np.bincount(y, minlength=n_cat + 1)[: n_cat + 1]
        pop[0] = 0
        self.popularity_ = pop / pop.sum()
        trans = np.ones((n_cat + 1, n_cat + 1))
        trans[:, 0] = 0
        prev, nxt = a[:, :-1].ravel(), a[:, 1:].ravel()
        ok = (prev > 0) & (nxt > 0)
        np.add.at(trans, (prev[ok], nxt[ok]), 1.0)
        nz = a > 0
        has = nz.any(1)
        last_pos = np.where(has, a.shape[1] - 1 - np.argmax(nz[:, ::-1], axis=1), 0)
        last = a[np.arange(len(a)), last_pos]
        np.add.at(trans, (last[has], y[has]), 1.0)
        trans[0] = self.popularity_
        self.transition_ = trans / trans.sum(1, keepdims=True)
        personal, tr, glob = self._parts(a)
        best, best_w = -1.0, (1.0, 0.0, 0.0)
        for wp, wt in product((0.0, 0.25, 0.5, 0.75, 1.0), repeat=2):
            if wp + wt > 1:
                continue
            score = wp * personal + wt * tr + (1 - wp - wt) * glob
            acc = float(np.mean(score.argmax(1) == y))
            if acc > best + 1e-12:
                best, best_w = acc, (wp, wt, 1 - wp - wt)
        self.weights_ = np.array(best_w)
        self.train_accuracy_ = best
        return self

    def predict_proba(self, cat_sequences) -> np.ndarray:
        """(rows, n_categories + 1) probabilities; column 0 (no category) is always 0."""
        self._check_fitted()
        personal, tr, glob = self._parts(self._seqs(cat_sequences))
        wp, wt, wg = self.weights_
        p = wp * personal + wt * tr + wg * glob
        return p / p.sum(1, keepdims=True)

    def predict(self, cat_sequences) -> np.ndarray:
        """The most likely next category index (1..n) per row."""
        return self.predict_proba(cat_sequences).argmax(1)
