"""The dashboard: overview page, capability pages and their registration, local plotly.js,
and a real browser rendering the chart."""
from __future__ import annotations

import contextlib
import importlib.machinery
import io
import socket
import sys
import threading
import time
import types
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.config import Settings
from storemind.dashboard import CAPABILITY_INFO
from storemind.errors import NotFittedError


def _events(n_days: int = 10) -> pd.DataFrame:
    rows = []
    for d in range(n_days):
        kinds = ["view"] * (6 + 3 * (d % 3)) + ["cart"] * (2 + d % 2) + ["purchase"]
        for k, kind in enumerate(kinds):
            rows.append({"event_id": f"e{d}-{k}", "user_id": f"u{k}", "item_id": f"i{d % 4}",
                         "event_type": kind, "ts": f"2024-05-{d + 1:02d} {k:02d}:00:00"})
    return pd.DataFrame(rows)


@pytest.fixture()
def app(tmp_path, store):
    settings = Settings(home=tmp_path / "home", api_keys="k")
    return create_app(settings, store, capabilities=())


@pytest.fixture()
def client(app):
    return TestClient(app)


def test_overview_shows_tables_ranges_and_chart(client, store):
    store.append("events", _events())
    bad = pd.DataFrame([{"event_id": "x", "user_id": "u", "event_type": "teleport",
                         "ts": "2024-05-01"}])
    store.ingest("events", bad, source_name="bad.csv")
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert '<script src="/static/plotly.min.js"></script>' in html
    assert 'id="events-per-day"' in html and "Plotly.newPlot" in html
    assert "2024-05-01 00:00" in html and "2024-05-10 09:00" in html  # events date range
    assert "unknown value (expected view/click/cart/purchase/rating/search)" in html
    assert "bad.csv" in html
    # each quarantine row links to its rows as CSV, to fix and ingest again
    link = "/dashboard/quarantine.csv?table=events&amp;source=bad.csv"
    assert link in html
    got = client.get(link.replace("&amp;", "&"))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = pd.read_csv(io.StringIO(got.text))
    assert rows.event_type.tolist() == ["teleport"] and rows.quarantine_source[0] == "bad.csv"
    assert client.get("/dashboard/quarantine.csv?table=nope").status_code == 404
    for cap in CAPABILITY_INFO:
        assert f'href="/dashboard/{cap}"' in html
    # experiments has no model: the page must not send anyone to `storemind train experiments`
    # (an unknown capability for train)
    assert "storemind train experiments" not in html
    assert "no model: analysed from the store on each request" in html
    assert "storemind train recommend" in html  # an untrained capability with a model says so
    assert "https://" not in html and "cdn" not in html.lower()  # works offline
    assert "older events are not shown" not in html
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert 'rel="icon" href="/static/favicon.svg"' in html


def test_events_chart_keeps_to_recent_days_and_shows_gaps_as_zero(client, store):
    """An epoch-0 time from a broken export must not stretch the chart over 54 years."""
    from storemind.dashboard._overview import events_figure

    ev = _events(10)
    ev = ev[~ev.ts.str.startswith("2024-05-05")]  # a day without events
    old = pd.DataFrame([{"event_id": "z", "user_id": "u", "event_type": "view",
                         "ts": "1970-01-01 00:00:00"}])
    store.append("events", pd.concat([ev, old]))
    fig, note = events_figure(store, days=30)
    assert note is not None and note.startswith("1 older events are not shown")
    assert "earliest event is from 1970-01-01" in note
    views = next(t for t in fig.data if t.name == "view")
    assert pd.Timestamp(views.x[0]) == pd.Timestamp("2024-05-01") and len(views.x) == 10
    assert views.y[4] == 0 and min(views.y[:4]) > 0  # the empty day is a 0, not skipped
    assert sum(views.y) == (ev.event_type == "view").sum()
    assert "1 older events are not shown" in client.get("/").text  # 365 days by default
    store.append("events", pd.DataFrame([{"event_id": "z2", "user_id": "u",
                                          "event_type": "view", "ts": "2022-01-01"}]))
    assert "2 older events are not shown" in client.get("/").text



