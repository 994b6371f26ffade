"""The recommendations page: model comparison from the registry, explorer, live sub-page."""
from __future__ import annotations

from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.config import Settings
from storemind.datasets import simulate
from storemind.recommend.dashboard import comparison_rows
from storemind.recommend.pipeline import train
from storemind.registry import Registry
from storemind.store import Store


def test_comparison_rows_from_registry_metrics() -> None:
    rows = comparison_rows({"ndcg@10": 0.3, "recall@20": 0.5, "als.ndcg@10": 0.2,
                            "als.recall@20": 0.4, "popularity.ndcg@10": 0.25, "n_users": 10})
    assert [r["model"] for r in rows] == ["hybrid", "popularity", "als"]
    assert rows[2]["recall@20"] == 0.4 and rows[1]["recall@20"] is None


def test_page_compares_models_and_explains_recommendations(tmp_path) -> None:
    store = Store(":memory:")
    simulate(store, n_users=300, n_items=60, n_days=30, seed=2, progress=False)
    settings = Settings(home=tmp_path, api_keys="k")
    train(store, Registry(settings.models_path), settings,
          options={"budget": 1, "models": ["popularity", "itemknn", "als"]})
    app = create_app(settings, store=store)
    with TestClient(app) as client:
        page = client.get("/dashboard/recommend")
        assert page.status_code == 200, page.text[-800:]
        assert 'id="model-comparison"' in page.text and "hybrid" in page.text
        user = store.frame("events").user_id.iloc[0]
        explore = client.get(f"/dashboard/recommend?user={user}")
        assert explore.status_code == 200
        assert 'id="recommendations"' in explore.text
        assert any(w in explore.text for w in ("similar to", "bought together", "popular"))
        # the history is the customer's latest 20 events, latest first, to the second
        from storemind.recommend.dashboard import _history

        hist = _history(store, user)
        ev = store.frame("events")
        expected = ev[ev.user_id == user].ts.sort_values(ascending=False).head(20)
        assert [h["ts"] for h in hist] == list(expected.dt.strftime("%Y-%m-%d %H:%M:%S"))
        assert hist[0]["ts"] in explore.text
        live = client.get("/dashboard/recommend/live")
        assert live.status_code == 200
        assert client.get("/dashboard/recommend/nope").status_code == 404
