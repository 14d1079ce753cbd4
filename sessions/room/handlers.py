"""The room's built-in client messages, registered like any part's (registry.room_message).

Each handler calls one service through `database_sync_to_async`; the service checks the
permission, writes, and emits the event. The consumer acknowledges afterwards with the
event's sequence number (`ctx.seq`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from sessions.models import QuestionStatus

from . import services
from .fanout import db_parallel, get_node
from .protocol import (
    MAX_CHAT_CHARS,
    MAX_POLL_OPTION_CHARS,
    MAX_POLL_OPTIONS,
    MAX_POLL_QUESTION_CHARS,
    MAX_QUESTION_CHARS,
    Field,
)
from .registry import RoomContext, room_message
from .votes import vote_batcher

USER = {"user_id": Field("int")}


async def _run(ctx: RoomContext, service: Any, **kwargs: Any) -> None:
    # On the thread pool (db_parallel): a chat message must not queue behind presence
    # flushes and sweeps on the process's single ORM thread. Order is kept anyway: a
    # socket's messages are handled one at a time, and the room's row lock numbers events.
    seq = await db_parallel(service)(
        session_id=ctx.session.pk, user=ctx.user, client_id=ctx.client_id or "", **kwargs
    )
    if ctx.seq is None:
        ctx.seq = seq


@room_message("chat.send", fields={"text": Field("str", max_length=MAX_CHAT_CHARS)}, bucket="chat")
async def chat_send(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.chat_send, text=message["text"])


@room_message("hand.raise")
async def hand_raise(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.hand_raise)


@room_message("hand.lower", fields={"user_id": Field("int", required=False)})
async def hand_lower(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.hand_lower, user_id=message["user_id"])


def _not_in_a_consult(ctx: RoomContext) -> None:
    """A consult's roles (trainee, supervisor, observer) are fixed and it has no stage."""
    if ctx.session.kind == "consult":
        raise PermissionRefused(_("A consult has no floor and no presenters."), code="forbidden")


@room_message("floor.grant", fields=USER)
async def floor_grant(ctx: RoomContext, message: dict[str, Any]) -> None:
    _not_in_a_consult(ctx)
    await _run(ctx, services.floor_grant, user_id=message["user_id"])


@room_message("floor.revoke", fields=USER)
async def floor_revoke(ctx: RoomContext, message: dict[str, Any]) -> None:
    _not_in_a_consult(ctx)
    await _run(ctx, services.floor_revoke, user_id=message["user_id"])


@room_message("question.ask", fields={"text": Field("str", max_length=MAX_QUESTION_CHARS)}, bucket="chat")
async def question_ask(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.question_ask, text=message["text"])


@room_message("question.upvote", fields={"question_id": Field("int")}, bucket="vote")
async def question_upvote(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.question_upvote, question_id=message["question_id"])


@room_message("question.answer", fields={"question_id": Field("int")})
async def question_answer(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.question_close, question_id=message["question_id"], status=QuestionStatus.ANSWERED)


@room_message("question.dismiss", fields={"question_id": Field("int")})
async def question_dismiss(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.question_close, question_id=message["question_id"], status=QuestionStatus.DISMISSED)


@room_message(
    "poll.create",
    fields={
        "question": Field("str", max_length=MAX_POLL_QUESTION_CHARS),
        "options": Field("str_list", max_length=MAX_POLL_OPTION_CHARS, min_items=2, max_items=MAX_POLL_OPTIONS),
        "multiple": Field("bool", required=False),
    },
)
async def poll_create(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(
        ctx, services.poll_create, question=message["question"], options=message["options"],
        multiple=bool(message["multiple"]),
    )


@room_message("poll.vote", fields={"poll_id": Field("int"), "option_ids": Field("int_list", min_items=1, max_items=MAX_POLL_OPTIONS)}, bucket="vote")
async def poll_vote(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Stored (group commit, votes.py) before the ack; the room sees coalesced `poll.counts`."""
    await vote_batcher().vote(
        session_id=ctx.session.pk, user_id=ctx.user.pk, poll_id=message["poll_id"], option_ids=message["option_ids"]
    )
    get_node().poll_counts_soon(ctx.session.pk, message["poll_id"])


@room_message("poll.close", fields={"poll_id": Field("int")})
async def poll_close(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.poll_close, poll_id=message["poll_id"])


@room_message("moderation.mute", fields=USER)
async def moderation_mute(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.participant_set_muted, user_id=message["user_id"], muted=True)


@room_message("moderation.unmute", fields=USER)
async def moderation_unmute(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.participant_set_muted, user_id=message["user_id"], muted=False)


@room_message("moderation.remove", fields=USER)
async def moderation_remove(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.participant_remove, user_id=message["user_id"])


@room_message("role.set", fields={"user_id": Field("int"), "role": Field("str", max_length=20)})
async def role_set(ctx: RoomContext, message: dict[str, Any]) -> None:
    _not_in_a_consult(ctx)
    await _run(ctx, services.participant_set_role, user_id=message["user_id"], role=message["role"])


@room_message("room.lock")
async def room_lock(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.room_set_locked, locked=True)


@room_message("room.unlock")
async def room_unlock(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.room_set_locked, locked=False)


@room_message("room.chat", fields={"enabled": Field("bool")})
async def room_chat(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.room_set_chat, enabled=message["enabled"])


@room_message("room.end")
async def room_end(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.room_end)


@room_message("lobby.admit", fields=USER)
async def lobby_admit(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.lobby_decide, user_id=message["user_id"], admit=True)


@room_message("lobby.refuse", fields=USER)
async def lobby_refuse(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _run(ctx, services.lobby_decide, user_id=message["user_id"], admit=False)
