"""The HTTP API shell: health, auth, the error mapping, limits, POST /v1/events, OpenAPI."""
from __future__ import annotations

import importlib.machinery
import json
import os
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from storemind.api import StoreDep, add_observer, create_app, status_for
from storemind.config import Settings
from storemind.errors import (
    AuthError,
    DataError,
    NotFittedError,
    NotFoundError,
    SchemaError,
    StoremindError,
    TooLargeError,
    UnknownIdError,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi_paths.json"
KEY = "test-key-1"


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(home=tmp_path / "home", api_keys=f"{KEY}, other-key", max_batch=5,
                    max_body_bytes=4096, **kw)


@pytest.fixture()
def app(tmp_path, store):
    return create_app(_settings(tmp_path), store, capabilities=())


@pytest.fixture()
def client(app):
    return TestClient(app, raise_server_exceptions=False)


def _event(i: int = 0, **kw) -> dict:
    ev = {"event_id": f"e{i}", "user_id": f"u{i % 3}", "item_id": f"i{i}",
          "event_type": "view", "ts": f"2024-03-0{1 + i % 9}T10:00:00"}
    ev.update(kw)
    return ev


def _post(client, body, key: str | None = KEY, **kw):
    headers = {"X-API-Key": key} if key else {}
    return client.post("/v1/events", json=body, headers=headers, **kw)


def _fake_capability(monkeypatch, cap: str, router: APIRouter | None, setup=None) -> None:
    """Install a stand-in ``storemind.<cap>.api`` module for the app factory to find."""
    import storemind

    pkg = types.ModuleType(f"storemind.{cap}")
    pkg.__path__ = []
    pkg.__spec__ = importlib.machinery.ModuleSpec(f"storemind.{cap}", None, is_package=True)
    mod = types.ModuleType(f"storemind.{cap}.api")
    mod.__spec__ = importlib.machinery.ModuleSpec(f"storemind.{cap}.api", None)
    if router is not None:
        mod.router = router
    if setup is not None:
        mod.setup = setup
    monkeypatch.setitem(sys.modules, f"storemind.{cap}", pkg)
    monkeypatch.setitem(sys.modules, f"storemind.{cap}.api", mod)
    monkeypatch.setattr(storemind, cap, pkg, raising=False)


# -- health, routes, OpenAPI ----------------------------------------------------------------

def test_health_reports_version_and_row_counts(client, store):
    store.append("events", [_event(0), _event(1)])
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert body["tables"]["events"] == 2
    assert body["tables"]["quarantine"] == 0
    assert set(body["tables"]) >= {"items", "users", "orders", "payments"}


def test_app_opens_store_under_home_when_none_given(tmp_path):
    settings = _settings(tmp_path)
    with TestClient(create_app(settings, capabilities=())) as c:
        assert _post(c, _event(0)).json()["stored"] == 1
        assert c.get("/health").json()["tables"]["events"] == 1
    assert settings.db_path.is_file()


def test_unknown_route_is_a_json_404(client):
    r = client.get("/v1/no-such-thing")
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "message": "no such route: GET /v1/no-such-thing"}


