"""The list of questions handed to a person: one JSON object per line in
``STOREMIND_HOME/assistant/unanswered.jsonl`` (append-only for new questions; rewritten
atomically when a curator answers one)."""
from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storemind.errors import DataError, UnknownIdError

__all__ = ["UnansweredLog"]

_LOCK = threading.Lock()


class UnansweredLog:
    """Questions the assistant did not answer, and what curators answered them with."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def record(self, question: str, confidence: float, intent: str | None) -> dict[str, Any]:
        """Append one handed-off question; returns its entry (with a new ``id``)."""
        entry = {"id": uuid.uuid4().hex[:12], "question": question,
                 "asked_at": datetime.now(UTC).isoformat(timespec="seconds"),
                 "confidence": float(confidence), "intent_guess": intent, "status": "open",
                 "answer": None, "answered_at": None}
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
        return entry

    def entries(self, status: str | None = "open") -> list[dict[str, Any]]:
        """Entries, newest first; ``status`` "open", "answered" or None for all."""
        if not self.path.is_file():
            return []
        out = []
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue  # a torn last line after a crash: skip it
        if status is not None:
            out = [e for e in out if e.get("status") == status]
        return out[::-1]

    def resolve(self, entry_id: str, answer: str) -> dict[str, Any]:
        """Mark an entry answered with ``answer``; returns it."""
        if not isinstance(answer, str) or not answer.strip():
            raise DataError(f"the answer must be non-empty text; got {answer!r}")
        with _LOCK:
            entries = self.entries(status=None)[::-1]
            hit = next((e for e in entries if e.get("id") == entry_id), None)
            if hit is None:
                raise UnknownIdError(f"no unanswered question with id {entry_id!r} in "
                                     f"{self.path}")
            hit.update(status="answered", answer=answer.strip(),
                       answered_at=datetime.now(UTC).isoformat(timespec="seconds"))
            fd, tmp = tempfile.mkstemp(prefix=".unanswered-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(e) + "\n" for e in entries)
            os.replace(tmp, self.path)
        return hit
