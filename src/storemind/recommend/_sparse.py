"""Sparse helpers shared by the neighbourhood models (private)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["top_n_rows", "chunk_rows"]


def chunk_rows(n_rows: int, n_cols: int, budget: int = 20_000_000) -> int:
    """Rows per chunk so that a dense (rows x n_cols) float32 block stays under ``budget``."""
    return max(1, min(n_rows, budget // max(n_cols, 1)))


def top_n_rows(dense: np.ndarray, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest positive entries of each row of ``dense``.

    Returns a CSR block of the same shape; ties at the cut are taken by argpartition order.
    """
    rows, cols = dense.shape
    n = min(n, cols)
    if n < cols:
        idx = np.argpartition(-dense, n - 1, axis=1)[:, :n]
    else:
        idx = np.broadcast_to(np.arange(cols), (rows, cols))
    vals = np.take_along_axis(dense, idx, axis=1)
    keep = vals > 0
    r = np.broadcast_to(np.arange(rows)[:, None], idx.shape)[keep]
    block = sp.csr_matrix((vals[keep], (r, idx[keep])), shape=(rows, cols), dtype=np.float32)
    block.sort_indices()
    return block
