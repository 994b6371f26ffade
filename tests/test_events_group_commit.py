"""Group commit of POST /v1/events: concurrent requests share one write, and each still gets
its own exact counts, as if the requests had been written one after the other."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from storemind.api import add_observer, create_app
from storemind.api.events import store_event_groups
from storemind.config import Settings
from storemind.store import Store

KEY = {"X-API-Key": "k"}


def _event(i: int, **kw) -> dict:
    return {"event_id": f"e{i}", "user_id": f"u{i % 5}", "item_id": f"i{i % 7}",
            "event_type": "view", "ts": f"2024-03-01T10:00:{i % 60:02d}", **kw}


@pytest.fixture()
def app(tmp_path, store):
    return create_app(Settings(home=tmp_path / "home", api_keys="k", max_batch=1000), store,
                      capabilities=())


def test_concurrent_posts_are_grouped_and_counted_exactly(app, store) -> None:
    writes: list[int] = []
    add_observer(app, lambda events: writes.append(len(events)))

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            # 60 requests at once: 0..49 new, then 10 that repeat ids 0..9
            bodies = [_event(i) for i in range(50)] + [_event(i) for i in range(10)]
            return await asyncio.gather(
                *(client.post("/v1/events", json=b, headers=KEY) for b in bodies))

    replies = asyncio.run(run())
    assert all(r.status_code == 200 for r in replies)
    got = [r.json() for r in replies]
    assert sum(g["stored"] for g in got) == 50 == store.count("events")
    assert sum(g["duplicates"] for g in got) == 10
    assert all(g["stored"] + g["duplicates"] == 1 for g in got)
    # the first request carrying an id stores it; a later one counts it as a duplicate
    assert [g["stored"] for g in got[50:]] == [0] * 10
    assert sum(writes) == 50
    assert len(writes) < 60  # some requests shared a write


def test_groups_split_new_and_duplicate_per_request(store: Store) -> None:
    store.append("events", [_event(0)])
    groups = [[_event(0), _event(1)], [_event(1), _event(2), _event(2)], [_event(3)]]
    seen: list[list[str]] = []
    res = store_event_groups(store, groups, [lambda ev: seen.append([e["event_id"] for e in ev])])
    assert [(r.accepted, r.stored, r.duplicates, r.quarantined) for r in res] == [
        (2, 1, 1, 0), (3, 1, 2, 0), (1, 1, 0, 0)]
    assert seen == [["e1", "e2", "e3"]]
    assert store.count("events") == 4


def test_a_quarantined_row_is_charged_to_its_own_request(store: Store) -> None:
    store.append("events", [_event(0)])
    groups = [[_event(0)], [_event(1, event_type="teleport")], [_event(2)]]
    res = store_event_groups(store, groups, [])
    assert [(r.stored, r.duplicates, r.quarantined) for r in res] == [
        (0, 1, 0), (0, 0, 1), (1, 0, 0)]
    assert res[1].reasons and not res[0].reasons
    assert store.count("quarantine") == 1
