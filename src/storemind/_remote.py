"""Talking to the running server that holds a store: the CLI's commands hand their work to it
(a snapshot to train from, a file to ingest) when the store's file is locked by it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from storemind._cli_common import console
from storemind.config import Settings
from storemind.errors import StoremindError

__all__ = ["server_url", "ask_server", "store_or_snapshot", "ingest_through_server"]


def server_url(settings: Settings, server: str | None) -> str:
    """The running server to ask: ``--server``, else ``http://$STOREMIND_HOST:PORT``."""
    return (server or f"http://{settings.host}:{settings.port}").rstrip("/")


def ask_server(settings: Settings, server: str | None, path: str, what: str,
               json: dict[str, Any] | None = None, timeout: float = 600) -> dict[str, Any]:
    """POST to the running server that holds the store (with the first configured API key)
    and return its JSON answer; ``what`` names the action in errors ("to train through it")."""
    import httpx

    url = server_url(settings, server)
    key = next(iter(sorted(settings.keys)), None)
    if key is None:
        raise StoremindError(
            f"the store is held by a running server; {what} set STOREMIND_API_KEYS to one of "
            f"its keys (asked {url})"
        )
    try:
        reply = httpx.post(f"{url}{path}", headers={"X-API-Key": key}, json=json,
                           timeout=timeout)
    except httpx.HTTPError as exc:
        raise StoremindError(
            f"the store is locked and the server at {url} did not answer: {exc}"
        ) from exc
    if reply.status_code != 200:
        try:
            message = reply.json().get("message") or reply.text[:300]
        except ValueError:
            message = reply.text[:300]
        raise StoremindError(f"the server at {url} refused ({reply.status_code}): {message}")
    return reply.json()


def store_or_snapshot(settings: Settings, server: str | None):
    """The store; or, when a running server holds its file, a snapshot the server writes."""
    from storemind.errors import StoreLockedError
    from storemind.store import Store

    try:
        return Store.open(settings)
    except StoreLockedError:
        pass
    console.print("the store is held by a running server; asking it for a snapshot")
    answer = ask_server(settings, server, "/v1/admin/snapshot", "to train through it")
    return Store.from_snapshot(answer["path"])


def ingest_through_server(settings: Settings, server: str | None, table: str, file: Path,
                          **options: Any) -> Any:
    """Copy ``file`` into the server's inbox and have the server ingest it; the report."""
    import uuid
    from collections import Counter

    from storemind.api.admin import INBOX
    from storemind.store import IngestReport

    if not file.is_file():
        what = "a folder, not a file" if file.is_dir() else "no such file"
        raise StoremindError(f"cannot read {file}: {what}")
    inbox = settings.home / INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex[:12]}-{file.name}"
    console.print("the store is held by a running server; handing the file to it")
    try:  # a hard link when on the same disk: no copy of a large file
        os.link(file, inbox / name)
    except OSError:
        shutil.copyfile(file, inbox / name)
    try:  # errors name str(file): the server records it as the source
        answer = ask_server(settings, server, "/v1/admin/ingest", "to ingest through it",
                             json={"table": table, "file": name, "source_name": str(file),
                                   **options})
    finally:
        (inbox / name).unlink(missing_ok=True)
    def report(a: dict[str, Any]) -> IngestReport:  # "ok" is a property of the report
        derived = {t: report(d) for t, d in a.pop("derived", {}).items()}
        return IngestReport(**{k: v for k, v in a.items() if k not in ("ok", "reasons")},
                            reasons=Counter(a["reasons"]), derived=derived)

    return report(answer)
