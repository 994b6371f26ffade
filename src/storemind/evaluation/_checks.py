"""Input checks shared by the metric modules (private)."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.errors import DataError


def as_1d_float(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a finite 1-D float64 array or raise :class:`DataError`."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: expected numbers, got {type(values).__name__} ({exc})") from exc
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: expected finite numbers, got {int(bad.sum())} NaN/inf value(s) "
            f"(first at position {first}: {arr[first]})"
        )
    return arr


def as_binary(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float array of 0/1 or raise :class:`DataError`."""
    arr = as_1d_float(values, name)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: expected binary labels 0/1, got {arr[first]!r} at position {first}"
        )
    return arr


def same_length(**arrays: np.ndarray) -> int:
    """Check that all arrays have one length and return it."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        got = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise DataError(f"expected arrays of one length, got {got}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise DataError(f"expected non-empty arrays, got length 0 for {', '.join(lengths)}")
    return n


def weights(sample_weight: Any, n: int, name: str = "sample_weight") -> np.ndarray:
    """Return non-negative weights of length ``n`` (ones when ``sample_weight`` is None)."""
    if sample_weight is None:
        return np.ones(n)
    w = as_1d_float(sample_weight, name)
    if len(w) != n:
        raise DataError(f"{name}: expected length {n} (one weight per row), got {len(w)}")
    if (w < 0).any():
        first = int(np.flatnonzero(w < 0)[0])
        raise DataError(f"{name}: expected weights >= 0, got {w[first]} at position {first}")
    if w.sum() <= 0:
        raise DataError(f"{name}: expected a positive total weight, got {w.sum()}")
    return w
