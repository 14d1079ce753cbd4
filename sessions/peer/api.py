"""Peer exchange as JSON, at /api/peer/ (session or personal-token auth).

- `GET /api/peer/requests` — my requests, newest first;
- `POST /api/peer/requests` — ask to be matched (matching runs at once: the reply says
  whether a group formed);
- `GET /api/peer/requests/{id}` — one of mine;
- `DELETE /api/peer/requests/{id}` — withdraw an open one.

Times are ISO 8601 with an offset (a time without one is refused: `naive_time`);
replies are in UTC. Refusals carry the service's stable `code` and a `message`.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status

from server.people.http import AuthenticatedHttpRequest
from sessions.models import PeerMatchRequest

from . import selectors, services
from .matching import MAX_GROUP, MIN_GROUP

router = Router()


class ErrorOut(Schema):
    code: str
    message: str


class WindowIn(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime


class WindowOut(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime


class PeerRequestIn(Schema):
    topic: str = Field(max_length=services.MAX_TOPIC)
    discipline: str = Field("", max_length=services.MAX_DISCIPLINE)
    languages: list[str] | None = Field(None, max_length=services.MAX_LANGUAGES, description="Language codes; your profile's when left out.")
    windows: list[WindowIn] = Field(max_length=services.MAX_WINDOWS + 10)
    group_size: int = Field(4, ge=MIN_GROUP, le=MAX_GROUP)
    same_country_ok: bool = False
    time_zone: str = Field("", max_length=64, description="The zone you think in (shown back to you); your profile's by default.")


class PartnerOut(Schema):
    name: str
    school: str
    country: str
    topic: str


class MatchOut(Schema):
    session_id: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    language: str
    status: str
    session_url: str
    room_url: str
    notes_url: str
    partners: list[PartnerOut]


class PeerRequestOut(Schema):
    id: int
    topic: str
    discipline: str
    languages: list[str]
    group_size: int
    same_country_ok: bool
    time_zone: str
    status: str
    windows: list[WindowOut]
    expires_at: dt.datetime
    created_at: dt.datetime
    match: MatchOut | None


def _out(request: PeerMatchRequest) -> dict:
    match = None
    session = request.session
    if session is not None:
        match = dict(
            session_id=session.pk, title=session.title, language=session.language, status=session.status,
            starts_at=session.starts_at.astimezone(dt.UTC), ends_at=session.ends_at.astimezone(dt.UTC),
            session_url=reverse("scheduling:detail", args=[session.pk]),
            room_url=reverse("room:room", args=[session.pk]),
            notes_url=reverse("peer:notes-download", args=[session.pk]),
            partners=[
                dict(name=p.name, school=p.school, country=p.country, topic=p.topic)
                for p in selectors.peer_partners_of(request=request)
            ],
        )
    return dict(
        id=request.pk, topic=request.topic, discipline=request.discipline, languages=list(request.languages or []),
        group_size=request.group_size, same_country_ok=request.same_country_ok, time_zone=request.time_zone,
        status=request.status, expires_at=request.expires_at.astimezone(dt.UTC),
        created_at=request.created_at.astimezone(dt.UTC),
        windows=[dict(starts_at=w.starts_at.astimezone(dt.UTC), ends_at=w.ends_at.astimezone(dt.UTC)) for w in request.windows.all()],
        match=match,
    )


@router.get("/requests", response=list[PeerRequestOut], summary="My requests for exchange partners")
def peer_request_list(request: AuthenticatedHttpRequest) -> list[dict]:
    return [_out(item) for item in selectors.peer_requests_of(user=request.user)]


@router.post("/requests", response={201: PeerRequestOut, 400: ErrorOut, 403: ErrorOut},
             summary="Ask to be matched with students of other countries")
def peer_request_create(request: AuthenticatedHttpRequest, payload: PeerRequestIn):
    """Windows in the next two weeks, each at least 45 minutes; at most 6. The reply's
    `status` is `matched` (with `match`) when a group formed at once, else `open`."""
    wish = services.PeerWish(
        topic=payload.topic, discipline=payload.discipline, languages=payload.languages,
        windows=[(w.starts_at, w.ends_at) for w in payload.windows], group_size=payload.group_size,
        same_country_ok=payload.same_country_ok, time_zone=payload.time_zone,
    )
    made = services.peer_request_create(by=request.user, wish=wish, base_url=request.build_absolute_uri("/").rstrip("/"))
    shown = selectors.peer_request_of(user=request.user, request_id=made.pk)
    return Status(201, _out(cast(PeerMatchRequest, shown)))  # just made by this user


@router.get("/requests/{int:request_id}", response={200: PeerRequestOut, 404: ErrorOut}, summary="One of my requests")
def peer_request_detail(request: AuthenticatedHttpRequest, request_id: int):
    found = selectors.peer_request_of(user=request.user, request_id=request_id)
    if found is None:
        return Status(404, {"code": "not_found", "message": _("No such request.")})
    return Status(200, _out(found))


@router.delete("/requests/{int:request_id}", response={200: PeerRequestOut, 400: ErrorOut, 404: ErrorOut},
               summary="Withdraw an open request")
def peer_request_withdraw(request: AuthenticatedHttpRequest, request_id: int):
    found = selectors.peer_request_of(user=request.user, request_id=request_id)
    if found is None:
        return Status(404, {"code": "not_found", "message": _("No such request.")})
    services.peer_request_withdraw(by=request.user, request=found)
    return Status(200, _out(cast(PeerMatchRequest, selectors.peer_request_of(user=request.user, request_id=request_id))))
