"""Plain text from catalogue text written as HTML.

Shops export product descriptions as HTML (Shopify's "Body (HTML)", WooCommerce, most ERPs):
``<p><strong>Organic</strong> cotton&nbsp;tee</p>``. Tags and entities are not words: left in,
they become search terms ("p", "strong", "nbsp"), crowd a text embedding's input, and use up
the characters an item's text is cut to. The text models read the plain text instead; the
store keeps what the shop sent.
"""

from __future__ import annotations

import html
import re

import pandas as pd

__all__ = ["plain_text", "plain_texts"]

#: a script or style block with its content, a comment, or a tag (a letter after "<" or "</",
#: so "size < 10" and "a <3" stay)
_MARKUP = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->|</?[a-zA-Z][^>]*>", re.S | re.I
)


def plain_text(text: str) -> str:
    """``text`` without HTML tags, scripts, styles and comments, entities decoded, runs of
    white space made one space; text without "<" or "&" is returned as it is."""
    if "<" not in text and "&" not in text:
        return text
    return " ".join(html.unescape(_MARKUP.sub(" ", text)).split())


def plain_texts(texts: pd.Series) -> pd.Series:
    """:func:`plain_text` over a Series of strings (missing values stay missing); only the
    values with markup are rewritten."""
    s = texts.astype(object)
    marked = s.map(lambda t: isinstance(t, str) and ("<" in t or "&" in t)).astype(bool)
    if marked.any():
        s = s.copy()
        s[marked] = s[marked].map(plain_text)
    return s
