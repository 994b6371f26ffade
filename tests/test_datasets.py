"""The public dataset loaders, on the real files in the shared data folder.

Expected counts come from each dataset's README (/work/shared/data/<folder>/README.md).
"""
from __future__ import annotations

import gzip
import io
import json
import zipfile

import pandas as pd
import pytest

from storemind.datasets import (
    DATASETS,
    Dataset,
    RemoteFile,
    _download,
    load_dataset,
    read_cdnow,
    read_creditcard_fraud,
    read_movielens_100k_fold,
)
from storemind.errors import NotFoundError
from storemind.store import TABLES

# name -> {table: rows read} from the READMEs (or, where the README gives none, the obvious
# count: one campaign, one generic item)
EXPECTED = {
    "movielens_100k": {"items": 1682, "users": 943, "events": 100_000},
    "amazon_beauty": {"items": 12_101, "users": 22_363, "events": 198_502},
    "cdnow": {"users": 23_570, "order_items": 69_659, "items": 1},
    "hillstrom": {"users": 64_000, "campaigns": 1, "exposures": 64_000},
    "creditcard_fraud": {"payments": 1722},
    "fraud_ecommerce": {"users": 51_689, "payments": 51_689},
    "banking77": {"questions": 10_003 + 3080},
    "bitext": {"questions": 8175},
    "amazon_qa": {"questions": 9011},
    "ecommerce_faq": {"questions": 79},
    "open_bandit": {"exposures": 60_000, "campaigns": 3, "items": 80 + 34 + 46},
    "diginetica": {"events": 12_391},
    "taobao": {"events": 4321},
}


def _adds_up(report) -> None:
    for r in report.values():
        assert r.read == r.stored + r.duplicates + r.quarantined, str(r)


def test_catalogue_lists_every_dataset_with_a_description():
    want = {"movielens_100k", "amazon_beauty", "online_retail", "cdnow", "hillstrom", "walmart",
            "creditcard_fraud", "fraud_ecommerce", "banking77", "bitext", "amazon_qa",
            "ecommerce_faq", "open_bandit", "diginetica", "taobao"}
    assert set(DATASETS) == want
    for name, d in DATASETS.items():
        assert isinstance(d, Dataset) and d.name == name
        assert len(d.description) > 20 and d.terms
        assert set(d.tables) <= set(TABLES)
        assert d.files and all(f.url.startswith("https://") for f in d.files)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_small_dataset_loads_with_readme_counts_and_is_idempotent(name, store, data_dir):
    first = load_dataset(name, store, data_dir, progress=False)
    _adds_up(first)
    assert set(first) == set(DATASETS[name].tables)
    for table, n in EXPECTED[name].items():
        assert first[table].read == n, str(first[table])
    quarantined = sum(r.quarantined for r in first.values())
    # only the taobao 'fav' rows have no canonical home (README: 128 fav rows)
    assert quarantined == (128 if name == "taobao" else 0), str(first)
    counts = store.counts()
    second = load_dataset(name, store, data_dir, progress=False)
    _adds_up(second)
    assert all(r.stored == 0 for r in second.values()), str(second)
    assert store.counts() == counts


