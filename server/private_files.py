"""A stored file streamed to one person who may read it: never cached, never sniffed, never embedded.

Consult recordings and session recordings are read through views that decide who may see
them; this is the one response both send, so the headers that keep them private are
written once.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def private_file_response(name: str, *, filename: str, content_type: str) -> FileResponse:
    """`name` from the default storage, inline, private; 404 if the file is gone."""
    try:
        stored = default_storage.open(name, "rb")
    except OSError as missing:  # FileNotFoundError on local files
        logger.error("stored file missing: %s", name)
        raise Http404(_("This file is no longer available.")) from missing
    response = FileResponse(stored, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
