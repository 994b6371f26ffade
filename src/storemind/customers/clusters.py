"""Behavioural clusters of customers, with k chosen by silhouette and a plain-language
description of what sets each cluster apart.

Features are numeric columns of a frame (e.g. the profile's frequency, spend, basket size,
price index and the category shares). Skewed non-negative columns are log1p-transformed, every
column is standardised, and k-means (k-means++ starts) runs for each k in ``k_range``; the k
with the highest mean silhouette on a random sample of ``sample_size`` customers wins. Each
cluster is described by the features where its mean differs most from the whole base, in
standard deviations.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError

__all__ = ["BehaviorClusters", "feature_label"]

_LABELS = {
    "frequency": "orders", "monetary": "total spend", "avg_order_value": "order value",
    "recency_days": "days since the last order", "tenure_days": "days as a customer",
    "basket_size": "units per order", "lines_per_order": "lines per order",
    "price_index": "price paid relative to the category", "return_rate": "return rate",
    "sessions": "sessions", "views": "product views", "carts": "add-to-carts",
    "view_to_order": "orders per view",
    "browse_price_index": "price of the items looked at, relative to their category",
}


def feature_label(name: str) -> str:
    """A readable name for a feature column (``share_Books`` -> "share of activity in Books")."""
    if name.startswith("share_"):
        return f"share of activity in {name[6:]}"
    return _LABELS.get(name, name.replace("_", " "))


def _fmt(v: float, name: str) -> str:
    if name.startswith("share_") or name.endswith("_rate"):
        return f"{100 * v:.0f}%"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2g}" if abs(v) < 10 else f"{v:.1f}"


class BehaviorClusters(Estimator):
    """k-means on standardised behaviour features, k chosen by silhouette on a sample.

    Parameters
    ----------
    k_range : tuple of int
        Smallest and largest number of clusters to try (inclusive).
    sample_size : int
        Customers sampled to compute each k's silhouette (and to fit on large bases).
    n_init : int
        k-means restarts per k.
    random_state : int, optional
        Seed of the sample and of k-means.
    """

    def __init__(self, k_range: tuple[int, int] = (2, 8), sample_size: int = 2000,
                 n_init: int = 3, random_state: int | None = 0):
        self.k_range = k_range
        self.sample_size = sample_size
        self.n_init = n_init
        self.random_state = random_state

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise DataError(f"features lack column(s) {missing}; they have {list(X.columns)}")
        A = X[self.columns_].to_numpy(dtype=float, na_value=np.nan)
        A = np.where(np.isfinite(A), A, self.fill_[None, :])
        A[:, self.log_] = np.log1p(np.maximum(A[:, self.log_], 0))
        return (A - self.mean_) / self.scale_

    def fit(self, X: pd.DataFrame) -> BehaviorClusters:
        """Cluster the rows of ``X`` (numeric columns; NaN filled with the column median)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # k-means threads contend badly on a shared machine
            return self._fit(X)

    def _fit(self, X: pd.DataFrame) -> BehaviorClusters:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        if not isinstance(X, pd.DataFrame):
            raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
        num = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
        if not num:
            raise DataError(f"features need numeric columns; got dtypes {dict(X.dtypes)}")
        lo, hi = (int(v) for v in self.k_range)
        if lo < 2 or hi < lo:
            raise DataError(f"k_range must be (lo, hi) with 2 <= lo <= hi; got {self.k_range}")
        if len(X) < hi + 1:
            raise DataError(f"need more customers than clusters: {len(X)} rows, k up to {hi}")
        raw = X[num].to_numpy(dtype=float, na_value=np.nan)
        med = np.nanmedian(np.where(np.isfinite(raw), raw, np.nan), axis=0)
        self.columns_ = list(num)
        self.fill_ = np.where(np.isfinite(med), med, 0.0)
        raw = np.where(np.isfinite(raw), raw, self.fill_[None, :])
        skew = np.zeros(raw.shape[1])
        sd = raw.std(0)
        ok = sd > 0
        skew[ok] = (((raw[:, ok] - raw[:, ok].mean(0)) / sd[ok]) ** 3).mean(0)
        self.log_ = (raw.min(0) >= 0) & (skew > 1.0) & np.array(
            [not c.startswith("share_") for c in num])
        T = raw.copy()
        T[:, self.log_] = np.log1p(T[:, self.log_])
        self.mean_ = T.mean(0)
        scale = T.std(0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        Z = (T - self.mean_) / self.scale_
        rng = check_random_state(self.random_state)
        n = len(Z)
        idx = rng.choice(n, size=min(n, int(self.sample_size)), replace=False)
        Zs = Z[idx]
        seed = int(rng.integers(2**31 - 1))
        ks, sil, models = [], [], {}
        for k in range(lo, hi + 1):
            km = KMeans(n_clusters=k, n_init=int(self.n_init), random_state=seed).fit(Zs)
            if len(np.unique(km.labels_)) < 2:
                continue
            ks.append(k)
            sil.append(float(silhouette_score(Zs, km.labels_)))
            models[k] = km
        if not ks:
            raise DataError("every k gave a single cluster; the features do not vary")
        best = ks[int(np.argmax(sil))]
        self.k_ = int(best)
        self.silhouettes_ = np.array([ks, sil], dtype=float)
        self.centers_ = models[best].cluster_centers_.astype(float)
        labels = self._assign(Z)
        self.sizes_ = np.bincount(labels, minlength=self.k_).astype(int)
        self.cluster_means_ = np.vstack([
            raw[labels == j].mean(0) if self.sizes_[j] else self.fill_ for j in range(self.k_)])
        self.overall_means_ = raw.mean(0)
        self.cluster_z_ = np.vstack([
            Z[labels == j].mean(0) if self.sizes_[j] else np.zeros(Z.shape[1])
            for j in range(self.k_)])
        return self

    def _assign(self, Z: np.ndarray) -> np.ndarray:
        d = ((Z[:, None, :] - self.centers_[None, :, :]) ** 2).sum(-1)
        return d.argmin(1)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The cluster (0..k-1) of each row of ``X``."""
        self._check_fitted()
        return self._assign(self._matrix(X))

    def describe(self, top: int = 3, min_z: float = 0.25) -> pd.DataFrame:
        """One row per cluster: ``cluster``, ``name``, ``size``, ``share`` and
        ``description`` (the ``top`` features where it differs most from the base)."""
        self._check_fitted()
        rows, used = [], set()
        total = max(int(self.sizes_.sum()), 1)
        for j in range(self.k_):
            z = self.cluster_z_[j]
            order = np.argsort(-np.abs(z))
            traits = []
            for i in order[:top]:
                if abs(z[i]) < min_z:
                    break
                c = self.columns_[i]
                more = "more" if z[i] > 0 else "less"
                if c.startswith("share_"):
                    word = "more" if z[i] > 0 else "less"
                    traits.append(f"{word} {c[6:]} ({_fmt(self.cluster_means_[j, i], c)} of "
                                  f"their activity vs {_fmt(self.overall_means_[i], c)})")
                else:
                    word = "higher" if z[i] > 0 else "lower"
                    if c in ("frequency", "sessions", "views", "carts"):
                        word = more
                    traits.append(f"{word} {feature_label(c)} "
                                  f"({_fmt(self.cluster_means_[j, i], c)} vs "
                                  f"{_fmt(self.overall_means_[i], c)} on average)")
            name = self._name(z, used)
            used.add(name)
            desc = ("Close to the average customer on every feature." if not traits else
                    "Compared with all customers: " + "; ".join(traits) + ".")
            rows.append({"cluster": j, "name": name, "size": int(self.sizes_[j]),
                         "share": self.sizes_[j] / total, "description": desc})
        return pd.DataFrame(rows)

    def _name(self, z: np.ndarray, used: set[str]) -> str:
        order = np.argsort(-np.abs(z))
        parts: list[str] = []
        for i in order[:2]:
            c = self.columns_[i]
            if c.startswith("share_"):
                parts.append(f"{c[6:]} {'fans' if z[i] > 0 else 'avoiders'}")
            elif c == "recency_days":
                parts.append("lapsed" if z[i] > 0 else "recently active")
            elif c in ("browse_price_index", "price_index"):
                parts.append("premium-seeking" if z[i] > 0 else "bargain-seeking")
            else:
                parts.append(f"{'high' if z[i] > 0 else 'low'} {feature_label(c)}")
            name = parts[0][0].upper() + parts[0][1:] if len(parts) == 1 else \
                f"{parts[0][0].upper() + parts[0][1:]}, {parts[1]}"
            if name not in used:
                return name
        return f"{name} ({len(used) + 1})"
