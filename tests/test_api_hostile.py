"""Every route of a fully trained server against hostile requests.

Unknown and oversized ids, wrong types and out-of-range numbers in every query parameter,
broken bodies and a wrong value in every body field. No answer may be a 500; each answer's
status is one the OpenAPI document lists for its route; every error has the one error body
(``ErrorBody``). The dashboard pages get the same hostile query values.

Written after a schemathesis run against `storemind serve` on the demo store found three 500s
(a far-off year with a UTC offset in an event or a payment, and the churn of a customer who
never bought); those cases are in here.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.api.models import ErrorBody
from storemind.config import Settings

KEY = "hostile-key"
HEADERS = {"X-API-Key": KEY}

PATH_VALUES = ["nobody", "x" * 3000, "ü ñ \u00a0 ☃", "-1", "0", "..", "1e309"]
QUERY_VALUES = ["abc", "-1", "0", "1e309", "", "nan", "99999999999999999999", "x" * 3000,
                "2024-13-45", "[]"]
RAW_BODIES = [b"{not json", b"\xff\xfe\x00\x01", b"[]", b"1", b'"x"', b"{}", b"null",
              b"[" * 5000 + b"]" * 5000]
FIELD_VALUES: list[Any] = [None, "x", -1, 10**30, 1e308, [], {}, True, "x" * 5000,
                           "0001-01-01T06:00:00+19:30", "9999-12-31T23:59:59"]


@pytest.fixture(scope="module")
def served(trained_home):
    settings = Settings(home=trained_home, api_keys=KEY, max_batch=50, max_body_bytes=65_536)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        spec = client.get("/openapi.json").json()
        yield client, spec


def _operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, ops in spec["paths"].items()
            for method, op in ops.items() if path != "/v1/admin/snapshot"]


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for key in ("anyOf", "oneOf"):  # a body that is one event or a batch: take the object
        for alt in schema.get(key, []):
            alt = _resolve(spec, alt)
            if alt.get("properties"):
                return alt
    return schema


def _check(resp, op: dict, what: str) -> None:
    documented = set(op["responses"])
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"
    assert str(resp.status_code) in documented, (
        f"{what}: answered {resp.status_code}, documented {sorted(documented)}: "
        f"{resp.text[:200]}")
    if resp.status_code >= 400:
        body = ErrorBody.model_validate(resp.json())
        assert body.message, what


def _fill(path: str, op: dict, value: str) -> str:
    for p in op.get("parameters", []):
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", value)
    return path


def test_no_route_answers_500_or_an_undocumented_status(served) -> None:
    client, spec = served
    checked = 0
    for path, method, op in _operations(spec):
        params = [p for p in op.get("parameters", []) if p["in"] == "query"]
        has_path = any(p["in"] == "path" for p in op.get("parameters", []))
        body_schema = (op.get("requestBody", {}).get("content", {})
                       .get("application/json", {}).get("schema"))
        def send(url: str, method: str = method, **kw: Any):
            kw.setdefault("headers", HEADERS)
            return client.request(method.upper(), url, **kw)

        ok_path = _fill(path, op, "nobody")
        for value in PATH_VALUES if has_path else []:
            url = _fill(path, op, value)
            _check(send(url, json={} if body_schema else None), op, f"{method} {url[:80]}")
            checked += 1
        for p in params:
            for value in QUERY_VALUES:
                r = send(ok_path, params={p["name"]: value},
                         json={} if body_schema else None)
                _check(r, op, f"{method} {path} ?{p['name']}={value[:20]!r}")
                checked += 1
        if body_schema is None:
            continue
        for raw in RAW_BODIES:
            r = send(ok_path, content=raw, headers={**HEADERS,
                                                    "Content-Type": "application/json"})
            _check(r, op, f"{method} {path} body {raw[:20]!r}")
            checked += 1
        props = _resolve(spec, body_schema).get("properties", {})
        for name in props:
            for value in FIELD_VALUES:
                r = send(ok_path, json={name: value})
                _check(r, op, f"{method} {path} body {{{name}: {json.dumps(value)[:30]}}}")
                checked += 1
    assert checked > 500  # the spec was read and every route reached


def test_far_off_years_and_never_buyers_are_not_500(served) -> None:
    """The three 500s schemathesis found, through the trained app."""
    client, _ = served
    for body in ({"user_id": "u", "event_type": "view", "ts": "0001-01-01T06:00:00+19:30"},
                 [{"user_id": "u", "event_type": "view", "ts": "6666-04-12T08:58:53+19:30"}]):
        r = client.post("/v1/events", json=body, headers=HEADERS)
        assert r.status_code == 422 and "1970-2200" in r.text, r.text
    r = client.post("/v1/payments/score", headers=HEADERS, json={
        "payment_id": "p", "amount": 1, "ts": "9999-01-01T06:00:00"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "ts"
    from storemind.behavior import pipeline
    from storemind.registry import Registry

    scores = pipeline.load_scores(Registry(client.app.state.settings.models_path))
    never = scores[scores.churn_risk.isna()].user_id
    assert len(never) > 0
    r = client.get(f"/v1/customers/{never.iloc[0]}/churn")
    assert r.status_code == 200 and r.json()["drivers"] == []


def test_dashboard_pages_take_hostile_query_values(served) -> None:
    client, _ = served
    # the query values each page reads (grep request.query_params in */dashboard.py)
    reads = {"recommend": ["user"], "customers": ["user"], "operations": ["item"],
             "experiments": ["key"], "marketing": ["budget"], "assistant": ["q", "s"]}
    assert set(reads) <= set(client.app.state.capabilities)
    for cap, names in reads.items():
        page = f"/dashboard/{cap}"
        for name in names:
            for value in QUERY_VALUES:
                r = client.get(page, params={name: value})
                assert r.status_code in (200, 422), (page, name, value[:20], r.text[-300:])
                if r.status_code == 422:  # the page says what it could not use
                    assert "<html" in r.text and value[:50] in r.text, (page, name, value[:20])
