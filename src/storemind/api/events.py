"""``POST /v1/events``: append events to the store, then hand the new ones to live observers.

The API holds no domain logic: validated events are appended with ``store.append`` (durable
before the reply) and each capability's observer sees the events that were new.
"""
from __future__ import annotations

import asyncio
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

__all__ = [
    "router", "derive_event_id", "parse_events", "store_events", "store_event_groups",
    "EventWriter",
]

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
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        msg = (exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
               if isinstance(exc, UnicodeDecodeError) else "nested too deeply")
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
    return store_event_groups(store, [rows], observers)[0]


def store_event_groups(store: Store, groups: list[list[dict[str, Any]]],
                       observers: list[Observer]) -> list[EventsResult]:
    """Append several requests' events in one write (one transaction), call each observer once
    with every new event, and say per request what became of its events.

    An event id posted twice in the group is stored for the first request that carried it and
    counts as a duplicate for the others, as if they had been written one after the other."""
    rows = [r for g in groups for r in g]
    report = store.append("events", rows, source_name="api:/v1/events", return_keys=True)
    stored = set(report.new_keys or ())
    new_per: list[list[dict[str, Any]]] = []
    for g in groups:  # the stored ones, first occurrence of each, in the order posted
        mine = []
        for r in g:
            if r["event_id"] in stored:
                stored.discard(r["event_id"])
                mine.append(r)
        new_per.append(mine)
    known: set[str] = set()
    if report.quarantined and len(groups) > 1:  # which of the rest were stored before?
        rest = sorted({r["event_id"] for r in rows} - set(report.new_keys or ()))
        e = store.table("events")
        known = set(store.execute(e.filter(e.event_id.isin(rest)).event_id).tolist())
    new = [r for mine in new_per for r in mine]
    failures = []
    if new:
        for observer in list(observers):
            name = getattr(observer, "__qualname__", None) or type(observer).__name__
            try:
                observer([dict(r) for r in new])
            except Exception as exc:  # a live update failing must not lose the stored events
                log.error("observer %s failed on %d events", name, len(new), exc_info=exc)
                failures.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
    out = []
    for g, mine in zip(groups, new_per, strict=True):
        if len(groups) == 1:
            dup, quar, reasons = report.duplicates, report.quarantined, dict(report.reasons)
        elif not report.quarantined:
            dup, quar, reasons = len(g) - len(mine), 0, {}
        else:
            mine_ids = {r["event_id"] for r in mine}
            rest = [r for r in g if r["event_id"] not in mine_ids]
            quar = sum(1 for r in rest if r["event_id"] not in known)
            dup = len(rest) - quar
            reasons = dict(report.reasons) if quar else {}
        out.append(EventsResult(
            accepted=len(g), stored=len(mine), duplicates=dup, quarantined=quar,
            reasons=reasons, event_ids=[r["event_id"] for r in g], observer_errors=failures,
        ))
    return out


class EventWriter:
    """Group commit for ``POST /v1/events``: requests that arrive while a write is running
    wait for the next one, which stores all of them in one transaction. Every request still
    gets its reply only after its events are durable; under load, one write of many small
    requests costs about what one of them alone did (each write is ~10 ms of fixed cost)."""

    def __init__(self, store: Store, observers: list[Observer], max_rows: int):
        self.store, self.observers, self.max_rows = store, observers, max(1, max_rows)
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def submit(self, rows: list[dict[str, Any]]) -> EventsResult:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._pending.append((rows, fut))
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._drain())
        return await fut

    def _take(self) -> list[tuple[list[dict[str, Any]], asyncio.Future]]:
        batch, n = [], 0
        while self._pending and (not batch or n + len(self._pending[0][0]) <= self.max_rows):
            rows, fut = self._pending.pop(0)
            if fut.get_loop().is_closed() or fut.done():
                continue  # its client went away (a closed test loop): nothing waits for it
            batch.append((rows, fut))
            n += len(rows)
        return batch

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take()
            if not batch:
                continue
            try:
                results = await run_in_threadpool(
                    store_event_groups, self.store, [rows for rows, _ in batch], self.observers
                )
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc=exc)
                else:  # one request's failure must not fail the others: write them alone
                    await self._write_alone(batch)
                continue
            for (_, fut), res in zip(batch, results, strict=True):
                _settle(fut, res)

    async def _write_alone(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future]]
                           ) -> None:
        for rows, fut in batch:
            try:
                _settle(fut, await run_in_threadpool(store_events, self.store, rows,
                                                     self.observers))
            except Exception as exc:
                _settle(fut, exc=exc)


def _settle(fut: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
    if fut.done() or fut.get_loop().is_closed():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


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
    state = request.app.state
    body = await request.body()
    rows = parse_events(body, state.settings.max_batch)
    writer = getattr(state, "event_writer", None)
    if writer is None or writer.store is not state.store:
        writer = state.event_writer = EventWriter(state.store, state.observers,
                                                  state.settings.max_batch)
    return await writer.submit(rows)
