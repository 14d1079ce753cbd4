"""Media messages on the room socket: checked here, done by the media worker.

The room consumer runs these handlers (registered with `sessions.room.registry`) after
its protocol checks. Each handler decides what this person may do with media in this
session (publish or only watch; a consult only with the patient's consent) and forwards
the message over the channel layer to the worker that owns the session's media
(`sessions/media/worker.py`). The worker's answers come back on this socket's channel as
`media.signal` messages, which the consumer writes to the socket unchanged.

Client → server (all carry the room protocol's optional `id`)::

    {"type": "media.offer", "sdp": "...", "screen_mids": ["2"]}
    {"type": "media.answer", "sdp": "..."}
    {"type": "media.candidate", "candidate": "candidate:...", "sdpMid": "0", "sdpMLineIndex": 0}
    {"type": "media.subscribe", "publisher": "12" | "*", "kinds": ["audio", "camera", "screen"]}
    {"type": "media.unsubscribe", "publisher": "12", "kinds": ["camera"]}
    {"type": "media.quality", "video": "auto" | "high" | "low" | "off"}
    {"type": "media.leave"}
    {"type": "media.record", "action": "start" | "stop"}        (hosts)

Server → client: `media.answer`, `media.offer`, `media.publications`, `media.speaker`,
`media.closed`, `media.unpublished`, `media.error` (code, message), and the room event
`media.recording` ({"active": bool}) that every participant sees. Participant ids are user
ids as strings.

When the host takes the floor back, demotes a presenter, mutes or removes someone, the
room's event listener (`media_rights_changed`, after the event commits, in whichever
process wrote it) tells the session's worker over the channel layer, and the worker cuts
what that person may no longer send (`sfu.MediaRoom.set_send_rights`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from sessions.room.events import room_event_listener, room_event_type
from sessions.room.protocol import Field
from sessions.room.ratelimit import LIMITS
from sessions.room.registry import RoomContext, register_snapshot_part, role_permissions, room_message

from .broadcast_outcomes import media_full_message
from .embedded import ensure_in_process_worker, in_process_worker_running
from .placement import PlacementFull
from .routing import REQUEST, media_channel_layer, media_worker_channel, worker_in_process
from .selectors import media_recording_active

if TYPE_CHECKING:
    from server.people.models import User
    from sessions.models import LiveSession

logger = logging.getLogger(__name__)

MAX_SDP_CHARS = 60_000
#: Signalling comes in short bursts (an offer, a few candidates, an answer per change).
LIMITS.setdefault("media", (20.0, 60.0))
KINDS = ("audio", "video", "camera", "screen")
VIDEO_QUALITIES = ("auto", "high", "low", "off")
#: Kinds of session in which only presenters (and people given the floor) send media.
STAGED_KINDS = ("lecture", "case_conference")


def media_may_publish(*, session: "LiveSession", user: "User", role: str) -> bool:
    """Whether `user` may send audio/video now (sync: reads the participant row).

    Lectures and case conferences: the host, presenters, and whoever holds the floor.
    Peer sessions and consults: everyone admitted.
    """
    from sessions.models import Participant

    if session.kind not in STAGED_KINDS:
        return True
    if "present" in role_permissions(role) or session.host_id == user.pk:
        return True
    return Participant.objects.filter(session=session, user=user, has_floor=True, removed_at__isnull=True).exists()


def media_send_rights(*, session: "LiveSession", user: "User", role: str) -> dict[str, Any]:
    """What `user` may send now, and the room event number this was read at (sync).

    {"publish": bool, "audio": bool (False when muted), "removed": bool, "seq": int}.
    The number is read first, so the answer is at least as new as that event: the worker
    uses it to tell a stale check from a fresh one (`MediaRoom.handle_offer`).
    """
    from sessions.models import Participant, RoomState

    seq = RoomState.objects.filter(pk=session.pk).values_list("last_seq", flat=True).first() or 0
    row = Participant.objects.filter(session=session, user=user).values("muted", "removed_at").first()
    removed = row is not None and row["removed_at"] is not None
    publish = not removed and media_may_publish(session=session, user=user, role=role)
    return {"publish": publish, "audio": publish and not (row and row["muted"]), "removed": removed, "seq": seq}


#: Room events that change what someone may send, and the reason the client is given.
RIGHTS_EVENTS = {
    "floor.revoked": "floor_revoked",
    "floor.granted": "floor_granted",
    "participant.role": "role_changed",
    "participant.muted": "muted",
    "participant.unmuted": "unmuted",
    "participant.removed": "removed",
}


room_event_type("media.moved", worker=str, reason=str)
room_event_type("media.recording", active=bool, discarded_=bool)


@room_event_listener(*RIGHTS_EVENTS)
def media_rights_changed(*, session_id: int, seq: int, type: str, payload: dict[str, Any]) -> None:
    """After a floor, role, mute or removal event commits: tell the session's media worker.

    Runs in the process that wrote the event (any daphne, a shell); the worker may be in
    another process, so the rights travel over the channel layer like every media request.
    Embedded mode without a worker in this process has no media to cut.
    """
    from sessions.models import LiveSession, Participant

    user_id = payload.get("user_id")
    if not isinstance(user_id, int):
        return
    if worker_in_process() and not in_process_worker_running(session_id):
        return
    row = Participant.objects.filter(session_id=session_id, user_id=user_id).select_related("user").first()
    session = LiveSession.objects.filter(pk=session_id).first()
    if row is None or session is None:
        return
    rights = media_send_rights(session=session, user=row.user, role=row.role)
    request = {
        "type": REQUEST, "op": "rights", "session_id": session_id, "participant": str(user_id), "reply_to": "",
        "message": {**rights, "seq": max(seq, rights["seq"]), "reason": RIGHTS_EVENTS[type]},
    }
    from asgiref.sync import async_to_sync

    async def send() -> None:
        channel = await media_worker_channel(session_id, place=False, participant=str(user_id))
        if channel is not None:  # no worker carries this person's media: none to cut
            await media_channel_layer().send(channel, request)

    try:
        async_to_sync(send)()
    except Exception:  # the event is committed; the next offer is still checked against the database
        logger.warning("session %s: media rights of a participant not sent to the worker", session_id, exc_info=True)


def media_allowed(*, session: "LiveSession") -> bool:
    """No media at all in a consult before the patient's consent (the consult part decides)."""
    from sessions.consults.selectors import consult_media_allowed

    return consult_media_allowed(session)


