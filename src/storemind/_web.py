"""FastAPI dependencies that hand a route the app's store, registry and settings.

Capabilities may not import ``storemind.api`` (the arrows point from the faces inward), so the
app puts the shared objects on ``app.state`` and capability routers read them through these::

    from storemind._web import RegistryDep, StoreDep

    @router.get("/recommend/{user_id}")
    def recommend(user_id: str, store: StoreDep, registry: RegistryDep) -> ...:
        ...
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from storemind.config import Settings
from storemind.registry import Registry
from storemind.store import TIME_RANGE, Store

__all__ = [
    "get_state", "get_store", "get_registry", "get_settings", "get_observers", "add_observer",
    "StoreDep", "RegistryDep", "SettingsDep", "Observer", "json_answer",
    "Param", "FastParams", "StoreTime", "store_time",
]


def store_time(v: datetime) -> datetime:
    """A posted time as the store keeps it: naive UTC, in the years ingestion accepts for an
    event's time (``storemind.store.TIME_RANGE``). An offset is applied; a year outside the
    range is a ``ValueError`` (a 422 naming the field), checked a year wider before the offset
    so that ``0001-01-01T00:00+05:00`` cannot overflow the conversion."""
    lo, hi = TIME_RANGE
    if not lo - 1 <= v.year <= hi + 1:
        raise ValueError(f"year {v.year} is outside {lo}-{hi}")
    if v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    if not lo <= v.year <= hi:
        raise ValueError(f"year {v.year} is outside {lo}-{hi}")
    return v


#: A request field holding a time: ISO 8601 or Unix seconds, converted by :func:`store_time`.
StoreTime = Annotated[datetime, AfterValidator(store_time)]

#: An observer takes the events just stored (dicts with the canonical event columns).
Observer = Callable[[list[dict[str, Any]]], Any]


def get_store(request: Request) -> Store:
    """The app's :class:`~storemind.store.Store`."""
    return request.app.state.store


def get_registry(request: Request) -> Registry:
    """The app's model :class:`~storemind.registry.Registry` (``STOREMIND_HOME/models``)."""
    return request.app.state.registry


def get_settings(request: Request) -> Settings:
    """The app's validated :class:`~storemind.config.Settings`."""
    return request.app.state.settings


def get_state(request: Request, name: str, default: Any = None) -> Any:
    """A capability's own per-app object (e.g. a loaded-model cache) on ``app.state``."""
    return getattr(request.app.state, name, default)


def get_observers(request: Request) -> list[Observer]:
    """The callables that receive each batch of newly stored events."""
    return request.app.state.observers


def add_observer(app: FastAPI, observer: Observer) -> None:
    """Register ``observer(events)`` to be called after each ``POST /v1/events`` that stored
    new events (a capability does this in its ``setup(app)`` hook)."""
    if not callable(observer):
        raise TypeError(f"an observer must be callable; got {type(observer).__name__}")
    app.state.observers.append(observer)


StoreDep = Annotated[Store, Depends(get_store)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def json_answer(answer: dict[str, Any]) -> Response:
    """``answer`` (plain str, int, float, bool, None, lists and dicts) as a JSON response.

    For the hottest routes (recommendations, similar items): returning a ``Response`` skips
    FastAPI's validation of the answer against the route's ``response_model`` and its generic
    encoder, about 0.06 ms of the 0.55 ms a recommendation cost in-process (see
    ``docs/decisions.md``), and orjson encodes a 10-item answer in 1.4 us where the standard
    library takes 19 us. The route keeps ``response_model`` for its OpenAPI schema; a test
    validates real answers against it. A non-finite float is sent as ``null`` (orjson's rule:
    the body is always valid JSON); anything not plain JSON (a NumPy number, a set) raises
    ``TypeError``.
    """
    return Response(orjson.dumps(answer), media_type="application/json")


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_OPENAPI_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean"}
_REQUIRED: Any = object()


@dataclass(frozen=True)
class Param:
    """One path or query parameter read by :class:`FastParams`.

    ``kind`` is ``str``, ``int``, ``float`` or ``bool``; ``default`` is returned when a query
    parameter is absent (path parameters are always present). Bounds: ``ge``/``le`` for
    numbers, ``min_length``/``max_length`` for strings.
    """

    name: str
    kind: type
    default: Any = _REQUIRED
    where: str = "query"
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    description: str = ""

    def parse(self, raw: str) -> tuple[Any, str | None]:
        """(value, None) or (None, why the text is not a valid value)."""
        kind = self.kind
        if kind is str:
            if self.min_length is not None and len(raw) < self.min_length:
                return None, f"String should have at least {self.min_length} character(s)"
            if self.max_length is not None and len(raw) > self.max_length:
                return None, f"String should have at most {self.max_length} characters"
            return raw, None
        if kind is bool:
            low = raw.lower()
            if low in _TRUE:
                return True, None
            if low in _FALSE:
                return False, None
            return None, "Input should be a valid boolean, unable to interpret input"
        try:
            value = int(raw) if kind is int else float(raw)
        except ValueError:
            what = "integer" if kind is int else "number"
            return None, f"Input should be a valid {what}, unable to parse string"
        if kind is float and not math.isfinite(value):
            return None, "Input should be a finite number"
        if self.ge is not None and value < self.ge:
            return None, f"Input should be greater than or equal to {_num(self.ge)}"
        if self.le is not None and value > self.le:
            return None, f"Input should be less than or equal to {_num(self.le)}"
        return value, None

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _OPENAPI_TYPE[self.kind]}
        for key, value in (("minimum", self.ge), ("maximum", self.le),
                           ("minLength", self.min_length), ("maxLength", self.max_length)):
            if value is not None:
                schema[key] = value
        if self.default is not _REQUIRED and self.default is not None:
            schema["default"] = self.default
        out = {"name": self.name, "in": self.where, "schema": schema,
               "required": self.default is _REQUIRED}
        if self.description:
            out["description"] = self.description
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class FastParams:
    """Path and query parameters parsed without FastAPI's per-request dependency machinery.

    FastAPI re-inspects each declared parameter's annotation on every request; on the
    recommendation route (one path and five query parameters) that is about 0.05 ms, a tenth
    of the request's server time (``docs/decisions.md``). A hot route declares only
    ``request: Request``, calls ``params(request)`` and passes ``params.openapi()`` as the
    route's ``openapi_extra`` so the parameters stay documented. Invalid values raise
    ``RequestValidationError``: the same 422 naming the field as FastAPI's own. Query
    parameters not declared are ignored, as FastAPI does.
    """

    def __init__(self, *params: Param) -> None:
        self.params = params

    def __call__(self, request: Request) -> dict[str, Any]:
        out: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        path, query = request.path_params, request.query_params
        for p in self.params:
            raw = (path if p.where == "path" else query).get(p.name)
            if raw is None:
                if p.default is _REQUIRED:
                    errors.append({"type": "missing", "loc": (p.where, p.name),
                                   "msg": "Field required", "input": None})
                else:
                    out[p.name] = p.default
                continue
            value, problem = p.parse(raw)
            if problem is not None:
                errors.append({"type": "value_error", "loc": (p.where, p.name),
                               "msg": problem, "input": raw})
            out[p.name] = value
        if errors:
            raise RequestValidationError(errors)
        return out

    def openapi(self) -> dict[str, Any]:
        """The ``openapi_extra`` documenting these parameters."""
        return {"parameters": [p.openapi() for p in self.params]}
