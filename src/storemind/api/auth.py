"""API keys: every write (POST, PUT, PATCH, DELETE) needs one; reads are open.

A key comes in the ``X-API-Key`` header or as ``Authorization: Bearer <key>``. Accepted keys
are ``Settings.keys`` (``STOREMIND_API_KEYS``, comma-separated). With no key configured every
write is refused: the safe default (``storemind serve`` generates a key and prints it).
"""
from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

from fastapi import Request

from storemind.errors import AuthError

__all__ = ["WRITE_METHODS", "key_from_headers", "authorize", "require_api_key"]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

NO_KEYS_MESSAGE = (
    "writes are disabled: no API key is configured. Set STOREMIND_API_KEYS=<secret> "
    "(comma-separated for several) and restart, or start with `storemind serve`, which "
    "generates a key and prints it; then send it as header X-API-Key: <secret>"
)


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key a request presents, from ``X-API-Key`` or ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authorize(headers: Mapping[str, str], keys: Iterable[str]) -> None:
    """Raise :class:`AuthError` unless the headers carry one of ``keys``."""
    keys = list(keys)
    if not keys:
        raise AuthError(NO_KEYS_MESSAGE)
    given = key_from_headers(headers)
    if given is None:
        raise AuthError("this request writes, so it needs an API key: send header "
                        "X-API-Key: <key> or Authorization: Bearer <key>")
    # compare against every key in constant time, so timing reveals nothing
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(given.encode(), k.encode())
    if not ok:
        raise AuthError("the API key sent is not one of STOREMIND_API_KEYS")


def require_api_key(request: Request) -> None:
    """FastAPI dependency: demand a key even on a read (writes are already checked for
    every route by the app's middleware)."""
    authorize(request.headers, request.app.state.settings.keys)
