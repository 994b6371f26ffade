"""The Store: the one object that speaks to the database.

The embedded default is one DuckDB file; capabilities read tables as Ibis expressions
(``store.table("events")``) and run them with ``store.execute(expr)``, so the same pipeline code
runs on Spark through :class:`storemind.store.SparkStore`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd

from storemind.errors import IngestError, NotFoundError, StoreLockedError  # noqa: F401
from storemind.store._ingest import IngestReport, build_key_filter, ingest_source
from storemind.store._keys import KeyFilter
from storemind.store._reading import TableReader
from storemind.store.schema import QUARANTINE, TABLES, TableSchema, table_schema

__all__ = ["Store"]


def _ddl(schema: TableSchema, *, temp: bool = False) -> str:
    """The table's CREATE statement (``temp``: a fresh temporary table of that name)."""
    cols = [f'"{c.name}" {c.type}' + (" NOT NULL" if c.required else "") for c in schema.columns]
    # no PRIMARY KEY: ingestion keeps keys unique itself (an anti-join on insert), which is
    # about twice as fast as maintaining the index (docs/decisions.md)
    create = "CREATE OR REPLACE TEMP TABLE" if temp else "CREATE TABLE IF NOT EXISTS"
    return f'{create} "{schema.name}" (' + ", ".join(cols) + ")"


