"""The experiments dashboard page on real (Hillstrom) and simulated experiments."""
from __future__ import annotations

import numpy as np
import pandas as pd
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
        # the simulator exposes everyone at the campaign's start: one look, so a note, not a
        # one-point chart
        assert 'id="experiment-monitor"' not in sim.text
        assert "there is one look only" in sim.text
        # exposures spread over ten days get the chart, one look per day
        rng = np.random.default_rng(0)
        n = 600
        store.append("campaigns", pd.DataFrame([{"campaign_id": "spread", "name": "Spread"}]))
        store.append("exposures", pd.DataFrame({
            "exposure_id": [f"sp{i}" for i in range(n)], "campaign_id": "spread",
            "user_id": [f"su{i}" for i in range(n)],
            "arm": np.where(np.arange(n) % 2, "treatment", "control"),
            "ts": pd.Timestamp("2024-06-01") + pd.to_timedelta(np.arange(n) % 10, unit="D"),
            "converted": (rng.random(n) < 0.2).astype(float)}))
        spread = client.get("/dashboard/experiments?key=spread")
        assert spread.status_code == 200, spread.text[-500:]
        assert 'id="experiment-monitor"' in spread.text
        assert spread.text.count("2024-06-10") >= 1
        missing = client.get("/dashboard/experiments?key=nope")
        assert "no experiment" in missing.text
