"""Fetching a dataset's files from their public sources (used only with ``download=True``).

Each file is fetched with :func:`urllib.request.urlopen`, optionally transformed (unzipped,
gzip-compressed, ...), written to a temporary name and renamed into place, so a failed
download never leaves a half-written file that would later be read as data.
"""
from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from storemind.errors import NotFoundError

__all__ = ["RemoteFile", "download_file", "github_raw", "gzip_bytes", "unzip_member",
           "resolve_merge_conflict"]

_TIMEOUT_S = 60


def github_raw(repo: str, commit: str, path: str) -> str:
    """The raw-content address of ``path`` in GitHub repository ``repo`` at ``commit``."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def gzip_bytes(data: bytes) -> bytes:
    """``data`` gzip-compressed (deterministic: no file name or time in the header)."""
    return gzip.compress(data, mtime=0)


def unzip_member(member: str) -> Callable[[bytes], bytes]:
    """A transform taking a zip archive's bytes to the bytes of one ``member``."""

    def take(data: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            match = [n for n in names if n == member or n.endswith("/" + member)]
            if not match:
                raise NotFoundError(f"archive has no member {member!r}; it has {names[:10]}")
            return zf.read(match[0])

    return take


def resolve_merge_conflict(data: bytes) -> bytes:
    """Keep the first side of every unresolved git merge conflict in a text file."""
    out, side = [], "both"
    for line in data.splitlines(keepends=True):
        if line.startswith(b"<<<<<<<"):
            side = "ours"
            continue
        if line.startswith(b"=======") and side == "ours":
            side = "theirs"
            continue
        if line.startswith(b">>>>>>>") and side == "theirs":
            side = "both"
            continue
        if side != "theirs":
            out.append(line)
    return b"".join(out)


@dataclass(frozen=True)
class RemoteFile:
    """A file of a dataset: its name in the dataset folder and the public address it comes from.

    ``transforms`` turn the fetched bytes into the stored file (e.g. ``unzip_member``, then
    ``gzip_bytes`` for a ``.gz`` name), applied in order.
    """

    name: str
    url: str
    transforms: tuple[Callable[[bytes], bytes], ...] = ()


def download_file(remote: RemoteFile, dest: Path, *, opener: Any = None) -> Path:
    """Fetch ``remote`` into ``dest``; a clear :class:`NotFoundError` when it cannot be fetched.

    Parameters
    ----------
    remote : RemoteFile
        What to fetch and how to transform it.
    dest : Path
        Where the file goes; its folder is created.
    opener : callable, optional
        ``opener(url, timeout=...)`` returning a file-like response (default
        :func:`urllib.request.urlopen`); tests pass a fake one.
    """
    open_url = opener or urlopen
    try:
        with open_url(remote.url, timeout=_TIMEOUT_S) as response:
            data = response.read()
    except Exception as exc:  # network, HTTP and URL errors alike
        raise NotFoundError(
            f"could not download {remote.url} to {dest}: {type(exc).__name__}: {exc}. "
            f"Check the network, or place the file at {dest} by hand."
        ) from exc
    if not data:
        raise NotFoundError(
            f"downloading {remote.url} gave an empty file; nothing written to {dest}")
    for transform in remote.transforms:
        data = transform(data)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest
