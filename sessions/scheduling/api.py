"""The session catalog as JSON, at /api/sessions/ (session or personal-token auth).

Times are UTC ISO 8601. Refusals carry the service's stable `code` and a `message`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status

from server.people.http import AuthenticatedHttpRequest
from sessions.models import LiveSession, RegistrationStatus, SessionKind

from . import selectors, services

router = Router()

RegistrationState = Literal["host", "registered", "waitlisted", "none"]


class ErrorOut(Schema):
    code: str
    message: str


class SessionOut(Schema):
    id: int
    kind: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    host: str
    host_id: int
    institution: str
    country: str
    specialty: str
    language: str
    audience: str
    status: str
    capacity: int
    registration: RegistrationState


class SessionDetailOut(SessionOut):
    description: str
    presenter: str | None
    registered_count: int
    waitlist_position: int | None
    may_join: bool
    room_url: str


class RegistrationOut(Schema):
    session_id: int
    registration: RegistrationState
    waitlist_position: int | None
    message: str


#: Far past any real catalog; keeps the offset inside what SQLite and PostgreSQL accept.
MAX_OFFSET = 1_000_000


class CatalogQuery(Schema):
    kind: SessionKind | None = None
    specialty: str = ""
    language: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    limit: int = 100
    offset: int = 0


def _state(session: LiveSession, user, status: str | None) -> RegistrationState:
    if session.host_id == user.pk:
        return "host"
    if status in (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED):
        return status  # type: ignore[return-value]
    return "none"


def _out(session: LiveSession, state: RegistrationState) -> dict:
    return dict(
        id=session.pk, kind=session.kind, title=session.title,
        starts_at=session.starts_at.astimezone(dt.UTC), ends_at=session.ends_at.astimezone(dt.UTC),
        host=session.host.name, host_id=session.host_id, institution=session.institution.name,
        country=str(session.institution.country), specialty=session.specialty, language=session.language,
        audience=session.audience, status=session.status, capacity=session.capacity, registration=state,
    )


def _visible(request: AuthenticatedHttpRequest, session_id: int) -> LiveSession | None:
    session = selectors.session_get_visible(session_id=session_id, user=request.user)
    if session is None or session.kind == SessionKind.CONSULT:
        return None
    return session


def _detail(session: LiveSession, user) -> dict:
    registration = selectors.session_registration_of(session=session, user=user)
    return dict(
        _out(session, _state(session, user, registration.status if registration else None)),
        description=session.description,
        presenter=session.presenter.name if session.presenter else None,
        registered_count=selectors.session_registered_count(session=session),
        waitlist_position=selectors.session_waitlist_position(session=session, user=user),
        may_join=selectors.session_user_may_join(session, user),
        room_url=f"/rooms/{session.pk}/",
    )


def _not_found() -> Status[dict]:
    return Status(404, {"code": "not_found", "message": _("No such session.")})


@router.get("/", response=list[SessionOut], summary="Upcoming sessions you may join")
def session_list(request: AuthenticatedHttpRequest, query: Query[CatalogQuery]) -> list[dict]:
    """Filters: kind, specialty, language, date_from/date_to (days in your profile's time zone)."""
    filters = selectors.CatalogFilters(
        kind=query.kind or "", specialty=query.specialty, language=query.language,
        date_from=query.date_from, date_to=query.date_to,
    )
    limit = max(1, min(query.limit, 500))
    offset = max(0, min(query.offset, MAX_OFFSET))  # the database refuses offsets past a 64-bit integer
    sessions = list(selectors.session_catalog(user=request.user, filters=filters)[offset:offset + limit])
    states = selectors.user_registration_states(user=request.user, session_ids=[s.pk for s in sessions])
    return [_out(s, _state(s, request.user, states.get(s.pk))) for s in sessions]


@router.get("/{int:session_id}", response={200: SessionDetailOut, 404: ErrorOut}, summary="One session")
def session_detail(request: AuthenticatedHttpRequest, session_id: int):
    session = _visible(request, session_id)
    if session is None:
        return _not_found()
    return Status(200, _detail(session, request.user))


def _registration_reply(session: LiveSession, user, message: str) -> dict:
    registration = selectors.session_registration_of(session=session, user=user)
    return dict(
        session_id=session.pk,
        registration=_state(session, user, registration.status if registration else None),
        waitlist_position=selectors.session_waitlist_position(session=session, user=user),
        message=message,
    )


@router.post("/{int:session_id}/registration", response={200: RegistrationOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
             summary="Register (or join the waiting list)")
def session_register(request: AuthenticatedHttpRequest, session_id: int):
    session = _visible(request, session_id)
    if session is None:
        return _not_found()
    registration = services.session_register(user=request.user, session=session)  # a refusal becomes 403/400 in server/api.py
    message = services.registration_message(session=session, user=request.user, registration=registration)
    return Status(200, _registration_reply(session, request.user, message))


@router.delete("/{int:session_id}/registration", response={200: RegistrationOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
               summary="Give up a place or leave the waiting list")
def session_unregister(request: AuthenticatedHttpRequest, session_id: int):
    session = _visible(request, session_id)
    if session is None:
        return _not_found()
    services.session_unregister(user=request.user, session=session)
    return Status(200, _registration_reply(session, request.user, _("You gave up your place.")))
