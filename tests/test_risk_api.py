"""Risk end to end on a simulated store: train, real-time decisions through the API (whose
features must equal the offline replay's), labels, alert queue, hot-reloaded rules, dashboard."""
from __future__ import annotations

import math
import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.config import Settings
from storemind.datasets import simulate
from storemind.registry import Registry
from storemind.risk import payment_records, replay
from storemind.risk.pipeline import train
from storemind.store import TABLES, Store

KEY = {"X-API-Key": "k"}
N_ONLINE = 40


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A simulated store whose newest payments are held back, to arrive through the API."""
    tmp = tmp_path_factory.mktemp("risk")
    full = Store(":memory:")
    truth = simulate(full, n_users=600, n_items=150, n_days=60, fraud_rate=0.03, seed=3,
                     campaign=False, progress=False)
    records = payment_records(full)
    offline = replay(records)  # every payment, in time order
    # the newest payments, reaching back far enough to hold five planted frauds
    fraud_pos = [i for i, p in enumerate(offline.index) if p in truth.fraud_patterns]
    online_ids = list(offline.index[min(len(offline) - N_ONLINE, fraud_pos[-5]):])
    store = Store(tmp / "store.duckdb")
    for t in ("items", "users", "orders", "order_items"):
        store.ingest(t, full.frame(t))
    pay = full.frame("payments")
    store.ingest("payments", pay[~pay.payment_id.isin(online_ids)])
    settings = Settings(home=tmp / "home", api_keys="k")
    version = train(store, Registry(settings.models_path), settings)
    client = TestClient(create_app(settings, store))
    yield {"truth": truth, "records": records.set_index("payment_id"), "offline": offline,
           "online_ids": online_ids, "store": store, "settings": settings,
           "version": version, "client": client}
    store.close()
    full.close()


def _body(rec: pd.Series, pid: str) -> dict:
    body = {"payment_id": pid, "ts": rec.ts.isoformat(), "amount": float(rec.amount)}
    for k in ("user_id", "order_id", "method", "card_id", "device_id", "ip", "country",
              "shipping_address", "basket_lines", "basket_units", "basket_max_price"):
        v = rec[k]
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            body[k] = v
    return body


def test_train_registers_metrics(world) -> None:
    m = world["version"].metrics
    assert m["holdout_frauds"] > 0
    # measured: 1.0 on this seed (simulated patterns are separable)
    assert m["holdout_roc_auc"] > 0.95
    # measured on this seed: 20 frauds in 92 holdout payments (card-testing bursts), all
    # blocked (block threshold from 95% precision), nothing reviewed; recall 1.0, precision 1.0
    assert 0 < m["holdout_review_rate"] + m["holdout_block_rate"] <= 0.3
    assert m["holdout_recall"] >= 0.9 and m["holdout_precision"] >= 0.9
    assert (world["version"].path / "scorer" / "gbm" / "meta.json").exists()


def test_online_features_equal_offline(world) -> None:
    client, recs = world["client"], world["records"]
    for pid in world["online_ids"]:
        r = client.post("/v1/payments/score", json=_body(recs.loc[pid], pid), headers=KEY)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["action"] in ("allow", "review", "block")
        assert 0 <= body["score"] <= 1
    live = client.app.state.risk_live
    offline = world["offline"]
    for pid in world["online_ids"]:
        online = live.decisions[pid]["features"]
        for name in offline.columns:
            a, b = offline.loc[pid, name], online[name]
            if isinstance(a, float) and math.isnan(a):
                assert b is None or (isinstance(b, float) and math.isnan(b)), (pid, name, b)
            else:
                assert a == b, (pid, name, a, b)


def test_flagged_fraud_has_reasons_and_alert_queue(world) -> None:
    client = world["client"]
    live = client.app.state.risk_live
    truth = world["truth"].fraud_patterns
    frauds = [p for p in world["online_ids"] if p in truth]
    flagged = [p for p in frauds if live.decisions[p]["action"] != "allow"]
    assert frauds and len(flagged) >= 0.8 * len(frauds)
    for p in flagged:
        assert live.decisions[p]["reasons"], p
    alerts = client.get("/v1/risk/alerts").json()
    assert all(a["action"] == "review" for a in alerts)
    assert [a["score"] for a in alerts] == sorted((a["score"] for a in alerts), reverse=True)


def test_repost_is_idempotent_and_label(world) -> None:
    client, recs = world["client"], world["records"]
    pid = world["online_ids"][0]
    first = client.get(f"/v1/payments/{pid}/decision").json()
    again = client.post("/v1/payments/score", json=_body(recs.loc[pid], pid), headers=KEY)
    assert again.json()["decided_at"] == first["decided_at"]
    r = client.post(f"/v1/payments/{pid}/label", json={"label": "chargeback"}, headers=KEY)
    assert r.status_code == 200 and r.json()["is_fraud"] == 1
    assert client.post(f"/v1/payments/{pid}/label", json={"label": "maybe"},
                       headers=KEY).status_code == 422
    assert client.post("/v1/payments/nope/label", json={"label": "fraud"},
                       headers=KEY).status_code == 404
    assert client.post(f"/v1/payments/{pid}/label", json={"label": "fraud"}).status_code == 401
    log = world["settings"].home / "risk" / "labels.jsonl"
    assert pid in log.read_text()


def test_payment_without_an_id_gets_one_from_its_content(world) -> None:
    """A checkout that sends no payment id is scored; the answer carries the id it got, a
    retry of the same payment gets the first decision, another payment another id."""
    client = world["client"]
    body = {"amount": 42.5, "ts": "2024-03-01T10:00:00", "user_id": "no-id-shopper",
            "device_id": "dev-9"}
    first = client.post("/v1/payments/score", json=body, headers=KEY)
    assert first.status_code == 200, first.text
    pid = first.json()["payment_id"]
    assert pid.startswith("p-") and len(pid) == 26
    again = client.post("/v1/payments/score", json=body, headers=KEY).json()
    assert (again["payment_id"], again["decided_at"]) == (pid, first.json()["decided_at"])
    assert client.get(f"/v1/payments/{pid}/decision").json()["payment_id"] == pid
    other = client.post("/v1/payments/score", json={**body, "amount": 43.0}, headers=KEY)
    assert other.json()["payment_id"] not in (pid, None)


def test_bad_payment_is_422(world) -> None:
    r = world["client"].post("/v1/payments/score", json={"payment_id": "x", "amount": -1,
                                                         "ts": "2024-01-01"}, headers=KEY)
    assert r.status_code == 422
    # found by schemathesis: years outside what pandas and the store hold were a 500
    for field, ts in [("ts", "0001-01-01T06:00:00+19:30"), ("ts", "9999-01-01T06:00:00"),
                      ("signup_ts", "0001-01-01T00:00:00")]:
        body = {"payment_id": "x", "amount": 1, "ts": "2024-01-01", field: ts}
        r = world["client"].post("/v1/payments/score", json=body, headers=KEY)
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["detail"]] == [field]
        assert "outside 1970-2200" in r.json()["detail"][0]["reason"]
    r = world["client"].post("/v1/payments/score", headers=KEY, json={
        "payment_id": "tz-1", "amount": 1, "ts": "2024-01-01T12:00:00+02:00"})
    assert r.status_code == 200, r.text


def test_decisions_reach_the_store(world) -> None:
    live = world["client"].app.state.risk_live
    live.flush()
    p = world["store"].frame("payments")
    got = p[p.payment_id.isin(world["online_ids"])]
    assert len(got) == len(world["online_ids"])
    assert got.attributes.str.contains('"risk"').all()
    assert "payments" in TABLES


def test_rules_hot_reload(world) -> None:
    client = world["client"]
    live = client.app.state.risk_live
    live.reload_every = 0.0
    path = live.rules_path
    old = path.read_text()
    try:
        path.write_text("version: 99\nrules:\n  - name: everything\n    when: amount >= 0\n"
                        "    action: block\n    reason: TEST_ALL\n")
        time.sleep(0.01)
        rec = world["records"].iloc[0]
        r = client.post("/v1/payments/score", json=_body(rec, "hot-reload-1"), headers=KEY)
        body = r.json()
        assert body["action"] == "block" and "TEST_ALL" in body["reasons"]
        assert body["rules_version"] == "99"
        path.write_text("version: 100\nrules:\n  - name: broken\n    when: nosuch > 1\n"
                        "    action: block\n    reason: X\n")
        rules = client.get("/v1/risk/rules").json()
        assert rules["version"] == "99" and "nosuch" in rules["error"]  # last good rules kept
    finally:
        path.write_text(old)


def test_dashboard_page(world) -> None:
    html = world["client"].get("/dashboard/risk").text
    assert 'id="risk-scores"' in html and 'id="risk-alerts"' in html
    assert 'id="risk-rules"' in html and "card_testing_burst" in html
