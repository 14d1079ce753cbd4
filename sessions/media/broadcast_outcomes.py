"""What a broadcast changes in the room and the session: its notice, and its recording.

Why apart from the encoder (`broadcast.py`): these are writes into the room (the
`media.broadcast` room event every participant sees, which tells viewers where the
playlist is) and into the session (the finished broadcast kept as a recording), done by
the worker through those parts' services, like `outcomes.py` for the recorder.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from sessions.models import RoomEvent
from sessions.room.events import room_event_emit, room_event_type
from sessions.room.selectors import room_moderator_ids

logger = logging.getLogger(__name__)

#: active: the broadcast runs (its playlists are in storage); folder: where, in storage.
room_event_type("media.broadcast", active=bool, folder_=str, error_=str)
#: A viewer could not join the audio and video (the SFU is full) while nothing is broadcast;
#: seen by the session's hosts (who can turn the broadcast on) and that viewer only.
room_event_type("media.overflow", user_id=int, reason=str)

#: Why a viewer was refused: the session's cap (MEDIA_SESSION_SFU_CAP) or every worker full.
OVERFLOW_REASONS = ("session_cap", "workers_full")


def broadcast_current(*, session_id: int) -> dict[str, Any]:
    """The last broadcast notice of the session ({} if it never broadcast)."""
    payload = (
        RoomEvent.objects.filter(session_id=session_id, type="media.broadcast")
        .order_by("-seq").values_list("payload", flat=True).first()
    )
    return dict(payload) if isinstance(payload, dict) else {}


def broadcast_session_over(*, session_id: int) -> bool:
    """Whether the session ended or was cancelled (a broadcast nobody encodes is then closed
    at once, not after the grace: nobody's media can come back to continue it)."""
    from sessions.models import LiveSession, SessionStatus

    status = LiveSession.objects.filter(pk=session_id).values_list("status", flat=True).first()
    return status is None or status in (SessionStatus.ENDED, SessionStatus.CANCELLED)


async def broadcast_event(session_id: int, *, active: bool, folder: str = "", error: str = "") -> None:
    """The notice every participant sees: a room event, stored and replayed."""
    payload: dict[str, Any] = {"active": active}
    if folder:
        payload["folder"] = folder
    if error:
        payload["error"] = error
    try:
        await database_sync_to_async(room_event_emit)(session_id=session_id, type="media.broadcast", payload=payload)
    except Exception:
        logger.exception("session %s: broadcast notice not stored", session_id)


def broadcast_waiting(*, session_id: int) -> list[int]:
    """People refused by the SFU (`media.overflow`) since the broadcast last changed, oldest first.

    What a host who joins (or reloads) is shown: "people waiting to watch: N".
    """
    since = (RoomEvent.objects.filter(session_id=session_id, type="media.broadcast")
             .order_by("-seq").values_list("seq", flat=True).first()) or 0
    payloads = (RoomEvent.objects.filter(session_id=session_id, type="media.overflow", seq__gt=since)
                .order_by("seq").values_list("payload", flat=True)[:10_000])
    seen: dict[int, None] = {}
    for payload in payloads:
        if isinstance(payload, dict) and isinstance(payload.get("user_id"), int):
            seen[payload["user_id"]] = None
    return list(seen)


def broadcast_overflow_notice(*, session_id: int, user_id: int, reason: str) -> bool:
    """A viewer beyond the SFU's capacity: whether the broadcast runs; if not, tell the hosts.

    Why a room event and not a reply: the host may be on another daphne and may join later;
    the event is stored (replayed on resume) and private to the hosts and that viewer.
    """
    if broadcast_current(session_id=session_id).get("active"):
        return True
    room_event_emit(session_id=session_id, type="media.overflow", payload={"user_id": user_id, "reason": reason},
                    visible_to=[*room_moderator_ids(session_id=session_id), user_id])
    return False


async def media_full_message(session_id: int, *, user_id: int, reason: str) -> dict[str, Any]:
    """The refusal a viewer beyond capacity receives (`media.error`, code `media_full`).

    ``broadcast``: the broadcast runs, so the room page switches this person to it at once;
    otherwise the hosts were told (`media.overflow`) and the page switches when it starts.
    """
    try:
        active = await database_sync_to_async(broadcast_overflow_notice)(session_id=session_id, user_id=user_id, reason=reason)
    except Exception:
        logger.exception("session %s: the overflow notice was not stored", session_id)
        active = False
    logger.info("session %s: a viewer is beyond the SFU's capacity (%s); broadcast %s",
                session_id, reason, "on" if active else "off")
    return {
        "type": "media.error", "code": "media_full", "reason": reason, "broadcast": active,
        "message": _("The room's audio and video are full.")
        + " " + (_("You watch the broadcast instead.") if active else _("The host has been told; the broadcast will start here.")),
    }
