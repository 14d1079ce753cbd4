"""Page images of slides, authorized on every request (mounted at /slides/).

Only participants of the deck's session get an image (selectors.slide_image_for_viewer).
Pages never change once rendered, so answers are cached privately for a year and
revalidated by ETag; on S3 the browser is sent to a short-lived signed URL that makes S3
answer with the same type and caching (the redirect itself is cached a little less
long than the URL lives, so turning back a page does not ask us again).
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseNotModified, HttpResponseRedirect
from django.views.decorators.http import require_GET

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest

from . import selectors

logger = logging.getLogger(__name__)

IMMUTABLE = "private, max-age=31536000, immutable"
SIGNED_URL_SECONDS = 300
REDIRECT_CACHE_SECONDS = 240


def _storage_is_remote() -> bool:
    return hasattr(default_storage, "bucket_name") and hasattr(default_storage, "connection")


@login_required
@require_GET
def page_image(request: AuthenticatedHttpRequest, deck_id: int, number: int, size: str) -> HttpResponse:
    """One page image of a deck, for a participant of its session."""
    try:
        page, size = selectors.slide_image_for_viewer(user=request.user, deck_id=deck_id, number=number, size=size)
    except (PermissionRefused, InvalidRequest) as refusal:
        logger.info("slide image of deck %s refused to user %s (%s)", deck_id, request.user.pk, refusal.code)
        response = HttpResponse(refusal.message, status=403 if isinstance(refusal, PermissionRefused) else 404,
                                content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        return response
    name = page.large_name if size == "large" else page.small_name
    etag = f'"slide-{page.deck_id}-{page.number}-{size}"'
    if _storage_is_remote():
        url = default_storage.url(  # type: ignore[call-arg]  # S3Storage.url; default_storage is typed as Storage
            name, expire=SIGNED_URL_SECONDS,
            parameters={"ResponseContentType": page.content_type, "ResponseCacheControl": IMMUTABLE},
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = f"private, max-age={REDIRECT_CACHE_SECONDS}"
        return response
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        with default_storage.open(name, "rb") as handle:  # a few KB: read whole
            response = HttpResponse(handle.read(), content_type=page.content_type)
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
