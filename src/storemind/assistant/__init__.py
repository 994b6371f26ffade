"""Customer-service answers and semantic product search over the FAQ, past Q&A and the
catalogue: MiniLM embeddings and BM25, fused; an intent classifier where intents are
labelled; a confidence threshold below which a question goes to a person."""
from __future__ import annotations

from storemind.assistant._query import ParsedQuery, parse_query
from storemind.assistant.answerer import Answer, FAQAnswerer, Source
from storemind.assistant.bm25 import BM25
from storemind.assistant.hybrid import HybridIndex
from storemind.assistant.intent import IntentClassifier, intent_report
from storemind.assistant.search import ProductSearch, SearchResult

__all__ = [
    "Answer",
    "BM25",
    "FAQAnswerer",
    "HybridIndex",
    "IntentClassifier",
    "ParsedQuery",
    "ProductSearch",
    "SearchResult",
    "Source",
    "intent_report",
    "parse_query",
]
