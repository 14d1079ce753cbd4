"""Breakout groups in the live room (registered on import by sessions.apps).

Main room, host and co-hosts only (the services check it; docs/protocol.md, "Breakout groups"):
- `breakouts.split` `{mode: "mixed"|"manual", group_size, groups?}`: a new split, not open yet;
- `breakouts.move` `{user_id, group_id}` (group_id 0: no group), before or while open;
- `breakouts.open` `{minutes}`: open every group of the split for that long;
- `breakouts.broadcast` `{text}`: a message to the main room and every group;
- `breakouts.close`: close them all now (they also close by themselves when the time is up).
Snapshot parts: `breakouts` in main rooms (the plan, `now` for the countdown, whether
this person may manage), `breakout` in a group's room (the group, its main room, `now`).
Group rooms admit only their members, the host and co-hosts (`selectors.breakout_refusal`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.urls import reverse
from django.utils import timezone

from server.people.models import User
from sessions.models import BreakoutMember, LiveSession, SessionKind
from sessions.room.fanout import db_parallel
from sessions.room.protocol import Field
from sessions.room.registry import RoomContext, register_snapshot_part, room_message
from sessions.room.selectors import register_refusal_reason, register_role_resolver, room_moderator_ids

from . import selectors, services

logger = logging.getLogger(__name__)

register_role_resolver(SessionKind.BREAKOUT, selectors.breakout_room_role)
register_refusal_reason(SessionKind.BREAKOUT, selectors.breakout_refusal)

#: Timers that close groups when their time is up (kept so they are not collected).
_TIMERS: set[asyncio.Task[None]] = set()


def _main_part(session: LiveSession, user: User) -> dict[str, Any]:
    services.breakouts_close_due(session_id=session.pk)  # a join after the time is up closes them
    manager = user.pk == session.host_id or user.pk in room_moderator_ids(session_id=session.pk)
    # Attendees get the plan as the last `breakouts.changed` event carried it (one indexed
    # read: 300 people coming back at once must not each rebuild it); hosts get it fresh,
    # with the people who joined since (to move them into groups).
    plan = selectors.breakout_plan(session=session) if manager else selectors.breakout_plan_sent(session=session)
    return {**plan, "now": timezone.now().isoformat(), "can_manage": manager}


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
    if session.kind not in services.SPLITTABLE_KINDS:
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
    _close_later(ctx.session.pk, message["minutes"] * 60)


@room_message("breakouts.broadcast", fields={"text": Field("str", max_length=services.MAX_MESSAGE_CHARS)})
async def breakouts_broadcast(ctx: RoomContext, message: dict[str, Any]) -> None:
    ctx.seq = await db_parallel(services.breakouts_broadcast)(by=ctx.user, session=ctx.session, text=message["text"])


@room_message("breakouts.close")
async def breakouts_close(ctx: RoomContext, message: dict[str, Any]) -> None:
    ctx.seq = await db_parallel(services.breakouts_close)(by=ctx.user, session=ctx.session)


def _close_later(session_id: int, seconds: float) -> None:
    """Close the groups when their time is up, from the process that opened them.

    If that process restarts first, the next join of the main room closes them
    (`_main_part`), and group clients whose countdown ended reconnect to the main room.
    """

    async def later() -> None:
        await asyncio.sleep(seconds + 0.5)
        try:
            await db_parallel(services.breakouts_close_due)(session_id=session_id)
        except Exception:
            logger.exception("session %s: closing breakout groups on time failed", session_id)

    task = asyncio.get_running_loop().create_task(later())
    _TIMERS.add(task)
    task.add_done_callback(_TIMERS.discard)