def media_recording_allowed(*, session: "LiveSession") -> bool:
    from sessions.consults.selectors import consult_recording_allowed

    return consult_recording_allowed(session)


def _channel_of(ctx: RoomContext) -> str | None:
    """The sending socket's channel name, where the worker's answers go.

    RoomContext does not carry it (yet); its `_send` is the consumer's bound method.
    """
    name = getattr(ctx, "channel_name", None)
    if name is None:
        name = getattr(getattr(ctx, "_send", None), "__self__", None)
        name = getattr(name, "channel_name", None)
    return name if isinstance(name, str) else None


#: Operations about the whole session, done by its primary worker (the one that records).
_SESSION_OPS = ("record_start", "record_stop", "broadcast_start", "broadcast_stop")


async def _forward(ctx: RoomContext, op: str, message: dict[str, Any], **extra: Any) -> None:
    """Hand the message to the media worker of this person (or of the session, for recording).

    Its answer comes back on our channel. A consult's media stays on one worker. A viewer
    (an offer that may not send) beyond the SFU's capacity gets `media.error` code
    `media_full` (broadcast_outcomes.py) and keeps the room socket.
    """
    channel_name = _channel_of(ctx)
    if not channel_name:
        await ctx.error("media_unavailable", _("Audio and video are not available on this connection."))
        return
    await ensure_in_process_worker(ctx.session.pk)
    request = {
        "type": REQUEST, "op": op, "session_id": ctx.session.pk, "participant": str(ctx.user.pk),
        "reply_to": channel_name, "message": message, **extra,
    }
    try:
        from sessions.models import SessionKind

        try:
            worker_channel = await media_worker_channel(
                ctx.session.pk, place=True, participant=None if op in _SESSION_OPS else str(ctx.user.pk),
                spread=ctx.session.kind != SessionKind.CONSULT, viewer=not (op == "offer" and extra.get("may_publish")),
            )
        except PlacementFull as full:
            if op == "offer":  # anything else of someone never placed has no media to act on
                refusal = await media_full_message(ctx.session.pk, user_id=ctx.user.pk, reason=full.reason)
                await ctx.reply({**refusal, **({"reply_to": ctx.client_id} if ctx.client_id else {})})
            return
        if worker_channel is None:
            logger.warning("session %s: no live media worker to place the session on", ctx.session.pk)
            await ctx.error("media_unavailable", _("The media server cannot be reached; try again in a moment."))
            return
        await media_channel_layer().send(worker_channel, request)
    except Exception:
        logger.exception("session %s: media worker unreachable", ctx.session.pk)
        await ctx.error("media_unavailable", _("The media server cannot be reached; try again in a moment."))


