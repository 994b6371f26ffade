"""Tokenising for BM25 and the query parser: lower-case words, light plural stemming."""
from __future__ import annotations

import re

__all__ = ["tokenize", "stem", "STOPWORDS"]

#: function words dropped by BM25 (they carry no topic, and in a small FAQ their idf is high)
STOPWORDS = frozenset("""
a an the and or but if of to in on at by for with from as into about over than then so
i me my mine we our you your he she it its they them their this that these those there here
is am are was were be been being do does did doing have has had having will would shall
should can could may might must what which who whom whose when where why how
not no nor only own same too very just also any all both each few more most other some such
up down out off again further once please hi hello thanks thank
""".split())

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def stem(word: str) -> str:
    """A light English plural stemmer: ``shoes -> shoe``, ``boxes -> box``, ``glass`` kept."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str, stopwords: bool = False) -> list[str]:
    """Lower-cased word tokens of ``text`` (apostrophe suffixes dropped), plural-stemmed;
    without :data:`STOPWORDS` when ``stopwords`` is True."""
    words = [w.split("'")[0] for w in _WORD.findall(text.lower())]
    if stopwords:
        words = [w for w in words if w not in STOPWORDS]
    return [stem(w) for w in words]
