"""Hybrid retrieval: MiniLM embeddings (cosine) and our BM25, fused.

Fusion (``fusion=``):

- ``"convex"`` (default): ``alpha * cosine + (1 - alpha) * bm25 / max_bm25(query)``. The cosine
  of unit vectors already lives on a fixed scale; BM25 does not, so it is divided by the
  query's best BM25 score. Keeps the size of each signal, so a clear lexical match (a model
  number) can beat a vague semantic one. ``alpha`` = 0.8 was tuned on Amazon QA (MRR@10
  0.277 against 0.266 for the cosine alone, 0.245 for RRF and 0.180 for BM25; see
  ``benchmarks/results/assistant.md``).
- ``"rrf"``: reciprocal rank fusion, ``1 / (rrf_k + rank_dense) + 1 / (rrf_k + rank_bm25)``.
  Scale-free and needs no tuning, but throws away how far ahead the leader is.
- ``"dense"`` / ``"bm25"``: one signal alone (for comparisons).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from storemind._base import Estimator
from storemind.assistant._encoder import get_encoder
from storemind.assistant.bm25 import BM25, _texts, top_k
from storemind.errors import DataError

__all__ = ["HybridIndex", "FUSIONS"]

FUSIONS = ("convex", "rrf", "dense", "bm25")


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each column per row (ties broken by position)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, scores.shape[1] + 1)
    return ranks


class HybridIndex(Estimator):
    """Documents searchable by meaning (sentence embeddings) and by words (BM25).

    Parameters
    ----------
    encoder : {"minilm", "hashing"}
        Sentence encoder for documents and queries (``"hashing"``: no model, for tests).
    fusion : {"convex", "rrf", "dense", "bm25"}
        How the two scores are combined (module docstring).
    alpha : float
        Weight of the cosine in the convex combination, in [0, 1].
    rrf_k : float
        The constant of reciprocal rank fusion.
    k1, b, stopwords : float, float, bool
        BM25 settings.
    """

    def __init__(self, encoder: str = "minilm", fusion: str = "convex", alpha: float = 0.8,
                 rrf_k: float = 60.0, k1: float = 1.2, b: float = 0.75,
                 stopwords: bool = True):
        self.encoder = encoder
        self.fusion = fusion
        self.alpha = alpha
        self.rrf_k = rrf_k
        self.k1 = k1
        self.b = b
        self.stopwords = stopwords

    # -- building ---------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.fusion not in FUSIONS:
            raise DataError(f"fusion must be one of {FUSIONS}; got {self.fusion!r}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise DataError(f"alpha must be in [0, 1]; got {self.alpha!r}")

    def _embed(self, texts: list[str], embeddings: Any, what: str) -> np.ndarray:
        if embeddings is None:
            return get_encoder(self.encoder).encode(texts)
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(texts):
            raise DataError(f"{what}: expected embeddings of shape ({len(texts)}, dim); got "
                            f"{emb.shape}")
        if hasattr(self, "embeddings_") and emb.shape[1] != self.embeddings_.shape[1]:
            raise DataError(f"{what}: expected {self.embeddings_.shape[1]}-d embeddings; got "
                            f"{emb.shape[1]}-d")
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        return emb / np.maximum(norms, 1e-12)

    def fit(self, texts: Sequence[str], ids: Sequence[str] | None = None,
            embeddings: np.ndarray | None = None) -> HybridIndex:
        """Index ``texts`` (with optional string ``ids`` and precomputed ``embeddings``)."""
        self._check_params()
        texts = _texts(texts, "HybridIndex.fit")
        if not texts:
            raise DataError("HybridIndex.fit: expected at least one text; got none")
        ids = self._ids(texts, ids, 0)
        emb = self._embed(texts, embeddings, "HybridIndex.fit")
        bm = BM25(k1=self.k1, b=self.b, stopwords=self.stopwords).fit(texts)
        self._bm25 = bm
        self.embeddings_ = emb
        self.ids_ = np.array(ids, dtype=str)
        self._sync_bm25_state()
        return self

    def add(self, texts: Sequence[str], ids: Sequence[str] | None = None,
            embeddings: np.ndarray | None = None) -> HybridIndex:
        """Append documents without re-encoding the existing ones."""
        self._check_fitted()
        texts = _texts(texts, "HybridIndex.add")
        if not texts:
            return self
        ids = self._ids(texts, ids, len(self.ids_))
        emb = self._embed(texts, embeddings, "HybridIndex.add")
        self.bm25.add(texts)
        self.embeddings_ = np.vstack([self.embeddings_, emb])
        self.ids_ = np.concatenate([self.ids_, np.array(ids, dtype=str)])
        self._sync_bm25_state()
        return self

    @staticmethod
    def _ids(texts: list[str], ids: Sequence[str] | None, start: int) -> list[str]:
        if ids is None:
            return [str(start + i) for i in range(len(texts))]
        ids = [str(i) for i in ids]
        if len(ids) != len(texts):
            raise DataError(f"expected one id per text ({len(texts)}); got {len(ids)} ids")
        return ids

    def _sync_bm25_state(self) -> None:
        bm = self._bm25
        self.bm25_vocab_ = bm.vocab_
        self.bm25_data_ = bm.tf_data_
        self.bm25_indices_ = bm.tf_indices_
        self.bm25_indptr_ = bm.tf_indptr_

    @property
    def bm25(self) -> BM25:
        """The BM25 half (rebuilt from the saved arrays after :meth:`load`)."""
        bm = getattr(self, "_bm25", None)
        if bm is None:
            bm = BM25(k1=self.k1, b=self.b, stopwords=self.stopwords)
            bm.vocab_ = self.bm25_vocab_
            bm.tf_data_ = self.bm25_data_
            bm.tf_indices_ = self.bm25_indices_
            bm.tf_indptr_ = self.bm25_indptr_
            self._bm25 = bm
        return bm

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.ids_)

    # -- querying -----------------------------------------------------------------------
    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query embeddings with this index's encoder."""
        return get_encoder(self.encoder).encode(list(queries))

    def scores(self, queries: Sequence[str], embeddings: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fused, cosine, bm25) scores, each (n_queries, n_docs)."""
        self._check_fitted()
        queries = _texts(queries, "HybridIndex.search")
        cos = np.zeros((len(queries), len(self.ids_)), np.float32)
        bm = np.zeros_like(cos)
        if self.fusion != "bm25":
            q = self._embed(queries, embeddings, "HybridIndex.search")
            cos = q @ self.embeddings_.T
        if self.fusion != "dense":
            bm = self.bm25.score(queries)
        if self.fusion == "dense":
            fused = cos
        elif self.fusion == "bm25":
            fused = bm
        elif self.fusion == "rrf":
            fused = (1.0 / (self.rrf_k + _ranks(cos)) + 1.0 / (self.rrf_k + _ranks(bm))
                     ).astype(np.float32)
        else:
            top = bm.max(axis=1, keepdims=True)
            fused = self.alpha * cos + (1.0 - self.alpha) * bm / np.maximum(top, 1e-9)
        return fused.astype(np.float32), cos, bm

    def search(self, queries: Sequence[str], k: int = 10, *,
               embeddings: np.ndarray | None = None, mask: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents per query.

        Parameters
        ----------
        queries : list of str
        k : int
        embeddings : ndarray, optional
            Precomputed query embeddings (else encoded here).
        mask : ndarray of bool, optional
            Documents allowed, shape (n_docs,) or (n_queries, n_docs).

        Returns
        -------
        indices, scores : ndarray
            Each (n_queries, k), best first; -1 pads when fewer documents are allowed.
        """
        fused, _, _ = self.scores(queries, embeddings)
        if mask is not None:
            fused = np.where(np.broadcast_to(mask, fused.shape), fused, -np.inf)
        idx, val = top_k(fused, k)
        bad = ~np.isfinite(val)
        idx[bad], val[bad] = -1, 0.0
        return idx, val
