"""The broadcast in the room: the host turns it on or off; everyone learns where to watch.

Client → server::

    {"type": "media.broadcast", "action": "start" | "stop"}        (hosts; never in a consult)

Server → everyone: the room event `media.broadcast` ({"active": bool, "folder"?: str,
"error"?: str}); `active` comes once the first segments are in storage. The room
snapshot's `broadcast` part says whether it runs, where its master playlist is served
(`/rooms/<id>/broadcast/master.m3u8`, checked by `broadcast_views.py`), whether this
person may turn it on, and (to those who may) who is waiting for it (`waiting`: user ids
the full SFU refused, `media.overflow`).

Why refused for consults: a consult holds patient data, and its consent covers a
recording at most, never a stream that any number of people could fetch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.urls import reverse
from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from sessions.room.protocol import Field
from sessions.room.registry import RoomContext, register_snapshot_part, role_permissions, room_message

from .broadcast_outcomes import broadcast_current, broadcast_waiting
from .signalling import _forward, _refuse

if TYPE_CHECKING:
    from server.people.models import User
    from sessions.models import LiveSession


def broadcast_allowed(*, session: "LiveSession") -> bool:
    """Any session but a consult may be broadcast."""
    from sessions.models import SessionKind

    return session.kind != SessionKind.CONSULT


@room_message("media.broadcast", fields={"action": Field("str", choices=("start", "stop"))})
async def media_broadcast(ctx: RoomContext, message: dict[str, Any]) -> None:
    """The host starts or stops the broadcast; everyone sees the room event `media.broadcast`."""
    if not broadcast_allowed(session=ctx.session):
        await _refuse(ctx, "broadcast_not_allowed", _("A consult is never broadcast."))
        return
    if "moderate" not in ctx.permissions:
        raise PermissionRefused(_("Only the host can broadcast this session."), code="forbidden")
    op = "broadcast_start" if message["action"] == "start" else "broadcast_stop"
    await _forward(ctx, op, {"id": ctx.client_id})


async def broadcast_snapshot(session: "LiveSession", user: "User") -> dict[str, Any]:
    """Whether the broadcast runs, where to watch it, and whether this person may start it;
    for those who may: who is waiting for it (refused by the full SFU since it last changed)."""
    from sessions.room.selectors import room_role_for

    def read() -> dict[str, Any]:
        current = broadcast_current(session_id=session.pk)
        role = room_role_for(session=session, user=user) or "attendee"
        may_broadcast = broadcast_allowed(session=session) and "moderate" in role_permissions(role)
        active = bool(current.get("active"))
        return {
            "allowed": broadcast_allowed(session=session),
            "active": active,
            "playlist": reverse("broadcast:master", args=[session.pk]),
            "may_broadcast": may_broadcast,
            "waiting": broadcast_waiting(session_id=session.pk) if may_broadcast and not active else [],
        }

    return await database_sync_to_async(read)()


register_snapshot_part("broadcast", broadcast_snapshot)
