"""Reads of annotation: who may draw, the strokes of a page, the annotated pages of a session.

Why no table of its own: every stroke, erasure and clearing is a room event (the room
stores and delivers them already, numbered and idempotent), so a page's annotations are
its events replayed in order: strokes since the page was last cleared, less those
erased or undone, plus those an undo of an erase or a clear or a redo brought back
(PageHistory). The stroke's id is its event's sequence number. Who holds the pen is
replayed the same way from `annotation.pen` events. A library image on screen is a deck
of one page (sessions/slides), so it is annotated, replayed and recorded the same way.

Who may draw: whoever may present slides (the host, presenters, whoever has the floor;
everyone in a peer session; slides.selectors.slides_may_present) and anyone the host
handed the pen to and has not taken it back from. Never in a consult: a consult room
shows no slides (templates/room/room.html), so there is nothing to annotate, and
drawings on clinical images are not to leave the consult.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from server.people.models import User
from sessions.models import LiveSession, Participant, RoomEvent, SessionKind, SlideDeck, SlideShow

from .codec import GRID, decode

PAGE_EVENTS = (
    "annotation.stroke", "annotation.erased", "annotation.undone", "annotation.cleared",
    "annotation.redone", "annotation.restored", "annotation.removed",
)
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


@dataclass
class PageAction:
    """Something a person did to a page that Undo can take back: a stroke, an erase or a clear.

    `seq` is its event's number (a stroke's is also the stroke's id); `strokes` the strokes
    it took away (an erase: one; a clear: those on the page then; a stroke: itself).
    `undone_by`/`undone_at`: who took it back, in which event (None: it stands).
    `restored`: the strokes its last undo brought back (what a redo takes away again).
    """

    seq: int
    kind: str  # "stroke", "erase", "clear"
    by: int
    strokes: list[int]
    undone_by: int | None = None
    undone_at: int = 0
    restored: list[int] = field(default_factory=list)


@dataclass
class PageHistory:
    """A page's annotation events replayed: the strokes on it now and what can be undone or redone.

    `removed_by`: stroke id -> the action that took it away (an erase, a clear, or the
    stroke itself when its drawer undid it); what an undo of that action brings back.
    `last_new`: user -> their newest new action (not an undo or a redo) on the page; an
    undo older than it can no longer be redone (a new stroke empties the redo stack).
    """

    drawn: dict[int, dict[str, Any]] = field(default_factory=dict)
    on_page: dict[int, dict[str, Any]] = field(default_factory=dict)
    removed_by: dict[int, int] = field(default_factory=dict)
    actions: dict[int, PageAction] = field(default_factory=dict)
    last_new: dict[int, int] = field(default_factory=dict)

    def strokes(self) -> list[dict[str, Any]]:
        """The strokes on the page, oldest first (a stroke brought back keeps its place)."""
        return [self.on_page[key] for key in sorted(self.on_page)]

    def _take(self, ids: list[int], action: int) -> list[int]:
        taken = [i for i in ids if i in self.on_page]
        for i in taken:
            del self.on_page[i]
            self.removed_by[i] = action
        return taken

    def _bring_back(self, ids: list[int]) -> None:
        for i in ids:
            if i in self.drawn and i not in self.on_page:
                self.on_page[i] = self.drawn[i]
                self.removed_by.pop(i, None)

    def apply(self, seq: int, kind: str, payload: dict[str, Any]) -> None:
        by = int(payload.get("by", 0))
        if kind == "annotation.stroke":
            self.drawn[seq] = self.on_page[seq] = stroke_public(seq, payload)
            self.actions[seq] = PageAction(seq, "stroke", by, [seq])
            self.last_new[by] = seq
        elif kind == "annotation.erased":
            self.actions[seq] = PageAction(seq, "erase", by, self._take([int(payload.get("stroke", 0))], seq))
            self.last_new[by] = seq
        elif kind == "annotation.cleared":
            self.actions[seq] = PageAction(seq, "clear", by, self._take(sorted(self.on_page), seq))
            self.last_new[by] = seq
        elif kind == "annotation.undone":  # a stroke taken back by Undo
            stroke = int(payload.get("stroke", 0))
            self._take([stroke], stroke)
            self._mark(stroke, undone_by=by, undone_at=seq)
        elif kind == "annotation.redone":  # that stroke drawn again by Redo
            stroke = int(payload.get("stroke", 0))
            self._bring_back([stroke])
            self._mark(stroke, undone_by=None, undone_at=0)
        elif kind == "annotation.restored":  # an erase or a clear taken back by Undo
            ids = [int(i) for i in payload.get("strokes", [])]
            self._bring_back(ids)
            self._mark(int(payload.get("undoes", 0)), undone_by=by, undone_at=seq, restored=ids)
        elif kind == "annotation.removed":  # that erase or clear done again by Redo
            action = int(payload.get("redoes", 0))
            self._take([int(i) for i in payload.get("strokes", [])], action)
            self._mark(action, undone_by=None, undone_at=0)

    def _mark(self, seq: int, *, undone_by: int | None, undone_at: int, restored: list[int] | None = None) -> None:
        action = self.actions.get(seq)
        if action is not None:
            action.undone_by, action.undone_at = undone_by, undone_at
            if restored is not None:
                action.restored = restored

    def undoable(self, action: PageAction) -> list[int]:
        """The strokes an undo of `action` would take away or bring back ([]: nothing, skip it)."""
        if action.undone_by is not None:
            return []
        if action.kind == "stroke":
            return [action.seq] if action.seq in self.on_page else []
        return [i for i in action.strokes if self.removed_by.get(i) == action.seq]

    def redoable(self, action: PageAction) -> list[int]:
        """The strokes a redo of `action` would bring back or take away ([]: nothing to redo).

        Nothing once whoever undid it has done something new on the page since."""
        if action.undone_by is None or action.undone_at < self.last_new.get(action.undone_by, 0):
            return []
        if action.kind == "stroke":
            return [action.seq] if self.removed_by.get(action.seq) == action.seq else []
        return [i for i in action.restored if i in self.on_page]


def _replay(rows: list[tuple[int, str, dict[str, Any]]]) -> dict[tuple[int, int], PageHistory]:
    """(deck, page) -> its history, from annotation events in sequence order."""
    pages: dict[tuple[int, int], PageHistory] = {}
    for seq, kind, payload in rows:
        key = (int(payload.get("deck_id", 0)), int(payload.get("page", 0)))
        pages.setdefault(key, PageHistory()).apply(seq, kind, payload)
    return pages


def page_history(*, session_id: int, deck_id: int, page: int) -> PageHistory:
    """One page's annotation history replayed (one query)."""
    rows = list(
        RoomEvent.objects.filter(session_id=session_id, type__in=PAGE_EVENTS, payload__deck_id=deck_id, payload__page=page)
        .order_by("seq").values_list("seq", "type", "payload")
    )
    return _replay(rows).get((deck_id, page)) or PageHistory()


def page_strokes(*, session_id: int, deck_id: int, page: int) -> list[dict[str, Any]]:
    """The strokes on one page now, oldest first (one query)."""
    return page_history(session_id=session_id, deck_id=deck_id, page=page).strokes()


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
    pages = [(key, history.strokes()) for key, history in _replay(rows).items() if history.on_page]
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
            "strokes": [stroke_svg(s, aspect=aspect) for s in strokes],
        })
    return out
