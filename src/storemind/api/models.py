"""Request and response models of the core routes (health, events, errors)."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storemind._web import StoreTime
from storemind.store import EVENT_TYPES

__all__ = ["EventIn", "EventBatch", "EventsResult", "Health", "ErrorBody", "FieldError"]

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class EventIn(BaseModel):
    """One store event as a client posts it.

    ``ts`` is an ISO 8601 time (an offset is converted to UTC) or a Unix epoch in seconds
    (milliseconds when larger than 2e10). Without ``event_id`` one is derived from the
    event's content, so posting the same event twice stores it once.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)

    event_id: str | None = Field(None, min_length=1, max_length=200)
    user_id: str = Field(min_length=1, max_length=200)
    item_id: str | None = Field(None, max_length=200)
    session_id: str | None = Field(None, max_length=200)
    event_type: EventType
    value: float | None = None
    ts: StoreTime
    query: str | None = Field(None, max_length=2000)

    @field_validator("event_type", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class EventBatch(BaseModel):
    """A batch as an object: ``{"events": [...]}`` (a bare JSON list works too)."""

    events: list[EventIn]


class EventsResult(BaseModel):
    """What ``POST /v1/events`` did; ``accepted == stored + duplicates + quarantined``."""

    accepted: int = Field(description="Events in the request that passed validation.")
    stored: int = Field(description="New events now stored.")
    duplicates: int = Field(description="Events whose event_id was already stored.")
    quarantined: int = Field(description="Events the store rejected (see reasons).")
    reasons: dict[str, int] = Field(default_factory=dict)
    event_ids: list[str] = Field(description="The id of each accepted event, in request order.")
    observer_errors: list[str] = Field(
        default_factory=list,
        description="Live updates that failed (the events are stored all the same).",
    )


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    engine: str
    tables: dict[str, int] = Field(description="Rows per canonical table and quarantine.")
    capabilities: dict[str, str] = Field(
        description="Capability routers: 'ok', or 'error: ...' when the router failed to load."
    )


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str
    message: str
    detail: list[FieldError] | None = None
