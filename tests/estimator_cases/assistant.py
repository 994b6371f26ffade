"""Shared-check cases for storemind.assistant estimators (hashing encoder: no model)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.assistant import BM25, FAQAnswerer, HybridIndex, IntentClassifier, ProductSearch

_DOCS = ["red running shoes with a cushioned sole", "blue canvas sneakers",
         "stainless steel kitchen knife", "non-stick frying pan", "wireless earbuds",
         "noise cancelling headphones", "organic green tea", "dark chocolate bar"]
_QUERIES = ["running shoes", "kitchen knife steel", "tea"]
_INTENTS = ["shoes", "shoes", "kitchen", "kitchen", "audio", "audio", "food", "food"]
_FAQ = pd.DataFrame({
    "question_id": [f"q{i}" for i in range(8)],
    "question": ["where is my order", "track my parcel", "how do I return an item",
                 "send an item back", "which payment methods", "can I pay with paypal",
                 "reset my password", "I forgot my password"],
    "answer": ["Track it under Orders."] * 2 + ["Start a return under Orders."] * 2
              + ["Cards and PayPal."] * 2 + ["Use Forgot password."] * 2,
    "intent": ["order_status"] * 2 + ["returns"] * 2 + ["payment"] * 2 + ["password"] * 2,
})
_ITEMS = pd.DataFrame({
    "item_id": [f"I{i}" for i in range(8)], "title": _DOCS,
    "category": ["Shoes", "Shoes", "Kitchen", "Kitchen", "Electronics", "Electronics",
                 "Grocery", "Grocery"],
    "brand": ["Strider", "Peakfoot", "Cucina", "Cucina", "Voltra", "Sonique", "Mellow",
              "Mellow"],
    "price": [45.0, 60.0, 30.0, 25.0, 80.0, 120.0, 5.0, 3.0],
})


def _answers(m: FAQAnswerer) -> list[tuple]:
    return [(a.answer, a.intent, a.confidence, a.handed_off)
            for a in m.answer(["where is my parcel", "pay by card?"])]


def _search(m: ProductSearch) -> pd.DataFrame:
    return m.search("shoes under 50").items


CASES = [
    Case(name="BM25", make=lambda seed: BM25(), fit=lambda m: m.fit(_DOCS),
         verb=lambda m: m.score(_QUERIES), bad_fit=lambda m: m.fit([1, 2])),
    Case(name="HybridIndex", make=lambda seed: HybridIndex(encoder="hashing"),
         fit=lambda m: m.fit(_DOCS), verb=lambda m: m.search(_QUERIES, 3),
         bad_fit=lambda m: m.fit(_DOCS, embeddings=np.ones((2, 4)))),
    Case(name="IntentClassifier",
         make=lambda seed: IntentClassifier(encoder="hashing", tfidf_weight=0.5, min_df=1,
                                            random_state=seed),
         fit=lambda m: m.fit(_DOCS, _INTENTS), verb=lambda m: m.predict_proba(_QUERIES),
         bad_fit=lambda m: m.fit(_DOCS, ["one"] * len(_DOCS))),
    Case(name="FAQAnswerer",
         make=lambda seed: FAQAnswerer(encoder="hashing", min_examples=2, random_state=seed),
         fit=lambda m: m.fit(_FAQ), verb=_answers,
         bad_fit=lambda m: m.fit(_FAQ.rename(columns={"question": "text"}))),
    Case(name="ProductSearch", make=lambda seed: ProductSearch(encoder="hashing"),
         fit=lambda m: m.fit(_ITEMS), verb=_search,
         bad_fit=lambda m: m.fit(_ITEMS.drop(columns="item_id"))),
]
