"""Bayesian personalised ranking (Rendle et al. 2009), via ``implicit``."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import threadpoolctl

from storemind.errors import DataError
from storemind.recommend._factors import FactorRecommender
from storemind.recommend._interactions import Interactions

__all__ = ["BPR"]


class BPR(FactorRecommender):
    """Matrix factorisation trained on pairwise ranking with ``implicit``'s CPU BPR.

    ``item_factors_`` holds ``factors + 1`` columns, the last one the item bias; the matching
    column of ``user_factors_`` is 1.

    Parameters
    ----------
    factors : int
        Latent dimensions.
    learning_rate : float
        SGD step.
    regularization : float
        L2 penalty.
    iterations : int
        Epochs over the observed pairs.
    num_threads : int
        Threads for ``implicit``. With more than one, updates race (Hogwild) and the same seed
        no longer gives the same factors; the default 1 keeps fits reproducible.
    fold_in_epochs : int
        Gradient steps of :meth:`recalculate_user`.
    show_progress : bool
        Show implicit's progress bar while fitting.
    random_state : int, optional
        Seeds the initial factors and the negative sampling.
    """

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        num_threads: int = 1,
        fold_in_epochs: int = 50,
        show_progress: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.num_threads = num_threads
        self.fold_in_epochs = fold_in_epochs
        self.show_progress = show_progress
        self.random_state = random_state

    def _fit(self, interactions: Interactions, rng: np.random.Generator) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        if int(self.factors) < 1 or int(self.iterations) < 1:
            raise DataError(
                f"factors and iterations must be >= 1, got {self.factors!r}, {self.iterations!r}"
            )
        x = sp.csr_matrix(self.seen_, dtype=np.float32, copy=True)
        x.data[:] = 1.0
        with threadpoolctl.threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=int(self.factors), learning_rate=float(self.learning_rate),
                regularization=float(self.regularization), iterations=int(self.iterations),
                num_threads=int(self.num_threads), random_state=int(rng.integers(2**31 - 1)),
            )
            model.fit(x, show_progress=bool(self.show_progress))
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def recalculate_user(self, user_items_row: sp.spmatrix | np.ndarray) -> np.ndarray:
        """Fold in one user's current history: their factors (factors + 1,), item factors fixed.

        Full-batch gradient ascent on the BPR objective over the row's items against sampled
        negatives, from a zero vector, seeded by ``random_state``.
        """
        row = self._check_row(user_items_row)
        if row.shape[0] != 1:
            raise DataError(f"user_items_row must be one row, got shape {row.shape}")
        y = self.item_factors_.astype(np.float64)
        u = np.zeros(y.shape[1])
        u[-1] = 1.0
        pos = row.indices[row.data > 0]
        if len(pos) == 0:
            return u.astype(np.float32)
        rng = np.random.default_rng(self.random_state)
        is_pos = np.zeros(self.n_items_, dtype=bool)
        is_pos[pos] = True
        candidates = np.flatnonzero(~is_pos)
        if len(candidates) == 0:
            return u.astype(np.float32)
        lr, reg = float(self.learning_rate) * 10, float(self.regularization)
        for _ in range(int(self.fold_in_epochs)):
            neg = candidates[rng.integers(len(candidates), size=len(pos))]
            diff = y[pos] - y[neg]
            x_uij = diff @ u
            g = (diff * (1.0 / (1.0 + np.exp(x_uij)))[:, None]).mean(axis=0) - reg * u
            g[-1] = 0.0
            u += lr * g
        return u.astype(np.float32)
