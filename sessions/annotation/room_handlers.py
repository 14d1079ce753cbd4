"""Annotation's additions to the live room: client messages, the pointer, a snapshot part.

- `annotation.stroke` `{deck_id, page, tool, color, width, d}` → event `annotation.stroke`
- `annotation.erase` `{stroke}` → event `annotation.erased`
- `annotation.undo` `{deck_id, page}` (one's newest stroke, erase or clear there) or
  `{stroke}` / `{action}` (one's own; the host any) → event `annotation.undone` (a stroke)
  or `annotation.restored` (an erase or a clear)
- `annotation.redo` `{deck_id, page}` (one's newest undo there) or `{stroke}` / `{action}`
  → event `annotation.redone` (a stroke) or `annotation.removed` (an erase or a clear)
- `annotation.clear` `{deck_id, page}` → event `annotation.cleared`
- `annotation.pen` `{user_id, pen}` (host) → event `annotation.pen`
- `annotation.pointer` `{x, y}` → ephemeral `annotation.pointer` (not stored; -1, -1 hides)
- `annotation.load` `{deck_id, page}` → a reply `annotation.strokes` to this socket only
- the join snapshot's `annotation` part: the page on screen's strokes and the pen holders.

Rules are in services.py/selectors.py; these handlers translate (docs/protocol.md,
"Annotation").
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from server.people.models import User
from sessions.models import LiveSession
from sessions.room.fanout import db_parallel, ephemeral, get_node
from sessions.room.protocol import Field
from sessions.room.ratelimit import LIMITS
from sessions.room.registry import RoomContext, register_snapshot_part, room_message

from . import codec, selectors, services

#: Strokes: a quick sketcher lifts the pen a few times a second (presenters get 5×).
LIMITS["annotation"] = (4.0, 20.0)
#: The pointer: the page sends at most ten positions a second.
LIMITS["pointer"] = (12.0, 30.0)


async def annotation_snapshot_part(session: LiveSession, user: User) -> dict[str, Any]:
    """The page on screen with its strokes, and who holds the pen (two or three queries)."""
    return await db_parallel(selectors.annotation_current)(session_id=session.pk)


register_snapshot_part("annotation", annotation_snapshot_part)


@room_message("annotation.stroke", fields={
    "deck_id": Field("int"), "page": Field("int"),
    "tool": Field("str", choices=selectors.TOOLS), "color": Field("str", choices=tuple(selectors.COLOURS)),
    "width": Field("int"), "d": Field("str", max_length=codec.MAX_ENCODED_CHARS),
}, bucket="annotation")
async def annotation_stroke(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Draw a stroke on the page on screen; its id is the acknowledged event number."""

    def write() -> int:
        return services.stroke_add(
            session=ctx.session, user=ctx.user, deck_id=message["deck_id"], page=message["page"], tool=message["tool"],
            color=message["color"], width=message["width"], d=message["d"], client_id=ctx.client_id or "",
        )

    ctx.seq = await db_parallel(write)()


@room_message("annotation.erase", fields={"stroke": Field("int")}, bucket="annotation")
async def annotation_erase(ctx: RoomContext, message: dict[str, Any]) -> None:
    def write() -> int | None:
        return services.stroke_erase(session=ctx.session, user=ctx.user, stroke_id=message["stroke"], client_id=ctx.client_id or "")

    ctx.seq = await db_parallel(write)()


_UNDO_FIELDS = {
    "deck_id": Field("int", required=False), "page": Field("int", required=False), "stroke": Field("int", required=False),
    "action": Field("int", required=False),
}


@room_message("annotation.undo", fields=_UNDO_FIELDS, bucket="annotation")
async def annotation_undo(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Take back one's newest stroke, erase or clear on a page, or a named one (one's own; the host any)."""

    def write() -> int | None:
        return services.stroke_undo(session=ctx.session, user=ctx.user, role=ctx.role, stroke_id=message["stroke"],
                                    action_id=message["action"], deck_id=message["deck_id"], page=message["page"],
                                    client_id=ctx.client_id or "")

    ctx.seq = await db_parallel(write)()


@room_message("annotation.redo", fields=_UNDO_FIELDS, bucket="annotation")
async def annotation_redo(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Do again what one's newest Undo on a page took back, or a named undone action."""

    def write() -> int | None:
        return services.action_redo(session=ctx.session, user=ctx.user, role=ctx.role, stroke_id=message["stroke"],
                                    action_id=message["action"], deck_id=message["deck_id"], page=message["page"],
                                    client_id=ctx.client_id or "")

    ctx.seq = await db_parallel(write)()


@room_message("annotation.clear", fields={"deck_id": Field("int"), "page": Field("int")}, bucket="annotation")
async def annotation_clear(ctx: RoomContext, message: dict[str, Any]) -> None:
    def write() -> int | None:
        return services.page_clear(session=ctx.session, user=ctx.user, deck_id=message["deck_id"], page=message["page"],
                                   client_id=ctx.client_id or "")

    ctx.seq = await db_parallel(write)()


@room_message("annotation.pen", fields={"user_id": Field("int"), "pen": Field("bool")})
async def annotation_pen(ctx: RoomContext, message: dict[str, Any]) -> None:
    """The host hands the pen to someone (`pen` true) or takes it back."""

    def write() -> int | None:
        return services.pen_set(session=ctx.session, user=ctx.user, role=ctx.role, target_id=message["user_id"],
                                pen=message["pen"], client_id=ctx.client_id or "")

    ctx.seq = await db_parallel(write)()


@room_message("annotation.pointer", fields={
    "deck_id": Field("int"), "page": Field("int"), "x": Field("int"), "y": Field("int"),
}, bucket="pointer")
async def annotation_pointer(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Where the presenter points: sent to everyone at once, never stored."""
    await db_parallel(services.pointer_check)(session=ctx.session, user=ctx.user, x=message["x"], y=message["y"])
    await get_node().publish(ephemeral(ctx.session.pk, "annotation.pointer", {
        "user_id": ctx.user.pk, "deck_id": message["deck_id"], "page": message["page"], "x": message["x"], "y": message["y"],
    }))


@room_message("annotation.load", fields={"deck_id": Field("int"), "page": Field("int")})
async def annotation_load(ctx: RoomContext, message: dict[str, Any]) -> None:
    """A page's strokes, for a participant whose screen turned to it (a reply, not an event)."""
    from sessions.slides.selectors import slides_may_view

    def read() -> dict[str, Any]:
        if not slides_may_view(session=ctx.session, user=ctx.user):
            raise PermissionRefused(_("This slide does not exist or is not shown to you."), "forbidden")
        return selectors.page_load(session=ctx.session, deck_id=message["deck_id"], page=message["page"])

    data = await db_parallel(read)()
    await ctx.reply({"type": "annotation.strokes", "data": data})
