"""The one place that maps storemind's exceptions to HTTP status codes and JSON bodies.

Every error response has the same shape::

    {"error": "<kind>", "message": "<what went wrong and what to do>", "detail": [...]}

``detail`` is present for request validation (a list of ``{"field", "reason"}``). Anything
that is not a storemind error becomes a 500 with a short message; its traceback goes to the
``storemind.api`` log and the server keeps running.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from storemind.errors import (
    AuthError,
    ConfigError,
    DataError,
    NotFittedError,
    NotFoundError,
    RegistryError,
    StoremindError,
    TooLargeError,
    UnknownIdError,
)

__all__ = ["STATUS", "status_for", "error_response", "field_path", "install_error_handlers"]

log = logging.getLogger("storemind.api")

#: storemind error type -> (HTTP status, error kind). The most specific type wins (MRO order).
STATUS: dict[type[BaseException], tuple[int, str]] = {
    UnknownIdError: (404, "unknown_id"),
    NotFoundError: (404, "not_found"),
    TooLargeError: (413, "too_large"),
    DataError: (422, "invalid_data"),
    AuthError: (401, "unauthorized"),
    NotFittedError: (409, "not_trained"),
    RegistryError: (500, "registry"),
    ConfigError: (500, "config"),
    StoremindError: (400, "bad_request"),
}

_KIND_OF_STATUS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                   405: "method_not_allowed", 413: "too_large", 422: "validation"}


def status_for(exc: BaseException) -> tuple[int, str]:
    """HTTP status and error kind of an exception (500, "internal" when not ours)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500, "internal"


def error_response(exc: BaseException) -> JSONResponse:
    """The JSON response for a storemind error (or any exception: 500)."""
    status, kind = status_for(exc)
    message = str(exc) or type(exc).__name__
    if status == 500 and not isinstance(exc, StoremindError):
        message = f"internal error ({type(exc).__name__}); the server logged the details"
    if isinstance(exc, NotFittedError) and "train" not in message:
        message += "; train first (`storemind train <capability>`)"
    headers = {"WWW-Authenticate": 'Bearer realm="storemind"'} if status == 401 else None
    return JSONResponse({"error": kind, "message": message}, status_code=status, headers=headers)


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "events", 0, "ts")`` -> ``"events[0].ts"``; query/path params keep their name."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


def _validation_body(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    detail = []
    for e in errors:
        reason = str(e.get("msg", "invalid value"))
        ctx = e.get("ctx") or {}
        if e.get("type") == "json_invalid" and ctx.get("error"):
            reason = f"{reason}: {ctx['error']}"
        detail.append({"field": field_path(e.get("loc", ())), "reason": reason})
    fields = ", ".join(d["field"] for d in detail[:5]) + (" ..." if len(detail) > 5 else "")
    return {"error": "validation", "message": f"invalid request: {fields}", "detail": detail}


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(_validation_body(exc.errors()), status_code=422)


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    kind = _KIND_OF_STATUS.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such route: {request.method} {request.url.path}"
    return JSONResponse({"error": kind, "message": message}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _on_storemind(request: Request, exc: StoremindError) -> JSONResponse:
    if status_for(exc)[0] >= 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(exc)


async def _on_any(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(StoremindError, _on_storemind)
    app.add_exception_handler(Exception, _on_any)
