"""What a pipeline reads from a store, written once over ``table(name)`` and
``execute(expr)``: the DuckDB :class:`~storemind.store.Store` and the
:class:`~storemind.store.SparkStore` both answer it, so capability code never asks which engine
it runs on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ibis
import pandas as pd

from storemind.store.schema import table_schema

__all__ = ["TableReader"]


class TableReader:
    """Reading helpers over ``self.table(name)`` (an Ibis table) and ``self.execute(expr)``."""

    tables: list[str]

    def table(self, name: str) -> ibis.Table:  # pragma: no cover - each store defines it
        raise NotImplementedError

    def execute(self, expr: ibis.Expr) -> Any:  # pragma: no cover - each store defines it
        raise NotImplementedError

    def frame(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """A whole canonical table as a pandas frame (use Ibis for anything large)."""
        t = self.table(name)
        if columns is not None:
            t = t.select(*columns)
        return self.execute(t)

    def count(self, name: str) -> int:
        return int(self.execute(self.table(name).count()))

    def counts(self) -> dict[str, int]:
        """Rows in every table this store holds."""
        return {name: self.count(name) for name in self.tables}

    def time_range(self, name: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """First and last timestamp of a table (None, None for a table without time or rows)."""
        col = table_schema(name).time_column
        if col is None:
            return None, None
        t = self.table(name)
        row = self.execute(t.aggregate(lo=t[col].min(), hi=t[col].max()))
        lo, hi = row["lo"].iloc[0], row["hi"].iloc[0]
        return (
            None if pd.isna(lo) else pd.Timestamp(lo),
            None if pd.isna(hi) else pd.Timestamp(hi),
        )
