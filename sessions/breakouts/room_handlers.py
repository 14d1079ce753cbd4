"""Breakout groups in the live room (registered on import by sessions.apps).

Main room, host and co-hosts only (the services check it; docs/protocol.md, "Breakout groups"):
- `breakouts.split` `{mode: "mixed"|"manual", group_size, groups?}`: a new split, not open yet;
- `breakouts.move` `{user_id, group_id}` (group_id 0: no group), before or while open;
- `breakouts.open` `{minutes}`: open every group of the split for that long;
- `breakouts.broadcast` `{text}`: a message to the main room and every group;
- `breakouts.close`: close them all now (they also close by themselves when the time is up:
  every room process keeps the deadline, `register_deadlines` below);
- `breakouts.get` (anyone in a main room): the plan as in the snapshot, answered to this
  socket only (`breakouts.state`), for a client that missed a version of it.
Snapshot parts: `breakouts` in main rooms (the plan: whole for the host and co-hosts, the
groups and one's own place for attendees; `now` for the countdown, whether this person may
manage), `breakout` in a group's room (the group, its main room, `now`).
Group rooms admit only their members, the host and co-hosts (`selectors.breakout_refusal`);
someone moved out while open is closed out of the old group's room (4403 `not_in_group`,
`selectors.breakout_stay_refusal`, checked by the room on `breakout.moved`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse
from django.utils import timezone

from server.people.models import User
from sessions.models import BreakoutMember, LiveSession, SessionKind
from sessions.room.fanout import db_parallel
from sessions.room.protocol import Field
from sessions.room.registry import (
    RoomContext,
    register_deadlines,
    register_snapshot_part,
    register_stay_check,
    room_message,
)
from sessions.room.selectors import register_refusal_reason, register_role_resolver

from . import selectors, services

logger = logging.getLogger(__name__)

register_role_resolver(SessionKind.BREAKOUT, selectors.breakout_room_role)
register_refusal_reason(SessionKind.BREAKOUT, selectors.breakout_refusal)
# Moved out of an open group: the old group's room closes that person's socket.
register_stay_check("breakout.moved", selectors.breakout_stay_refusal)
# Groups close at their deadline (stored in BreakoutGroup.closes_at) whichever process
# opened them or died since: every room process reads the deadlines due soon.
register_deadlines("breakouts", upcoming=services.breakouts_deadlines, run=services.breakouts_deadline_run)


def _main_part(session: LiveSession, user: User) -> dict[str, Any]:
    services.breakouts_close_due(session_id=session.pk)  # a join after the time is up closes them
    return selectors.breakout_plan_for(session=session, user=user)


def _group_part(session: LiveSession, user: User) -> dict[str, Any]:
    group = selectors.breakout_of_room(session=session)
    if group is None:
        return {}
    members = sorted(BreakoutMember.objects.filter(group=group).select_related("user"), key=lambda m: m.user.name)
    return {
        "group": {"id": group.pk, "name": group.name, "number": group.number},
        "parent": {"id": group.parent_id, "title": group.parent.title, "url": reverse("room:room", args=[group.parent_id])},
        "opened_at": group.opened_at.isoformat() if group.opened_at else None,
        "closes_at": group.closes_at.isoformat() if group.closes_at else None,
        "now": timezone.now().isoformat(),
        "members": [{"id": m.user_id, "name": m.user.name} for m in members],
    }


async def breakouts_snapshot_part(session: LiveSession, user: User) -> dict[str, Any]:
    if session.kind not in selectors.SPLITTABLE_KINDS:
        return {}
    return await db_parallel(_main_part)(session, user)


async def breakout_snapshot_part(session: LiveSession, user: User) -> dict[str, Any]:
    if session.kind != SessionKind.BREAKOUT:
        return {}
    return await db_parallel(_group_part)(session, user)


register_snapshot_part("breakouts", breakouts_snapshot_part)
register_snapshot_part("breakout", breakout_snapshot_part)


@room_message("breakouts.split", fields={
    "mode": Field("str", choices=("mixed", "manual")), "group_size": Field("int"), "groups": Field("int", required=False),
})
async def breakouts_split(ctx: RoomContext, message: dict[str, Any]) -> None:
    ctx.seq = await db_parallel(services.breakouts_split)(
        by=ctx.user, session=ctx.session, group_size=message["group_size"], mode=message["mode"], groups=message["groups"],
    )


@room_message("breakouts.move", fields={"user_id": Field("int"), "group_id": Field("int")})
async def breakouts_move(ctx: RoomContext, message: dict[str, Any]) -> None:
    ctx.seq = await db_parallel(services.breakout_move)(
        by=ctx.user, session=ctx.session, user_id=message["user_id"], group_id=message["group_id"] or None,
    )


@room_message("breakouts.open", fields={"minutes": Field("int")})
async def breakouts_open(ctx: RoomContext, message: dict[str, Any]) -> None:
    ctx.seq = await db_parallel(services.breakouts_open)(by=ctx.user, session=ctx.session, minutes=message["minutes"])


@room_message("breakouts.broadcast", fields={"text": Field("str", max_length=services.MAX_MESSAGE_CHARS)})
async def breakouts_broadcast(ctx: RoomContext, message: dict[str, Any]) -> None:
    ctx.seq = await db_parallel(services.breakouts_broadcast)(by=ctx.user, session=ctx.session, text=message["text"])


@room_message("breakouts.close")
async def breakouts_close(ctx: RoomContext, message: dict[str, Any]) -> None:
    ctx.seq = await db_parallel(services.breakouts_close)(by=ctx.user, session=ctx.session)


@room_message("breakouts.get")
async def breakouts_get(ctx: RoomContext, message: dict[str, Any]) -> None:
    plan = await db_parallel(_main_part)(ctx.session, ctx.user)
    await ctx.reply({"type": "breakouts.state", "id": ctx.client_id, "plan": plan})
