"""Real-time recommendations over HTTP: freshness, idempotency, auth, bad bodies, unknown ids,
filters, cold start and the cart. A small simulated store and a bundle fitted in seconds."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

KEY = "k-realtime"
H = {"X-API-Key": KEY}


def small_store(seed: int = 1):
    from storemind.datasets import simulate
    from storemind.store import Store

    store = Store(":memory:")
    simulate(store, n_users=500, n_items=200, n_days=60, seed=seed, progress=False)
    return store


def register_bundle(store, root: str | Path, *, factors: int = 16, hybrid: bool = False,
                    seed: int = 0) -> str:
    """Fit popularity, ALS, item-kNN, bought-together (+ optional hybrid), register a Bundle
    under ``root``; returns the version."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from storemind.recommend import ALS, BoughtTogether, Interactions, ItemKNN, Popularity
    from storemind.recommend._bundle import Bundle, save_bundle
    from storemind.registry import Registry

    inter = Interactions.from_frame(store.frame("events"))
    items = store.frame("items")
    models = {"popularity": Popularity(), "als": ALS(factors=factors, iterations=5,
                                                      random_state=seed),
              "itemknn": ItemKNN(), "bought_together": BoughtTogether()}
    for m in models.values():
        m.fit(inter)
    ranker = None
    if hybrid:
        from storemind.recommend.hybrid import HybridRanker

        ranker = HybridRanker(n_estimators=20, refit=False, early_stopping_fraction=0.0,
                              random_state=seed).fit(inter, models, items)
    bundle = Bundle(inter, models, ranker, items, {"params": {"factors": factors}})
    mv = Registry(root).register("recommend", write=lambda f: save_bundle(bundle, f),
                                 params={"factors": factors})
    return mv.version


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from storemind.api import create_app
    from storemind.config import Settings

    home = tmp_path_factory.mktemp("rt-home")
    store = small_store()
    settings = Settings(home=home, api_keys=KEY, max_batch=50)
    register_bundle(store, settings.models_path)
    app = create_app(settings, store)
    with TestClient(app) as client:
        yield client, store
    store.close()


def active_users(store) -> list[str]:
    """Customers with the most events first."""
    return store.frame("events")["user_id"].astype(str).value_counts().index.tolist()


def _ids(body):
    return [r["item_id"] for r in body["items"]]


def test_freshness_next_request_reflects_the_event(served):
    client, store = served
    user = active_users(store)[3]
    before = client.get(f"/v1/users/{user}/recommendations", params={"k": 10}).json()
    assert before["strategy"] == "als" and not before["cold"] and len(before["items"]) == 10
    assert all(r["reason"] for r in before["items"])
    for n in range(5):  # the item the model put first is viewed: it must disappear at once
        top = _ids(client.get(f"/v1/users/{user}/recommendations").json())[0]
        r = client.post("/v1/events", json={"event_id": f"fresh-{n}", "user_id": user,
                                             "item_id": top, "event_type": "view",
                                             "ts": "2024-03-01T10:00:00"}, headers=H)
        assert r.status_code == 200 and r.json()["observer_errors"] == []
        after = client.get(f"/v1/users/{user}/recommendations").json()
        assert after["as_of_event"] == f"fresh-{n}" and after["cached"] is False
        assert top not in _ids(after)


def test_cache_serves_repeats_and_never_a_stale_answer(served):
    client, store = served
    user = active_users(store)[7]
    first = client.get(f"/v1/users/{user}/recommendations").json()
    again = client.get(f"/v1/users/{user}/recommendations").json()
    assert again["cached"] is True and _ids(again) == _ids(first)
    client.post("/v1/events", json={"event_id": "c-1", "user_id": user,
                                    "item_id": _ids(first)[0], "event_type": "purchase",
                                    "ts": 1709290000}, headers=H)
    after = client.get(f"/v1/users/{user}/recommendations").json()
    assert after["cached"] is False and _ids(first)[0] not in _ids(after)


def test_fold_in_changes_the_vector_like_implicit(served):
    client, store = served
    service = client.app.state.recommend_service
    snap = service.current()
    als = snap.models["als"]
    row = snap.history[5]
    mine = snap.fold_vector(row.indices.astype(np.int64), row.data)
    np.testing.assert_allclose(mine, als.recalculate_user(row), atol=1e-4)


def test_batched_fold_ins_equal_the_single_solve(served):
    client, _ = served
    snap = client.app.state.recommend_service.current()
    users = list(snap.user_pos)[:70]  # more than one padded group, of mixed lengths
    snap.fold_many({u: None for u in users})
    for u in users:
        row = snap.history[snap.user_pos[u]]
        single = snap.fold_vector(row.indices.astype(np.int64), row.data)
        np.testing.assert_allclose(snap.folded[u], single, atol=1e-4)
    for u in users:
        snap.folded.pop(u, None)


