"""Writes of annotation: strokes, undo, erasing, clearing a page, handing the pen, the pointer.

Every write is one room event (events.room_event_emit), stored and delivered to the room
in one step, so a late joiner, a reconnecting client and the room record all read the
same history (selectors.py replays it). Refusals are `PermissionRefused` (`forbidden`)
or `InvalidRequest` with a code of docs/protocol.md ("Annotation"); a refused stroke
stores nothing and changes nothing.
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User
from sessions.models import LiveSession, Participant, RoomEvent, SessionKind, SlideShow
from sessions.room.events import room_event_emit, room_event_type
from sessions.room.registry import role_permissions

from . import codec, selectors

logger = logging.getLogger(__name__)

room_event_type("annotation.stroke", deck_id=int, page=int, tool=str, color=str, width=int, d=str, by=int)
room_event_type("annotation.erased", deck_id=int, page=int, stroke=int, by=int)
room_event_type("annotation.undone", deck_id=int, page=int, stroke=int, by=int)
room_event_type("annotation.cleared", deck_id=int, page=int, by=int)
room_event_type("annotation.pen", user_id=int, pen=bool, by=int)

#: Strokes one page may hold (a page this full is no longer readable; clear it).
MAX_STROKES_PER_PAGE = 400


def _already_stored(*, session_id: int, user: User, client_id: str) -> int | None:
    if not client_id:
        return None
    return (
        RoomEvent.objects.filter(session_id=session_id, actor_id=user.pk, client_id=client_id)
        .values_list("seq", flat=True).first()
    )


def _on_screen(session: LiveSession, deck_id: int, page: int) -> None:
    """Strokes go on the page everyone sees: refuse another deck or page (`not_on_screen`)."""
    show = SlideShow.objects.filter(pk=session.pk).values("deck_id", "page").first()
    if not show or show["deck_id"] is None:
        raise InvalidRequest(_("No slides are on screen to draw on."), "slides_not_open")
    if show["deck_id"] != deck_id or show["page"] != page:
        raise InvalidRequest(_("That page is no longer on screen."), "not_on_screen")


def stroke_add(
    *, session: LiveSession, user: User, deck_id: int, page: int, tool: str, color: str, width: int, d: str,
    client_id: str = "",
) -> int:
    """Draw a stroke on the page on screen. Returns its id (the event's number).

    `d` is the codec's string of the points; it is decoded, simplified and re-encoded
    (codec.clean). Refusals: `forbidden`, `slides_not_open`, `not_on_screen`,
    `bad_stroke` (malformed, off the page, too long, unknown tool, colour or width),
    `page_full`.
    """
    selectors.annotation_require_pen(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    if tool not in selectors.TOOLS:
        raise InvalidRequest(_("There is no such drawing tool."), "bad_stroke")
    if color not in selectors.COLOURS:
        raise InvalidRequest(_("There is no such colour."), "bad_stroke")
    if width not in selectors.PEN_WIDTHS:
        raise InvalidRequest(_("There is no such line width."), "bad_stroke")
    encoded, _points = codec.clean(d)
    _on_screen(session, deck_id, page)
    if len(selectors.page_strokes(session_id=session.pk, deck_id=deck_id, page=page)) >= MAX_STROKES_PER_PAGE:
        raise InvalidRequest(_("This page holds as many strokes as it can; clear it first."), "page_full")
    return room_event_emit(
        session_id=session.pk, type="annotation.stroke",
        payload={"deck_id": deck_id, "page": page, "tool": tool, "color": color, "width": width, "d": encoded, "by": user.pk},
        actor_id=user.pk, client_id=client_id,
    )


def _stroke_payload(session: LiveSession, stroke_id: int) -> dict:
    """The stored stroke event's payload (`unknown_stroke` when the room has none of that number)."""
    stroke = RoomEvent.objects.filter(session=session, seq=stroke_id, type="annotation.stroke").values_list("payload", flat=True).first()
    if stroke is None:
        raise InvalidRequest(_("There is no such stroke."), "unknown_stroke")
    return stroke


def _still_drawn(session: LiveSession, deck_id: int, page: int, stroke_id: int) -> bool:
    """Whether the stroke is still on the page (not erased, undone or cleared): taking it
    away twice is a no-op, not a second event."""
    return any(s["id"] == stroke_id for s in selectors.page_strokes(session_id=session.pk, deck_id=deck_id, page=page))


def stroke_erase(*, session: LiveSession, user: User, stroke_id: int, client_id: str = "") -> int | None:
    """Erase one stroke of the page on screen (anyone who may draw). None if already gone.

    Refusals: `forbidden`, `unknown_stroke`, `not_on_screen`.
    """
    selectors.annotation_require_pen(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    stroke = _stroke_payload(session, stroke_id)
    deck_id, page = int(stroke["deck_id"]), int(stroke["page"])
    _on_screen(session, deck_id, page)
    if not _still_drawn(session, deck_id, page, stroke_id):
        return None
    return room_event_emit(
        session_id=session.pk, type="annotation.erased",
        payload={"deck_id": deck_id, "page": page, "stroke": stroke_id, "by": user.pk}, actor_id=user.pk, client_id=client_id,
    )


def stroke_undo(
    *, session: LiveSession, user: User, role: str, stroke_id: int | None = None, deck_id: int | None = None,
    page: int | None = None, client_id: str = "",
) -> int | None:
    """Take back a stroke of the page on screen (Undo). Returns the event's number; None
    when there is nothing to take back (already gone, or none of yours on that page).

    With `deck_id` and `page`: the requester's newest stroke on that page. The server
    picks it, not the client, because a socket's messages are handled in order: an Undo
    sent right after a stroke, before that stroke's event came back, takes back that
    stroke and not the one before. With `stroke_id`: that stroke, which must be the
    requester's (the host and moderators may take back anyone's).

    Why an event of its own rather than `annotation.erased`: erasing is open to anyone
    who may draw, undoing is the drawer's, and the record can tell a stroke taken back
    from one rubbed out. A late joiner and the room record never see an undone stroke
    (selectors.py replays it away). Refusals: `forbidden` (may not draw),
    `not_your_stroke`, `unknown_stroke`, `slides_not_open`, `not_on_screen`, `wrong_field`
    (neither a stroke nor a page named).
    """
    selectors.annotation_require_pen(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    if stroke_id is None:
        if deck_id is None or page is None:
            raise InvalidRequest(_("Name the stroke, or the page whose last stroke to undo."), "wrong_field")
        _on_screen(session, deck_id, page)
        mine = [s["id"] for s in selectors.page_strokes(session_id=session.pk, deck_id=deck_id, page=page)
                if s.get("by") == user.pk]
        if not mine:
            return None
        stroke_id = mine[-1]
    else:
        stroke = _stroke_payload(session, stroke_id)
        moderator = session.host_id == user.pk or "moderate" in role_permissions(role)
        if int(stroke.get("by", 0)) != user.pk and not moderator:
            raise PermissionRefused(_("You can only undo your own strokes."), "not_your_stroke")
        deck_id, page = int(stroke["deck_id"]), int(stroke["page"])
        _on_screen(session, deck_id, page)
        if not _still_drawn(session, deck_id, page, stroke_id):
            return None
    return room_event_emit(
        session_id=session.pk, type="annotation.undone",
        payload={"deck_id": deck_id, "page": page, "stroke": stroke_id, "by": user.pk}, actor_id=user.pk, client_id=client_id,
    )


def page_clear(*, session: LiveSession, user: User, deck_id: int, page: int, client_id: str = "") -> int | None:
    """Clear every stroke of the page on screen. None when it had none."""
    selectors.annotation_require_pen(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    _on_screen(session, deck_id, page)
    if not selectors.page_strokes(session_id=session.pk, deck_id=deck_id, page=page):
        return None
    return room_event_emit(
        session_id=session.pk, type="annotation.cleared", payload={"deck_id": deck_id, "page": page, "by": user.pk},
        actor_id=user.pk, client_id=client_id,
    )


def pen_set(*, session: LiveSession, user: User, role: str, target_id: int, pen: bool, client_id: str = "") -> int | None:
    """The host (or a moderator) hands the pen to `target_id` or takes it back. None if no change.

    Refusals: `forbidden` (not a moderator; a consult), `not_participant` (the person is
    not in the room).
    """
    if session.kind == SessionKind.CONSULT:
        raise PermissionRefused(_("Consults are not annotated."), "forbidden")
    if session.host_id != user.pk and "moderate" not in role_permissions(role):
        raise PermissionRefused(_("Only the host can hand the pen to someone."), "forbidden")
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    if pen and not Participant.objects.filter(session=session, user_id=target_id, removed_at__isnull=True).exists():
        raise InvalidRequest(_("That person is not in the room."), "not_participant")
    if (target_id in selectors.pen_holders(session_id=session.pk)) == pen:
        return None
    seq = room_event_emit(
        session_id=session.pk, type="annotation.pen", payload={"user_id": target_id, "pen": pen, "by": user.pk},
        actor_id=user.pk, client_id=client_id,
    )
    logger.info("session %s: user %s %s the pen (event %s)", session.pk, target_id, "was given" if pen else "gave back", seq)
    return seq


def pointer_check(*, session: LiveSession, user: User, x: int, y: int) -> None:
    """A pointer position must be on the grid (or -1, -1 to hide it) and sent by someone who may draw."""
    selectors.annotation_require_pen(session=session, user=user)
    if (x, y) != (-1, -1) and not (0 <= x <= codec.GRID and 0 <= y <= codec.GRID):
        raise InvalidRequest(_("The pointer is off the page."), "bad_pointer")
