"""ASGI middleware run before every route: API key for writes, then the body size limit.

The body is read here, counted as it streams (a missing or lying ``Content-Length`` does not
help), and handed on in one piece; past ``Settings.max_body_bytes`` the request gets a 413
before the route sees anything.
"""
from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storemind.api.auth import WRITE_METHODS, authorize
from storemind.api.errors import error_response
from storemind.errors import AuthError, TooLargeError

__all__ = ["GuardMiddleware"]


class GuardMiddleware:
    """Check the API key on writes and cap the request body at ``max_body_bytes``.

    ``settings_of`` returns the live settings (read per request, so an app's settings
    object may be swapped in tests).
    """

    def __init__(self, app: ASGIApp, settings_of: Any):
        self.app = app
        self.settings_of = settings_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings_of()
        headers = Headers(scope=scope)
        if scope["method"].upper() in WRITE_METHODS:
            try:
                authorize(headers, settings.keys)
            except AuthError as exc:
                await error_response(exc)(scope, receive, send)
                return
        limit = settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, int(declared), limit)
            return
        if declared is None and "chunked" not in headers.get("transfer-encoding", "").lower():
            await self.app(scope, receive, send)  # no body
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send, size, limit, streamed=True)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, size: int, limit: int,
                         streamed: bool = False) -> None:
        what = f"more than {limit:,} bytes arrived" if streamed else f"Content-Length is {size:,}"
        exc = TooLargeError(
            f"request body too large: {what}; the limit is {limit:,} bytes "
            "(STOREMIND_MAX_BODY_BYTES). Send smaller batches."
        )
        response = error_response(exc)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
