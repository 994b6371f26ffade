"""Intent classification: multinomial logistic regression on unit-length sentence embeddings,
optionally side by side with TF-IDF word n-grams."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storemind._base import Estimator
from storemind.assistant._encoder import get_encoder
from storemind.assistant.bm25 import _texts
from storemind.errors import DataError

__all__ = ["IntentClassifier", "intent_report"]


class IntentClassifier(Estimator):
    """Logistic regression on normalised sentence embeddings (and optional TF-IDF).

    Fitted with scikit-learn's L-BFGS solver; only the coefficients are kept, so prediction
    is a matrix product and the model saves to npz without pickle.

    Parameters
    ----------
    encoder : {"minilm", "hashing"}
        Sentence encoder.
    C : float
        Inverse L2 regularisation strength.
    tfidf_weight : float
        0 for embeddings alone; > 0 appends TF-IDF word 1-2-grams (sublinear tf, L2-normalised)
        scaled by this weight to each embedding.
    min_df : int
        A word n-gram must occur in at least this many training texts.
    max_iter : int
        L-BFGS iterations.
    fine_tune_epochs : int
        0 (default) keeps MiniLM as it is. Above 0, MiniLM's last ``fine_tune_layers``
        blocks are first trained on the intents (cross-entropy, on the CPU, for at most
        this many epochs and ``fine_tune_seconds``; see :mod:`storemind.assistant.finetune`)
        and texts are then always encoded by the tuned model (``embeddings`` given to
        ``fit`` or ``predict`` are ignored). ``benchmarks/results/assistant.md`` says whether
        it pays on BANKING77.
    fine_tune_layers, fine_tune_lr, fine_tune_seconds :
        How many top blocks are trained, their learning rate, and the time budget.
    random_state : int, optional
        Seed (L-BFGS is deterministic; it seeds the fine-tuning).
    """

    def __init__(self, encoder: str = "minilm", C: float = 10.0, tfidf_weight: float = 0.0,
                 min_df: int = 2, max_iter: int = 300, fine_tune_epochs: int = 0,
                 fine_tune_layers: int = 2, fine_tune_lr: float = 5e-5,
                 fine_tune_seconds: float = 600.0, random_state: int | None = None):
        self.encoder = encoder
        self.C = C
        self.tfidf_weight = tfidf_weight
        self.min_df = min_df
        self.max_iter = max_iter
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_layers = fine_tune_layers
        self.fine_tune_lr = fine_tune_lr
        self.fine_tune_seconds = fine_tune_seconds
        self.random_state = random_state

    # -- the fine-tuned encoder (weights kept as flat arrays, so npz saves them) -----------
    def _tuned(self) -> Any:
        names = getattr(self, "tuned_names_", None)
        if names is None or not len(names):
            return None
        enc = getattr(self, "_tuned_encoder", None)
        if enc is None:
            from storemind.assistant.finetune import TunedEncoder

            weights, at = {}, 0
            for name, shape in zip(names.tolist(), self.tuned_shapes_.tolist(), strict=True):
                shape = tuple(d for d in shape if d >= 0)
                size = int(np.prod(shape))
                weights[name] = self.tuned_flat_[at:at + size].reshape(shape)
                at += size
            enc = self._tuned_encoder = TunedEncoder(weights)
        return enc

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self._tuned_encoder = None

    def _embed(self, texts: list[str], embeddings: Any) -> np.ndarray:
        tuned = self._tuned()
        if tuned is not None:
            return tuned.encode(texts)
        if embeddings is None:
            return get_encoder(self.encoder).encode(texts)
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(texts):
            raise DataError(f"expected embeddings of shape ({len(texts)}, dim); got {emb.shape}")
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def _tfidf(self, texts: list[str]) -> sp.csr_matrix:
        from sklearn.feature_extraction.text import CountVectorizer

        vocab = {t: i for i, t in enumerate(self.tfidf_terms_.tolist())}
        counts = CountVectorizer(vocabulary=vocab, ngram_range=(1, 2)).transform(texts)
        counts = counts.astype(np.float32)
        counts.data = 1.0 + np.log(counts.data)
        x = counts.multiply(self.tfidf_idf_[None, :]).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ x

    def _features(self, texts: list[str], embeddings: Any) -> Any:
        emb = self._embed(texts, embeddings)
        if self.tfidf_weight <= 0:
            return emb
        return sp.hstack([sp.csr_matrix(emb), self.tfidf_weight * self._tfidf(texts)],
                         format="csr")

    def fit(self, texts: Sequence[str], intents: Sequence[str],
            embeddings: np.ndarray | None = None) -> IntentClassifier:
        """Learn intents from labelled texts; returns ``self``."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        texts = _texts(texts, "IntentClassifier.fit")
        y = pd.Series(list(intents), dtype=object)
        if len(y) != len(texts):
            raise DataError(f"expected one intent per text ({len(texts)}); got {len(y)}")
        if y.isna().any():
            raise DataError(f"intents must not be missing; {int(y.isna().sum())} are, first "
                            f"at position {int(np.flatnonzero(y.isna())[0])}")
        classes = np.array(sorted(y.astype(str).unique()), dtype=str)
        if len(classes) < 2:
            raise DataError(f"expected at least 2 intents; got {classes.tolist()}")
        self.tfidf_terms_ = np.array([], dtype=str)
        self.tfidf_idf_ = np.zeros(0, np.float32)
        if self.tfidf_weight > 0:
            cv = CountVectorizer(ngram_range=(1, 2), min_df=min(self.min_df, len(texts)))
            counts = cv.fit_transform(texts)
            terms = sorted(cv.vocabulary_, key=cv.vocabulary_.get)
            df = np.bincount(counts.indices, minlength=len(terms))
            self.tfidf_terms_ = np.array(terms, dtype=str)
            self.tfidf_idf_ = (np.log((1 + len(texts)) / (1 + df)) + 1.0).astype(np.float32)
        self.tuned_names_ = np.array([], dtype=str)
        self.tuned_shapes_ = np.zeros((0, 2), np.int64)
        self.tuned_flat_ = np.zeros(0, np.float32)
        self._tuned_encoder = None
        if self.fine_tune_epochs and self.fine_tune_epochs > 0:
            if self.encoder != "minilm":
                raise DataError("fine_tune_epochs needs encoder='minilm'; got "
                                f"{self.encoder!r}")
            from storemind.assistant.finetune import tune_encoder

            index = {c: i for i, c in enumerate(classes.tolist())}
            weights = tune_encoder(texts, np.array([index[v] for v in y.astype(str)]),
                                   layers=int(self.fine_tune_layers),
                                   epochs=int(self.fine_tune_epochs), lr=self.fine_tune_lr,
                                   max_seconds=self.fine_tune_seconds,
                                   random_state=self.random_state, progress=len(texts) > 1000)
            self.tuned_names_ = np.array(list(weights), dtype=str)
            self.tuned_shapes_ = np.array([list(w.shape) + [-1] * (2 - w.ndim)
                                           for w in weights.values()], dtype=np.int64)
            self.tuned_flat_ = np.concatenate([w.ravel() for w in weights.values()])
        x = self._features(texts, embeddings)
        lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        lr.fit(x, y.astype(str).to_numpy())
        coef, intercept = lr.coef_, lr.intercept_
        if len(classes) == 2:  # scikit-learn keeps one row for two classes
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.classes_ = classes
        self.coef_ = coef.astype(np.float32)
        self.intercept_ = intercept.astype(np.float32)
        return self

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None
                      ) -> np.ndarray:
        """Probability of each intent (columns in ``classes_`` order), shape (n, n_intents)."""
        self._check_fitted()
        texts = _texts(texts, "IntentClassifier.predict_proba")
        if not texts:
            return np.zeros((0, len(self.classes_)), np.float32)
        x = self._features(texts, embeddings)
        z = np.asarray(x @ self.coef_.T) + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """The most likely intent of each text."""
        return self.classes_[self.predict_proba(texts, embeddings).argmax(axis=1)]


def intent_report(y_true: Sequence[str], y_pred: Sequence[str]) -> pd.DataFrame:
    """Per-intent precision, recall, F1 and support, worst F1 first."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(map(str, y_true)) | set(map(str, y_pred)))
    p, r, f, s = precision_recall_fscore_support(list(map(str, y_true)), list(map(str, y_pred)),
                                                 labels=labels, zero_division=0)
    return pd.DataFrame({"intent": labels, "precision": p, "recall": r, "f1": f,
                         "support": s}).sort_values(["f1", "intent"]).reset_index(drop=True)
