"""Reads of annotation: who may draw, the strokes of a page, the annotated pages of a session.

Why no table of its own: every stroke, erasure and clearing is a room event (the room
stores and delivers them already, numbered and idempotent), so a page's annotations are
its events replayed in order: strokes since the page was last cleared, less those
erased or undone. The stroke's id is its event's sequence number. Who holds the pen is
replayed the same way from `annotation.pen` events. A library image on screen is a deck
of one page (sessions/slides), so it is annotated, replayed and recorded the same way.

Who may draw: whoever may present slides (the host, presenters, whoever has the floor;
everyone in a peer session; slides.selectors.slides_may_present) and anyone the host
handed the pen to and has not taken it back from. Never in a consult: a consult room
shows no slides (templates/room/room.html), so there is nothing to annotate, and
drawings on clinical images are not to leave the consult.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from server.people.models import User
from sessions.models import LiveSession, Participant, RoomEvent, SessionKind, SlideDeck, SlideShow

from .codec import GRID, decode

PAGE_EVENTS = ("annotation.stroke", "annotation.erased", "annotation.undone", "annotation.cleared")
#: Events that take one stroke away (the eraser, and the drawer's undo).
REMOVING_EVENTS = ("annotation.erased", "annotation.undone")
#: Palette: name -> colour. A stroke names one; nothing else can be drawn.
COLOURS: dict[str, str] = {
    "red": "#d62728", "blue": "#1f5fbf", "green": "#1a7f37", "yellow": "#f2c200", "black": "#111111", "white": "#ffffff",
}
TOOLS = ("pen", "highlighter")
#: Widths 1..3 in grid units (thousandths of the page width × 10) for the pen; the
#: highlighter is four times as wide and translucent.
PEN_WIDTHS = {1: 12, 2: 25, 3: 50}
HIGHLIGHTER_FACTOR = 4
HIGHLIGHTER_OPACITY = 0.35


def pen_holders(*, session_id: int) -> list[int]:
    """People the host handed the pen to and has not taken it back from (sorted ids)."""
    holders: set[int] = set()
    for payload in RoomEvent.objects.filter(session_id=session_id, type="annotation.pen").order_by("seq").values_list("payload", flat=True):
        if payload.get("pen"):
            holders.add(int(payload["user_id"]))
        else:
            holders.discard(int(payload["user_id"]))
    return sorted(holders)


def annotation_may_draw(*, session: LiveSession, user: User) -> bool:
    """Whether `user` may point and draw in `session` now (module docstring)."""
    from sessions.slides.selectors import slides_may_present

    if session.kind == SessionKind.CONSULT or not user.is_authenticated:
        return False
    if slides_may_present(session=session, user=user):
        return True
    if user.pk not in pen_holders(session_id=session.pk):
        return False
    return Participant.objects.filter(session=session, user=user, removed_at__isnull=True).exists()


def annotation_require_pen(*, session: LiveSession, user: User) -> None:
    if session.kind == SessionKind.CONSULT:
        raise PermissionRefused(_("Consults are not annotated."), "forbidden")
    if not annotation_may_draw(session=session, user=user):
        raise PermissionRefused(_("Only the presenter and people the host gives the pen to can draw."), "forbidden")


def stroke_public(seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    """A stroke as clients get it in a snapshot or a page load (the event's data plus its id)."""
    return {"id": seq, **{key: payload[key] for key in ("tool", "color", "width", "d", "by") if key in payload}}


def _replay(rows: list[tuple[int, str, dict[str, Any]]]) -> dict[tuple[int, int], dict[int, dict[str, Any]]]:
    """(deck, page) -> {stroke id: stroke}, from annotation events in sequence order."""
    pages: dict[tuple[int, int], dict[int, dict[str, Any]]] = {}
    for seq, kind, payload in rows:
        key = (int(payload.get("deck_id", 0)), int(payload.get("page", 0)))
        strokes = pages.setdefault(key, {})
        if kind == "annotation.stroke":
            strokes[seq] = stroke_public(seq, payload)
        elif kind in REMOVING_EVENTS:
            strokes.pop(int(payload.get("stroke", 0)), None)
        elif kind == "annotation.cleared":
            strokes.clear()
    return pages


def page_strokes(*, session_id: int, deck_id: int, page: int) -> list[dict[str, Any]]:
    """The strokes on one page now, oldest first (one query)."""
    rows = list(
        RoomEvent.objects.filter(session_id=session_id, type__in=PAGE_EVENTS, payload__deck_id=deck_id, payload__page=page)
        .order_by("seq").values_list("seq", "type", "payload")
    )
    return list(_replay(rows).get((deck_id, page), {}).values())


def annotation_current(*, session_id: int) -> dict[str, Any]:
    """The snapshot part: the page on screen with its strokes, and who holds the pen."""
    show = SlideShow.objects.filter(pk=session_id).values("deck_id", "page").first()
    deck_id, page = (show["deck_id"], show["page"]) if show and show["deck_id"] else (None, 0)
    last = RoomEvent.objects.filter(session_id=session_id).order_by("-seq").values_list("seq", flat=True).first() or 0
    strokes = page_strokes(session_id=session_id, deck_id=deck_id, page=page) if deck_id else []
    return {"deck_id": deck_id, "page": page, "strokes": strokes, "pens": pen_holders(session_id=session_id), "seq": last}


def page_load(*, session: LiveSession, deck_id: int, page: int) -> dict[str, Any]:
    """A page's strokes for a participant turning to it, with the last event number read."""
    last = RoomEvent.objects.filter(session_id=session.pk).order_by("-seq").values_list("seq", flat=True).first() or 0
    return {"deck_id": deck_id, "page": page, "strokes": page_strokes(session_id=session.pk, deck_id=deck_id, page=page),
            "seq": last}


# --- after the session: the record page ------------------------------------------------


def stroke_svg(stroke: dict[str, Any], *, aspect: float) -> dict[str, Any]:
    """What the record page's SVG needs to draw a stroke: points, colour, width, opacity.

    `aspect` is the page's height / width: y grid values are scaled by it so the viewBox
    is GRID wide and GRID × aspect high and widths are the same across and down.
    """
    points = decode(stroke["d"])
    if len(points) == 1:
        points = points * 2  # a dot: a zero-length line with round caps
    highlighter = stroke.get("tool") == "highlighter"
    width = PEN_WIDTHS.get(int(stroke.get("width", 2)), PEN_WIDTHS[2]) * (HIGHLIGHTER_FACTOR if highlighter else 1)
    return {
        "points": " ".join(f"{x},{round(y * aspect)}" for x, y in points),
        "colour": COLOURS.get(str(stroke.get("color")), COLOURS["red"]),
        "width": width,
        "opacity": str(HIGHLIGHTER_OPACITY) if highlighter else "1",  # a string: templates localise floats
    }


def annotated_pages(*, session: LiveSession, user: User) -> list[dict[str, Any]]:
    """Every slide page that still has strokes, in the order first drawn on, ready to render.

    Empty for consults. The caller has checked that `user` may read the room record.
    """
    if session.kind == SessionKind.CONSULT:
        return []
    rows = list(
        RoomEvent.objects.filter(session_id=session.pk, type__in=PAGE_EVENTS).order_by("seq").values_list("seq", "type", "payload")
    )
    pages = [(key, strokes) for key, strokes in _replay(rows).items() if strokes]
    decks = SlideDeck.objects.in_bulk({deck_id for (deck_id, _page), _strokes in pages})
    out = []
    from sessions.slides.selectors import image_url_template

    for (deck_id, page), strokes in pages:
        deck = decks.get(deck_id)
        if deck is None or not deck.page_width:
            continue
        aspect = (deck.page_height or deck.page_width) / deck.page_width
        out.append({
            "deck": deck, "page": page, "count": len(strokes),
            "image_url": image_url_template(deck.pk).replace("{page}", str(page)).replace("{size}", "large"),
            "width": deck.page_width, "height": deck.page_height,
            "view_box": f"0 0 {GRID} {round(GRID * aspect)}",
            "strokes": [stroke_svg(s, aspect=aspect) for s in strokes.values()],
        })
    return out
