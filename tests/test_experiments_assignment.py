"""Assignment: deterministic hashing, weights, traffic, layers, targeting, exposure logging, and
the HTTP routes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.errors import DataError, NotFoundError
from storemind.experiments import (
    Experiment,
    analyze,
    assign,
    load_experiment,
    log_exposure,
    log_exposures,
    register_experiment,
)

USERS = [f"u{i}" for i in range(20_000)]


def test_deterministic_and_weighted():
    e = Experiment("checkout", {"control": 1, "a": 1, "b": 2})
    first = [assign(e, u).variant for u in USERS]
    assert first == [assign(e, u).variant for u in USERS]
    share = pd.Series(first).value_counts(normalize=True)
    # binomial sd of a share with n=20,000 is <= 0.0036; 4 sd
    assert abs(share["b"] - 0.5) < 0.015 and abs(share["control"] - 0.25) < 0.015
    other = Experiment("checkout", {"control": 1, "a": 1, "b": 2}, salt="v2")
    moved = np.mean([assign(other, u).variant != v for u, v in zip(USERS, first, strict=True)])
    assert moved > 0.4  # a new salt re-randomises


def test_traffic_share_and_ramp_up_keeps_users():
    low = Experiment("ramp", traffic=0.2)
    high = Experiment("ramp", traffic=0.6)
    a_low = {u: assign(low, u) for u in USERS}
    inside = [u for u, a in a_low.items() if a.in_experiment]
    assert abs(len(inside) / len(USERS) - 0.2) < 0.015
    assert all(assign(high, u).variant == a_low[u].variant for u in inside)
    assert {a.reason for a in a_low.values()} == {"assigned", "outside_traffic"}


def test_layers_are_mutually_exclusive():
    a = Experiment("hero", layer="home", layer_range=(0.0, 0.5))
    b = Experiment("banner", layer="home", layer_range=(0.5, 1.0))
    both = [(assign(a, u).in_experiment, assign(b, u).in_experiment) for u in USERS[:5000]]
    assert not any(x and y for x, y in both)
    assert sum(x or y for x, y in both) == 5000


def test_targeting():
    e = Experiment("nl-only", targeting={"country": ["NL", "BE"]})
    assert assign(e, "u1", {"country": "DE"}).reason == "not_targeted"
    assert assign(e, "u1", {}).reason == "not_targeted"
    assert assign(e, "u1", {"country": "NL"}).in_experiment


def test_bad_settings_are_refused():
    with pytest.raises(DataError, match="at least 2 variants"):
        Experiment("x", {"only": 1})
    with pytest.raises(DataError, match="traffic"):
        Experiment("x", traffic=0)
    with pytest.raises(DataError, match="non-empty"):
        assign(Experiment("x"), "  ")


def test_register_load_log_and_analyze(store):
    e = Experiment("price", {"control": 1, "treatment": 1}, layer="pricing",
                   layer_range=(0, 0.5), planned_units=2000)
    register_experiment(store, e)
    assert load_experiment(store, "price") == e
    assert register_experiment(store, e) == e  # idempotent
    with pytest.raises(DataError, match="overlap"):
        register_experiment(store, Experiment("price2", layer="pricing", layer_range=(0.4, 1)))
    with pytest.raises(DataError, match="other settings"):
        register_experiment(store, Experiment("price", traffic=0.5))
    with pytest.raises(NotFoundError):
        load_experiment(store, "nope")
    rng = np.random.default_rng(0)
    ts = pd.Timestamp("2026-01-01")
    for i, u in enumerate(USERS[:20]):
        a = assign(e, u)
        assert log_exposure(store, a, ts + pd.Timedelta(minutes=i)) == a.in_experiment
    assigned = [assign(e, u) for u in USERS[:3000]]
    stamps = [ts + pd.Timedelta(minutes=i) for i in range(3000)]
    inside = [a for a in assigned if a.in_experiment]
    # the first 20 users are already logged: only the first exposure is kept
    already = sum(a.in_experiment for a in assigned[:20])
    stamps_in = [t for a, t in zip(assigned, stamps, strict=True) if a.in_experiment]
    assert log_exposures(store, inside, stamps_in) == len(inside) - already
    exp = store.frame("exposures")
    assert exp.exposure_id.is_unique and set(exp.arm) == {"control", "treatment"}
    # outcomes as purchases after exposure, in the events table
    buyers = exp.sample(frac=0.3, random_state=1)
    store.append("events", pd.DataFrame({
        "user_id": buyers.user_id, "event_type": "purchase", "value": rng.gamma(2, 10, len(buyers)),
        "ts": buyers.ts + pd.Timedelta(hours=1), "session_id": "s-" + buyers.user_id}))
    report = analyze(store, "price", ["events.purchase"])
    row = report.to_frame().iloc[0]
    assert row.n_variant + row.n_control == len(exp)
    assert 0.2 < row.mean_control < 0.4 and not report.srm.flagged
    assert "price" in report.to_text()


def test_api_routes(store):
    from fastapi.testclient import TestClient

    from storemind.api.app import create_app
    from storemind.config import Settings

    register_experiment(store, Experiment("api-exp", {"control": 1, "treatment": 1},
                                          targeting={"country": ["NL"]}))
    store.append("users", [{"user_id": "u1", "country": "NL"}, {"user_id": "u2",
                                                               "country": "DE"}])
    app = create_app(Settings(), store=store, capabilities=["experiments"])
    with TestClient(app) as client:
        r = client.get("/v1/experiments/api-exp/assignment", params={"user_id": "u1"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["in_experiment"] and body["logged"]
        assert body["variant"] == assign(load_experiment(store, "api-exp"), "u1",
                                         {"country": "NL"}).variant
        again = client.get("/v1/experiments/api-exp/assignment", params={"user_id": "u1"})
        assert again.json()["variant"] == body["variant"] and not again.json()["logged"]
        out = client.get("/v1/experiments/api-exp/assignment", params={"user_id": "u2"})
        assert out.json()["reason"] == "not_targeted"
        assert client.get("/v1/experiments/nope/assignment",
                          params={"user_id": "u1"}).status_code == 404
        assert client.get("/v1/experiments/api-exp/assignment").status_code == 422