def test_idempotent_by_event_id(served):
    client, _ = served
    ev = {"event_id": "idem-1", "user_id": "idem-user", "item_id": "I000010",
          "event_type": "cart", "ts": "2024-03-02T10:00:00"}
    first = client.post("/v1/events", json=ev, headers=H).json()
    second = client.post("/v1/events", json=[ev], headers=H).json()
    assert (first["stored"], second["stored"], second["duplicates"]) == (1, 0, 1)
    live = client.app.state.recommend_service.live.user("idem-user")
    assert live.n_events == 1 and list(live.cart) == ["I000010"]


def test_writes_need_a_key_and_batches_have_a_limit(served):
    client, _ = served
    ev = {"user_id": "u-auth", "item_id": "I000001", "event_type": "view", "ts": 1709290000}
    assert client.post("/v1/events", json=ev).status_code == 401
    assert client.post("/v1/events", json=ev, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/v1/cart/recommendations", json={"item_ids": ["I000001"]}
                       ).status_code == 401
    r = client.post("/v1/events", json=[ev] * 51, headers=H)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert client.app.state.recommend_service.live.user("u-auth") is None


def test_bad_bodies_name_the_field(served):
    client, _ = served
    r = client.post("/v1/events", json={"user_id": "u1", "event_type": "teleport", "ts": 1},
                    headers=H)
    assert r.status_code == 422 and "event_type" in r.json()["message"]
    r = client.post("/v1/cart/recommendations", json={"item_ids": []}, headers=H)
    assert r.status_code == 422 and "item_ids" in r.json()["message"]
    r = client.post("/v1/cart/recommendations", json={"item_ids": ["a"], "colour": 1},
                    headers=H)
    assert r.status_code == 422 and "colour" in r.json()["message"]
    r = client.get("/v1/users/u1/recommendations", params={"k": 1001})
    assert r.status_code == 422 and "k" in r.json()["message"]
    r = client.get("/v1/items/I000001/similar", params={"k": 0})
    assert r.status_code == 422 and "k" in r.json()["message"]


