"""The one place where OpenRounds reaches into daphne's HTTP request handling.

Why: daphne 4.2 receives a request's whole body first (into a temporary file beyond
100 KB) and then, before the application runs at all, copies all of it into the
application's queue in 8 KB messages, in memory. The ASGI middleware
(:class:`server.request_limits.RequestBodyLimit`) only runs after that copy, so on its
own it cannot stop one request of a gigabyte from growing the server by gigabytes.
:func:`daphne_refuse_large_bodies` (called once where the ASGI application is built,
``server/asgi.py``) makes daphne answer 413 and close the connection as soon as the
headers announce too large a body, or as soon as a chunked (or lying) body grows past
the limit, before anything is buffered. A front proxy's limit (nginx
``client_max_body_size``) is still worth setting: it stops such a request on the wire.

What it touches, all on ``daphne.http_protocol.WebRequest`` (a subclass of Twisted's
``twisted.web.http.Request``), replaced by wrappers that call the originals:

* ``gotLength(self, length)``: Twisted's ``HTTPChannel.allHeadersReceived`` calls it
  with the announced length (``None`` for a chunked body) before any body arrives; the
  original (Twisted's) opens ``self.content``. A refused request gets a ``content``
  that discards what is written to it instead.
* ``handleContentChunk(self, data)``: Twisted's transfer decoders (set up in
  ``HTTPChannel._maybeChooseTransferDecoder``) call it with each piece of the body; the
  original writes it to ``self.content``.
* ``process(self)``: daphne's own, called by Twisted's ``Request.requestReceived`` once
  the body is complete; it copies ``self.content`` into the application's queue. It is
  skipped for a refused request.

The refusal itself writes a raw HTTP 413 to ``request.channel.transport`` and calls
its ``loseConnection()``. The flags it keeps on the class and on each request are
prefixed ``_openrounds_``.

Checked against daphne 4.2.3 and Twisted 26.10.0 (both pinned in pyproject.toml).
:func:`check_compatibility` fails (tests/server/test_daphne_http.py runs it, so
``make test`` fails) when an upgrade removes or changes any of the above, like
``sessions/room/daphne_wire.py``'s check for daphne's WebSocket side and
``sessions/media/tap.py``'s for aiortc.
"""

from __future__ import annotations

import inspect
import io
import logging
from typing import Any

from server.request_limits import max_request_body_bytes, refusal_body

logger = logging.getLogger(__name__)

CHECKED_AGAINST = "daphne 4.2.3, Twisted 26.10.0"

# The methods of daphne's WebRequest replaced here, with the parameters the wrappers take.
_PATCHED_METHODS: dict[str, tuple[str, ...]] = {
    "gotLength": ("self", "length"),
    "handleContentChunk": ("self", "data"),
    "process": ("self",),
}
# Set on WebRequest once patched: the flag, and the methods as daphne/Twisted defined them.
_PATCHED_FLAG = "_openrounds_body_limit"
_ORIGINALS = "_openrounds_originals"


class DaphneHttpError(RuntimeError):
    """daphne or Twisted changed: what this module relies on is gone or different."""


def _installed_versions() -> str:
    versions = []
    for distribution in ("daphne", "Twisted"):
        try:
            from importlib.metadata import version

            versions.append(f"{distribution} {version(distribution)}")
        except Exception:  # noqa: BLE001 (not installed as a distribution: say so)
            versions.append(f"{distribution} (version unknown)")
    return ", ".join(versions)


def _calls(function: Any, *names: str) -> bool:
    """Whether `function`'s code (under any decorator) refers to every one of `names`."""
    code = getattr(inspect.unwrap(function), "__code__", None) if callable(function) else None
    return code is not None and all(name in code.co_names for name in names)


def _originals(web_request: type) -> dict[str, Any]:
    """The patched methods as daphne/Twisted define them, whether or not the patch is in."""
    saved = web_request.__dict__.get(_ORIGINALS) or {}
    return {name: saved.get(name, getattr(web_request, name, None)) for name in _PATCHED_METHODS}


def check_compatibility() -> None:
    """Raise :class:`DaphneHttpError` if anything of daphne/Twisted used here changed."""
    from daphne import http_protocol
    from twisted.web import http

    problems: list[str] = []
    web_request = getattr(http_protocol, "WebRequest", None)
    if not isinstance(web_request, type) or not issubclass(web_request, http.Request):
        problems.append("daphne.http_protocol.WebRequest (a twisted.web.http.Request)")
    else:
        originals = _originals(web_request)
        for name, method in originals.items():
            expected = _PATCHED_METHODS[name]
            if not callable(method):
                problems.append(f"WebRequest.{name}")
                continue
            try:
                parameters = tuple(inspect.signature(method).parameters)
            except (TypeError, ValueError):
                parameters = ("?",)
            if parameters != expected:
                problems.append(f"WebRequest.{name}({', '.join(parameters)}), expected ({', '.join(expected)})")
        if not _calls(originals["process"], "content", "application_queue", "put_nowait"):
            problems.append("daphne's WebRequest.process copies request.content into the application queue")
    channel = getattr(http, "HTTPChannel", None)
    if not _calls(getattr(channel, "allHeadersReceived", None), "gotLength"):
        problems.append("twisted.web.http.HTTPChannel.allHeadersReceived calls request.gotLength")
    if not _calls(getattr(channel, "_maybeChooseTransferDecoder", None), "handleContentChunk"):
        problems.append("twisted.web.http.HTTPChannel._maybeChooseTransferDecoder feeds request.handleContentChunk")
    if channel is None or not hasattr(channel, "transport"):
        problems.append("twisted.web.http.HTTPChannel.transport")
    request = getattr(http, "Request", None)
    if not _calls(getattr(request, "requestReceived", None), "content", "seek", "process"):
        problems.append("twisted.web.http.Request.requestReceived reads request.content and calls process")
    if not _calls(getattr(request, "__init__", None), "channel"):
        problems.append("twisted.web.http.Request.__init__ keeps request.channel")
    if problems:
        raise DaphneHttpError(
            f"daphne's HTTP internals changed ({_installed_versions()} installed; server/daphne_http.py "
            f"was checked against {CHECKED_AGAINST}), missing or changed: " + "; ".join(problems)
        )


def _response_413(limit: int) -> bytes:
    body = refusal_body(limit)
    head = (
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n"
    ).encode()
    return head + body


class _Discard(io.BytesIO):
    """Where the rest of a refused body goes: nowhere."""

    def write(self, data) -> int:
        return len(data)


def daphne_refuse_large_bodies(*, max_bytes: int | None = None) -> bool:
    """Make daphne refuse a too-large request body before buffering it (see module docstring).

    Idempotent; returns False when daphne is not installed (RequestBodyLimit still
    applies under another ASGI server). The limit is `max_bytes` or, per request,
    `settings.MAX_REQUEST_BODY_BYTES`. Raises :class:`DaphneHttpError` if daphne's
    internals are not what this was written against.
    """
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server: RequestBodyLimit still applies
        return False
    if getattr(WebRequest, _PATCHED_FLAG, False):
        return True
    check_compatibility()
    originals = _originals(WebRequest)
    original_got_length = originals["gotLength"]
    original_content_chunk = originals["handleContentChunk"]
    original_process = originals["process"]

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

    setattr(WebRequest, _ORIGINALS, originals)
    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
    WebRequest.process = process
    setattr(WebRequest, _PATCHED_FLAG, True)
    return True
