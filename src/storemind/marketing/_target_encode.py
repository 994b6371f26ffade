"""Smoothed target encoding: the click rate of a key (an item, a position, an item x position
pair), shrunk towards the overall rate, computed out of fold on the training rows so that no
row's own outcome leaks into its feature."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["group_keys", "fit_target_encoding", "apply_target_encoding", "encoding_name"]

_SEP = "\x1f"


def group_keys(X: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One string key per row from the values of ``columns`` (missing -> empty)."""
    parts = [X[c].astype("object").where(X[c].notna(), "").astype(str).to_numpy()
             for c in columns]
    key = parts[0].astype(object)
    for p in parts[1:]:
        key = key + _SEP + p
    return pd.Series(key, index=X.index, dtype=object)


def encoding_name(columns: Sequence[str]) -> str:
    return "ctr_" + "_x_".join(columns)


def _rates(s: pd.Series, n: pd.Series, prior: float, smoothing: float) -> pd.Series:
    return (s + smoothing * prior) / (n + smoothing)


def fit_target_encoding(X: pd.DataFrame, y: np.ndarray, groups: Sequence[Sequence[str]],
                        smoothing: float, folds: np.ndarray,
                        weight: np.ndarray | None = None
                        ) -> tuple[np.ndarray, list[dict[str, Any]], float]:
    """Out-of-fold encodings of the training rows, and the full-data tables for new rows.

    Returns
    -------
    oof : ndarray (n_rows, n_groups)
        Row i's rate per group from the rows outside its fold (prior from those rows too).
    tables : list of dict
        Per group: ``columns``, ``keys``, ``rates`` (all training rows).
    prior : float
        The overall (weighted) rate, for keys not seen in training.
    """
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    wy = w * y
    total_s, total_n = float(wy.sum()), float(w.sum())
    prior = total_s / total_n if total_n > 0 else 0.0
    oof = np.zeros((len(y), len(groups)))
    tables = []
    fold_ids = np.unique(folds)
    for g, cols in enumerate(groups):
        key = group_keys(X, cols).to_numpy()
        frame = pd.DataFrame({"key": key, "fold": folds, "s": wy, "n": w})
        per_key = frame.groupby("key")[["s", "n"]].sum()
        per_fold = frame.groupby(["fold", "key"])[["s", "n"]].sum()
        for f in fold_ids:
            rows = folds == f
            inside = per_fold.loc[f].reindex(per_key.index, fill_value=0.0)
            out = per_key - inside
            out_prior = ((total_s - float(wy[rows].sum()))
                         / max(total_n - float(w[rows].sum()), 1e-12))
            rate = _rates(out["s"], out["n"], out_prior, smoothing)
            oof[rows, g] = pd.Series(key[rows]).map(rate).fillna(out_prior).to_numpy()
        full = _rates(per_key["s"], per_key["n"], prior, smoothing)
        tables.append({"columns": list(cols), "keys": [str(k) for k in full.index],
                       "rates": [float(r) for r in full.to_numpy()]})
    return oof, tables, prior


def apply_target_encoding(X: pd.DataFrame, tables: list[dict[str, Any]],
                          prior: float) -> np.ndarray:
    """The encodings of new rows from the fitted tables (unseen keys -> the prior)."""
    out = np.zeros((len(X), len(tables)))
    for g, tab in enumerate(tables):
        lookup = pd.Series(tab["rates"], index=pd.Index(tab["keys"], dtype=object), dtype=float)
        out[:, g] = group_keys(X, tab["columns"]).map(lookup).fillna(prior).to_numpy()
    return out
