"""Save a model that holds other estimators: their state goes into the parent's arrays and
JSON under a prefix (``index__embeddings_``), so one npz + meta.json holds everything."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind._base import Estimator

__all__ = ["flatten", "unflatten"]


def flatten(prefix: str, est: Estimator, arrays: dict[str, np.ndarray],
            values: dict[str, Any]) -> None:
    """Add ``est``'s params and learned state to ``arrays`` / ``values`` under ``prefix``."""
    a, v = est._get_state()
    for key, arr in a.items():
        arrays[f"{prefix}__{key}"] = arr
    values[f"{prefix}__"] = {"params": est.get_params(), "state": v}


def unflatten(prefix: str, cls: type[Estimator], arrays: dict[str, np.ndarray],
              values: dict[str, Any]) -> Estimator | None:
    """Rebuild the estimator saved by :func:`flatten` (None when it was not saved)."""
    meta = values.get(f"{prefix}__")
    if meta is None:
        return None
    est = cls(**meta["params"])
    head = f"{prefix}__"
    mine = {k[len(head):]: arr for k, arr in arrays.items() if k.startswith(head)}
    est._set_state(mine, meta["state"])
    return est
