"""``POST /v1/events``: append events to the store, then hand the new ones to live observers.

The API holds no domain logic: validated events are appended with ``store.append`` (durable
before the reply) and each capability's observer sees the events that were new.
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from storemind.api.deps import Observer
from storemind.api.models import EventIn, EventsResult
from storemind.errors import TooLargeError
from storemind.store import Store

__all__ = ["router", "derive_event_id", "parse_events", "store_events"]

log = logging.getLogger("storemind.api")
router = APIRouter(tags=["events"])
_EVENTS = TypeAdapter(list[EventIn])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"anyOf": [
            {"$ref": "#/components/schemas/EventIn"},
            {"type": "array", "items": {"$ref": "#/components/schemas/EventIn"}},
            {"$ref": "#/components/schemas/EventBatch"},
        ]}}},
    }
}


def derive_event_id(event: dict[str, Any]) -> str:
    """A stable id from an event's content (for events posted without ``event_id``)."""
    content = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
               for k, v in sorted(event.items()) if k != "event_id"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return "api-" + digest[:32]


def _invalid(loc: tuple[Any, ...], msg: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg, "input": None}])


def parse_events(body: bytes, max_batch: int) -> list[dict[str, Any]]:
    """Validate a request body (one event, a list, or ``{"events": [...]}``) into rows.

    Raises ``RequestValidationError`` naming each bad field, :class:`TooLargeError` for more
    than ``max_batch`` events.
    """
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise _invalid(("body",), f"body is not valid JSON: {msg}", "json_invalid") from None
    if isinstance(data, dict) and "events" in data:
        if set(data) != {"events"}:
            extra = sorted(set(data) - {"events"})
            raise _invalid(("body",), f"a batch object has only 'events'; got also {extra}")
        items, prefix = data["events"], ("body", "events")
        if not isinstance(items, list):
            raise _invalid(prefix, f"must be a list of events; got {type(items).__name__}")
    elif isinstance(data, list):
        items, prefix = data, ("body", "events")
    elif isinstance(data, dict):
        items, prefix = [data], ("body",)
    else:
        raise _invalid(("body",), "expected an event object, a list of events, or "
                       f'{{"events": [...]}}; got {type(data).__name__}')
    if len(items) > max_batch:
        raise TooLargeError(
            f"{len(items):,} events in one request; the limit is {max_batch:,} "
            "(STOREMIND_MAX_BATCH). Split the batch."
        )
    if not items:
        raise _invalid(prefix, "no events given")
    try:
        events = _EVENTS.validate_python(items)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            loc = prefix + (loc[1:] if prefix == ("body",) else loc)
            errors.append({**e, "loc": loc})
        raise RequestValidationError(errors) from None
    rows = []
    for ev in events:
        row = ev.model_dump()
        if row["event_id"] is None:
            row["event_id"] = derive_event_id(row)
        rows.append(row)
    return rows


def store_events(store: Store, rows: list[dict[str, Any]],
                 observers: list[Observer]) -> EventsResult:
    """Append ``rows`` to the events table, then call each observer with the new ones."""
    ids = [r["event_id"] for r in rows]
    e = store.table("events")
    known = set(store.execute(e.filter(e.event_id.isin(sorted(set(ids)))).event_id).tolist())
    report = store.append("events", rows, source_name="api:/v1/events")
    new, seen = [], set(known)
    for r in rows:
        if r["event_id"] not in seen:
            seen.add(r["event_id"])
            new.append(r)
    failures = []
    if new and report.stored:
        for observer in list(observers):
            name = getattr(observer, "__qualname__", None) or type(observer).__name__
            try:
                observer([dict(r) for r in new])
            except Exception as exc:  # a live update failing must not lose the stored events
                log.error("observer %s failed on %d events", name, len(new), exc_info=exc)
                failures.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
    return EventsResult(
        accepted=len(rows), stored=report.stored, duplicates=report.duplicates,
        quarantined=report.quarantined, reasons=dict(report.reasons), event_ids=ids,
        observer_errors=failures,
    )


@router.post(
    "/events",
    response_model=EventsResult,
    summary="Record events (one, a list, or {\"events\": [...]})",
    openapi_extra=_BODY_DOC,
    responses={401: {"description": "Missing or wrong API key"},
               413: {"description": "Too many events or body too large"},
               422: {"description": "A field is invalid; `detail` names it"}},
)
async def post_events(request: Request) -> EventsResult:
    """Validate events, store them durably, then update each live capability.

    Idempotent by ``event_id``: re-posting an event counts it under ``duplicates`` and stores
    nothing. Needs an API key (``X-API-Key`` or ``Authorization: Bearer``).
    """
    settings = request.app.state.settings
    body = await request.body()
    rows = parse_events(body, settings.max_batch)
    return await run_in_threadpool(
        store_events, request.app.state.store, rows, request.app.state.observers
    )
