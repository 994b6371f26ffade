"""Input checks and data compression shared by the buy-till-you-die models."""
from __future__ import annotations

import numpy as np

from storemind.errors import DataError

__all__ = ["as_arrays", "compress"]


def as_arrays(*columns, names=("frequency", "recency", "T")) -> tuple[np.ndarray, ...]:
    """Float arrays of equal length; a clear error for NaN, negatives or recency > T."""
    out = []
    for name, col in zip(names, columns, strict=True):
        try:
            arr = np.asarray(col, dtype=float).ravel()
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{name} must be numeric; got {type(col).__name__}: {exc}") from None
        if arr.size == 0:
            raise DataError(f"{name} is empty")
        if not np.all(np.isfinite(arr)):
            raise DataError(
                f"{name} has {int(np.sum(~np.isfinite(arr)))} missing or infinite value(s)")
        if np.any(arr < 0):
            raise DataError(f"{name} has negative value(s), e.g. {arr[arr < 0][0]}")
        out.append(arr)
    if len({a.size for a in out}) != 1:
        raise DataError(
            f"{', '.join(names)} must have the same length; got {[a.size for a in out]}")
    if len(out) == 3 and np.any(out[1] > out[2] + 1e-9):
        i = int(np.argmax(out[1] > out[2] + 1e-9))
        raise DataError(
            f"recency must not exceed T; row {i} has recency {out[1][i]} > T {out[2][i]}")
    return tuple(out)


def compress(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique rows of the given columns and how often each occurs (the likelihood is a sum of
    identical terms for identical rows, so this is exact and much faster on real data)."""
    import pandas as pd

    frame = pd.DataFrame({i: a for i, a in enumerate(arrays)})
    counts = frame.groupby(list(frame.columns), sort=True).size()  # hash grouping: fast
    uniq = counts.index.to_frame(index=False).to_numpy(dtype=float)
    return (*[uniq[:, i] for i in range(uniq.shape[1])], counts.to_numpy(dtype=float))
