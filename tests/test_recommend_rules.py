"""Interactions, business-rule filters and readable reasons."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.errors import DataError
from storemind.recommend import EASE, BoughtTogether, Interactions, ItemKNN, Popularity
from storemind.recommend.filters import (
    already_seen,
    boost,
    bury,
    category_mask,
    combine,
    out_of_stock,
    price_mask,
)
from storemind.recommend.reasons import categories_for, explain

DAY = 86_400


def events() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u2", "u1", "u3", None],
        "item_id": ["a", "b", "a", "c", "c", None, "a"],
        "event_type": ["view", "purchase", "rating", "cart", "search", "view", "view"],
        "ts": pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-02",
                              "2024-01-04", "2024-01-01", "2024-01-01"]),
        "value": [None, None, 4.0, None, None, None, None],
        "session_id": ["s1", "s1", "s2", "s2", None, None, None],
    })


def test_from_frame_indexes_weights_and_orders() -> None:
    it = Interactions.from_frame(events())
    assert list(it.user_ids) == ["u1", "u2"] and list(it.item_ids) == ["a", "b", "c"]
    assert it.dropped == 2  # no item, no user
    assert (np.diff(it.ts) >= 0).all()
    m = it.matrix().toarray()
    # u1: view a (1), purchase b (5), search c (weight 0, so absent); u2: rating 4 of a, cart c
    np.testing.assert_array_equal(m, [[1, 5, 0], [4, 0, 3]])
    assert [list(s) for s in it.sequences()] == [[1, 0], [0, 2]]
    assert [list(s) for s in it.sequences(max_len=1)] == [[0], [2]]
    np.testing.assert_array_equal(it.item_popularity(), [2, 1, 2])
    np.testing.assert_array_equal(it.user_index(["u2", "nobody"]), [1, -1])
    assert it.sessions is not None and (it.sessions[it.users == 1] >= 0).all()
    np.testing.assert_array_equal(it.matrix("purchase").toarray(), [[0, 5, 0], [0, 0, 0]])


def test_fixed_index_drops_unknown_ids_and_weights_override() -> None:
    it = Interactions.from_frame(events(), user_ids=["u2"], item_ids=["c", "a"],
                                 weights={"cart": 10})
    assert list(it.item_ids) == ["c", "a"] and it.n_users == 1
    np.testing.assert_array_equal(it.matrix().toarray(), [[10, 4]])
    assert it.dropped == 7 - 2


@pytest.mark.parametrize("frame, match", [
    (events().drop(columns="ts"), "missing column"),
    (events().assign(event_type="like"), "unknown event_type"),
    (events().assign(ts="not a time"), "ts"),
])
def test_from_frame_errors_say_what(frame, match) -> None:
    with pytest.raises(DataError, match=match):
        Interactions.from_frame(frame)
    with pytest.raises(DataError, match="DataFrame"):
        Interactions.from_frame([1, 2])


# -- filters ---------------------------------------------------------------------------------
CATALOGUE = pd.DataFrame({"item_id": ["a", "b", "c"], "category": ["shoes", "hats", None],
                          "price": [50.0, 10.0, None]})


def test_filters_build_masks_over_the_item_index() -> None:
    it = Interactions.from_frame(events())
    np.testing.assert_array_equal(already_seen(it, [0, 1, 9], "purchase"),
                                  [[False, True, False], [False] * 3, [False] * 3])
    np.testing.assert_array_equal(already_seen(it, [0], ("view", "purchase"))[0],
                                  [True, True, False])
    stock = pd.DataFrame({"item_id": ["a", "a", "b"], "ts": [2, 1, 1], "on_hand": [0, 5, 3]})
    np.testing.assert_array_equal(out_of_stock(it.item_ids, stock), [True, False, False])
    np.testing.assert_array_equal(out_of_stock(it.item_ids, stock, unknown_in_stock=False),
                                  [True, False, True])
    np.testing.assert_array_equal(category_mask(it.item_ids, CATALOGUE, include=["shoes"]),
                                  [False, True, True])
    np.testing.assert_array_equal(category_mask(it.item_ids, CATALOGUE, exclude=["shoes"]),
                                  [True, False, False])
    np.testing.assert_array_equal(price_mask(it.item_ids, CATALOGUE, max_price=20),
                                  [True, False, True])
    with pytest.raises(DataError, match="price"):
        price_mask(it.item_ids, CATALOGUE.drop(columns="price"), max_price=1)


def test_combine_masks_and_adjustments_in_recommend() -> None:
    it = Interactions.from_frame(events())
    mask = np.array([True, False, False])
    assert combine(mask, np.array([False, False, True])).dtype == bool
    adj = combine(mask, boost(np.array([False, True, False]), 2.0),
                  bury(np.array([False, False, True]), 1.0))
    np.testing.assert_array_equal(adj, [-np.inf, 2.0, -1.0])
    model = Popularity(half_life_days=None).fit(it)
    items, _ = model.recommend([5], k=3, filter_items=adj)
    assert list(it.item_ids[items[0][items[0] >= 0]]) == ["b", "c"]
    per_user = combine(already_seen(it, [0, 1], "purchase"), bury(mask, 100.0))
    assert per_user.shape == (2, 3) and np.isneginf(per_user[0, 1])
    with pytest.raises(DataError, match="boost"):
        boost(mask, -1.0)


# -- reasons ---------------------------------------------------------------------------------
def shop() -> Interactions:
    rows = []
    for n in range(6):  # shoes and socks are bought together; hats are viewed on their own
        rows += [(f"b{n}", "shoes", "purchase", n * 100, f"o{n}"),
                 (f"b{n}", "socks", "purchase", n * 100 + 1, f"o{n}")]
    rows += [("v", "shoes", "view", 10 * DAY, "x"), ("h", "hat", "view", 10 * DAY, "y"),
             ("h2", "hat", "view", 10 * DAY, "z"), ("h2", "cap", "view", 10 * DAY, "z")]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts", "session_id"])
    return Interactions.from_frame(frame)


def test_reasons_name_the_source() -> None:
    it = shop()
    v = int(it.user_index("v")[0])
    socks = int(it.item_index("socks")[0])
    bt = BoughtTogether(min_support=2).fit(it)
    (r,) = explain(bt, it, v, [socks])
    assert r.kind == "bought_together" and r.text == "often bought together with shoes"
    knn = ItemKNN(shrinkage=0.0).fit(it)
    (r,) = explain(knn, it, v, [socks], names={i: n.upper() for i, n in enumerate(it.item_ids)})
    assert r.text == "similar to SHOES that you viewed" and r.because == it.item_index("shoes")
    cats = categories_for(it.item_ids, pd.DataFrame({"item_id": ["hat"], "category": ["hats"]}))
    hat, cap = int(it.item_index("hat")[0]), int(it.item_index("cap")[0])
    reasons = explain(Popularity().fit(it), it, v, [hat, socks, -1], categories=cats)
    assert [x.text for x in reasons] == ["popular in hats this week", "popular"]
    (r,) = explain(EASE(l2=1.0).fit(it), it, it.n_users + 3, [cap])  # cold user
    assert r.kind == "popular" and r.because == -1


def test_strongest_events_keeps_each_pairs_strongest_weighted_event() -> None:
    """reasons.strongest_events (the service's "that you bought") against a plain loop."""
    from storemind.recommend._interactions import EVENT_CODES
    from storemind.recommend.reasons import _STRENGTH, strongest_events, verbs_for

    rng = np.random.default_rng(0)
    n = 5000
    inter = Interactions(
        user_ids=np.arange(40).astype(str), item_ids=np.arange(25).astype(str),
        users=rng.integers(0, 40, n).astype(np.int32),
        items=rng.integers(0, 25, n).astype(np.int32),
        weights=rng.choice([0.0, 1.0], n).astype(np.float32), ts=np.arange(n, dtype=np.int64),
        event_types=rng.integers(0, len(EVENT_CODES), n).astype(np.int8))
    name = {code: t for t, code in EVENT_CODES.items()}
    want = np.zeros((40, 25), int)
    for u, i, w, e in zip(inter.users, inter.items, inter.weights, inter.event_types,
                          strict=True):
        if w > 0:
            want[u, i] = max(want[u, i], _STRENGTH.index(name[e]) + 1)
    got = strongest_events(inter)
    assert (got.toarray() == want).all() and got.has_sorted_indices
    row = want[3]
    top = int(np.argmax(row))
    assert verbs_for(got, 3, [top]) == {top: {6: "bought", 5: "put in your cart", 4: "rated",
                                              3: "clicked", 2: "viewed", 1: "searched for"}[
        row[top]]}
    # a live purchase outranks a weaker training event; an unknown customer has live ones only
    assert verbs_for(got, 3, [top], [(top, "purchase")]) == {top: "bought"}
    assert verbs_for(got, -1, [1, 2], [(2, "cart")]) == {2: "put in your cart"}
