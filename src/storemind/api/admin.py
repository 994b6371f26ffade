"""Service routes for commands run while a server holds the store.

DuckDB lets one process write a store file. While the server holds it, ``storemind train``
asks the server for a snapshot (Parquet files of every table, taken in one read transaction),
trains from it and registers the new version; the server then hot-swaps to it. Likewise
``storemind ingest`` puts the file in ``STOREMIND_HOME/inbox/`` and asks the server to ingest
it (the server reads only from that folder, never a path a request names elsewhere).
"""
from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from storemind.errors import DataError, NotFoundError

__all__ = ["router", "KEEP_SNAPSHOTS", "INBOX", "IngestIn", "IngestOut", "QuarantineOut"]

#: Files to ingest are dropped here (under ``STOREMIND_HOME``) by ``storemind ingest``.
INBOX = "inbox"

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


class IngestIn(BaseModel):
    """A file already in ``STOREMIND_HOME/inbox/`` to validate and store into ``table``."""

    model_config = ConfigDict(extra="forbid")

    table: str = Field(min_length=1, max_length=100)
    file: str = Field(min_length=1, max_length=300, description="Name inside the inbox.")
    source_name: str | None = Field(None, max_length=500,
                                    description="Name to record as the source (quarantine).")
    mapping: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    format: str | None = Field(None, max_length=20)
    delimiter: str | None = Field(None, max_length=5)
    time_format: str | None = Field(
        None, max_length=100, description="How the file writes times, in strptime codes "
        "(e.g. %m/%d/%Y %H:%M); ISO times and Unix seconds are read without it.")
    decimal: Literal[".", ","] | None = Field(
        None, description="The file's decimal separator; without it a number's form decides "
        "and 1,234 (1234 or 1.234) is quarantined.")
    encoding: str | None = Field(
        None, max_length=20, description="A CSV file's text encoding (utf-8, utf-16, "
        "latin-1); without it, read from the file's first MiB.")
    dry_run: bool = Field(False, description="Check only: report what would be stored, found "
                          "duplicate and quarantined; store nothing.")
    keep: bool = Field(False, description="Keep the file in the inbox afterwards.")


class IngestOut(BaseModel):
    """An :class:`~storemind.store.IngestReport` as JSON."""

    table: str
    source: str
    read: int
    stored: int
    duplicates: int
    quarantined: int
    reasons: dict[str, int]
    ignored_columns: list[str]
    ok: bool
    derived: dict[str, IngestOut] = Field(
        default_factory=dict,
        description="Tables filled from the file besides its own (an order-lines file).")


@router.post("/admin/ingest", response_model=IngestOut)
def ingest(body: IngestIn, request: Request) -> IngestOut:
    """Ingest a file from the inbox as ``storemind ingest`` does (bad rows to quarantine,
    duplicates skipped) into the store this server holds; the file is removed afterwards
    unless ``keep``. Events loaded this way reach the models at their next training; live
    updates come from ``POST /v1/events``."""
    settings, store = request.app.state.settings, request.app.state.store
    inbox = (settings.home / INBOX).resolve()
    path = (inbox / body.file).resolve()
    if path.parent != inbox:
        raise DataError(f"file must be a plain name inside {inbox}; got {body.file!r}")
    if not path.is_file():
        raise NotFoundError(f"no file {body.file!r} in {inbox}")
    try:
        report = store.ingest(body.table, path, mapping=body.mapping, fmt=body.format,
                              source_name=body.source_name or path.name,
                              delimiter=body.delimiter, defaults=body.defaults,
                              time_format=body.time_format, decimal=body.decimal,
                              encoding=body.encoding, dry_run=body.dry_run)
    finally:
        if not body.keep:
            path.unlink(missing_ok=True)
    return IngestOut.model_validate(report, from_attributes=True)


class QuarantineOut(BaseModel):
    """Quarantined rows as :meth:`Store.quarantined` gives them."""

    total: int = Field(description="Rows matching table and source.")
    rows: list[dict[str, Any]] = Field(
        description="The first `limit` of them: quarantine_table, quarantine_source, "
        "quarantine_line, quarantine_column, quarantine_reason, then the row's fields as "
        "its file wrote them.")


@router.get("/admin/quarantine", response_model=QuarantineOut)
def quarantine(request: Request, table: str | None = Query(None, max_length=100),
               source: str | None = Query(None, max_length=500),
               limit: int = Query(1000, ge=1, le=10_000)) -> QuarantineOut:
    """The rows ingestion refused, with where each came from and why (as `storemind export
    quarantine` writes them; the dashboard links the same as CSV)."""
    rows = request.app.state.store.quarantined(table, source)
    head = rows.head(limit).astype(object)
    records = head.where(head.notna(), None).to_dict(orient="records")
    return QuarantineOut(total=len(rows), rows=records)

