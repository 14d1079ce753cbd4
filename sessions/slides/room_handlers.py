"""Slides' additions to the live room: three client messages and a snapshot part.

- `slides.open` `{"deck_id", "page"?}`, `slides.goto` `{"page", "deck_id"?}`,
  `slides.close`: presenters only (the rule is in selectors.slides_may_present: the
  host, presenters, whoever has the floor; everyone in a peer session). Each change is
  stored as a room event (`slides.opened`, `slides.page`, `slides.closed`), so a
  reconnecting client replays it and a late joiner reads it from the snapshot.
- the join snapshot's `slides` part: `{"deck": {…} | None, "page": n, "seq": s}`.

Every rule is in services.py/selectors.py; these handlers translate. docs/slides.md and
the end of docs/protocol.md describe the messages and their errors.
"""

from __future__ import annotations

import logging
from typing import Any

from server.people.models import User
from sessions.models import LiveSession
from sessions.room.fanout import db_parallel
from sessions.room.protocol import Field
from sessions.room.registry import RoomContext, register_snapshot_part, room_message

from . import selectors, services

logger = logging.getLogger(__name__)


async def slides_snapshot_part(session: LiveSession, user: User) -> dict[str, Any]:
    """What is on screen now (the same for every participant; one query)."""
    return await db_parallel(selectors.slides_current)(session_id=session.pk)


register_snapshot_part("slides", slides_snapshot_part)


@room_message("slides.open", fields={"deck_id": Field("int"), "page": Field("int", required=False)})
async def slides_open(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Put a ready deck of this session on screen (page 1 unless `page` is given)."""

    def write() -> int | None:
        return services.slides_open(
            session=ctx.session, user=ctx.user, deck_id=message["deck_id"], page=message["page"] or 1,
            client_id=ctx.client_id or "",
        )

    ctx.seq = await db_parallel(write)()


@room_message("slides.goto", fields={"page": Field("int"), "deck_id": Field("int", required=False)})
async def slides_goto(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Show another page of the deck on screen."""

    def write() -> int | None:
        return services.slides_goto(
            session=ctx.session, user=ctx.user, page=message["page"], deck_id=message["deck_id"],
            client_id=ctx.client_id or "",
        )

    ctx.seq = await db_parallel(write)()


@room_message("slides.close")
async def slides_close(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Take the slides off screen."""

    def write() -> int | None:
        return services.slides_close(session=ctx.session, user=ctx.user, client_id=ctx.client_id or "")

    ctx.seq = await db_parallel(write)()
