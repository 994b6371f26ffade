"""The files a command names (one file, a folder of data files, or a glob pattern), ingesting
them one after another, and writing a frame to the file a command names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from storemind.errors import StoremindError

__all__ = ["files_named", "ingest_each", "write_frame"]


def files_named(file: Path, fmt: str | None) -> list[Path]:
    """What FILE names: the file itself; a folder's CSV, Parquet and JSONL files (every file
    with ``--format``); or a glob pattern's files. In name order, so daily exports go in by
    date."""
    import glob

    from storemind.store import format_of

    if file.is_dir():
        files = sorted(p for p in file.iterdir() if p.is_file() and not p.name.startswith(".")
                       and (fmt or format_of(p)))
        if not files:
            raise StoremindError(f"{file} is a folder without a CSV, Parquet or JSONL file")
        return files
    if not file.exists() and glob.has_magic(str(file)):
        files = sorted(Path(p) for p in glob.glob(str(file)) if Path(p).is_file())
        if not files:
            raise StoremindError(f"no file matches {file}")
        return files
    return [file]


def write_frame(frame: pd.DataFrame, path: Path, text_from: int | None = None) -> None:
    """Write ``frame`` as its name says (.csv, .parquet or .jsonl; :class:`StoremindError`
    otherwise); ``text_from``: columns from this position on are text in Parquet."""
    from storemind.store import format_of

    kind = format_of(path)
    if kind is None:
        raise StoremindError(f"cannot tell the format of {path}; name it .csv, .parquet or "
                             ".jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "parquet":
        text = frame.columns[text_from:] if text_from is not None else []
        frame.astype({c: "string" for c in text}).to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)


def ingest_each(table: str, files: list[Path], ingest_one: Callable[[Path], Any],
                show: Callable[[Any], None], warn: Callable[[str], None]) -> tuple[Any, list[str]]:
    """Ingest each file with ``ingest_one(path) -> IngestReport``, ``show`` each report (and
    those of the tables an order-lines file filled); a file that fails is named by ``warn``
    and does not stop the others. Returns the total report and the names that failed. A
    single file's failure raises, as ingesting one file always did."""
    from storemind.store import IngestReport

    total, failed = IngestReport(table=table, source=f"{len(files)} files"), []
    for f in files:
        try:
            report = ingest_one(f)
        except StoremindError as exc:
            if len(files) == 1:
                raise
            warn(str(exc))
            failed.append(f.name)
            continue
        show(report)
        for derived in report.derived.values():
            show(derived)
        problem = (f"{f} has no data rows" if report.read == 0 else None if report.ok else
                   f"no row of {f} could be stored; see the quarantine reasons above (the rows: "
                   f"storemind export quarantine bad.csv --source {report.source})")
        if problem and len(files) == 1:
            raise StoremindError(problem)
        if problem:
            warn(problem)
            failed.append(f.name)
        total.merge(report)
    return total, failed
