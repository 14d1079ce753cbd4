"""JSON about rooms (django-ninja, mounted at /api/rooms/): replayable events and attendance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema
from ninja.errors import HttpError

from server.people.errors import PermissionRefused
from server.people.http import AuthenticatedHttpRequest

from . import selectors

router = Router()


class RoomEventOut(Schema):
    type: str
    seq: int
    at: str
    actor: int | None
    data: dict[str, Any]


class RoomEventsOut(Schema):
    events: list[RoomEventOut]
    truncated: bool


class AttendanceOut(Schema):
    user_id: int
    name: str
    joined_at: datetime
    left_at: datetime | None


def _session_for(request: AuthenticatedHttpRequest, session_id: int):
    try:
        return selectors.room_page_context(session_id=session_id, user=request.user)
    except PermissionRefused as exc:
        raise HttpError(404 if exc.code == "not_found" else 403, exc.message) from None


@router.get("/{session_id}/events", response=RoomEventsOut)
def room_events(request: AuthenticatedHttpRequest, session_id: int, since: int = 0) -> dict[str, Any]:
    """Events after `since` that you may see (the same as a socket's replay)."""
    session = _session_for(request, session_id)
    events, truncated = selectors.room_events_since(session_id=session.pk, user=request.user, since=since)
    return {"events": events, "truncated": truncated}


@router.get("/{session_id}/attendance", response=list[AttendanceOut])
def room_attendance(request: AuthenticatedHttpRequest, session_id: int) -> list[dict[str, Any]]:
    """Join and leave times of everyone (host only)."""
    session = selectors.room_session(session_id=session_id)
    if session is None:
        raise HttpError(404, "There is no such session.")
    try:
        rows = selectors.room_attendance(session=session, user=request.user)
    except PermissionRefused as exc:
        raise HttpError(403, exc.message) from None
    return [{"user_id": r.user_id, "name": r.user.name, "joined_at": r.joined_at, "left_at": r.left_at} for r in rows]
