"""The one JSON API of OpenRounds (django-ninja), versioned, with its OpenAPI document.

Every JSON endpoint is a route on `api`; each app contributes a `Router` from its own
`api.py`. Clients authenticate with the browser session (CSRF-checked on writes) or a
personal access token sent as `Authorization: Bearer orp_…` (see /accounts/tokens/).
"""

from __future__ import annotations

from django.db import DataError
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.services import access_token_authenticate
from server.storable_text import StorableJsonParser, UnstorableText


class PersonalTokenAuth(HttpBearer):
    """Bearer authentication with a personal access token."""

    def authenticate(self, request: HttpRequest, token: str):
        user = access_token_authenticate(secret=token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="OpenRounds API",
    version="1",
    description="Live sessions, registration and the shared library of OpenRounds.",
    urls_namespace="api",
    openapi_url="/schema",
    docs_url="/docs",
    # The token first: session auth checks CSRF and raises (403) before a later method is
    # tried, so a script with a personal token could not POST (found by a test on the wire).
    auth=[PersonalTokenAuth(), django_auth],
    parser=StorableJsonParser(),
)



#: Refusal codes that mean "there is no such thing (for you)": 404, not 403/400.
NOT_FOUND_CODES = frozenset({"not_found", "unknown_session", "unknown_deck"})


def refusal_status(error: PermissionRefused | InvalidRequest) -> int:
    """The HTTP status of a domain refusal, the same for every router."""
    if error.code in NOT_FOUND_CODES:
        return 404
    if isinstance(error, PermissionRefused):
        return 403
    if error.code == "file_too_large":
        return 413
    return 400


@api.exception_handler(PermissionRefused)
@api.exception_handler(InvalidRequest)
def domain_refusal(request: HttpRequest, exc: PermissionRefused | InvalidRequest):
    """Every service refusal, raised from any route, becomes `{"code", "message"}` (the
    routers' ErrorOut) with its status: routers raise, they do not build 4xx bodies."""
    return api.create_response(request, {"code": exc.code, "message": str(exc.message)}, status=refusal_status(exc))


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    """django-ninja's own answer ({"detail": message}), except for text the database cannot
    store: 422 `wrong_field` naming the field, as a validation error would (server/storable_text.py)."""
    if isinstance(exc.__cause__, UnstorableText):
        return api.create_response(request, {"detail": exc.__cause__.as_detail()}, status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(DataError)
def database_refused_value(request: HttpRequest, exc: DataError):
    """A value the database cannot store or compare (NUL characters, out-of-range numbers) is the
    client's input, not a server fault: SQLite accepts what PostgreSQL refuses. Found by schemathesis."""
    return api.create_response(request, {"detail": "The request contains a value that is not allowed."}, status=400)


def _add_app_routers() -> None:
    from courses.assessment.api import router as assessment_router
    from courses.curriculum.api import router as curriculum_router
    from courses.library.api import router as library_router
    from server.people.api import router as people_router
    from sessions.consults.api import router as consults_router
    from sessions.media.api import router as media_router
    from sessions.peer.api import router as peer_router
    from sessions.record.api import router as record_router
    from sessions.room.api import router as room_router
    from sessions.scheduling.api import router as scheduling_router
    from sessions.slides.api import router as slides_router

    api.add_router("/me", people_router, tags=["people"])
    api.add_router("/sessions", scheduling_router, tags=["sessions"])
    api.add_router("/rooms", room_router, tags=["rooms"])
    api.add_router("/consults", consults_router, tags=["consults"])
    api.add_router("/media", media_router, tags=["media"])
    api.add_router("/library", library_router, tags=["library"])
    api.add_router("/courses", curriculum_router, tags=["courses"])
    api.add_router("/assessment", assessment_router, tags=["assessment"])
    api.add_router("/peer", peer_router, tags=["peer"])
    api.add_router("/record", record_router, tags=["record"])
    api.add_router("/slides", slides_router, tags=["slides"])


_add_app_routers()