def test_docs_served(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_openapi_paths_match_snapshot(tmp_path, store):
    """Run with STOREMIND_UPDATE_SNAPSHOTS=1 after a deliberate API change to rewrite it."""
    app = create_app(_settings(tmp_path), store)  # every installed capability
    spec = TestClient(app).get("/openapi.json").json()
    paths = {p: sorted(ops) for p, ops in sorted(spec["paths"].items())}
    if os.environ.get("STOREMIND_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps({"paths": paths}, indent=2) + "\n")
    expected = json.loads(SNAPSHOT.read_text())["paths"]
    assert paths == expected, (
        "the API's paths changed; if on purpose, rerun with STOREMIND_UPDATE_SNAPSHOTS=1"
    )
    # every write is documented as needing a key, every read is not
    assert spec["paths"]["/v1/events"]["post"]["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert "security" not in spec["paths"]["/health"]["get"]
    assert "EventIn" in spec["components"]["schemas"]


# -- auth -----------------------------------------------------------------------------------

def test_write_without_key_is_401(client, store):
    r = _post(client, _event(0), key=None)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert "X-API-Key" in r.json()["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert store.count("events") == 0


def test_write_with_wrong_key_is_401(client, store):
    r = _post(client, _event(0), key="nope")
    assert r.status_code == 401
    assert "not one of STOREMIND_API_KEYS" in r.json()["message"]
    assert store.count("events") == 0


def test_right_key_in_either_header(client, store):
    assert _post(client, _event(0)).status_code == 200
    r = client.post("/v1/events", json=_event(1), headers={"Authorization": "Bearer other-key"})
    assert r.status_code == 200
    assert store.count("events") == 2


def test_no_key_configured_refuses_writes_and_says_how(tmp_path, store):
    settings = Settings(home=tmp_path / "h", api_keys="")
    c = TestClient(create_app(settings, store, capabilities=()))
    r = _post(c, _event(0), key="anything")
    assert r.status_code == 401
    assert "STOREMIND_API_KEYS" in r.json()["message"]
    assert c.get("/health").status_code == 200  # reads stay open


# -- POST /v1/events ------------------------------------------------------------------------

def test_events_stored_with_counts(client, store):
    r = _post(client, [_event(0), _event(1)])
    assert r.status_code == 200
    body = r.json()
    counts = (body["accepted"], body["stored"], body["duplicates"], body["quarantined"])
    assert counts == (2, 2, 0, 0)
    assert body["event_ids"] == ["e0", "e1"]
    assert sorted(store.frame("events").event_id) == ["e0", "e1"]


def test_batch_object_and_single_event_shapes(client, store):
    assert _post(client, {"events": [_event(0), _event(1)]}).json()["stored"] == 2
    assert _post(client, _event(2)).json()["stored"] == 1
    assert store.count("events") == 3


def test_repost_is_idempotent(client, store):
    first = _post(client, [_event(0), _event(1)]).json()
    again = _post(client, [_event(0), _event(1), _event(2)]).json()
    assert (first["stored"], first["duplicates"]) == (2, 0)
    assert (again["stored"], again["duplicates"]) == (1, 2)
    assert store.count("events") == 3


def test_events_without_id_get_a_stable_one(client, store):
    ev = _event(0)
    del ev["event_id"]
    a = _post(client, ev).json()
    b = _post(client, ev).json()
    assert a["event_ids"] == b["event_ids"] and a["event_ids"][0].startswith("api-")
    assert (a["stored"], b["stored"], b["duplicates"]) == (1, 0, 1)


def test_timestamps_iso_with_offset_and_epoch(client, store):
    _post(client, [_event(0, ts="2024-03-01T12:00:00+02:00"), _event(1, ts=1709287200),
                   _event(2, ts=1709287200000)])
    ts = store.frame("events").set_index("event_id").ts.astype(str).to_dict()
    assert ts == {"e0": "2024-03-01 10:00:00", "e1": "2024-03-01 10:00:00",
                  "e2": "2024-03-01 10:00:00"}


def test_422_names_the_field(client, store):
    r = _post(client, [_event(0), _event(1, ts="yesterday-ish")])
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation"
    assert [d["field"] for d in body["detail"]] == ["events[1].ts"]
    assert "datetime" in body["detail"][0]["reason"]
    assert store.count("events") == 0  # a bad batch stores nothing; fix and re-post


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "u", "ts": "2024-01-01"}, "event_type"),
        ({"user_id": "u", "event_type": "teleport", "ts": "2024-01-01"}, "event_type"),
        ({"event_type": "view", "ts": "2024-01-01"}, "user_id"),
        ({"user_id": "u", "event_type": "view", "ts": "2024-01-01", "colour": "red"}, "colour"),
        ({"events": [{"user_id": "u", "event_type": "view", "ts": "2024-01-01",
                      "value": "abc"}]}, "events[0].value"),
        ([1], "events[0]"),
        # found by schemathesis: a far-off year with an offset overflowed the UTC conversion
        ({"user_id": "u", "event_type": "view", "ts": "0001-01-01T06:00:00+19:30"}, "ts"),
        ({"user_id": "u", "event_type": "view", "ts": "9999-12-31T23:00:00-05:00"}, "ts"),
        ({"user_id": "u", "event_type": "view", "ts": "1969-12-31T23:00:00"}, "ts"),
    ],
)
def test_422_cases(client, body, field):
    r = _post(client, body)
    assert r.status_code == 422
    assert field in [d["field"] for d in r.json()["detail"]]


