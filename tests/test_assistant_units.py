"""Assistant building blocks on tiny data with known answers (hashing encoder: no model)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.assistant import BM25, FAQAnswerer, HybridIndex, ProductSearch, parse_query
from storemind.assistant._unanswered import UnansweredLog
from storemind.errors import DataError, UnknownIdError

DOCS = ["the cat sat", "the dog sat on the mat", "cats and dogs", "a red shoe"]


def test_bm25_matches_the_formula_by_hand() -> None:
    bm = BM25(k1=1.2, b=0.75, stopwords=False).fit(DOCS)
    lengths = np.array([3, 6, 3, 3])  # after stemming: cats -> cat, dogs -> dog
    avgdl = lengths.mean()

    def w(tf: int, df: int, dl: int) -> float:
        idf = math.log(1 + (4 - df + 0.5) / (df + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl))

    got = bm.score(["cat mat"])[0]
    want = [w(1, 2, 3), w(1, 1, 6), w(1, 2, 3), 0.0]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_bm25_drops_stop_words() -> None:
    bm = BM25().fit(DOCS)
    assert "the" not in set(bm.vocab_.tolist()) and "mat" in set(bm.vocab_.tolist())
    assert not bm.score(["the and a"]).any()


def test_bm25_add_equals_fit_on_everything() -> None:
    a = BM25().fit(DOCS[:2]).add(DOCS[2:])
    b = BM25().fit(DOCS)
    np.testing.assert_allclose(a.score(["dog sat", "red shoes"]), b.score(["dog sat",
                                                                          "red shoes"]))


def test_hybrid_add_keeps_old_embeddings_and_finds_new() -> None:
    h = HybridIndex(encoder="hashing").fit(DOCS[:3], ids=["a", "b", "c"])
    before = h.embeddings_.copy()
    h.add(["a red shoe"], ids=["d"])
    np.testing.assert_array_equal(h.embeddings_[:3], before)
    idx, _ = h.search(["red shoe"], 1)
    assert h.ids_[idx[0, 0]] == "d"


@pytest.mark.parametrize("fusion", ["convex", "rrf", "dense", "bm25"])
def test_every_fusion_ranks_the_exact_text_first(fusion: str) -> None:
    h = HybridIndex(encoder="hashing", fusion=fusion).fit(DOCS)
    idx, scores = h.search(DOCS, 2)
    assert idx[:, 0].tolist() == [0, 1, 2, 3]
    assert (scores[:, 0] >= scores[:, 1]).all()


def test_hybrid_mask_and_padding() -> None:
    h = HybridIndex(encoder="hashing").fit(DOCS)
    idx, _ = h.search(["cat"], 3, mask=np.array([False, True, False, False]))
    assert idx[0].tolist() == [1, -1, -1]
    with pytest.raises(DataError, match="fusion"):
        HybridIndex(fusion="max").fit(DOCS)


@pytest.mark.parametrize("query, lo, hi, cat, text", [
    ("red running shoes under 50", None, 50.0, "Shoes", "red running shoes"),
    ("kettle between 20 and 40 dollars", 20.0, 40.0, None, "kettle"),
    ("earbuds $30-$60", 30.0, 60.0, None, "earbuds"),
    ("shoe over 100", 100.0, None, "Shoes", "shoe"),
    ("a pan less than 25.50 eur", None, 25.5, None, "a pan"),
    ("running shoes size 42", None, None, "Shoes", "running shoes size 42"),
])
def test_parse_query(query, lo, hi, cat, text) -> None:
    p = parse_query(query, ["Shoes", "Kitchen", "Home"], ["Cucina"])
    assert (p.min_price, p.max_price, p.category, p.text) == (lo, hi, cat, text)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 9999), st.sampled_from(["under", "below", "less than", "up to"]))
def test_parse_query_max_price_any_amount(amount: int, word: str) -> None:
    p = parse_query(f"blue jacket {word} {amount}")
    assert p.max_price == float(amount) and p.min_price is None and p.text == "blue jacket"


def test_search_applies_price_and_category_filters() -> None:
    items = pd.DataFrame({
        "item_id": ["a", "b", "c", "d"],
        "title": ["Red Running Shoes", "Red Running Shoes Pro", "Red Kettle", "Blue Sandals"],
        "category": ["Shoes", "Shoes", "Kitchen", "Shoes"], "brand": ["x", "y", "z", "x"],
        "price": [45.0, 80.0, 20.0, 30.0]})
    res = ProductSearch(encoder="hashing").fit(items).search("red running shoes under 50")
    assert res.items.item_id.tolist()[0] == "a"
    assert set(res.items.item_id) <= {"a", "d"}  # b too dear, c not shoes
    assert res.parsed.max_price == 50.0 and res.parsed.category == "Shoes"


def test_answerer_hands_off_below_threshold_and_uses_added_answers() -> None:
    faq = pd.DataFrame({"question": ["where is my order", "how do I return an item"],
                        "answer": ["Under Orders.", "Start a return."]})
    m = FAQAnswerer(encoder="hashing").fit(faq)
    a = m.answer(["where is my order"])[0]
    assert not a.handed_off and a.answer == "Under Orders." and a.confidence > 0.99
    b = m.answer(["do you sell gift cards for birthdays"])[0]
    assert b.handed_off and b.answer is None and b.message
    m.add("do you sell gift cards for birthdays", "Yes, from $10.")
    c = m.answer(["do you sell gift cards for birthdays"])[0]
    assert c.answer == "Yes, from $10." and c.route == "match"


def test_unanswered_log_round_trip(tmp_path) -> None:
    log = UnansweredLog(tmp_path / "a" / "unanswered.jsonl")
    e = log.record("is the shop open on sunday", 0.2, None)
    log.record("second", 0.1, "x")
    assert [x["question"] for x in log.entries()] == ["second", "is the shop open on sunday"]
    done = log.resolve(e["id"], "Yes, online 24/7.")
    assert done["status"] == "answered"
    assert [x["question"] for x in log.entries()] == ["second"]
    assert log.entries("answered")[0]["answer"] == "Yes, online 24/7."
    with pytest.raises(UnknownIdError):
        log.resolve("nope", "x")
    with pytest.raises(DataError):
        log.resolve(e["id"], " ")


def test_html_descriptions_are_searched_as_plain_text() -> None:
    """A Shopify export's descriptions are HTML: tags and entities are not search terms
    ("strong" and "nbsp" were indexed for every bold description), words in them still are."""
    from storemind._markup import plain_text
    from storemind.assistant.search import item_text

    assert plain_text("<p><strong>Organic</strong> cotton&nbsp;tee</p><ul><li>Blue</li>"
                      "<li>Size &lt; 10</li></ul><script>var x = 1<2;</script><!-- x -->"
                      ) == "Organic cotton tee Blue Size < 10"
    assert plain_text("size < 10 & more, AT&T <3") == "size < 10 & more, AT&T <3"
    items = pd.DataFrame({
        "item_id": ["tee", "mug", "cap"],
        "title": ["Tee", "Mug", "Cap"],
        "description": ["<p><strong>Organic</strong> cotton&nbsp;tee</p>",
                        "<p><strong>Stoneware</strong> mug, dishwasher safe</p>",
                        "Strong peak for bright days"],
    })
    texts = item_text(items)
    assert texts == ["Tee. Organic cotton tee", "Mug. Stoneware mug, dishwasher safe",
                     "Cap. Strong peak for bright days"]
