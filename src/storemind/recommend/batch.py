"""Recommendations for many customers at once, to a file: for an e-mail campaign, a nightly
feed to a shop platform, or a look at what the model would send.

Each list is the one ``GET /v1/users/{id}/recommendations`` gives (the serving code answers it, from
the current version: the served model, business filters, reasons), so a file and the live
API never disagree for the same model and history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from storemind.errors import DataError
from storemind.recommend.service import RecommendService, ServeSettings

__all__ = ["recommend_many", "read_user_ids", "COLUMNS"]

#: The columns of :func:`recommend_many`'s frame, one row per customer and rank.
COLUMNS = ["user_id", "rank", "item_id", "title", "score", "reason", "strategy",
           "model_version"]


def recommend_many(registry: Any, users: Iterable[str] | None = None, *, k: int = 10,
                   store: Any = None, exclude_purchased: bool = True,
                   category: str | None = None, max_price: float | None = None,
                   step: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Top-``k`` for each of ``users`` (default: every customer the current version knows,
    in its order), one row per customer and rank (:data:`COLUMNS`). An unknown id gets the
    cold-start list (``strategy`` popular). ``step(n)`` is called after each customer (a
    progress bar).

    Raises
    ------
    NotFittedError
        No recommend model is registered.
    DataError
        ``k`` outside what the API allows (``STOREMIND_LIVE_MAX_K``).
    """
    service = RecommendService(registry, store=store, settings=ServeSettings(cache_size=0))
    snap = service.current()
    ids = list(snap.user_pos) if users is None else [str(u).strip() for u in users]
    ids = [u for u in ids if u]
    rows: list[tuple[Any, ...]] = []
    for n, user in enumerate(ids, 1):
        answer = service.recommend(user, k, exclude_purchased=exclude_purchased,
                                   category=category, max_price=max_price)
        rows.extend((user, rank, it["item_id"], it["title"], it["score"], it["reason"],
                     answer["strategy"], answer["model_version"])
                    for rank, it in enumerate(answer["items"], 1))
        if step is not None:
            step(n)
    return pd.DataFrame(rows, columns=COLUMNS)


def read_user_ids(path: str | Path) -> list[str]:
    """Customer ids from a file: a CSV with a ``user_id`` column, or one id per line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"cannot read {path}: no such file")
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    lines = [line for line in lines if line]
    if lines and "," in lines[0]:
        frame = pd.read_csv(path, dtype=str)
        if "user_id" not in frame.columns:
            raise DataError(f"{path} has several columns and none is user_id: "
                            f"{list(frame.columns)}")
        return frame["user_id"].dropna().tolist()
    return lines[1:] if lines and lines[0] == "user_id" else lines
