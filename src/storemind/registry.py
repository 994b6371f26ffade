"""Versioned model artefacts per capability, with an atomically swapped ``current`` pointer.

Layout: ``<root>/<capability>/<version>/`` holds the artefacts (npz, torch state dicts,
LightGBM text models; never a pickle of project classes) and ``meta.json`` (params, data
snapshot, metrics, created-at). ``<root>/<capability>/current`` is a one-line text file naming
the current version; it is replaced with ``os.replace`` so readers never see a half-written one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storemind.errors import NotFoundError, RegistryError

__all__ = ["Registry", "ModelVersion"]

_VERSION = re.compile(r"^v(\d{4,})$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: where it lives and what its ``meta.json`` says."""

    capability: str
    version: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    @property
    def params(self) -> dict[str, Any]:
        return self.meta.get("params", {})

    @property
    def created_at(self) -> str:
        return self.meta.get("created_at", "")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to meta.json")


class Registry:
    """Model versions under ``root`` (``STOREMIND_HOME/models`` by default)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _cap_dir(self, capability: str) -> Path:
        if not _NAME.match(capability):
            raise RegistryError(
                f"capability name must be lower-case letters, digits and _; got {capability!r}"
            )
        return self.root / capability

    def register(
        self,
        capability: str,
        write: Callable[[Path], None],
        *,
        params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        make_current: bool = True,
    ) -> ModelVersion:
        """Create a new version: ``write(folder)`` saves the artefacts, then ``meta.json`` is
        written and (by default) ``current`` is swapped to it. A failed ``write`` leaves nothing."""
        cap = self._cap_dir(capability)
        cap.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=cap))
        try:
            write(tmp)
            meta = {
                "capability": capability,
                "params": params or {},
                "metrics": metrics or {},
                "data": data or {},
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            while True:  # claim the next number; rename is atomic, so racing writers differ
                version = f"v{self._next_number(cap):04d}"
                meta["version"] = version
                (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=_json_default))
                try:
                    os.rename(tmp, cap / version)
                    break
                except OSError:
                    if not (cap / version).exists():
                        raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        mv = ModelVersion(capability, version, cap / version, meta)
        if make_current:
            self.set_current(capability, version)
        return mv

    def _next_number(self, cap: Path) -> int:
        nums = [int(m.group(1)) for p in cap.iterdir() if (m := _VERSION.match(p.name))]
        return max(nums, default=0) + 1

    def versions(self, capability: str) -> list[ModelVersion]:
        """Every version of a capability, oldest first."""
        cap = self._cap_dir(capability)
        if not cap.is_dir():
            return []
        out = []
        for p in sorted(cap.iterdir(), key=lambda p: p.name):
            if _VERSION.match(p.name) and (p / "meta.json").is_file():
                out.append(
                    ModelVersion(capability, p.name, p, json.loads((p / "meta.json").read_text()))
                )
        return out

    def capabilities(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def get(self, capability: str, version: str | None = None) -> ModelVersion:
        """A version by name, or the current one; :class:`NotFoundError` when absent."""
        cap = self._cap_dir(capability)
        if version is None:
            version = self.current_version(capability)
            if version is None:
                raise NotFoundError(
                    f"no model registered for {capability!r}; run `storemind train {capability}`"
                )
        path = cap / version
        if not (path / "meta.json").is_file():
            known = [v.version for v in self.versions(capability)]
            raise NotFoundError(f"{capability} has no version {version!r}; it has {known}")
        return ModelVersion(capability, version, path, json.loads((path / "meta.json").read_text()))

    def current_version(self, capability: str) -> str | None:
        pointer = self._cap_dir(capability) / "current"
        try:
            return pointer.read_text().strip() or None
        except FileNotFoundError:
            return None

    def set_current(self, capability: str, version: str) -> None:
        """Point ``current`` at ``version`` atomically."""
        cap = self._cap_dir(capability)
        if not (cap / version / "meta.json").is_file():
            known = [v.version for v in self.versions(capability)]
            raise NotFoundError(f"{capability} has no version {version!r}; it has {known}")
        fd, tmp = tempfile.mkstemp(prefix=".current-", dir=cap)
        with os.fdopen(fd, "w") as fh:
            fh.write(version + "\n")
        os.replace(tmp, cap / "current")

    def rollback(self, capability: str, version: str | None = None) -> ModelVersion:
        """Make ``version`` current, or the one before the current one when not given."""
        if version is None:
            names = [v.version for v in self.versions(capability)]
            cur = self.current_version(capability)
            if cur not in names or names.index(cur) == 0:
                raise RegistryError(f"{capability}: no earlier version to roll back to")
            version = names[names.index(cur) - 1]
        self.set_current(capability, version)
        return self.get(capability, version)

    def prune(self, capability: str, keep: int, *, dry_run: bool = False) -> list[ModelVersion]:
        """Delete all but the newest ``keep`` versions of a capability; the current one is
        never deleted, whatever its age (after a rollback it may be an old one). Also removes
        leftovers of trainings that died while writing (``.incoming-*`` older than a day).

        Returns the versions deleted (or that would be, with ``dry_run``), oldest first. A
        server keeps serving: it only ever reads the current version, and one that has not
        yet swapped to it keeps the files it has open.
        """
        if keep < 1:
            raise RegistryError(f"keep must be at least 1; got {keep}")
        versions = self.versions(capability)
        current = self.current_version(capability)
        newest = {v.version for v in versions[-keep:]}
        doomed = [v for v in versions if v.version not in newest and v.version != current]
        if dry_run:
            return doomed
        for v in doomed:
            # renamed first, so a reader never sees a half-deleted version under its name
            trash = v.path.with_name(f".deleting-{v.version}")
            os.rename(v.path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        cap = self._cap_dir(capability)
        day_ago = time.time() - 86_400
        for p in cap.glob(".incoming-*") if cap.is_dir() else []:
            if p.stat().st_mtime < day_ago:
                shutil.rmtree(p, ignore_errors=True)
        for p in cap.glob(".deleting-*") if cap.is_dir() else []:  # an earlier prune cut short
            shutil.rmtree(p, ignore_errors=True)
        return doomed
