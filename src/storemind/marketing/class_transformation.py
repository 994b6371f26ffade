"""Class-transformation uplift model (Jaskowski and Jaroszewicz, 2012), with weights for
unequal arms."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.errors import DataError
from storemind.marketing._learner import UpliftLearner

__all__ = ["ClassTransformation"]


class ClassTransformation(UpliftLearner):
    """One classifier per treatment on the transformed label ``z = y t + (1 - y)(1 - t)``.

    With treatment and control weighted to equal totals, ``P(z = 1 | x) = (1 + uplift(x)) / 2``,
    so the uplift is ``2 P(z = 1 | x) - 1``. Needs a binary outcome (0/1).
    Parameters as in :class:`~storemind.marketing.TLearner`.
    """

    def _check_outcome(self, y: np.ndarray) -> None:
        if not self.binary_:
            raise DataError("ClassTransformation needs a binary outcome (0/1); got other "
                            "values (use TLearner, XLearner or DRLearner for spend)")

    def _fit_bag(self, A: np.ndarray, t: np.ndarray, y: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
        out = []
        for k in range(1, len(self.arms_)):
            rows = (t == 0) | (t == k)
            tk = (t[rows] == k).astype(float)
            yy = y[rows]
            z = yy * tk + (1 - yy) * (1 - tk)
            p = tk.mean()
            w = np.where(tk == 1, 0.5 / p, 0.5 / (1 - p))
            out.append(self._train(A[rows], z, "binary", rng, weight=w).model_to_string())
        return out

    def _uplift_bag(self, boosters: list[Any], A: np.ndarray) -> np.ndarray:
        return np.column_stack([2 * b.predict(A) - 1 for b in boosters])