def test_store_time_applies_the_offset_and_bounds_the_year():
    from datetime import UTC, datetime, timedelta, timezone

    from storemind._web import store_time

    plus2 = timezone(timedelta(hours=2))
    assert store_time(datetime(2024, 1, 1, 12, tzinfo=plus2)) == datetime(2024, 1, 1, 10)
    assert store_time(datetime(2024, 1, 1, 12)) == datetime(2024, 1, 1, 12)
    with pytest.raises(ValueError, match="outside 1970-2200"):
        store_time(datetime(1970, 1, 1, 1, tzinfo=plus2))  # 1969-12-31 23:00 UTC
    with pytest.raises(ValueError, match="year 1"):
        store_time(datetime(1, 1, 1, 6, tzinfo=timezone(timedelta(hours=19, minutes=30))))
    assert store_time(datetime(2200, 12, 31, 23, tzinfo=UTC)).year == 2200


def test_422_for_malformed_json(client):
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    r = client.post("/v1/events", content=b"{not json", headers=headers)
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["detail"][0]["reason"]


def test_413_for_too_many_events(client, store):
    r = _post(client, [_event(i) for i in range(6)])  # max_batch=5
    assert r.status_code == 413
    assert r.json()["error"] == "too_large"
    assert "limit is 5" in r.json()["message"]
    assert store.count("events") == 0


