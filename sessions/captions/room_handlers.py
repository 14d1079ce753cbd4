"""Live captions typed by a captioner: the role, the socket message, the event.

Why people first: a live captioner (CART) is how deaf and hard-of-hearing students follow
a lecture today, and how a language the recogniser lacks gets captions at all (WCAG 2.2,
1.2.4 Captions (Live), level AA). The host gives someone the `captioner` role in the room;
what they type reaches everyone as it is typed (`caption.partial`, not stored, at most a
few per second) and, line by line, as stored events (`caption.line`): late joiners see the
recent lines, and the lines become the session's WebVTT beside its recording
(`webvtt.py`). A consult is never captioned: the patient's consent does not cover
a third person's transcript of the consultation.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from sessions.models import SessionKind
from sessions.room.events import room_event_type
from sessions.room.fanout import ephemeral, get_node
from sessions.room.protocol import Field
from sessions.room.ratelimit import LIMITS
from sessions.room.registry import ROLE_PERMISSIONS, RoomContext, register_role, room_message

#: The captioner does what an attendee does, and captions.
register_role("captioner", ROLE_PERMISSIONS["attendee"] | {"caption"}, assignable=True)
room_event_type("caption.line", user_id=int, name=str, text=str, source_=str)  # source: "auto" (transcribed)

MAX_CAPTION_CHARS = 500
#: A fast typist's partial lines (the page sends at most about three a second) and lines.
LIMITS["caption"] = (5.0, 20.0)


def _check(ctx: RoomContext) -> None:
    if "caption" not in ctx.permissions:
        raise PermissionRefused(_("Only the captioner can write captions."), code="forbidden")
    if ctx.session.kind == SessionKind.CONSULT:
        raise PermissionRefused(_("Consults are not captioned."), code="forbidden")


@room_message("caption.send", fields={
    "text": Field("str", max_length=MAX_CAPTION_CHARS),
    "final": Field("bool", required=False),
}, bucket="caption")
async def caption_send(ctx: RoomContext, message: dict[str, Any]) -> None:
    """A line being typed (`final` false: shown at once, not kept) or a finished line (kept)."""
    _check(ctx)
    text = " ".join(message["text"].split())
    if message.get("final"):
        if text:
            await ctx.emit("caption.line", {"user_id": ctx.user.pk, "name": ctx.user.name, "text": text})
        return
    await get_node().publish(ephemeral(ctx.session.pk, "caption.partial",
                                       {"user_id": ctx.user.pk, "name": ctx.user.name, "text": text}))