def test_online_retail_orders_lines_and_cancellations(store, data_dir):
    rep = load_dataset("online_retail", store, data_dir, progress=False)
    _adds_up(rep)
    dropped = sum(n for reason, n in rep.notes.items() if "dropped" in reason)
    # README: 541,909 lines; 1,336 stock adjustments + 3 bad-debt lines are dropped, with notes
    assert rep["order_items"].read + dropped == 541_909
    assert dropped == 1336 + 3
    assert rep["order_items"].stored == rep["order_items"].read
    assert rep["items"].stored == 4070 and rep["users"].stored == 4372  # README
    orders = store.frame("orders")
    assert orders.order_id.is_unique and len(orders) == 25_900 - 1336 - 3  # README: 25,900
    cancel = orders[orders.kind == "cancellation"]
    assert len(cancel) > 0 and cancel.order_id.str.startswith("C").all()
    assert (orders.kind[~orders.order_id.str.startswith("C")] == "sale").all()
    lines = store.frame("order_items")
    assert (lines.quantity > 0).all()
    assert lines.order_id.str.startswith("C").sum() == 9288  # README: 9,288 cancellation rows
    # README: sum of Quantity x UnitPrice 9,747,747.93, i.e. sales - cancellations + the
    # dropped bad-debt lines (-11,062.06 x 2 + 11,062.06)
    signed = (orders.total.where(orders.kind == "sale", -orders.total)).sum()
    assert signed - 11_062.06 == pytest.approx(9_747_747.93, abs=0.05)
    guests = orders[orders.user_id.isna()]
    assert len(guests) > 0  # kept, not dropped
    # README: 135,080 lines without CustomerID, of which 1,336 + 3 dropped
    assert lines.order_id.isin(guests.order_id).sum() + 1336 + 3 == 135_080
    assert pd.api.types.is_datetime64_any_dtype(orders.ts)
    events = store.frame("events", ["user_id", "event_type", "value"])
    assert (events.event_type == "purchase").all() and events.user_id.notna().all()
    assert events.value.dtype == "float64"
    again = load_dataset("online_retail", store, data_dir, progress=False)
    assert all(r.stored == 0 for r in again.values()), str(again)


def test_walmart_sales(store, data_dir):
    rep = load_dataset("walmart", store, data_dir, progress=False)
    _adds_up(rep)
    assert rep["sales"].stored == 421_570 and rep["items"].stored == 81  # README
    t = store.table("sales")
    stats = store.execute(t.aggregate(
        stores=t.location_id.nunique(), weeks=t.ts.nunique(), neg=(t.revenue < 0).sum(),
        hol=t.is_holiday.sum(), promo=t.promo.notnull().sum()))
    # README: 45 stores, 143 weeks, 1,285 negative weekly sales
    assert stats.stores[0] == 45 and stats.weeks[0] == 143 and stats.neg[0] == 1285
    assert 0 < stats.hol[0] < 421_570 and 0 < stats.promo[0] < 421_570
    row = store.execute(t.filter((t.location_id == "1") & (t.item_id == "1")).order_by("ts")
                        .limit(1))
    assert row.revenue[0] == pytest.approx(24924.5)  # first line of train.csv
    attrs = json.loads(row.attributes[0])
    assert attrs["store_type"] == "A" and attrs["Temperature"] == pytest.approx(42.31)


def test_key_columns_are_typed(store, data_dir):
    load_dataset("movielens_100k", store, data_dir, progress=False)
    load_dataset("hillstrom", store, data_dir, progress=False)
    ev = store.frame("events")
    assert ev.user_id.map(type).eq(str).all() and ev.item_id.map(type).eq(str).all()
    assert pd.api.types.is_datetime64_any_dtype(ev.ts)
    assert ev.value.between(1, 5).all() and set(ev.event_type) == {"rating"}
    lo, hi = store.time_range("events")
    assert str(lo) == "1997-09-20 03:05:10" and str(hi) == "1998-04-22 23:10:38"  # README
    users = store.frame("users")
    ml = users[~users.user_id.str.startswith("hillstrom-")]
    assert json.loads(ml.attributes.iloc[0]).keys() >= {"age", "gender", "occupation"}
    ex = store.frame("exposures")
    # README: arm sizes and totals
    assert ex.arm.value_counts().to_dict() == {
        "Womens E-Mail": 21_387, "Mens E-Mail": 21_307, "No E-Mail": 21_306}
    assert ex.visited.sum() == 9394 and ex.converted.sum() == 578
    assert ex.spend.sum() == pytest.approx(67_258.13, abs=0.01)


def test_fraud_and_cdnow_totals_match_readmes(data_dir):
    pay = read_creditcard_fraud(data_dir)["payments"]
    fraud = pay[pay.is_fraud == 1]
    assert len(fraud) == 492 and fraud.amount.sum() == pytest.approx(60_127.97, abs=0.01)
    frames = DATASETS["cdnow"].read(data_dir)
    assert frames["orders"].total.sum() == pytest.approx(2_500_315.63, abs=0.05)
    fe = DATASETS["fraud_ecommerce"].read(data_dir)["payments"]
    assert fe.is_fraud.sum() == 4832 and fe.ip.notna().sum() == 30_189
    assert fe.ip.iloc[0] == "43.173.1.96"  # 732758368.8 as a dotted address
    assert fe.country.notna().sum() > 20_000


