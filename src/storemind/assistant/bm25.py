"""Okapi BM25 over a sparse document-term matrix (scipy), with incremental adds."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from storemind._base import Estimator
from storemind.assistant._text import tokenize
from storemind.errors import DataError

__all__ = ["BM25"]


def _texts(texts: Any, what: str) -> list[str]:
    if isinstance(texts, str):
        raise DataError(f"{what}: expected a list of texts; got one string (wrap it in a list)")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise DataError(f"{what}: expected text (str) at position {i}; got "
                            f"{type(t).__name__} {t!r}")
    return out


class BM25(Estimator):
    """Okapi BM25 (Robertson et al.) with a light plural stemmer.

    ``score(d, q) = sum_{t in q} idf(t) * tf(t, d) * (k1 + 1) /
    (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))`` with ``idf(t) = ln(1 + (N - df + 0.5) /
    (df + 0.5))`` (always positive). The per-(document, term) weights are precomputed as one
    sparse matrix, so scoring a batch of queries is one sparse product.

    Parameters
    ----------
    k1 : float
        Term-frequency saturation.
    b : float
        Length normalisation (0: none, 1: full).
    stopwords : bool
        Drop English function words (``storemind.assistant._text.STOPWORDS``).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, stopwords: bool = True):
        self.k1 = k1
        self.b = b
        self.stopwords = stopwords

    def fit(self, texts: Sequence[str]) -> BM25:
        """Index ``texts`` (a list of documents); returns ``self``."""
        texts = _texts(texts, "BM25.fit")
        if not texts:
            raise DataError("BM25.fit: expected at least one document; got none")
        self.vocab_ = np.array([], dtype=str)
        self._vocab: dict[str, int] = {}
        self.tf_data_ = np.zeros(0, np.float32)
        self.tf_indices_ = np.zeros(0, np.int32)
        self.tf_indptr_ = np.zeros(1, np.int64)
        self.add(texts)
        return self

    # -- incremental ------------------------------------------------------------------
    def add(self, texts: Sequence[str]) -> BM25:
        """Append documents (new ids follow the existing ones); idf and lengths update."""
        texts = _texts(texts, "BM25.add")
        vocab = self._vocab_map()
        rows, cols = [], []
        for i, text in enumerate(texts):
            for tok in tokenize(text, self.stopwords):
                j = vocab.get(tok)
                if j is None:
                    j = vocab[tok] = len(vocab)
                rows.append(i)
                cols.append(j)
        n_terms = len(vocab)
        new = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                            shape=(len(texts), n_terms))
        new.sum_duplicates()
        old = self._tf(n_terms)
        tf = sp.vstack([old, new], format="csr")
        self.tf_data_ = tf.data.astype(np.float32)
        self.tf_indices_ = tf.indices.astype(np.int32)
        self.tf_indptr_ = tf.indptr.astype(np.int64)
        self.vocab_ = np.array(sorted(vocab, key=vocab.get), dtype=str)
        self._vocab = vocab
        self._weights = None
        return self

    def _vocab_map(self) -> dict[str, int]:
        vocab = getattr(self, "_vocab", None)
        if vocab is None or len(vocab) != len(self.vocab_):
            vocab = {t: i for i, t in enumerate(self.vocab_.tolist())}
            self._vocab = vocab
        return vocab

    def _tf(self, n_terms: int | None = None) -> sp.csr_matrix:
        n_docs = len(self.tf_indptr_) - 1
        return sp.csr_matrix((self.tf_data_, self.tf_indices_, self.tf_indptr_),
                             shape=(n_docs, n_terms if n_terms is not None else len(self.vocab_)))

    @property
    def n_docs(self) -> int:
        self._check_fitted()
        return len(self.tf_indptr_) - 1

    def _weight_matrix(self) -> sp.csc_matrix:
        """BM25 weights, documents x terms (cached until the next add)."""
        w = getattr(self, "_weights", None)
        if w is not None:
            return w
        tf = self._tf()
        n = tf.shape[0]
        dl = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = max(dl.mean(), 1e-9) if n else 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1])
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = self.k1 * (1.0 - self.b + self.b * dl / avgdl)
        rep = np.repeat(norm, np.diff(tf.indptr))
        data = tf.data * (self.k1 + 1.0) / (tf.data + rep) * idf[tf.indices]
        w = sp.csr_matrix((data.astype(np.float32), tf.indices, tf.indptr), shape=tf.shape)
        self._weights = w.T.tocsr()  # terms x docs: a query's rows are summed
        return self._weights

    def query_matrix(self, queries: Sequence[str]) -> sp.csr_matrix:
        """Queries as term counts over the vocabulary (unknown words dropped)."""
        vocab = self._vocab_map()
        rows, cols = [], []
        for i, q in enumerate(queries):
            for tok in tokenize(q, self.stopwords):
                j = vocab.get(tok)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                          shape=(len(queries), len(vocab)))
        m.sum_duplicates()
        return m

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 scores, shape (n_queries, n_docs), float32."""
        self._check_fitted()
        queries = _texts(queries, "BM25.score")
        q = self.query_matrix(queries)
        return np.asarray((q @ self._weight_matrix()).toarray(), dtype=np.float32)

    def search(self, queries: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents per query: (indices, scores), each (n_queries, k); ties and
        documents beyond the collection are padded with index -1 and score 0."""
        s = self.score(queries)
        return top_k(s, k)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries per row, best first (-1 pads)."""
    n_q, n = scores.shape
    kk = min(k, n)
    if kk == 0:
        return np.full((n_q, k), -1, np.int64), np.zeros((n_q, k), np.float32)
    part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    if kk < k:
        idx = np.hstack([idx, np.full((n_q, k - kk), -1, idx.dtype)])
        vals = np.hstack([vals, np.zeros((n_q, k - kk), vals.dtype)])
    return idx.astype(np.int64), vals.astype(np.float32)