def test_413_for_large_body_by_content_length(client, store):
    r = client.post("/v1/events", content=b"[" + b" " * 5000 + b"]",
                    headers={"X-API-Key": KEY, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert "4,096" in r.json()["message"]


def test_413_for_large_streamed_body_without_length(client):
    def chunks():
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/v1/events", content=chunks(),
                    headers={"X-API-Key": KEY, "Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert "more than 4,096 bytes arrived" in r.json()["message"]


def test_observers_get_new_events_only(app, client):
    seen: list[list[str]] = []
    add_observer(app, lambda events: seen.append([e["event_id"] for e in events]))
    _post(client, [_event(0), _event(1)])
    _post(client, [_event(1), _event(2)])
    _post(client, [_event(2)])  # nothing new: observers are not called
    assert seen == [["e0", "e1"], ["e2"]]


def test_failing_observer_keeps_events_and_reports_it(app, client, store):
    def broken(events):
        raise RuntimeError("model exploded")

    later: list[int] = []
    add_observer(app, broken)
    add_observer(app, lambda events: later.append(len(events)))
    r = _post(client, [_event(0)])
    assert r.status_code == 200
    assert r.json()["stored"] == 1
    assert "model exploded" in r.json()["observer_errors"][0]
    assert later == [1]  # the next observer still ran
    assert store.count("events") == 1


# -- capability routers and the error mapping ----------------------------------------------

@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (UnknownIdError("user 'x' unknown"), 404),
        (NotFoundError("no model"), 404),
        (TooLargeError("too big"), 413),
        (DataError("bad"), 422),
        (SchemaError("bad column"), 422),
        (AuthError("no"), 401),
        (NotFittedError("fit first"), 409),
        (StoremindError("other"), 400),
        (KeyError("oops"), 500),
    ],
)
def test_status_mapping(exc, status):
    assert status_for(exc)[0] == status


def _failing_router() -> APIRouter:
    router = APIRouter()

    @router.get("/fake/ping")
    def ping(store: StoreDep) -> dict:
        return {"events": store.count("events")}

    @router.post("/fake/echo")
    def echo(payload: dict) -> dict:
        return payload

    @router.get("/fake/user/{user_id}")
    def user(user_id: str) -> dict:
        raise UnknownIdError(f"user {user_id!r} is not known to the model")

    @router.get("/fake/untrained")
    def untrained() -> dict:
        raise NotFittedError("FakeModel is not fitted")

    @router.get("/fake/crash")
    def crash() -> dict:
        raise RuntimeError("secret internal detail")

    return router


def test_capability_router_plugs_in_under_v1(monkeypatch, tmp_path, store):
    observed: list[int] = []
    _fake_capability(monkeypatch, "experiments", _failing_router(),
                     setup=lambda app: add_observer(app, lambda ev: observed.append(len(ev))))
    app = create_app(_settings(tmp_path), store, capabilities=["experiments"])
    c = TestClient(app, raise_server_exceptions=False)
    assert c.get("/health").json()["capabilities"] == {"experiments": "ok"}
    assert c.get("/v1/fake/ping").json() == {"events": 0}
    _post(c, _event(0))
    assert c.get("/v1/fake/ping").json() == {"events": 1}
    assert observed == [1]
    assert c.post("/v1/fake/echo", json={"a": 1}).status_code == 401  # every write needs a key
    assert c.post("/v1/fake/echo", json={"a": 1}, headers={"X-API-Key": KEY}).json() == {"a": 1}

    r = c.get("/v1/fake/user/zed")
    assert r.status_code == 404 and "'zed'" in r.json()["message"]
    r = c.get("/v1/fake/untrained")
    assert r.status_code == 409 and "train first" in r.json()["message"]
    r = c.get("/v1/fake/crash")
    assert r.status_code == 500
    assert r.json()["error"] == "internal"
    assert "secret" not in r.json()["message"]  # details go to the log, not the client
    assert c.get("/health").status_code == 200  # the server keeps serving


def test_broken_capability_module_degrades_health(monkeypatch, tmp_path, store):
    _fake_capability(monkeypatch, "risk", router=None)  # no `router`
    c = TestClient(create_app(_settings(tmp_path), store, capabilities=["risk"]))
    body = c.get("/health").json()
    assert body["status"] == "degraded"
    assert "no APIRouter named `router`" in body["capabilities"]["risk"]


def test_docs_page_is_served_without_a_cdn(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from storemind.api import create_app
    from storemind.config import Settings
    from storemind.store import Store

    app = create_app(Settings(home=tmp_path, api_keys="k"), store=Store(":memory:"))
    with TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "/static/swagger/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower()
        js = client.get("/static/swagger/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000


def test_quarantine_rows_readable_over_http(client, store):
    """The rows ingestion refused, with line, reason and fields; filtered, capped, and an
    oversized limit or an unknown table is a clear 4xx."""
    store.ingest("events", pd.DataFrame([
        {"event_id": "a", "user_id": "u", "event_type": "teleport", "ts": "2024-05-01"},
        {"event_id": "b", "user_id": "", "event_type": "view", "ts": "2024-05-01"},
        {"event_id": "c", "user_id": "u", "event_type": "view", "ts": "2024-05-01"}]),
        source_name="bad.csv")
    r = client.get("/v1/admin/quarantine", params={"table": "events", "limit": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 2 and len(body["rows"]) == 1
    row = body["rows"][0]
    assert (row["quarantine_source"], row["quarantine_line"], row["event_type"]) == (
        "bad.csv", 1, "teleport")
    assert row["quarantine_reason"].startswith("unknown value")
    assert client.get("/v1/admin/quarantine", params={"source": "other.csv"}).json()["total"] == 0
    assert client.get("/v1/admin/quarantine", params={"limit": 10**6}).status_code == 422
    assert client.get("/v1/admin/quarantine", params={"table": "nope"}).status_code == 404
