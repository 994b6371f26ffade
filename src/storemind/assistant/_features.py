"""The assistant's inputs from the store: the ``questions`` and ``items`` tables, and a
customer's recent searches."""
from __future__ import annotations

from typing import Any

import pandas as pd

from storemind.errors import DataError

__all__ = ["questions_of", "items_of", "recent_searches"]

_Q_COLS = ["question_id", "question", "answer", "intent", "source", "item_id", "split"]
_I_COLS = ["item_id", "title", "category", "brand", "price", "description", "attributes"]


def _count(store: Any, table: str) -> int:
    try:
        return int(store.count(table))
    except Exception:  # the table does not exist in this store
        return 0


def questions_of(store: Any) -> pd.DataFrame:
    """The ``questions`` table (empty frame when absent), ordered by question_id."""
    if _count(store, "questions") == 0:
        return pd.DataFrame(columns=_Q_COLS)
    q = store.table("questions")
    return store.execute(q.select(*_Q_COLS).order_by("question_id"))


def items_of(store: Any) -> pd.DataFrame:
    """The ``items`` table with its text columns (empty frame when absent)."""
    if _count(store, "items") == 0:
        return pd.DataFrame(columns=_I_COLS)
    t = store.table("items")
    return store.execute(t.select(*_I_COLS).order_by("item_id"))


def recent_searches(store: Any, user_id: str, n: int = 5) -> pd.DataFrame:
    """The user's last ``n`` search events with a query text (columns query, ts), newest
    first."""
    if _count(store, "events") == 0:
        return pd.DataFrame(columns=["query", "ts"])
    e = store.table("events")
    expr = (e.filter((e.user_id == user_id) & (e.event_type == "search") & e.query.notnull())
            .select("query", "ts").order_by(e.ts.desc()).limit(n))
    return store.execute(expr)


def require(frame: pd.DataFrame, table: str, what: str) -> None:
    if frame.empty:
        raise DataError(f"the assistant needs rows in the {table!r} table for {what}; it is "
                        "empty or missing (load one, e.g. `storemind load bitext` or "
                        "`storemind demo`)")
