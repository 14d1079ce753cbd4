"""Compress HTML and JSON responses for people on slow, paid connections.

Only complete (non-streaming) HTML and JSON bodies are compressed: file downloads stream
with Range support and Content-Length, and static files are already compressed by
whitenoise. Django's GZipMiddleware adds random padding against BREACH.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware

COMPRESSIBLE_TYPES = ("text/html", "application/json", "text/csv", "text/calendar")


class PageGZipMiddleware(GZipMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.streaming or not response.get("Content-Type", "").startswith(COMPRESSIBLE_TYPES):
            return response
        return super().process_response(request, response)
