"""Parse a shopping query: price limits and a category or brand come out, the rest is matched
by meaning. ``"red running shoes under 50"`` -> max_price 50, category Shoes, text
``"red running shoes"``."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from storemind.assistant._text import tokenize

__all__ = ["ParsedQuery", "parse_query"]

_NUM = r"(?:[$€£]\s*)?(\d+(?:[.,]\d{1,2})?)\s*(?:[$€£]|usd|eur|gbp|dollars?|euros?|pounds?|bucks)?"
_RANGE = re.compile(rf"\b(?:between|from)\s+{_NUM}\s*(?:and|to|-)\s*{_NUM}|"
                    rf"(?<![\w.]){_NUM}\s*(?:-|to)\s*{_NUM}(?![\w.])", re.I)
_MAX = re.compile(rf"\b(?:under|below|less\s+than|cheaper\s+than|up\s+to|at\s+most|max(?:imum)?|"
                  rf"no\s+more\s+than|within)\s+{_NUM}|<=?\s*{_NUM}", re.I)
_MIN = re.compile(rf"\b(?:over|above|more\s+than|at\s+least|min(?:imum)?|from)\s+{_NUM}|"
                  rf">=?\s*{_NUM}", re.I)


@dataclass
class ParsedQuery:
    """What :func:`parse_query` found: the text left for matching and the constraints."""

    text: str
    min_price: float | None = None
    max_price: float | None = None
    category: str | None = None
    brand: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(groups: Iterable[str | None]) -> list[float]:
    return [float(g.replace(",", ".")) for g in groups if g]


def _phrase(names: Iterable[str], tokens: list[str]) -> str | None:
    """The longest name whose stemmed tokens occur contiguously in ``tokens``."""
    best, best_len = None, 0
    joined = " " + " ".join(tokens) + " "
    for name in names:
        toks = tokenize(name)
        if toks and len(toks) > best_len and f" {' '.join(toks)} " in joined:
            best, best_len = name, len(toks)
    return best


def parse_query(query: str, categories: Iterable[str] = (), brands: Iterable[str] = ()
                ) -> ParsedQuery:
    """Split ``query`` into constraints and free text.

    Prices: "under/below/less than/up to X", "over/above/at least X", "between X and Y",
    "X-Y", "from X to Y" (currency signs and words allowed). A category or brand is
    recognised when its name appears in the query (plural or singular); it is kept in the text
    too, since it helps the semantic match.
    """
    text = query
    lo = hi = None
    m = _RANGE.search(text)
    if m:
        a, b = _num(m.groups())[:2]
        lo, hi = min(a, b), max(a, b)
        text = text[:m.start()] + " " + text[m.end():]
    else:
        m = _MAX.search(text)
        if m:
            hi = _num(m.groups())[0]
            text = text[:m.start()] + " " + text[m.end():]
        m = _MIN.search(text)
        if m:
            lo = _num(m.groups())[0]
            text = text[:m.start()] + " " + text[m.end():]
    text = " ".join(text.split())
    tokens = tokenize(text)
    return ParsedQuery(text=text, min_price=lo, max_price=hi,
                       category=_phrase(categories, tokens), brand=_phrase(brands, tokens))
