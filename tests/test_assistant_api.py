"""The assistant through its pipeline, HTTP routes and dashboard page, on a small simulated
store (hashing encoder, so no model is loaded here; test_assistant_quality.py uses MiniLM)."""
from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.assistant import pipeline
from storemind.config import Settings
from storemind.datasets import simulate
from storemind.errors import DataError
from storemind.registry import Registry
from storemind.store import Store

KEY = "test-key"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("assistant-home")
    store = Store(home / "store.duckdb")
    simulate(store, n_users=200, n_items=300, n_days=20, seed=1, progress=False)
    settings = Settings(home=home, api_keys=KEY)
    registry = Registry(settings.models_path)
    mv = pipeline.train(store, registry, settings, encoder="hashing")
    yield store, registry, settings, mv
    store.close()


@pytest.fixture()
def client(served):
    store, _, settings, _ = served
    with TestClient(create_app(settings, store, capabilities=("assistant",))) as c:
        yield c


def test_train_registers_models_and_metrics(served) -> None:
    _, registry, _, mv = served
    assert registry.current_version("assistant") == mv.version
    assert (mv.path / "answerer" / "arrays.npz").is_file()
    assert (mv.path / "search" / "arrays.npz").is_file()
    assert mv.metrics["holdout_questions"] == 32  # the simulator's paraphrases
    assert mv.metrics["items"] == 300 and mv.metrics["search_title_recall_at_10"] >= 0.95


def test_train_without_tables_says_what_is_missing(tmp_path) -> None:
    with Store(tmp_path / "empty.duckdb") as store, pytest.raises(DataError, match="questions"):
        pipeline.train(store, Registry(tmp_path / "m"), None, encoder="hashing")


def test_answer_route_answers_a_known_question(client) -> None:
    r = client.post("/v1/assistant/answer", json={"question": "How do I cancel my order?"},
                    headers={"X-API-Key": KEY})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"].startswith("Open the order under Orders")
    assert body["intent"] == "order_cancel" and body["confidence"] > 0.9
    assert body["sources"][0]["question_id"].startswith("FAQ")


def test_writes_need_the_key(client) -> None:
    r = client.post("/v1/assistant/answer", json={"question": "hello"})
    assert r.status_code == 401


def test_handoff_is_recorded_then_curated_answer_is_used(client) -> None:
    q = "Do you have a shop in Springfield where I can try things on?"
    r = client.post("/v1/assistant/answer", json={"question": q}, headers={"X-API-Key": KEY})
    body = r.json()
    assert body["handed_off"] and body["answer"] is None and body["message"]
    waiting = client.get("/v1/assistant/unanswered").json()
    entry = next(e for e in waiting if e["question"] == q)
    page = client.get("/dashboard/assistant").text
    assert q in page and 'id="unanswered"' in page
    r = client.post(f"/v1/assistant/unanswered/{entry['id']}/answer",
                    json={"answer": "We are online only."}, headers={"X-API-Key": KEY})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    again = client.post("/v1/assistant/answer", json={"question": q},
                        headers={"X-API-Key": KEY}).json()
    assert again["answer"] == "We are online only." and again["route"] == "match"
    assert q not in [e["question"] for e in client.get("/v1/assistant/unanswered").json()]
    assert client.post("/v1/assistant/unanswered/nope/answer", json={"answer": "x"},
                       headers={"X-API-Key": KEY}).status_code == 404


def test_search_route_parses_constraints(client, served) -> None:
    r = client.get("/v1/search", params={"q": "running shoes under 50", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["category"] == "Shoes" and body["max_price"] == 50
    assert body["items"] and all(i["category"] == "Shoes" and i["price"] <= 50
                                 for i in body["items"])
    assert "running" in body["items"][0]["title"].lower()
    assert client.get("/v1/search", params={"q": ""}).status_code == 422


def test_dashboard_ask_and_search_boxes(client) -> None:
    html = client.get("/dashboard/assistant", params={"q": "Where is my order?",
                                                      "s": "kettle under 40"}).text
    assert 'id="answer"' in html and "track your order" in html
    assert 'id="results"' in html and "up to 40.0" in html


def test_search_signal_scores_items_from_recent_searches(served) -> None:
    store, registry, _, _ = served
    ev = store.frame("events")
    user = ev[ev.event_type == "search"].user_id.iloc[0]
    s = pipeline.search_signal(store, registry, user)
    assert isinstance(s, pd.Series) and len(s) > 0
    assert s.iloc[0] == pytest.approx(1.0) and (s.diff().dropna() <= 0).all()
    assert pipeline.search_signal(store, registry, "no-such-user").empty
