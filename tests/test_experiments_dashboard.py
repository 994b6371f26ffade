"""The experiments dashboard page on real (Hillstrom) and simulated experiments."""
from __future__ import annotations

from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.config import Settings
from storemind.datasets import load_dataset, simulate
from storemind.store import Store


def test_page_shows_results_srm_and_monitoring(tmp_path, data_dir) -> None:
    store = Store(":memory:")
    load_dataset("hillstrom", store, data_dir=data_dir, progress=False)
    simulate(store, n_users=600, n_items=80, n_days=40, seed=3, progress=False)
    app = create_app(Settings(home=tmp_path, api_keys="k"), store=store)
    with TestClient(app) as client:
        page = client.get("/dashboard/experiments?key=hillstrom_email")
        assert page.status_code == 200, page.text[:500]
        assert "Sample ratio OK" in page.text
        assert 'id="experiment-lifts"' in page.text
        assert "+72.1%" in page.text  # Mens e-mail visit lift (Hillstrom 2008: 18.3% vs 10.6%)
        assert "exposures carry no timestamps" in page.text or "No sequential chart" in page.text
        sim_key = next(k for k in store.frame("campaigns").campaign_id if k != "hillstrom_email")
        sim = client.get(f"/dashboard/experiments?key={sim_key}")
        assert sim.status_code == 200
        assert 'id="experiment-monitor"' in sim.text
        missing = client.get("/dashboard/experiments?key=nope")
        assert "no experiment" in missing.text
