"""`storemind train` in another process while the real server holds the store: the trainer
asks the server for a snapshot, registers a new version, and the server switches to it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import uvicorn

from storemind.api import create_app
from storemind.config import Settings
from storemind.datasets import simulate
from storemind.store import Store

KEY = "train-while-serving"


def _wait_healthy(base: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"no healthy server at {base}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_train_through_running_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = Store(home / "store.duckdb")
    simulate(store, n_users=250, n_items=50, n_days=30, seed=5, progress=False)
    port = _free_port()
    settings = Settings(home=home, api_keys=KEY, port=port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        before = httpx.get(f"{base}/v1/users/nobody/recommendations", timeout=10)
        assert before.status_code == 409  # not trained yet: says so, no 500
        env = {**os.environ, "STOREMIND_HOME": str(home), "STOREMIND_API_KEYS": KEY,
               "STOREMIND_PORT": str(port), "STOREMIND_RECOMMEND_BUDGET": "1",
               "STOREMIND_RECOMMEND_MODELS": "popularity,itemknn,als"}
        done = subprocess.run([sys.executable, "-m", "storemind.cli", "train", "recommend"],
                              env=env, capture_output=True, text=True, timeout=300)
        out = " ".join((done.stdout + done.stderr).split())
        assert done.returncode == 0, out[-3000:]
        assert "asking it for a snapshot" in out
        assert (home / "models" / "recommend" / "current").read_text().strip() == "v0001"
        user = store.frame("events").user_id.iloc[0]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = httpx.get(f"{base}/v1/users/{user}/recommendations", timeout=10)
            if reply.status_code == 200:
                break
            time.sleep(0.2)
        assert reply.status_code == 200, reply.text
        assert reply.json()["model_version"] == "v0001"
        assert len(reply.json()["items"]) == 10
        # without a key the trainer cannot ask, and says what to do
        env.pop("STOREMIND_API_KEYS")
        refused = subprocess.run([sys.executable, "-m", "storemind.cli", "train", "recommend"],
                                 env=env, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1
        assert "STOREMIND_API_KEYS" in refused.stdout + refused.stderr
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def test_cli_ingest_and_status_through_running_server(tmp_path: Path) -> None:
    """`storemind ingest` and `status` while the server holds the store: the file goes to
    the server's inbox and the server ingests it (bad rows to quarantine, re-runs store
    nothing twice); status shows the server's row counts."""
    home = tmp_path / "home"
    store = Store(home / "store.duckdb")
    port = _free_port()
    settings = Settings(home=home, api_keys=KEY, port=port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store, capabilities=()),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    events = tmp_path / "events.csv"
    events.write_text("event_id,user_id,item_id,event_type,value,ts\n"
                      "e1,u1,i1,view,,2024-01-01\ne2,,i1,view,,2024-01-02\n"
                      "e3,u2,i2,purchase,9.5,2024-01-03\n")
    env = {**os.environ, "STOREMIND_HOME": str(home), "STOREMIND_API_KEYS": KEY,
           "STOREMIND_PORT": str(port)}

    def cli(*args: str, **extra: str) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "storemind.cli", *args],
                              env={**env, **extra}, capture_output=True, text=True, timeout=120)
        return done.returncode, " ".join((done.stdout + done.stderr).split())

    try:
        _wait_healthy(f"http://127.0.0.1:{port}")
        rc, out = cli("ingest", "events", str(events))
        assert rc == 0, out
        assert "handing the file to it" in out
        assert "read 3 = stored 2 + duplicates 0 + quarantined 1" in out
        assert "missing required value in column user_id" in out
        assert store.count("events") == 2
        assert set(store.frame("quarantine").source) == {str(events)}  # the user's file name
        rc, out = cli("ingest", "events", str(events))
        assert rc == 0 and "stored 0 + duplicates 2" in out
        garbage = tmp_path / "garbage.csv"
        garbage.write_bytes(bytes(range(256)) * 20)
        rc, out = cli("ingest", "events", str(garbage))
        assert rc == 1 and f"cannot read {garbage}" in out and "inbox" not in out
        rc, out = cli("ingest", "astrology", str(events))
        assert rc == 1 and "unknown table 'astrology'" in out
        assert list((home / "inbox").iterdir()) == []  # nothing left behind
        assert store.count("events") == 2  # nothing stored by the failures
        rc, out = cli("status")
        assert rc == 0, out
        assert "events │ 2" in out and "counted by the server" in out
        rc, out = cli("ingest", "events", str(events), STOREMIND_API_KEYS="")
        assert rc == 1 and "set STOREMIND_API_KEYS" in out
        rc, out = cli("ingest", "--dataset", "cdnow")
        assert rc == 1 and "stop it to load the dataset 'cdnow'" in out
        # an order-lines export fills orders, order_items and events through the server too
        lines = tmp_path / "lines.csv"
        lines.write_text("order_id,user_id,ts,item_id,quantity,unit_price\n"
                         "o1,u1,2024-01-05,i1,2,3.5\no1,u1,2024-01-05,i2,1,1\n"
                         "o2,u2,2024-01-06,i1,0,3.5\n")
        rc, out = cli("ingest", "order_lines", str(lines))
        assert rc == 0, out
        assert "order_lines <- " in out
        assert "read 3 = stored 2 + duplicates 0 + quarantined 1" in out
        assert "orders <- " in out and "zero quantity in column quantity" in out
        assert store.count("orders") == 1 and store.count("order_items") == 2
        assert store.count("events") == 4
        # the time format and the decimal separator reach the server's reader
        us = tmp_path / "us.csv"
        us.write_text("event_id;user_id;event_type;value;ts\nu1;u1;view;1,250;2/24/2015 22:55\n")
        us.write_bytes(us.read_text().replace("u1;u1;", "u1;ü1;").encode("latin-1"))
        rc, out = cli("ingest", "events", str(us), "--time-format", "%m/%d/%Y %H:%M",
                      "--decimal", ",", "--encoding", "latin-1")
        assert rc == 0 and "stored 1" in out, out
        row = store.frame("events").set_index("event_id").loc["u1"]
        assert (row.ts, row.value, row.user_id) == (pd.Timestamp("2015-02-24 22:55"), 1.25,
                                                    "ü1")
        # a folder of daily files: each goes to the server in turn
        daily = tmp_path / "daily"
        daily.mkdir()
        for day in (1, 2):
            (daily / f"day{day}.csv").write_text(
                f"event_id,user_id,event_type,ts\nd{day},u1,view,2024-02-0{day}\n")
        rc, out = cli("ingest", "events", str(daily), "--check")
        assert rc == 0 and "nothing was stored" in out and "d1" not in set(
            store.frame("events").event_id), out
        rc, out = cli("ingest", "events", str(daily))
        assert rc == 0 and "events <- 2 files: read 2 = stored 2" in " ".join(out.split()), out
        assert {"d1", "d2"} <= set(store.frame("events").event_id)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
