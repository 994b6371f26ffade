"""MovieLens 100K: 100,000 explicit 1-5 ratings by 943 users of 1,682 movies (GroupLens, 1998).

items: title, genres (``|``-joined) as category, release date as ``created_at``; users: age,
gender, occupation and zip code in attributes; events: one ``rating`` per (user, movie) with
``value`` = the rating and ``ts`` from the unix time.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from storemind.datasets._base import Dataset, Frames, json_column, unix_to_ts
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["MOVIELENS_100K", "read_movielens_100k", "read_movielens_100k_fold"]

_REPO, _COMMIT = "LilJohny/ReccomendationResearch", "2a833e4f6cc08f3e34a8e45cf1cbe7fd5a0a1abc"
_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
           "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
           "Romance", "Sci-Fi", "Thriller", "War", "Western")


def _remote(name: str, gz: bool) -> RemoteFile:
    plain = name.removesuffix(".gz")
    return RemoteFile(name, github_raw(_REPO, _COMMIT, f"ml-100k/{plain}"),
                      (gzip_bytes,) if gz else ())


def _ratings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "ts"],
                       dtype={"user_id": str, "item_id": str})


def _events(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": "ml-" + raw.user_id + "-" + raw.item_id,
        "user_id": raw.user_id,
        "item_id": raw.item_id,
        "event_type": "rating",
        "value": raw.rating.astype(float),
        "ts": unix_to_ts(raw.ts.to_numpy()).to_numpy(),
    })


def _read(data_dir: Path) -> Frames:
    cols = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *_GENRES]
    it = pd.read_csv(data_dir / "u.item.gz", sep="|", names=cols, encoding="latin-1",
                     dtype={"item_id": str, "video_release_date": str})
    flags = it[list(_GENRES)].astype(bool)
    genres = flags.apply(lambda r: [g for g in _GENRES if r[g]], axis=1)
    items = pd.DataFrame({
        "item_id": it.item_id,
        "title": it.title,
        "category": genres.map("|".join).replace("", None),
        "created_at": pd.to_datetime(it.release_date, format="%d-%b-%Y", errors="coerce"),
        "attributes": json_column(
            pd.DataFrame({"genres": genres, "imdb_url": it.imdb_url,
                          "release_date": it.release_date})),
    })
    us = pd.read_csv(data_dir / "u.user", sep="|",
                     names=["user_id", "age", "gender", "occupation", "zip_code"],
                     dtype={"user_id": str, "zip_code": str})
    users = pd.DataFrame({
        "user_id": us.user_id,
        "attributes": json_column(us, ["age", "gender", "occupation", "zip_code"]),
    })
    events = _events(_ratings(data_dir / "u.data.gz"))
    return Frames({"items": items, "users": users, "events": events})


def read_movielens_100k(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """MovieLens 100K as canonical ``items``, ``users`` and ``events`` frames.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return MOVIELENS_100K.read(data_dir, download=download)


def read_movielens_100k_fold(
    fold: int, data_dir: str | Path | None = None, *, download: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The official cross-validation fold ``fold`` (1-5) as (train, test) canonical events."""
    if fold not in (1, 2, 3, 4, 5):
        raise ValueError(f"MovieLens 100K has folds 1..5; got {fold!r}")
    data_dir = MOVIELENS_100K.ensure(data_dir, download=download)
    return (_events(_ratings(data_dir / f"u{fold}.base.gz")),
            _events(_ratings(data_dir / f"u{fold}.test.gz")))


MOVIELENS_100K = Dataset(
    name="movielens_100k",
    folder="movielens_100k",
    description="MovieLens 100K: 100,000 1-5 star ratings, 943 users, 1,682 movies (explicit "
                "feedback, top-N and rating prediction).",
    tables=("items", "users", "events"),
    reader=_read,
    files=(
        _remote("u.data.gz", True), _remote("u.item.gz", True), _remote("u.user", False),
        *(_remote(f"u{k}.{part}.gz", True) for k in range(1, 6) for part in ("base", "test")),
    ),
    terms="GroupLens: research use only, no commercial use without permission; cite Harper & "
          "Konstan (2015).",
)
