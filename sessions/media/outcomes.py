"""What a media worker changes in the rest of the product: room events and kept recordings.

Why apart from the worker: these are the media part's writes into the room and the
session (a `media.moved` or `media.recording` room event, a finished recording kept with
its session or consult), done through those parts' services; the worker only decides
when.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async

from sessions.room.events import room_event_emit

from .recording import recording_folder, storage_folder_delete

logger = logging.getLogger(__name__)


async def media_moved(session_id: int, *, worker_id: str, reason: str) -> None:
    """Tell the room that its media moves off `worker_id`: browsers on it join again.

    A room event, so every socket of the room gets it (whichever daphne it is on) and a
    socket that was reconnecting gets it on resume; browsers act on it only if their
    media is on that worker (`media.answer` names it), so a replay does nothing.
    """
    try:
        await database_sync_to_async(room_event_emit)(
            session_id=session_id, type="media.moved", payload={"worker": worker_id, "reason": reason})
    except Exception:
        logger.exception("session %s: media.moved not stored", session_id)


async def recording_event(session_id: int, *, active: bool, discarded: bool = False) -> None:
    """The notice every participant sees: a room event, stored and replayed."""
    payload: dict[str, Any] = {"active": active}
    if discarded:
        payload["discarded"] = True
    try:
        await database_sync_to_async(room_event_emit)(session_id=session_id, type="media.recording", payload=payload)
    except Exception:
        logger.exception("session %s: recording notice not stored", session_id)


def session_recordings_delete(session_id: int) -> int:
    """Delete every stored recording of the session, pieces included; how many files."""
    return storage_folder_delete(recording_folder(session_id))


def recordings_keep(session_id: int, names: list[str]) -> None:
    """Finished recordings stay with their session: a consult's with the consult, others with
    the session's audience until the host publishes one (sessions/scheduling/recordings.py).
    """
    from sessions.models import LiveSession, SessionKind

    session = LiveSession.objects.select_related("host").get(pk=session_id)
    if session.kind == SessionKind.CONSULT:
        # A consult recording holds patient data: it stays in storage with the consult,
        # readable only by its participants through audited reads, never in the library.
        from sessions.consults.services import consult_recordings_kept

        if consult_recordings_kept(session_id=session_id, names=names):
            logger.info("session %s: consult recording kept, not published", session_id)
        return
    from sessions.scheduling.recordings import session_recordings_keep

    session_recordings_keep(session_id=session_id, names=names)


def caption_line_store(session_id: int, publisher_id: str, text: str) -> None:
    """An automatic caption: the same `caption.line` event a human captioner writes."""
    from server.people.models import User

    user = User.objects.filter(pk=int(publisher_id)).first() if publisher_id.isdigit() else None
    room_event_emit(session_id=session_id, type="caption.line", payload={
        "user_id": user.pk if user else 0, "name": user.name if user else "", "text": text[:500], "source": "auto",
    })

