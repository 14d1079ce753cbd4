"""A ceiling on the size of any HTTP request body, enforced at the ASGI level.

Why: daphne hands a request body to the application as it arrives, queued without
backpressure, and Django spools it again; one request of a gigabyte grew a server by
gigabytes. Nothing in OpenRounds needs a large body (big files travel in pieces of at
most 8 MB through the library's resumable uploads), so every HTTP request whose
`Content-Length` exceeds `settings.MAX_REQUEST_BODY_BYTES` (default 16 MB), or whose
streamed body grows past it (chunked transfer, or a lying header), is answered
413 before the application reads it. WebSocket traffic is not affected (daphne limits
frames itself).

Use: `application = ProtocolTypeRouter({"http": RequestBodyLimit(django_asgi_app), ...})`.

Under daphne this guard comes too late for the memory: daphne buffers the whole body
before the application runs. `server/daphne_http.py` (`daphne_refuse_large_bodies()`,
called where the ASGI application is built) makes daphne itself refuse it first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_REQUEST_BODY_BYTES = 16 * 1024 * 1024


class BodyTooLarge(Exception):
    """Raised from `receive` when the body streamed so far exceeds the limit."""


def max_request_body_bytes() -> int:
    """The limit from settings (read per request, so tests can override it)."""
    from django.conf import settings

    return int(getattr(settings, "MAX_REQUEST_BODY_BYTES", DEFAULT_MAX_REQUEST_BODY_BYTES))


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def refusal_body(limit: int) -> bytes:
    """The JSON body of a 413 (also sent by server/daphne_http.py's refusal)."""
    return json.dumps({
        "code": "request_too_large",
        "detail": f"The request body is larger than the server accepts ({limit // (1024 * 1024)} MB). "
                  "Large files are uploaded in pieces from the library's contribute page.",
    }).encode()


async def _refuse(send: Send, limit: int) -> None:
    body = refusal_body(limit)
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-content-type-options", b"nosniff"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class RequestBodyLimit:
    """ASGI middleware: 413 for HTTP request bodies over `max_bytes` (see module docstring)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes if self.max_bytes is not None else max_request_body_bytes()
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            logger.info("refused %s %s: Content-Length %s over %s", scope.get("method"), scope.get("path"), declared, limit)
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body") or b"")
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            logger.info("refused %s %s: body over %s bytes", scope.get("method"), scope.get("path"), limit)
            if not started:
                await _refuse(send, limit)
