"""Hot swap: a second process registers a new version while requests keep coming; the server
switches to it without a failed request and keeps the live state."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from test_realtime_service import KEY, H, active_users, register_bundle, small_store

TESTS = Path(__file__).parent


def test_hot_swap_under_concurrent_requests(tmp_path):
    from storemind.api import create_app
    from storemind.config import Settings

    store = small_store()
    settings = Settings(home=tmp_path, api_keys=KEY)
    assert register_bundle(store, settings.models_path, factors=16) == "v0001"
    users = active_users(store)[:20]
    items = store.frame("events")["item_id"].dropna().astype(str).value_counts().index[:100]
    with TestClient(create_app(settings, store)) as client:
        service = client.app.state.recommend_service
        service.settings.poll_ms = 50
        live_user = users[0]
        first = client.get(f"/v1/users/{live_user}/recommendations").json()
        bought = first["items"][0]["item_id"]
        r = client.post("/v1/events", json={"event_id": "swap-1", "user_id": live_user,
                                             "item_id": bought, "event_type": "purchase",
                                             "ts": 1709290000}, headers=H)
        assert r.status_code == 200
        statuses: list[int] = []
        versions: set[str] = set()
        stop = threading.Event()

        def hammer(offset: int) -> None:
            n = offset
            while not stop.is_set():
                user = users[n % len(users)]
                resp = client.get(f"/v1/users/{user}/recommendations", params={"k": 5})
                statuses.append(resp.status_code)
                if resp.status_code == 200:
                    versions.add(resp.json()["model_version"])
                sim = client.get(f"/v1/items/{items[n % len(items)]}/similar")
                statuses.append(sim.status_code)
                n += 1

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        # another process trains and registers v0002 into the same registry
        code = (f"import sys; sys.path.insert(0, {str(TESTS)!r});"
                "from test_realtime_service import small_store, register_bundle;"
                f"print(register_bundle(small_store(), {str(settings.models_path)!r}, "
                "factors=8, seed=3))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().endswith("v0002")
        deadline = time.monotonic() + 60
        while service.version != "v0002" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a few more requests on the new version
        stop.set()
        for t in threads:
            t.join()
        assert service.version == "v0002" and not service.load_errors
        assert len(statuses) > 20 and set(statuses) == {200}, sorted(set(statuses))
        assert "v0002" in versions
        after = client.get(f"/v1/users/{live_user}/recommendations").json()
        assert after["model_version"] == "v0002" and after["as_of_event"] == "swap-1"
        assert bought not in [row["item_id"] for row in after["items"]]
        snap = service.current()
        assert snap.folded[live_user].shape == (8,)  # re-folded into the new model
    store.close()
