"""Semantic product search over the catalogue: price, category and brand constraints are
parsed out of the query, the rest is matched by meaning and words (:class:`HybridIndex`)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator
from storemind._markup import plain_texts
from storemind.assistant._compose import flatten, unflatten
from storemind.assistant._query import ParsedQuery, parse_query
from storemind.assistant.hybrid import HybridIndex
from storemind.errors import DataError

__all__ = ["ProductSearch", "SearchResult", "item_text"]


def _attributes_text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        return ""
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(doc, dict):
        return " ".join(f"{k} {v}" for k, v in doc.items() if isinstance(v, str | int | float))
    return ""


def item_text(items: pd.DataFrame) -> list[str]:
    """The text indexed for each item: title, brand, category, description, attributes."""
    parts = []
    for col in ("title", "brand", "category", "description"):
        if col in items:  # descriptions are often HTML (a Shopify export): plain text
            text = plain_texts(items[col])
            parts.append(text.where(text.notna(), "").astype(str))
    if "attributes" in items:
        parts.append(items["attributes"].map(_attributes_text))
    if not parts:
        raise DataError("items need at least one text column (title, brand, category, "
                        f"description, attributes); got {list(items.columns)}")
    out = parts[0]
    for p in parts[1:]:
        out = out + ". " + p
    return [" ".join(t.split()) for t in out]


@dataclass
class SearchResult:
    """Items found for a query, best first, and how the query was read."""

    query: str
    parsed: ParsedQuery
    items: pd.DataFrame = field(default_factory=pd.DataFrame)


class ProductSearch(Estimator):
    """Search the catalogue by meaning with hard price, category and brand filters.

    Parameters
    ----------
    encoder : {"minilm", "hashing"}
    fusion, alpha : str, float
        Retrieval settings (see :class:`HybridIndex`).
    """

    def __init__(self, encoder: str = "minilm", fusion: str = "convex", alpha: float = 0.8):
        self.encoder = encoder
        self.fusion = fusion
        self.alpha = alpha

    def fit(self, items: pd.DataFrame, embeddings: np.ndarray | None = None) -> ProductSearch:
        """Index a frame shaped like the ``items`` table; returns ``self``."""
        if not isinstance(items, pd.DataFrame):
            raise DataError(f"expected the items table as a DataFrame; got "
                            f"{type(items).__name__}")
        if "item_id" not in items:
            raise DataError(f"items need an 'item_id' column; got {list(items.columns)}")
        if items.empty:
            raise DataError("ProductSearch.fit: expected at least one item; got none")
        items = items.reset_index(drop=True)
        texts = item_text(items)
        index = HybridIndex(encoder=self.encoder, fusion=self.fusion, alpha=self.alpha)
        index.fit(texts, items.item_id.astype(str).tolist(), embeddings)
        self._index = index
        self.titles_ = self._col(items, "title")
        self.categories_ = self._col(items, "category")
        self.brands_ = self._col(items, "brand")
        price = pd.to_numeric(items.get("price", pd.Series(np.nan, index=items.index)),
                              errors="coerce")
        self.prices_ = price.to_numpy(dtype=np.float64)
        return self

    @staticmethod
    def _col(items: pd.DataFrame, name: str) -> np.ndarray:
        if name not in items:
            return np.array([""] * len(items), dtype=str)
        return np.array([str(v) if isinstance(v, str) else "" for v in items[name]], dtype=str)

    @property
    def index(self) -> HybridIndex:
        self._check_fitted()
        return self._index

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = super()._get_state()
        flatten("index", self._index, arrays, values)
        return arrays, values

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state({k: v for k, v in arrays.items() if "__" not in k},
                           {k: v for k, v in values.items() if "__" not in k})
        self._index = unflatten("index", HybridIndex, arrays, values)

    def parse(self, query: str) -> ParsedQuery:
        """How ``query`` is read against this catalogue's categories and brands."""
        self._check_fitted()
        cats = sorted(set(self.categories_.tolist()) - {""})
        brands = sorted(set(self.brands_.tolist()) - {""})
        return parse_query(query, cats, brands)

    def search(self, query: str, k: int = 10, *, embedding: np.ndarray | None = None
               ) -> SearchResult:
        """The ``k`` best items for ``query`` that satisfy its constraints.

        Returns
        -------
        SearchResult
            ``items`` has columns item_id, title, category, brand, price, score (fused
            relevance, higher is better), best first; fewer than ``k`` rows when fewer items
            satisfy the constraints.
        """
        self._check_fitted()
        if not isinstance(query, str) or not query.strip():
            raise DataError(f"expected a non-empty search query; got {query!r}")
        if not isinstance(k, int | np.integer) or k < 1:
            raise DataError(f"k must be a positive integer; got {k!r}")
        parsed = self.parse(query)
        mask = np.ones(len(self.titles_), dtype=bool)
        with np.errstate(invalid="ignore"):
            if parsed.max_price is not None:
                mask &= self.prices_ <= parsed.max_price
            if parsed.min_price is not None:
                mask &= self.prices_ >= parsed.min_price
        if parsed.category is not None:
            mask &= self.categories_ == parsed.category
        if parsed.brand is not None:
            mask &= self.brands_ == parsed.brand
        text = parsed.text or query
        emb = None if embedding is None else np.asarray(embedding, np.float32)[None, :]
        idx, score = self._index.search([text], k, embeddings=emb, mask=mask)
        ok = idx[0] >= 0
        sel = idx[0][ok]
        frame = pd.DataFrame({
            "item_id": self._index.ids_[sel], "title": self.titles_[sel],
            "category": self.categories_[sel], "brand": self.brands_[sel],
            "price": self.prices_[sel], "score": score[0][ok].astype(float),
        })
        return SearchResult(query=query, parsed=parsed, items=frame)
