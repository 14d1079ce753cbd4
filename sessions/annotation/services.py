"""Writes of annotation: strokes, undo and redo, erasing, clearing a page, handing the pen, the pointer.

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
room_event_type("annotation.redone", deck_id=int, page=int, stroke=int, by=int)
room_event_type("annotation.restored", deck_id=int, page=int, strokes=list, undoes=int, by=int)
room_event_type("annotation.removed", deck_id=int, page=int, strokes=list, redoes=int, by=int)
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


#: Events a person's Undo can take back (their event number names them: `action`).
ACTION_EVENTS = ("annotation.stroke", "annotation.erased", "annotation.cleared")


def _moderates(session: LiveSession, user: User, role: str) -> bool:
    """The host and moderators may undo and redo anyone's strokes, erasing and clearing."""
    return session.host_id == user.pk or "moderate" in role_permissions(role)


def _named_action(session: LiveSession, *, stroke_id: int | None, action_id: int | None) -> tuple[int, str, dict]:
    """The event named by `stroke` (a stroke: `unknown_stroke` otherwise) or by `action` (a
    stroke, an erase or a clear: `unknown_action` otherwise): its number, type and payload."""
    if stroke_id is not None:
        return stroke_id, "annotation.stroke", _stroke_payload(session, stroke_id)
    seq = int(action_id or 0)
    row = RoomEvent.objects.filter(session=session, seq=seq, type__in=ACTION_EVENTS).values_list("type", "payload").first()
    if row is None:
        raise InvalidRequest(_("There is no such stroke, erasing or clearing."), "unknown_action")
    return seq, row[0], row[1]


def _check_owner(payload: dict, *, session: LiveSession, user: User, role: str, stroke: bool, redo: bool) -> None:
    """Refuse someone else's action (`not_your_stroke` for a stroke, `not_yours` for an erase
    or a clear) unless the requester moderates."""
    if int(payload.get("by", 0)) == user.pk or _moderates(session, user, role):
        return
    if stroke:
        raise PermissionRefused(_("You can only redo your own strokes.") if redo else _("You can only undo your own strokes."),
                                "not_your_stroke")
    raise PermissionRefused(
        _("You can only redo your own erasing and clearing.") if redo else _("You can only undo your own erasing and clearing."),
        "not_yours",
    )


def _page_of(
    session: LiveSession, *, stroke_id: int | None, action_id: int | None, deck_id: int | None, page: int | None,
    user: User, role: str, redo: bool,
) -> tuple[int, int, int | None]:
    """(deck, page, named action or None) of an undo or redo, refusing what the requester may not touch."""
    if stroke_id is None and action_id is None:
        if deck_id is None or page is None:
            raise InvalidRequest(_("Name the stroke, or the page whose last change to take back."), "wrong_field")
        _on_screen(session, deck_id, page)
        return deck_id, page, None
    named, kind, payload = _named_action(session, stroke_id=stroke_id, action_id=action_id)
    _check_owner(payload, session=session, user=user, role=role, stroke=kind == "annotation.stroke", redo=redo)
    deck_id, page = int(payload["deck_id"]), int(payload["page"])
    _on_screen(session, deck_id, page)
    return deck_id, page, named


def _room_for(history: selectors.PageHistory, count: int) -> None:
    """Bringing `count` strokes back must not take the page past its limit (`page_full`)."""
    if count and len(history.on_page) + count > MAX_STROKES_PER_PAGE:
        raise InvalidRequest(_("This page holds as many strokes as it can; clear it first."), "page_full")


