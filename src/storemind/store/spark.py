"""The second engine: the same canonical tables in a Spark session, read through Ibis.

Feature pipelines take anything with ``table(name)`` and ``execute(expr)``; a
:class:`SparkStore` gives them Spark instead of DuckDB. ``SparkStore.from_store`` hands the
tables over as Parquet files.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from storemind.store._reading import TableReader
from storemind.store.schema import TABLES, table_schema

if TYPE_CHECKING:
    from storemind.store._store import Store

__all__ = ["SparkStore", "spark_session"]


def spark_session(master: str = "local[2]", app_name: str = "storemind") -> Any:
    """A Spark session for storemind: loopback, no UI, UTC, few shuffle partitions."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    if master == "spark":
        master = "local[*]"
    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )


class SparkStore(TableReader):
    """Canonical tables as Spark views, with the Store's reading interface (``table``,
    ``execute``, ``frame``, ``count``, ``counts``, ``time_range``), so a capability's
    ``train(store, ...)`` computes its features on Spark when given one."""

    def __init__(self, session: Any):
        self.session = session
        self._ibis = ibis.pyspark.connect(session)
        self._loaded: set[str] = set()
        self._workdir: Path | None = None  # Parquet hand-over files this store owns

    @property
    def engine(self) -> str:
        return "spark"

    @property
    def tables(self) -> list[str]:
        """The canonical tables loaded into this store, in the canonical order."""
        return [name for name in TABLES if name in self._loaded]

    @classmethod
    def for_engine(cls, store: Store, engine: str) -> SparkStore:
        """Every canonical table of ``store`` in a Spark session for ``engine`` (``spark``:
        ``local[*]``; ``local[N]``; ``spark://host:port``), handed over as Parquet files that
        :meth:`close` deletes."""
        from storemind.errors import StoremindError

        try:
            import pyspark  # noqa: F401
        except ModuleNotFoundError:
            raise StoremindError(f"engine {engine!r} needs pyspark: pip install "
                                 "'storemind[spark]' (and Java 17)") from None
        try:
            session = spark_session(engine)
        except Exception as exc:  # no Java, or a master that does not answer
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoremindError(f"cannot start Spark for engine {engine!r}: {first}") from exc
        return cls.from_store(store, session)

    def close(self) -> None:
        """Delete the hand-over files (the session stays: it is shared in a process)."""
        import shutil

        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @classmethod
    def from_store(
        cls,
        store: Store,
        session: Any,
        tables: Iterable[str] | None = None,
        workdir: str | Path | None = None,
    ) -> SparkStore:
        """Copy ``tables`` (default: all) of a DuckDB store into Spark through Parquet."""
        out = cls(session)
        folder = Path(workdir or tempfile.mkdtemp(prefix="storemind-spark-"))
        if workdir is None:
            out._workdir = folder
        for name in tables or TABLES:
            path = store.export_parquet(name, folder / f"{name}.parquet")
            out.load_parquet(name, path)
        return out

    def load_parquet(self, name: str, path: str | Path) -> None:
        table_schema(name)
        self.session.read.parquet(str(path)).createOrReplaceTempView(name)
        self._loaded.add(name)

    def table(self, name: str) -> ibis.Table:
        table_schema(name)
        if name not in self._loaded:
            from storemind.errors import NotFoundError

            raise NotFoundError(f"table {name!r} was not loaded into this Spark store")
        return self._ibis.table(name)

    def execute(self, expr: ibis.Expr) -> pd.DataFrame | pd.Series | Any:
        return self._ibis.execute(expr)
