"""Service routes: a consistent snapshot of the store for a trainer in another process.

DuckDB lets one process write a store file. While the server holds it, ``storemind train``
asks the server for a snapshot (Parquet files of every table, taken in one read transaction),
trains from it and registers the new version; the server then hot-swaps to it.
"""
from __future__ import annotations

import shutil
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

__all__ = ["router", "KEEP_SNAPSHOTS"]

KEEP_SNAPSHOTS = 3
router = APIRouter(tags=["service"])


class Snapshot(BaseModel):
    path: str
    tables: dict[str, int]


@router.post("/admin/snapshot", response_model=Snapshot)
def snapshot(request: Request) -> Snapshot:
    """Write every table to Parquet under ``STOREMIND_HOME/snapshots/<time>/`` (the oldest
    beyond the last three are removed) and return the folder."""
    settings, store = request.app.state.settings, request.app.state.store
    root = settings.home.resolve() / "snapshots"
    folder = root / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    store.snapshot(folder)
    for old in sorted(p for p in root.iterdir() if p.is_dir())[:-KEEP_SNAPSHOTS]:
        shutil.rmtree(old, ignore_errors=True)
    return Snapshot(path=str(folder), tables=store.counts())
