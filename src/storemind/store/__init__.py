"""The store: canonical tables on DuckDB (embedded default) or Spark, through Ibis."""

from __future__ import annotations

from storemind.store._ingest import FORMATS, IngestReport, format_of
from storemind.store._store import Store
from storemind.store._values import TIME_RANGE
from storemind.store.schema import EVENT_TYPES, TABLES, Column, TableSchema, table_schema
from storemind.store.spark import SparkStore

__all__ = [
    "Store",
    "SparkStore",
    "IngestReport",
    "FORMATS",
    "format_of",
    "TIME_RANGE",
    "TABLES",
    "EVENT_TYPES",
    "Column",
    "TableSchema",
    "table_schema",
]