class Store(TableReader):
    """The canonical tables in one DuckDB file (or in memory with ``path=":memory:"``).

    Parameters
    ----------
    path : str or Path
        The database file; its folder is created. ``":memory:"`` keeps everything in memory.
    read_only : bool
        Open without write access (several readers may share a file).
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            holder = str(exc).split("held in", 1)[-1].split(". See", 1)[0].strip()
            raise StoreLockedError(
                f"the store {self.path} is in use by another process ({holder}); a running "
                "server holds it: stop it, or work through it (storemind train, ingest and "
                "status go through a running server)"
            ) from None
        self._lock = threading.RLock()
        self._key_filters: dict[str, KeyFilter] = {}
        if not read_only:
            for schema in [*TABLES.values(), QUARANTINE]:
                self._con.execute(_ddl(schema))
        self._ibis_backend: Any = None  # made on first use: wrapping costs ~0.1 s

    @property
    def _ibis(self) -> Any:
        if self._ibis_backend is None:
            self._ibis_backend = ibis.duckdb.from_connection(self._con)
        return self._ibis_backend

    @classmethod
    def open(cls, settings: Any = None, *, read_only: bool = False) -> Store:
        """The store under ``settings.home`` (default: ``Settings()`` from the environment)."""
        from storemind.config import get_settings

        settings = settings or get_settings()
        return cls(settings.db_path, read_only=read_only)

    # -- reading -------------------------------------------------------------------------
    @property
    def engine(self) -> str:
        return "duckdb"

    @property
    def tables(self) -> list[str]:
        return list(TABLES)

    def table(self, name: str) -> ibis.Table:
        """Canonical table ``name`` as an Ibis expression."""
        if name != "quarantine":
            table_schema(name)
        with self._lock:  # ibis asks the connection for the schema; one thread at a time
            return self._ibis.table(name)

    def execute(self, expr: ibis.Expr) -> pd.DataFrame | pd.Series | Any:
        """Run an Ibis expression on this store's engine; pandas out."""
        with self._lock:
            return self._ibis.execute(expr)

    def counts(self) -> dict[str, int]:
        """Rows in every canonical table and in quarantine."""
        return {name: self.count(name) for name in [*TABLES, "quarantine"]}

    def quarantine_summary(self) -> pd.DataFrame:
        """Quarantined rows counted by table, source and reason."""
        q = self.table("quarantine")
        return self.execute(
            q.group_by(["table_name", "source", "reason"])
            .aggregate(rows=q.count())
            .order_by(ibis.desc("rows"))
        )

    def quarantined(self, table: str | None = None, source: str | None = None) -> pd.DataFrame:
        """The quarantined rows (of one ``table`` and/or ``source`` when given), in the order
        they came: ``quarantine_table``, ``quarantine_source``, ``quarantine_line``,
        ``quarantine_column`` and ``quarantine_reason``, then each field as the source wrote
        it (a line the reader could not split keeps its text in ``quarantine_raw``).
        Fixed and ingested again, such a file stores its rows: ingestion skips these
        ``quarantine_*`` columns."""
        if table is not None:
            table_schema(table)
        where, args = [], []
        for col, value in (("table_name", table), ("source", source)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        sql = ("SELECT table_name, source, line, column_name, reason, raw FROM quarantine"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY ingested_at, table_name, source, line")
        with self._lock:
            q = self._con.execute(sql, args).df()
        fields, unsplit = [], []
        for raw in q["raw"]:
            try:
                doc = json.loads(raw) if isinstance(raw, str) else None
            except ValueError:
                doc = None
            fields.append(doc if isinstance(doc, dict) else {})
            unsplit.append(None if isinstance(doc, dict) else raw)
        out = q.drop(columns="raw").set_axis(
            [f"quarantine_{c}" for c in ("table", "source", "line", "column", "reason")], axis=1)
        out["quarantine_line"] = out["quarantine_line"].astype("Int64")
        if any(u is not None for u in unsplit):
            out["quarantine_raw"] = unsplit
        return pd.concat([out, pd.DataFrame(fields, index=out.index)], axis=1)

    def clear_quarantine(self, table: str | None = None, source: str | None = None) -> int:
        """Delete quarantined rows (of one ``table`` and/or ``source`` when given), e.g. once
        they are fixed and stored; returns how many."""
        if table is not None:
            table_schema(table)
        where, args = ["TRUE"], []
        for col, value in (("table_name", table), ("source", source)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        with self._lock:
            return int(self._con.execute(
                "DELETE FROM quarantine WHERE " + " AND ".join(where), args).fetchone()[0])

    def events_per_day(self, event_types: Iterable[str] | None = None) -> pd.DataFrame:
        """Events per day and type: columns day, event_type, events."""
        e = self.table("events")
        if event_types is not None:
            e = e.filter(e.event_type.isin(list(event_types)))
        day = e.ts.truncate("D").name("day")
        out = self.execute(
            e.group_by([day, e.event_type])
            .aggregate(events=e.count())
            .order_by(["day", "event_type"])
        )
        return out

    # -- writing -------------------------------------------------------------------------
    def ingest(
        self,
        table: str,
        source: str | Path | pd.DataFrame,
        *,
        mapping: Mapping[str, str] | None = None,
        fmt: str | None = None,
        source_name: str | None = None,
        delimiter: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        progress: bool = False,
        time_format: str | None = None,
        decimal: str | None = None,
        encoding: str | None = None,
        dry_run: bool = False,
    ) -> IngestReport:
        """Validate and store a CSV, Parquet or JSONL file, or a pandas frame, into ``table``.

        Bad rows go to ``quarantine`` with source, line, column and reason; rows whose key is
        already stored count as duplicates and change nothing. ``mapping`` renames source
        columns (theirs -> ours); ``defaults`` fills a column that is absent or blank with a
        constant (e.g. ``{"event_type": "purchase"}``). ``time_format`` (strptime codes, e.g.
        ``"%m/%d/%Y %H:%M"``) reads times written the file's own way, such as a date whose
        day and month only the file's convention tells apart. ``decimal`` (``"."`` or
        ``","``) is the file's decimal separator; without it a number's form decides
        (``2,55``, ``1.234,50`` and ``1,234.50`` are read; ``1,234`` is quarantined as
        ambiguous). Currency signs and codes around a number are dropped. ``encoding``
        (utf-8, utf-16, latin-1) is a CSV file's text encoding; without it, it is read from
        the file's first MiB (a Windows export in Windows-1252 reads as latin-1). Raises
        :class:`IngestError` when the source cannot be read at all or lacks a required column.
        ``dry_run`` checks the source and reports what would be stored, found duplicate and
        quarantined, and stores nothing (not for ``order_lines``).

        ``table="order_lines"`` reads an order-lines export (order_id, ts, item_id, quantity,
        unit_price, optionally user_id, kind, title, ...) and fills ``orders``,
        ``order_items``, ``events``, ``items`` and ``users`` from it; their reports are in
        the returned report's ``derived`` (see ``docs/store.md``).
        """
        if table == "order_lines":
            from storemind.store._order_lines import ingest_order_lines

            if dry_run:
                raise IngestError("a check without storing is not available for order_lines "
                                  "(it fills five tables); ingest into a scratch store instead")

            def store_file(name: str, path: Path, src: str) -> IngestReport:
                return self._ingest(name, path, source_name=src)

            with self._lock:
                return ingest_order_lines(
                    self._con, source, store_file, mapping=dict(mapping or {}),
                    defaults={k: str(v) for k, v in (defaults or {}).items()},
                    source_name=source_name, fmt=fmt, delimiter=delimiter,
                    time_format=time_format, decimal=decimal, encoding=encoding)
        return self._ingest(table, source, mapping=mapping, fmt=fmt, source_name=source_name,
                            delimiter=delimiter, defaults=defaults, progress=progress,
                            time_format=time_format, decimal=decimal, encoding=encoding,
                            dry_run=dry_run)

    def _ingest(
        self,
        table: str,
        source: str | Path | pd.DataFrame,
        *,
        mapping: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        progress: bool = False,
        filtered: bool = False,
        return_keys: bool = False,
        **options: Any,
    ) -> IngestReport:
        """:meth:`ingest` and :meth:`append`; ``options`` (fmt, source_name, delimiter,
        time_format, decimal, encoding, dry_run) go to the ingester as they are."""
        schema = table_schema(table)
        with self._lock:
            if not filtered:  # a bulk write: the key filter rebuilds when next needed
                self._key_filters.pop(table, None)
            if progress:  # the engine's own progress bar, on the terminal, for long reads
                self._con.execute("SET enable_progress_bar = true")
                self._con.execute("SET enable_progress_bar_print = true")
            try:
                return ingest_source(
                    self._con,
                    schema,
                    source,
                    mapping=dict(mapping or {}),
                    defaults={k: str(v) for k, v in (defaults or {}).items()},
                    key_filters=self._key_filters if filtered else None,
                    return_keys=return_keys,
                    **options,
                )
            finally:
                if progress:
                    self._con.execute("SET enable_progress_bar = false")

    def append(
        self,
        table: str,
        rows: pd.DataFrame | list[dict[str, Any]],
        source_name: str = "<api>",
        *,
        return_keys: bool = False,
    ) -> IngestReport:
        """Ingest in-memory rows (a frame or a list of dicts) with the same validation.

        Meant for small, frequent writes (live events): a filter of the stored keys' hashes
        spares each call a scan of the whole table. ``return_keys`` lists the keys of the rows
        this call stored in ``report.new_keys``."""
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if frame.empty:
            return IngestReport(table=table, source=source_name, new_keys=[])
        return self._ingest(table, frame, source_name=source_name, filtered=True,
                            return_keys=return_keys)

    def prepare_appends(self, table: str) -> None:
        """Build now the filter of stored keys that :meth:`append` uses (a server calls this
        at start, so that its first live write does not pay for it)."""
        schema = table_schema(table)
        with self._lock:
            self._key_filters[table] = build_key_filter(self._con, schema)

    def snapshot(self, folder: str | Path) -> Path:
        """Write every canonical table to ``folder/<table>.parquet`` (consistent: one read
        transaction); :meth:`from_snapshot` reads it back."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            try:
                for name in TABLES:
                    target = str(out / f"{name}.parquet").replace("'", "''")
                    self._con.execute(f"COPY \"{name}\" TO '{target}' (FORMAT parquet)")
            finally:
                self._con.execute("COMMIT")
        return out

    @classmethod
    def from_snapshot(cls, folder: str | Path) -> Store:
        """An in-memory store holding the tables of a :meth:`snapshot` folder."""
        src = Path(folder)
        if not src.is_dir():
            raise NotFoundError(f"no snapshot folder {src}")
        store = cls(":memory:")
        with store._lock:
            for name in TABLES:
                path = src / f"{name}.parquet"
                if path.is_file():
                    p = str(path).replace("'", "''")
                    store._con.execute(f"INSERT INTO \"{name}\" SELECT * FROM read_parquet('{p}')")
        return store

    def export_parquet(self, table: str, path: str | Path) -> Path:
        """Write a canonical table to a Parquet file (used to hand data to Spark)."""
        table_schema(table)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._con.execute(f"COPY \"{table}\" TO '{out}' (FORMAT parquet)")
        return out

    def clear(self, table: str) -> None:
        """Delete every row of a table (used by tests and ``storemind init --force``)."""
        if table != "quarantine":
            table_schema(table)
        with self._lock:
            self._key_filters.pop(table, None)
            self._con.execute(f'DELETE FROM "{table}"')

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"
