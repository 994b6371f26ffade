"""Batched ALS fold-ins for live events, and the heap settling done after a model swap."""
from __future__ import annotations

import gc

import numpy as np

__all__ = ["als_fold_batch", "settle_heap"]


def als_fold_batch(rows: list[tuple[np.ndarray, np.ndarray]], y32: np.ndarray,
                   base: np.ndarray, alpha: float, binary: bool, group_size: int = 64
                   ) -> np.ndarray:
    """Each customer's factors with the item factors fixed: the exact solve of
    ``(Y'Y + reg I + Y_u'(C_u - I)Y_u) x = Y_u'C_u 1`` that implicit's ``recalculate_user``
    does. ``rows`` holds (unique item indices, summed weights) per customer; ``base`` is
    ``Y'Y + reg I``. Customers of similar history length are solved together: each group's
    histories are padded to one length and its systems built by one batched product."""
    out = np.zeros((len(rows), y32.shape[1]), np.float32)
    order = sorted(range(len(rows)), key=lambda r: len(rows[r][0]))
    for start in range(0, len(order), group_size):
        group = order[start:start + group_size]
        width = len(rows[group[-1]][0])
        idx = np.zeros((len(group), width), np.int64)
        conf = np.zeros((len(group), width))
        for g, r in enumerate(group):
            items, weights = rows[r]
            idx[g, :len(items)] = items
            conf[g, :len(items)] = alpha * (1.0 if binary else weights)
        yp = y32[idx]  # (group, width, factors); padding rows are weighted 0
        d = np.where(conf > 0, conf - 1.0, 0.0).astype(np.float32)
        a = base + np.matmul(yp.transpose(0, 2, 1) * d[:, None, :], yp)
        b = np.einsum("gwk,gw->gk", yp, conf.astype(np.float32))
        out[group] = np.linalg.solve(a, b[..., None])[..., 0]
    return out


def settle_heap() -> None:
    """Collect what the last model left behind, then move every object alive now (the new
    model's hundreds of thousands) out of the garbage collector's sight: otherwise each full
    collection walks them all, a ~0.2 s pause in the middle of serving at 5M events (found by
    benchmarks/serving.py as a p99 spike). Once per model swap, not per request."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
