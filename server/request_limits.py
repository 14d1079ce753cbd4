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

Why a second guard for daphne: daphne 4.2 receives the whole body first (into a
temporary file beyond 100 KB) and then, before the application runs at all, copies all
of it into the application's queue in 8 KB messages, in memory. An ASGI middleware
cannot stop that copy. `daphne_refuse_large_bodies()` (call it once where the ASGI
application is built) makes daphne answer 413 and close the connection as soon as the
headers announce too large a body, or as soon as a chunked body grows past the limit,
before anything is buffered. A front proxy's limit (nginx `client_max_body_size`) is
still worth setting: it stops such a request on the wire.
"""

from __future__ import annotations

import io
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


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({
        "code": "request_too_large",
        "detail": f"The request body is larger than the server accepts ({limit // (1024 * 1024)} MB). "
                  "Large files are uploaded in pieces from the library's contribute page.",
    }).encode()
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


def _response_413(limit: int) -> bytes:
    body = json.dumps({
        "code": "request_too_large",
        "detail": f"The request body is larger than the server accepts ({limit // (1024 * 1024)} MB). "
                  "Large files are uploaded in pieces from the library's contribute page.",
    }).encode()
    head = (
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n"
    ).encode()
    return head + body


class _Discard(io.BytesIO):
    """Where the rest of a refused body goes: nowhere."""

    def write(self, data) -> int:  # type: ignore[override]
        return len(data)


def daphne_refuse_large_bodies(*, max_bytes: int | None = None) -> bool:
    """Make daphne refuse a too-large request body before buffering it (see module docstring).

    Idempotent; returns False when daphne is not installed. The limit is
    `max_bytes` or, per request, `settings.MAX_REQUEST_BODY_BYTES`.
    """
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server: RequestBodyLimit still applies
        return False
    if getattr(WebRequest, "_openrounds_body_limit", False):
        return True
    original_got_length = WebRequest.gotLength
    original_content_chunk = WebRequest.handleContentChunk
    original_process = WebRequest.process

    def limit_now() -> int:
        return max_bytes if max_bytes is not None else max_request_body_bytes()

    def refuse(request, limit: int, reason: str) -> None:
        request._openrounds_refused = True
        request.content = _Discard()
        logger.info("daphne refused a request body (%s over %s bytes)", reason, limit)
        channel = getattr(request, "channel", None)
        if channel is not None and channel.transport is not None:
            channel.transport.write(_response_413(limit))
            channel.transport.loseConnection()

    def gotLength(self, length):  # noqa: N802 (Twisted's name)
        self._openrounds_refused = False
        self._openrounds_seen = 0
        limit = limit_now()
        if length is not None and length > limit:
            refuse(self, limit, f"Content-Length {length}")
            return
        original_got_length(self, length)

    def handleContentChunk(self, data):  # noqa: N802
        if getattr(self, "_openrounds_refused", False):
            return
        self._openrounds_seen = getattr(self, "_openrounds_seen", 0) + len(data)
        limit = limit_now()
        if self._openrounds_seen > limit:
            refuse(self, limit, "streamed body")
            return
        original_content_chunk(self, data)

    def process(self):
        if getattr(self, "_openrounds_refused", False):
            return None
        return original_process(self)

    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
    WebRequest.process = process
    WebRequest._openrounds_body_limit = True
    return True
