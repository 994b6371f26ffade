"""What every dataset loader shares: where the data lives, the loader object, the result types.

A loader reads one public dataset's files into canonical frames (``read``) and stores them with
``store.ingest`` (``load``), so validation, quarantine and idempotency are the store's. Anything a
loader drops or adjusts before ingestion is counted in ``notes`` with its reason, never silently.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from storemind.datasets._download import RemoteFile, download_file
from storemind.errors import NotFoundError, SchemaError
from storemind.store.schema import TABLES

if TYPE_CHECKING:
    from storemind.store import IngestReport, Store

__all__ = ["Dataset", "Frames", "DatasetReport", "resolve_data_dir", "json_column", "INGEST_ORDER"]

#: Tables are ingested in this order: what others refer to first.
INGEST_ORDER: tuple[str, ...] = (
    "items", "users", "campaigns", "orders", "order_items", "events", "payments", "sales",
    "stock", "exposures", "questions",
)


class Frames(dict):
    """Canonical frames by table name, plus ``notes``: rows dropped or adjusted, by reason."""

    def __init__(self, frames: Mapping[str, pd.DataFrame] | None = None,
                 notes: Mapping[str, int] | None = None):
        super().__init__(frames or {})
        self.notes: dict[str, int] = dict(notes or {})


class DatasetReport(dict):
    """``IngestReport`` by table name, plus the loader's ``notes`` (see :class:`Frames`)."""

    def __init__(self, reports: Mapping[str, IngestReport] | None = None,
                 notes: Mapping[str, int] | None = None):
        super().__init__(reports or {})
        self.notes: dict[str, int] = dict(notes or {})

    def __str__(self) -> str:
        lines = [str(r) for r in self.values()]
        lines += [f"note: {reason}: {n:,} rows" for reason, n in self.notes.items()]
        return "\n".join(lines)


def resolve_data_dir(data_dir: str | Path | None = None) -> tuple[Path, str]:
    """The datasets folder and how it was chosen: argument, ``STOREMIND_DATA``, else
    ``../shared/data`` relative to the current directory."""
    if data_dir is not None:
        return Path(data_dir), "the data_dir argument"
    env = os.environ.get("STOREMIND_DATA")
    if env:
        return Path(env), "the STOREMIND_DATA environment variable"
    return Path.cwd() / ".." / "shared" / "data", "the default ../shared/data"


def json_column(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.Series:
    """One JSON object per row from ``columns`` (missing values become null), as text."""
    cols = list(frame.columns if columns is None else columns)
    if not cols or frame.empty:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    sub = frame[cols]
    text = sub.to_json(orient="records", lines=True, force_ascii=False)
    lines = text.replace("\\/", "/").rstrip("\n").split("\n")
    return pd.Series(lines, index=frame.index, dtype=object)


def _check_frame(dataset: str, table: str, frame: pd.DataFrame) -> None:
    schema = TABLES[table]
    extra = sorted(set(frame.columns) - set(schema.names))
    if extra:
        raise SchemaError(
            f"loader {dataset!r} built table {table} with column(s) {extra} that it does not "
            f"have; its columns are {schema.names}"
        )


@dataclass(frozen=True)
class Dataset:
    """One public dataset: where it lives, how to fetch it, and how to read it.

    Parameters
    ----------
    name : str
        The name ``load_dataset`` takes.
    folder : str
        Its folder under the datasets directory.
    description : str
        One line on what it is and what it is good for.
    tables : tuple of str
        The canonical tables it fills.
    reader : callable
        ``reader(folder) -> Frames``.
    files : tuple of RemoteFile
        The files it needs, each with the public address it is downloaded from.
    terms : str
        Licence or terms of use, in short.
    """

    name: str
    folder: str
    description: str
    tables: tuple[str, ...]
    reader: Callable[[Path], Frames] = field(repr=False)
    files: tuple[RemoteFile, ...] = field(default=(), repr=False)
    terms: str = ""

    def path(self, data_dir: str | Path | None = None) -> Path:
        """The dataset's folder (it may not exist)."""
        root, _ = resolve_data_dir(data_dir)
        return root / self.folder

    def missing(self, data_dir: str | Path | None = None) -> list[Path]:
        """The files this dataset needs that are not on disk."""
        folder = self.path(data_dir)
        return [folder / f.name for f in self.files if not (folder / f.name).is_file()]

    def download(self, data_dir: str | Path | None = None, *, opener: Any = None,
                 only_missing: bool = True) -> list[Path]:
        """Fetch the dataset's files from their public addresses into its folder."""
        folder = self.path(data_dir)
        done = []
        for remote in self.files:
            dest = folder / remote.name
            if only_missing and dest.is_file():
                continue
            done.append(download_file(remote, dest, opener=opener))
        return done

    def ensure(self, data_dir: str | Path | None = None, *, download: bool = False) -> Path:
        """The dataset's folder with every file present; fetches them when ``download``."""
        root, how = resolve_data_dir(data_dir)
        folder = root / self.folder
        missing = self.missing(data_dir)
        if missing and download:
            self.download(data_dir)
            missing = self.missing(data_dir)
        if missing:
            shown = ", ".join(str(p) for p in missing[:3]) + (" ..." if len(missing) > 3 else "")
            hint = ("" if download else
                    " Pass download=True to fetch it from its public source"
                    f" ({self.files[0].url if self.files else 'see its README'}).")
            raise NotFoundError(
                f"dataset {self.name!r} not found: looked in {folder} (data folder from {how}) "
                f"and missed {shown}.{hint} Or set STOREMIND_DATA to the folder holding "
                f"{self.folder}/."
            )
        return folder

    def read(self, data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
        """The dataset as canonical frames, without a store."""
        folder = self.ensure(data_dir, download=download)
        frames = self.reader(folder)
        for table, frame in frames.items():
            _check_frame(self.name, table, frame)
        return frames

    def load(self, store: Store, data_dir: str | Path | None = None, *, download: bool = False,
             progress: bool = True) -> DatasetReport:
        """Read the dataset and ingest every table into ``store`` (validated, idempotent)."""
        frames = self.read(data_dir, download=download)
        order = [t for t in INGEST_ORDER if t in frames] + [
            t for t in frames if t not in INGEST_ORDER]
        reports = DatasetReport(notes=frames.notes)
        bar = _progress(progress, f"loading {self.name}", len(order))
        try:
            for table in order:
                if bar is not None:
                    bar[0].update(bar[1], description=f"{self.name}: {table}")
                reports[table] = store.ingest(
                    table, frames[table], source_name=f"dataset:{self.name}/{table}")
                if bar is not None:
                    bar[0].advance(bar[1])
        finally:
            if bar is not None:
                bar[0].stop()
        return reports


def _progress(enabled: bool, text: str, total: int) -> tuple[Any, Any] | None:
    if not enabled:
        return None
    from rich.progress import Progress

    prog = Progress(transient=True)
    task = prog.add_task(text, total=total)
    prog.start()
    return prog, task


def first_non_null(values: pd.Series) -> Any:
    """The most frequent non-blank value of a group (ties: the first), or None."""
    v = values.dropna()
    v = v[v.astype(str).str.strip() != ""]
    if v.empty:
        return None
    return v.value_counts(sort=True).index[0]


def unix_to_ts(seconds: pd.Series | np.ndarray) -> pd.Series:
    """Naive-UTC timestamps from unix seconds."""
    return pd.to_datetime(pd.Series(seconds), unit="s")


def dumps(obj: Any) -> str:
    """Compact JSON text."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
