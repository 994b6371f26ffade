"""The files a command names: one file, a folder of data files, or a glob pattern."""

from __future__ import annotations

from pathlib import Path

from storemind.errors import StoremindError

__all__ = ["files_named"]


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