async def _refuse(ctx: RoomContext, code: str, message: str) -> None:
    """Refuse: `media.error` for the media code, and the room's `error` that settles the message."""
    await ctx.reply({"type": "media.error", "code": code, "message": message, **({"reply_to": ctx.client_id} if ctx.client_id else {})})
    await ctx.error(code, message)


async def _gate(ctx: RoomContext) -> bool:
    if not await database_sync_to_async(media_allowed)(session=ctx.session):
        await _refuse(ctx, "consent_required", _("Audio and video start once the patient has consented to this consult."))
        return False
    return True


@room_message("media.offer", fields={
    "sdp": Field("str", max_length=MAX_SDP_CHARS),
    "screen_mids": Field("str_list", required=False, max_items=4, max_length=8),
}, bucket="media")
async def media_offer(ctx: RoomContext, message: dict[str, Any]) -> None:
    if not await _gate(ctx):
        return
    rights = await database_sync_to_async(media_send_rights)(session=ctx.session, user=ctx.user, role=ctx.role)
    sources = {mid: "screen" for mid in (message.get("screen_mids") or [])}
    await _forward(ctx, "offer", {"sdp": message["sdp"] + "\r\n", "sources": sources, "id": ctx.client_id},
                   may_publish=rights["publish"], may_send_audio=rights["audio"], checked_seq=rights["seq"])


