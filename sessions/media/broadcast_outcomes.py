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

from sessions.models import RoomEvent
from sessions.room.events import room_event_emit, room_event_type

logger = logging.getLogger(__name__)

#: active: the broadcast runs (its playlists are in storage); folder: where, in storage.
room_event_type("media.broadcast", active=bool, folder_=str, error_=str)


def broadcast_current(*, session_id: int) -> dict[str, Any]:
    """The last broadcast notice of the session ({} if it never broadcast)."""
    payload = (
        RoomEvent.objects.filter(session_id=session_id, type="media.broadcast")
        .order_by("-seq").values_list("payload", flat=True).first()
    )
    return dict(payload) if isinstance(payload, dict) else {}


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
