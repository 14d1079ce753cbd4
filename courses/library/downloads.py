"""Serving library files, authorized on every request.

The caller (a view) has already checked that the person may see the file's material
(`selectors.material_file_get_for_user`). Then:
- on S3 the browser is redirected to a signed URL that lives two minutes and makes S3
  answer with our content type and disposition;
- on local files the file is streamed in 64 KB chunks with HTTP Range support (206 with
  Content-Range, 416 for a range past the end), so a video can be scrubbed and an
  interrupted download resumed on a paid-by-the-MB connection.
Every answer carries `X-Content-Type-Options: nosniff`; anything that is not a known-safe
media type is sent as an attachment, never rendered by the browser on our origin.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import IO

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

from courses.models import MaterialFile

from . import storage

logger = logging.getLogger(__name__)

#: Types a browser may show inline from our origin: raster images, audio, video.
INLINE_SAFE_TYPES = frozenset(
    {
        "image/png", "image/jpeg", "image/gif", "image/webp",
        "audio/mpeg", "audio/mp4", "audio/ogg", "audio/wav", "audio/webm", "audio/flac",
        "video/mp4", "video/webm", "video/quicktime",
    }
)
CHUNK = 64 * 1024
ASYNC_CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def is_inline_safe(content_type: str) -> bool:
    return content_type in INLINE_SAFE_TYPES


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """The one byte range asked for, as (first, last) inclusive.

    None: no usable Range header (serve everything). "unsatisfiable": a syntactically
    valid range that lies past the end (answer 416). Several ranges are answered with the
    whole file, which RFC 9110 allows.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix: the last N bytes
        length = int(last_text)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size:
        return "unsatisfiable"
    if last < first:
        return None
    return first, min(last, size - 1)


async def _astream(handle: IO[bytes], first: int, length: int) -> AsyncIterator[bytes]:
    """The async twin of `_stream` for daphne: Django would otherwise read a sync
    iterator into one list (the whole file in memory) before sending it."""
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        await sync_to_async(handle.seek, thread_sensitive=False)(first)
        remaining = length
        while remaining > 0:
            chunk = await read(min(ASYNC_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


def _stream(handle: IO[bytes], first: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(first)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def file_response(request: HttpRequest, file: MaterialFile, *, force_download: bool = False) -> HttpResponseBase:
    """The response that hands `file` to an authorized person (see module docstring)."""
    attachment = force_download or not is_inline_safe(file.content_type)
    content_type = file.content_type if file.content_type else "application/octet-stream"
    if storage.storage_is_remote():
        url = storage.storage_signed_url(
            name=file.storage_name, download_name=file.original_name, content_type=content_type,
            attachment=attachment,
        )
        response: HttpResponseBase = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    size = file.size
    etag = f'"{file.sha256}"' if file.sha256 else None
    wanted = parse_range(request.headers.get("Range", ""), size)
    if_range = request.headers.get("If-Range")
    if wanted is not None and if_range and etag and if_range != etag:
        wanted = None  # the file changed since the client's partial copy: send it all
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["X-Content-Type-Options"] = "nosniff"
        return response
    handle = storage.storage_open(file.storage_name)
    if wanted is None:
        first, last, status = 0, size - 1, 200
    else:
        first, last = wanted  # type: ignore[misc]
        status = 206
    length = max(0, last - first + 1)
    body = _astream(handle, first, length) if isinstance(request, ASGIRequest) else _stream(handle, first, length)
    response = StreamingHttpResponse(body, status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    if etag:
        response["ETag"] = etag
    # A str: None only for an inline file without a name, and files always have one.
    response["Content-Disposition"] = content_disposition_header(attachment, file.original_name)  # type: ignore[assignment]
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; media-src 'self'; img-src 'self'; sandbox"
    logger.info("file %s of material version %s served (%s bytes, status %s)", file.pk, file.version_id, length, status)
    return response