@room_message("media.answer", fields={"sdp": Field("str", max_length=MAX_SDP_CHARS)}, bucket="media")
async def media_answer(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _forward(ctx, "answer", {"sdp": message["sdp"] + "\r\n", "id": ctx.client_id})


@room_message("media.candidate", fields={
    "candidate": Field("str", required=False, max_length=1000),
    "sdpMid": Field("str", required=False, max_length=16),
    "sdpMLineIndex": Field("int", required=False),
}, bucket="media")
async def media_candidate(ctx: RoomContext, message: dict[str, Any]) -> None:
    candidate = {"candidate": message.get("candidate") or "", "sdpMid": message.get("sdpMid"),
                 "sdpMLineIndex": message.get("sdpMLineIndex")}
    await _forward(ctx, "candidate", {"candidate": candidate, "id": ctx.client_id})


@room_message("media.subscribe", fields={
    "publisher": Field("str", max_length=24),
    "kinds": Field("str_list", min_items=1, max_items=4, max_length=8),
}, bucket="media")
async def media_subscribe(ctx: RoomContext, message: dict[str, Any]) -> None:
    if any(kind not in KINDS for kind in message["kinds"]):
        await _refuse(ctx, "invalid_kind", _("Choose audio, video, camera or screen."))
        return
    if not await _gate(ctx):
        return
    await _forward(ctx, "subscribe", {"publisher": message["publisher"], "kinds": message["kinds"], "id": ctx.client_id})


@room_message("media.unsubscribe", fields={
    "publisher": Field("str", max_length=24),
    "kinds": Field("str_list", required=False, max_items=4, max_length=8),
}, bucket="media")
async def media_unsubscribe(ctx: RoomContext, message: dict[str, Any]) -> None:
    kinds = message.get("kinds")
    if kinds and any(kind not in KINDS for kind in kinds):
        await _refuse(ctx, "invalid_kind", _("Choose audio, video, camera or screen."))
        return
    await _forward(ctx, "unsubscribe", {"publisher": message["publisher"], "kinds": kinds, "id": ctx.client_id})


@room_message("media.quality", fields={"video": Field("str", max_length=8)}, bucket="media")
async def media_quality(ctx: RoomContext, message: dict[str, Any]) -> None:
    """The person's choice of which video they get; `auto` (the default) leaves it to the server.

    `low` is the shared low-resolution copy of each video (one encode per stream, however many
    choose it); `off` is audio only; `auto` lets the worker pick the original or the copy from
    the browser's bandwidth estimate (REMB). The worker answers `media.quality` with what the
    person gets.
    """
    if message["video"] not in VIDEO_QUALITIES:
        await _refuse(ctx, "invalid_quality", _("Choose auto, high, low or off for the video quality."))
        return
    await _forward(ctx, "quality", {"video": message["video"], "id": ctx.client_id})


@room_message("media.leave", bucket="media")
async def media_leave(ctx: RoomContext, message: dict[str, Any]) -> None:
    await _forward(ctx, "leave", {"id": ctx.client_id})


@room_message("media.record", fields={"action": Field("str", choices=("start", "stop"))})
async def media_record(ctx: RoomContext, message: dict[str, Any]) -> None:
    """The host (whoever may moderate: a consult's supervisor) starts or stops the recording.

    Everyone in the room sees the notice (the room event `media.recording`).
    """
    if "moderate" not in ctx.permissions:
        raise PermissionRefused(_("Only the host can record this session."), code="forbidden")
    if message["action"] == "start":
        if not await database_sync_to_async(media_recording_allowed)(session=ctx.session):
            await _refuse(ctx, "recording_not_allowed", _("This session may not be recorded: the patient has not consented to a recording."))
            return
        await _forward(ctx, "record_start", {"id": ctx.client_id}, user_name=ctx.user.name)
    else:
        await _forward(ctx, "record_stop", {"id": ctx.client_id})


async def media_snapshot(session: "LiveSession", user: "User") -> dict[str, Any]:
    """What the media page needs on join: may I send, is media allowed, is it recorded."""
    from sessions.room.selectors import room_role_for

    def read() -> dict[str, Any]:
        role = room_role_for(session=session, user=user) or "attendee"
        return {
            "allowed": media_allowed(session=session),
            "may_publish": media_may_publish(session=session, user=user, role=role),
            "recording": media_recording_active(session_id=session.pk),
            "may_record": "moderate" in role_permissions(role),
            "participant": str(user.pk),
        }

    return await database_sync_to_async(read)()


register_snapshot_part("media", media_snapshot)


async def recording_stop_and_discard(session_id: int, *, timeout: float = 15.0) -> dict[str, Any]:
    """Stop the session's running recording and delete its files (consent withdrawn).

    Asks the worker that owns the session and waits for its answer, so when this returns
    nothing of the recording remains in storage. Returns {"stopped": bool,
    "deleted_files": int}; raises TimeoutError if the worker does not answer.
    """
    import asyncio

    layer = media_channel_layer()
    await ensure_in_process_worker(session_id)
    worker_channel = await media_worker_channel(session_id, place=False)
    if worker_channel is None:
        # No worker carries the session (it ended, or its worker died): nothing is
        # recording; delete what is stored from here.
        from .outcomes import session_recordings_delete

        deleted = await asyncio.to_thread(session_recordings_delete, session_id)
        return {"stopped": False, "deleted_files": deleted}
    reply_channel = await layer.new_channel("media-discard.")
    await layer.send(worker_channel, {
        "type": REQUEST, "op": "discard", "session_id": session_id, "participant": "",
        "reply_to": reply_channel, "message": {},
    })
    answer = await asyncio.wait_for(layer.receive(reply_channel), timeout)
    message = answer.get("message", {})
    return {"stopped": bool(message.get("stopped")), "deleted_files": int(message.get("deleted_files", 0))}


def _withdrawal_hook(*, session_id: int) -> dict[str, Any]:
    """The consult part's sync hook (sessions/consults/media_hooks.py)."""
    from asgiref.sync import async_to_sync

    return async_to_sync(recording_stop_and_discard)(session_id)


try:
    from sessions.consults.media_hooks import register_recording_withdrawal

    register_recording_withdrawal(_withdrawal_hook)
except ImportError:  # the consult part is optional for the media part
    pass