def test_movielens_folds_partition_the_ratings(data_dir):
    train, test = read_movielens_100k_fold(1, data_dir)
    assert len(train) == 80_000 and len(test) == 20_000  # README
    assert not set(train.event_id) & set(test.event_id)
    with pytest.raises(ValueError, match="folds 1..5"):
        read_movielens_100k_fold(6, data_dir)


def test_missing_folder_says_where_and_how_to_fetch(tmp_path, store):
    with pytest.raises(NotFoundError) as err:
        load_dataset("hillstrom", store, tmp_path, progress=False)
    text = str(err.value)
    assert str(tmp_path / "hillstrom") in text and "download=True" in text
    with pytest.raises(NotFoundError, match="known datasets"):
        load_dataset("no_such_data", store, tmp_path)


def test_data_dir_from_environment(monkeypatch, data_dir, tmp_path):
    monkeypatch.setenv("STOREMIND_DATA", str(data_dir))
    assert len(DATASETS["ecommerce_faq"].read()["questions"]) == 79
    monkeypatch.setenv("STOREMIND_DATA", str(tmp_path))
    with pytest.raises(NotFoundError, match="STOREMIND_DATA"):
        DATASETS["ecommerce_faq"].read()


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_writes_the_files_with_a_fake_opener(monkeypatch, tmp_path, store, data_dir):
    src = (data_dir / "ecommerce_faq" / "Ecommerce_FAQ_Chatbot_dataset.json").read_bytes()
    asked = []

    def fake_urlopen(url, timeout=None):
        asked.append(url)
        return _FakeResponse(src)

    monkeypatch.setattr(_download, "urlopen", fake_urlopen)
    rep = load_dataset("ecommerce_faq", store, tmp_path, download=True, progress=False)
    assert rep["questions"].stored == 79
    assert asked == [DATASETS["ecommerce_faq"].files[0].url]
    assert "raw.githubusercontent.com/Ziniya147/Chatbot/" in asked[0]
    assert (tmp_path / "ecommerce_faq" / "Ecommerce_FAQ_Chatbot_dataset.json").read_bytes() == src
    load_dataset("ecommerce_faq", store, tmp_path, download=True, progress=False)
    assert len(asked) == 1  # present files are not fetched again


def test_download_failure_is_a_clear_error(monkeypatch, tmp_path):
    def offline(url, timeout=None):
        raise OSError("network is unreachable")

    monkeypatch.setattr(_download, "urlopen", offline)
    with pytest.raises(NotFoundError, match="could not download https://.*unreachable"):
        DATASETS["hillstrom"].read(tmp_path, download=True)
    assert not list(tmp_path.rglob("*.gz")) and not list(tmp_path.rglob("*.part"))


def test_download_transforms(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x/train.csv", "a,b\n1,2\n")
    remote = RemoteFile("train.csv.gz", "https://example.invalid/train.csv.zip",
                        (_download.unzip_member("train.csv"), _download.gzip_bytes))
    out = _download.download_file(remote, tmp_path / "d" / "train.csv.gz",
                                  opener=lambda url, timeout=None: _FakeResponse(buf.getvalue()))
    assert gzip.decompress(out.read_bytes()) == b"a,b\n1,2\n"
    conflict = b"h\n<<<<<<< HEAD\nx\n=======\nx\n>>>>>>> other\nz\n"
    assert _download.resolve_merge_conflict(conflict) == b"h\nx\nz\n"


def test_read_returns_canonical_frames_without_a_store(data_dir):
    frames = read_cdnow(data_dir)
    assert set(frames) == {"items", "users", "orders", "order_items"}
    for table, frame in frames.items():
        assert set(frame.columns) <= set(TABLES[table].names)
    # README: 69,659 lines; several lines on one customer-day become one order, counted
    merged = frames.notes["orders: source lines merged into an earlier order of the same "
                          "customer and day"]
    assert len(frames["orders"]) + merged == 69_659


def test_docs_example_runs(monkeypatch, data_dir):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "datasets.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("STOREMIND_DATA", str(data_dir))
    exec(compile(code, "docs/datasets.md", "exec"), {})
