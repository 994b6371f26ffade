"""The files a command names: one file, a folder of data files, or a glob pattern."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from storemind.errors import StoremindError

__all__ = ["files_named", "write_frame"]


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