def test_overview_of_an_empty_store(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "No events yet" in r.text
    assert "No rows quarantined" in r.text


def test_plotly_js_served_from_the_package(client):
    import plotly

    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    r = client.get("/static/plotly.min.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) == shipped.stat().st_size
    assert client.get("/static/style.css").status_code == 200


@pytest.mark.parametrize("cap", list(CAPABILITY_INFO))
def test_capability_pages_say_what_to_do(client, cap):
    r = client.get(f"/dashboard/{cap}")
    assert r.status_code == 200
    assert CAPABILITY_INFO[cap][0] in r.text
    if cap == "experiments":  # nothing to train; with no exposures it says what to log
        assert "storemind train" not in r.text and "no experiment has exposures yet" in r.text
    else:
        assert (f"storemind train {cap}" in r.text or "Coming." in r.text
                or "Current model" in r.text)


def test_unknown_capability_page_is_404(client):
    r = client.get("/dashboard/astrology")
    assert r.status_code == 404
    assert "There is no capability" in r.text and "astrology" in r.text


def test_trained_capability_without_page_shows_its_model(app, client):
    app.state.registry.register("risk", lambda p: (p / "m.txt").write_text("x"),
                                metrics={"auc": 0.91234})
    r = client.get("/dashboard/risk")
    assert "Current model: <b>v0001</b>" in r.text
    assert "auc 0.9123" in r.text
    assert "auc 0.9123" in client.get("/").text


def _fake_page(monkeypatch, cap: str, page) -> None:
    import storemind

    pkg = types.ModuleType(f"storemind.{cap}")
    pkg.__path__ = []
    pkg.__spec__ = importlib.machinery.ModuleSpec(f"storemind.{cap}", None, is_package=True)
    mod = types.ModuleType(f"storemind.{cap}.dashboard")
    mod.__spec__ = importlib.machinery.ModuleSpec(f"storemind.{cap}.dashboard", None)
    mod.page = page
    monkeypatch.setitem(sys.modules, f"storemind.{cap}", pkg)
    monkeypatch.setitem(sys.modules, f"storemind.{cap}.dashboard", mod)
    monkeypatch.setattr(storemind, cap, pkg, raising=False)


def test_registered_capability_page_renders(monkeypatch, client, store):
    store.append("events", _events(2))

    def page(request, store, registry):
        return "message.html", {"message": f"{store.count('events')} events seen by the page"}

    _fake_page(monkeypatch, "marketing", page)
    r = client.get("/dashboard/marketing")
    assert r.status_code == 200
    assert "22 events seen by the page" in r.text
    assert 'class="active' in r.text  # navigation marks the page


def test_page_of_untrained_capability_says_so(monkeypatch, client):
    def page(request, store, registry):
        raise NotFittedError("no churn model yet; run `storemind train behavior`")

    _fake_page(monkeypatch, "behavior", page)
    r = client.get("/dashboard/behavior")
    assert r.status_code == 200
    assert "no churn model yet" in r.text


def test_broken_page_does_not_take_the_site_down(monkeypatch, client):
    def page(request, store, registry):
        raise ZeroDivisionError("oops")

    _fake_page(monkeypatch, "operations", page)
    r = client.get("/dashboard/operations")
    assert r.status_code == 500
    assert "this page failed: ZeroDivisionError" in r.text
    assert client.get("/").status_code == 200


# -- a real browser ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _browser_on(app, wait_s: float = 60):
    """The app served by a real uvicorn in a thread, and a headless Chromium page:
    yields (page, base URL, page errors seen)."""
    import uvicorn
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + wait_s
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                yield page, f"http://127.0.0.1:{port}", errors
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.browser
def test_browser_renders_overview_chart(tmp_path, store):
    store.append("events", _events(14))
    app = create_app(Settings(home=tmp_path / "home", api_keys="k"), store, capabilities=())
    shot = tmp_path / "overview.png"
    with _browser_on(app) as (page, base, errors):
        page.goto(f"{base}/", wait_until="load")
        page.wait_for_selector("#events-per-day .main-svg", timeout=15_000)
        traces = page.locator("#events-per-day .scatterlayer .trace").count()
        assert traces == 3  # view, cart, purchase
        assert page.locator("nav a").count() == 1 + len(CAPABILITY_INFO)
        assert errors == []
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    out = Path(__import__("os").environ.get("STOREMIND_SCREENSHOT", "")).expanduser()
    if str(out) not in ("", "."):
        out.write_bytes(shot.read_bytes())


@pytest.mark.browser
def test_browser_every_trained_page_fits_its_charts(trained_home):
    """Every capability page of a trained store in a real browser: no script error, and every
    chart as wide as its card, not wider (charts drawn while the page was still being parsed
    kept the width of a whole row, hiding most of the customers' segment map)."""
    app = create_app(Settings(home=trained_home, api_keys="k"))
    pages = ["/", *[f"/dashboard/{c}" for c in CAPABILITY_INFO], "/dashboard/recommend/live"]
    charts = 0
    with _browser_on(app) as (page, base, errors):
        for path in pages:
            r = page.goto(f"{base}{path}", wait_until="load")
            assert r is not None and r.status == 200, path
            page.wait_for_timeout(300)  # the resize after load
            sizes = page.evaluate("""() => [...document.querySelectorAll(
                '.js-plotly-plot')].map(g => [g.id,
                g.querySelector('.main-svg').getBoundingClientRect().width,
                g.closest('.card').clientWidth])""")
            for chart_id, width, card in sizes:
                assert width <= card, f"{path} #{chart_id}: {width:.0f}px in {card}px"
            charts += len(sizes)
            assert not errors, f"{path}: {errors}"
    assert charts >= 15  # the pages drew their charts


def test_customer_page_reads_churn_drivers_plainly(trained_home):
    """Drivers are named in words and percentile features shown as percentiles (they were
    raw names with sixteen-digit fractions)."""
    import re

    from storemind.behavior import pipeline
    from storemind.registry import Registry

    settings = Settings(home=trained_home, api_keys="k")
    scores = pipeline.load_scores(Registry(settings.models_path)).dropna(subset=["churn_risk"])
    uid = scores.user_id.iloc[0]
    with TestClient(create_app(settings)) as client:
        html = client.get(f"/dashboard/customers?user={uid}").text
    table = html.split("<th>driver</th>", 1)[1].split("</table>", 1)[0]
    assert "percentile " in table and "_pct" not in table
    assert not re.search(r"\d\.\d{6,}", table)  # no long fractions


def test_model_free_capabilities_are_the_ones_without_training():
    """The dashboard's MODEL_FREE (declared, so that rendering the navigation imports no
    pipeline) must match what `storemind train` derives: a pipeline without `train`."""
    from storemind.cli import available_capabilities
    from storemind.dashboard.routes import MODEL_FREE, _exists

    with_pipeline = {c for c in CAPABILITY_INFO if _exists(f"storemind.{c}.pipeline")}
    assert MODEL_FREE == with_pipeline - set(available_capabilities())