def stroke_undo(
    *, session: LiveSession, user: User, role: str, stroke_id: int | None = None, action_id: int | None = None,
    deck_id: int | None = None, page: int | None = None, client_id: str = "",
) -> int | None:
    """Take back a stroke, an erase or a clear on the page on screen (Undo). Returns the
    event's number; None when there is nothing to take back (already taken back, or
    nothing of yours left on that page).

    With `deck_id` and `page`: the requester's newest action on that page that can still
    be taken back (a stroke still there, an erase or a clear whose strokes are still
    away). The server picks it, not the client, because a socket's messages are handled in
    order: an Undo sent right after a stroke, before that stroke's event came back, takes
    back that stroke and not the one before. With `stroke_id` (a stroke) or `action_id`
    (a stroke, erase or clear, by its event number): that one, which must be the
    requester's (the host and moderators may take back anyone's).

    A stroke is taken back with `annotation.undone` (why not `annotation.erased`: erasing
    is open to anyone who may draw, undoing is the drawer's, and the record can tell a
    stroke taken back from one rubbed out). An erase or a clear is taken back with
    `annotation.restored`, which names the strokes it brings back by id (they are stored
    events already): at most a page's 400 numbers, never a copy of the strokes. A late
    joiner, `annotation.load` and the room record replay both (selectors.PageHistory).
    Refusals: `forbidden` (may not draw), `not_your_stroke`, `not_yours`, `unknown_stroke`,
    `unknown_action`, `slides_not_open`, `not_on_screen`, `wrong_field` (nothing named),
    `page_full` (bringing the strokes back would pass the page's limit).
    """
    selectors.annotation_require_pen(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    deck_id, page, named = _page_of(session, stroke_id=stroke_id, action_id=action_id, deck_id=deck_id, page=page,
                                    user=user, role=role, redo=False)
    history = selectors.page_history(session_id=session.pk, deck_id=deck_id, page=page)
    if named is None:
        mine = sorted((a for a in history.actions.values() if a.by == user.pk and history.undoable(a)),
                      key=lambda a: a.seq)
        action = mine[-1] if mine else None
    else:
        action = history.actions.get(named)
    strokes = history.undoable(action) if action else []
    if action is None or not strokes:
        return None
    if action.kind == "stroke":
        return room_event_emit(
            session_id=session.pk, type="annotation.undone",
            payload={"deck_id": deck_id, "page": page, "stroke": action.seq, "by": user.pk}, actor_id=user.pk, client_id=client_id,
        )
    _room_for(history, len(strokes))
    return room_event_emit(
        session_id=session.pk, type="annotation.restored",
        payload={"deck_id": deck_id, "page": page, "strokes": strokes, "undoes": action.seq, "by": user.pk},
        actor_id=user.pk, client_id=client_id,
    )


def action_redo(
    *, session: LiveSession, user: User, role: str, stroke_id: int | None = None, action_id: int | None = None,
    deck_id: int | None = None, page: int | None = None, client_id: str = "",
) -> int | None:
    """Do again what an Undo took back (Redo). Returns the event's number; None when there
    is nothing to redo.

    With `deck_id` and `page`: the requester's newest Undo on that page, then the one
    before (a stack, as in every drawing tool). Once the requester draws, erases or clears
    on that page, what they undid there before can no longer be redone (their redo stack
    is emptied). With `stroke_id`/`action_id`: that undone action, the requester's own
    (the host and moderators: anyone's). A stroke comes back with `annotation.redone`; an
    erase or a clear takes its strokes away again with `annotation.removed` (only those
    its undo brought back, not strokes drawn since). Refusals as `stroke_undo`.
    """
    selectors.annotation_require_pen(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    deck_id, page, named = _page_of(session, stroke_id=stroke_id, action_id=action_id, deck_id=deck_id, page=page,
                                    user=user, role=role, redo=True)
    history = selectors.page_history(session_id=session.pk, deck_id=deck_id, page=page)
    if named is None:
        moderator = _moderates(session, user, role)
        undone = sorted((a for a in history.actions.values() if a.undone_by == user.pk and history.redoable(a)
                         and (a.by == user.pk or moderator)), key=lambda a: a.undone_at)
        action = undone[-1] if undone else None
    else:
        action = history.actions.get(named)
        if action is not None and action.undone_by not in (None, user.pk) and not _moderates(session, user, role):
            # Taken back by someone else (the host removing a stroke): not for its author to put back.
            raise PermissionRefused(_("Only the host can put back what someone else took back."), "not_yours")
    strokes = history.redoable(action) if action else []
    if action is None or not strokes:
        return None
    if action.kind == "stroke":
        _room_for(history, 1)
        return room_event_emit(
            session_id=session.pk, type="annotation.redone",
            payload={"deck_id": deck_id, "page": page, "stroke": action.seq, "by": user.pk}, actor_id=user.pk, client_id=client_id,
        )
    return room_event_emit(
        session_id=session.pk, type="annotation.removed",
        payload={"deck_id": deck_id, "page": page, "strokes": strokes, "redoes": action.seq, "by": user.pk},
        actor_id=user.pk, client_id=client_id,
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