@pytest.mark.parametrize(("params", "field", "reason"), [
    ({"k": "ten"}, "k", "valid integer"),
    ({"k": 0}, "k", "greater than or equal to 1"),
    ({"k": 1001}, "k", "less than or equal to 1000"),
    ({"exclude_seen": "maybe"}, "exclude_seen", "valid boolean"),
    ({"exclude_purchased": ""}, "exclude_purchased", "valid boolean"),
    ({"max_price": "-1"}, "max_price", "greater than or equal to 0"),
    ({"max_price": "nan"}, "max_price", "finite"),
    ({"max_price": "cheap"}, "max_price", "valid number"),
    ({"category": "c" * 201}, "category", "at most 200"),
])
def test_bad_query_parameters_are_422_naming_each(served, params, field, reason):
    """The recommendation route parses its parameters itself (storemind._web.FastParams):
    every bad value is the same 422 as FastAPI's, naming the field and why."""
    client, _ = served
    r = client.get("/v1/users/u1/recommendations", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation" and field in body["message"]
    assert [d["field"] for d in body["detail"]] == [field]
    assert reason in body["detail"][0]["reason"]


def test_several_bad_parameters_are_all_named(served):
    client, _ = served
    r = client.get(f"/v1/users/{'u' * 201}/recommendations", params={"k": -1, "x": "ignored"})
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["detail"]] == ["user_id", "k"]
    r = client.get("/v1/items/I000001/similar", params={"k": "1.5"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "k"


def test_answers_match_their_documented_models(served):
    """The hot routes skip FastAPI's response validation (pre-encoded JSON), so check real
    answers of every strategy against the response models the OpenAPI schema publishes."""
    from storemind.recommend.api import SimilarItems, UserRecommendations

    client, store = served
    user = active_users(store)[0]
    params = {"k": 4, "exclude_seen": "false", "exclude_purchased": "0", "max_price": "1e9"}
    answers = [client.get(f"/v1/users/{user}/recommendations", params=params),
               client.get("/v1/users/nobody-at-all/recommendations", params={"k": "3"})]
    assert [a.json()["strategy"] for a in answers] == ["als", "popular"]
    for a in answers:
        assert a.status_code == 200 and a.headers["content-type"] == "application/json"
        model = UserRecommendations.model_validate_json(a.content)
        assert model.model_dump(mode="json") == a.json()
    assert len(answers[0].json()["items"]) == 4
    similar = client.get("/v1/items/I000003/similar", params={"k": 2})
    assert similar.status_code == 200
    assert SimilarItems.model_validate_json(similar.content).model_dump(mode="json") == \
        similar.json()
    spec = client.get("/openapi.json").json()["paths"]
    documented = {p["name"]: p for p in
                  spec["/v1/users/{user_id}/recommendations"]["get"]["parameters"]}
    assert set(documented) == {"user_id", "k", "exclude_purchased", "exclude_seen", "category",
                               "max_price"}
    assert documented["k"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000,
                                         "default": 10}
    assert documented["user_id"]["required"] and documented["user_id"]["in"] == "path"
    assert "UserRecommendations" in str(
        spec["/v1/users/{user_id}/recommendations"]["get"]["responses"]["200"])


def test_json_answer_is_valid_json_or_a_clear_error():
    """The hot routes' encoder: plain values round-trip, a non-finite float becomes null
    (never invalid JSON), and a value that is not plain JSON raises instead of being sent."""
    import json

    from storemind._web import json_answer

    answer = {"user_id": "U1 \u00e9", "cold": False, "as_of_event": None,
              "items": [{"item_id": "I1", "score": 0.1 + 0.2, "price": 49.99}]}
    r = json_answer(answer)
    assert r.media_type == "application/json" and json.loads(r.body) == answer
    assert json.loads(json_answer({"score": float("nan"), "x": float("-inf")}).body) == \
        {"score": None, "x": None}
    with pytest.raises(TypeError):
        json_answer({"items": {1, 2}})


def test_unknown_user_gets_cold_start_then_follows_their_events(served):
    client, _ = served
    cold = client.get("/v1/users/brand-new/recommendations", params={"k": 5}).json()
    assert cold["cold"] and cold["strategy"] == "popular" and len(cold["items"]) == 5
    assert all(r["reason"].startswith("popular") for r in cold["items"])
    item = _ids(cold)[0]
    r = client.post("/v1/events", json=[
        {"event_id": "bn-1", "user_id": "brand-new", "item_id": item, "event_type": "view",
         "ts": 1709290000},
        {"event_id": "bn-2", "user_id": "brand-new", "item_id": "NEW-ITEM-X",
         "event_type": "view", "ts": 1709290001}], headers=H)
    assert r.status_code == 200 and r.json()["observer_errors"] == []
    warm = client.get("/v1/users/brand-new/recommendations", params={"k": 5}).json()
    assert not warm["cold"] and warm["as_of_event"] == "bn-2" and item not in _ids(warm)
    assert any("that you viewed" in row["reason"] for row in warm["items"])


def test_unknown_item_is_404_with_a_message(served):
    client, _ = served
    r = client.get("/v1/items/no-such-item/similar")
    assert r.status_code == 404 and "no-such-item" in r.json()["message"]
    ok = client.get("/v1/items/I000002/similar", params={"k": 4}).json()
    assert len(ok["items"]) == 4 and "I000002" not in _ids(ok)


def test_live_cooccurrence_reaches_similar_items(served):
    client, _ = served
    base = _ids(client.get("/v1/items/I000020/similar", params={"k": 10}).json())
    outsider = next(f"I{n:06d}" for n in range(199, 0, -1) if f"I{n:06d}" not in base
                    and f"I{n:06d}" != "I000020")
    events = []
    for n in range(20):
        events += [{"event_id": f"co-{n}-a", "user_id": f"co-{n}", "item_id": "I000020",
                    "event_type": "view", "ts": 1709290000},
                   {"event_id": f"co-{n}-b", "user_id": f"co-{n}", "item_id": outsider,
                    "event_type": "view", "ts": 1709290001}]
    assert client.post("/v1/events", json=events, headers=H).status_code == 200
    after = client.get("/v1/items/I000020/similar", params={"k": 10}).json()
    assert outsider in _ids(after)
    assert "viewed together" in after["items"][_ids(after).index(outsider)]["reason"]


def test_filters_and_cart(served):
    client, store = served
    items = store.frame("items")
    cat = str(items["category"].iloc[0])
    user = active_users(store)[11]
    body = client.get(f"/v1/users/{user}/recommendations",
                      params={"k": 5, "category": cat, "max_price": 50}).json()
    assert body["items"] and all(r["category"] == cat and r["price"] <= 50
                                 for r in body["items"])
    r = client.post("/v1/cart/recommendations", json={"item_ids": ["I000005", "nope"], "k": 5},
                    headers=H)
    assert r.status_code == 200
    cart = r.json()
    assert cart["unknown_items"] == ["nope"] and len(cart["items"]) == 5
    assert "I000005" not in _ids(cart)
    assert all(row["reason"].startswith("often bought together") for row in cart["items"])


def test_live_stats_route(served):
    client, _ = served
    stats = client.get("/v1/recommend/live/stats").json()
    assert stats["model_version"] == "v0001" and stats["live"]["events"] > 0
    assert stats["routes"]["recommend"]["requests"] > 0


def test_hybrid_bundle_answers_live_users(tmp_path):
    from storemind.recommend.service import RecommendService
    from storemind.registry import Registry

    store = small_store(seed=2)
    register_bundle(store, tmp_path, hybrid=True)
    service = RecommendService(Registry(tmp_path))
    user = active_users(store)[4]
    first = service.recommend(user, k=5)
    assert first["strategy"] == "hybrid" and len(first["items"]) == 5
    top = first["items"][0]["item_id"]
    service.observe([{"event_id": "h1", "user_id": user, "item_id": top,
                      "event_type": "purchase"}])
    after = service.recommend(user, k=5)
    assert after["as_of_event"] == "h1" and top not in [r["item_id"] for r in after["items"]]
    basket = service.complete_basket(["I000003"], k=3)
    assert basket["strategy"] == "hybrid" and len(basket["items"]) == 3
    store.close()


def test_faiss_index_is_calibrated_on_load(tmp_path):
    """Above the threshold the served indexes get their nprobe calibrated to the recall
    target on a traffic-weighted sample; the stats route reports it, and answers agree with
    exact search."""
    from storemind.recommend.service import RecommendService, ServeSettings
    from storemind.registry import Registry

    store = small_store(seed=3)
    register_bundle(store, tmp_path)
    settings = ServeSettings(faiss_threshold=50, recall_target=0.999)
    service = RecommendService(Registry(tmp_path), settings=settings)
    snap = service.current()
    for index in (snap.index, snap.unit_index):
        assert index.kind == "faiss" and index.calibration
        nprobe, recall = index.calibration[-1]
        assert index.nprobe == nprobe and (recall >= 0.999 or nprobe == index._index.nlist)
    assert service.stats()["nprobe"] == snap.index.nprobe
    hits = total = 0
    for user in active_users(store)[:50]:
        vec = snap.user_vector(user)
        got, _ = snap.index.search(vec, 10)
        exact, _ = snap.index.exact(vec, 10)
        hits += len(set(got.tolist()) & set(exact.tolist()))
        total += len(exact)
    assert hits / total >= 0.99
    off = RecommendService(Registry(tmp_path),
                           settings=ServeSettings(faiss_threshold=50, recall_target=0))
    assert off.current().index.calibration == []
    store.close()


def test_not_trained_is_409(tmp_path):
    from storemind.api import create_app
    from storemind.config import Settings
    from storemind.store import Store

    with TestClient(create_app(Settings(home=tmp_path, api_keys=KEY), Store(":memory:"))) as c:
        r = c.get("/v1/users/u1/recommendations")
        assert r.status_code == 409 and "storemind train recommend" in r.json()["message"]
        ev = {"user_id": "u1", "item_id": "i1", "event_type": "view", "ts": 1709290000}
        r = c.post("/v1/events", json=ev, headers=H)
        assert r.status_code == 200 and r.json()["observer_errors"] == []


def test_live_dashboard_page_renders(served):
    from types import SimpleNamespace

    from storemind.recommend.dashboard_live import live_page

    client, store = served
    name, ctx = live_page(SimpleNamespace(app=client.app), store, client.app.state.registry)
    env = client.app.state.templates.env
    html = env.get_template(name).render(nav=[], version="test", active="recommend", **ctx)
    assert 'id="live-table"' in html and 'id="try-form"' in html
    assert "/v1/recommend/live/stats" in html and ctx["stats"]["model_version"] in html


def test_reasons_name_what_the_customer_did_in_training(served):
    """"similar to X that you bought": the verb is the strongest event the customer had with X
    in the training data (it said "viewed" for every training item before)."""
    client, store = served
    ev = store.frame("events")
    titles = store.frame("items").set_index("item_id")["title"].dropna()
    rank = {"view": 1, "click": 2, "rating": 3, "cart": 4, "purchase": 5}
    verb = {"view": "viewed", "click": "clicked", "rating": "rated", "cart": "put in your cart",
            "purchase": "bought"}
    checked, verbs = 0, set()
    for user in active_users(store)[:20]:
        mine = ev[(ev.user_id == user) & ev.event_type.isin(list(rank))].copy()
        mine["name"] = mine.item_id.map(titles).fillna(mine.item_id)
        mine["rank"] = mine.event_type.map(rank)
        strongest = mine.sort_values("rank").groupby("name").event_type.last()
        body = client.get(f"/v1/users/{user}/recommendations", params={"k": 10}).json()
        for row in body["items"]:
            if not row["reason"].startswith("similar to "):
                continue
            name, said = row["reason"][len("similar to "):].split(" that you ")
            if name in strongest.index:  # titles are unique enough in the simulator
                assert said == verb[strongest[name]], (user, row["reason"])
                checked += 1
                verbs.add(said)
    assert checked >= 20 and "bought" in verbs
