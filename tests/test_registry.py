"""Registry: versions, meta.json, atomic current pointer, rollback, no half-written versions."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from storemind.errors import NotFoundError, RegistryError
from storemind.registry import Registry


def _writer(value: float):
    def write(folder: Path) -> None:
        np.savez(folder / "w.npz", w=np.full(3, value))

    return write


def test_register_list_current_and_rollback(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    v1 = reg.register(
        "recommend", _writer(1.0), params={"k": 10}, metrics={"ndcg@10": 0.31}, data={"events": 100}
    )
    v2 = reg.register("recommend", _writer(2.0), metrics={"ndcg@10": 0.35})
    assert (v1.version, v2.version) == ("v0001", "v0002")
    assert reg.current_version("recommend") == "v0002"
    assert [v.version for v in reg.versions("recommend")] == ["v0001", "v0002"]
    meta = json.loads((v1.path / "meta.json").read_text())
    assert meta["params"] == {"k": 10} and meta["data"] == {"events": 100}
    assert meta["created_at"].endswith("+00:00")
    back = reg.rollback("recommend")
    assert back.version == "v0001" and reg.get("recommend").metrics == {"ndcg@10": 0.31}
    with np.load(reg.get("recommend").path / "w.npz", allow_pickle=False) as z:
        assert z["w"][0] == 1.0
    with pytest.raises(RegistryError, match="no earlier version"):
        reg.rollback("recommend")
    reg.rollback("recommend", "v0002")
    assert reg.current_version("recommend") == "v0002"
    assert reg.capabilities() == ["recommend"]


def test_failed_write_leaves_nothing_and_current_unchanged(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.register("risk", _writer(1.0))

    def broken(folder: Path) -> None:
        (folder / "half.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        reg.register("risk", broken)
    assert [v.version for v in reg.versions("risk")] == ["v0001"]
    assert reg.current_version("risk") == "v0001"
    assert not [p for p in (tmp_path / "risk").iterdir() if p.name.startswith(".incoming")]


def test_unknown_things_are_clear_errors(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(NotFoundError, match="storemind train risk"):
        reg.get("risk")
    reg.register("risk", _writer(1.0))
    with pytest.raises(NotFoundError, match="has no version 'v0009'"):
        reg.get("risk", "v0009")
    with pytest.raises(RegistryError, match="lower-case"):
        reg.register("Risk!", _writer(1.0))


def test_concurrent_registrations_get_distinct_versions(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    errors: list[Exception] = []

    def go(i: int) -> None:
        try:
            Registry(tmp_path).register("customers", _writer(float(i)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(reg.versions("customers")) == 8
    assert reg.current_version("customers") in {v.version for v in reg.versions("customers")}


def test_prune_keeps_the_newest_and_the_current(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    for i in range(5):
        reg.register("recommend", _writer(float(i)))
    reg.rollback("recommend", "v0001")  # an old version made current again
    assert [v.version for v in reg.prune("recommend", 2, dry_run=True)] == ["v0002", "v0003"]
    assert len(reg.versions("recommend")) == 5  # a dry run deletes nothing
    gone = reg.prune("recommend", 2)
    assert [v.version for v in gone] == ["v0002", "v0003"]
    assert [v.version for v in reg.versions("recommend")] == ["v0001", "v0004", "v0005"]
    assert reg.current_version("recommend") == "v0001"
    assert not any(p.name.startswith(".") for p in (tmp_path / "models" / "recommend").iterdir()
                   if p.name != "current")
    # numbering goes on after the newest, never reusing a deleted number
    assert reg.register("recommend", _writer(9.0)).version == "v0006"
    assert reg.prune("recommend", 10) == []
    with pytest.raises(RegistryError, match="at least 1"):
        reg.prune("recommend", 0)


def test_prune_removes_stale_incoming_folders_only(tmp_path: Path) -> None:
    import os
    import time

    reg = Registry(tmp_path / "models")
    reg.register("risk", _writer(1.0))
    cap = tmp_path / "models" / "risk"
    old, fresh = cap / ".incoming-old", cap / ".incoming-fresh"  # a crashed and a live training
    old.mkdir()
    fresh.mkdir()
    two_days_ago = time.time() - 2 * 86_400
    os.utime(old, (two_days_ago, two_days_ago))
    reg.prune("risk", 1)
    assert not old.exists() and fresh.exists()
    assert reg.get("risk").version == "v0001"
