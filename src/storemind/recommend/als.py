"""Alternating least squares for implicit feedback (Hu, Koren, Volinsky 2008), via ``implicit``."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import threadpoolctl

from storemind.errors import DataError
from storemind.recommend._factors import FactorRecommender
from storemind.recommend._interactions import Interactions

__all__ = ["ALS"]


class ALS(FactorRecommender):
    """Weighted matrix factorisation of the user x item matrix with ``implicit``'s CPU ALS.

    Confidence is ``1 + alpha * weight`` for observed pairs and 1 elsewhere. Learned state:
    ``user_factors_`` (n_users, factors) and ``item_factors_`` (n_items, factors), float32.

    Parameters
    ----------
    factors : int
        Latent dimensions.
    regularization : float
        L2 penalty on the factors.
    alpha : float
        Confidence scaling of the event weights.
    iterations : int
        ALS sweeps.
    binary : bool
        Use 1 for every (user, item) pair instead of the summed event weights.
    num_threads : int
        Threads for ``implicit`` (0 = all cores). Results do not depend on it.
    show_progress : bool
        Show implicit's progress bar while fitting.
    random_state : int, optional
        Seeds the initial factors.
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        binary: bool = True,
        num_threads: int = 0,
        show_progress: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.binary = binary
        self.num_threads = num_threads
        self.show_progress = show_progress
        self.random_state = random_state

    def _implicit(self, seed: int | None = None):
        from implicit.cpu.als import AlternatingLeastSquares

        with threadpoolctl.threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=int(self.factors), regularization=float(self.regularization),
                alpha=float(self.alpha), iterations=int(self.iterations),
                num_threads=int(self.num_threads), random_state=seed,
            )

    def _matrix(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        rows = sp.csr_matrix(rows, dtype=np.float32, copy=True)
        if self.binary:
            rows.data[:] = 1.0
        return rows

    def _fit(self, interactions: Interactions, rng: np.random.Generator) -> None:
        if int(self.factors) < 1 or int(self.iterations) < 1:
            raise DataError(
                f"factors and iterations must be >= 1, got {self.factors!r}, {self.iterations!r}"
            )
        model = self._implicit(int(rng.integers(2**31 - 1)))
        with threadpoolctl.threadpool_limits(1, "blas"):
            model.fit(self._matrix(self.seen_), show_progress=bool(self.show_progress))
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def recalculate_user(self, user_items_row: sp.spmatrix | np.ndarray) -> np.ndarray:
        """Fold in one user's current history without refitting: their factors (factors,).

        ``user_items_row`` is a (1, n_items) row of event weights over the fitted items (for
        a live user, the training row plus new events). Item factors stay fixed; the user's
        factors are the exact least-squares solution given them.
        """
        row = self._matrix(self._check_row(user_items_row))
        if row.shape[0] != 1:
            raise DataError(f"user_items_row must be one row, got shape {row.shape}")
        model = self._implicit()
        model.item_factors = self.item_factors_
        model.user_factors = np.zeros((1, self.item_factors_.shape[1]), dtype=np.float32)
        with threadpoolctl.threadpool_limits(1, "blas"):
            return np.asarray(model.recalculate_user(0, row), dtype=np.float32)
