"""What the media part reads from the database (the room's record of the session's media).

Why apart: the signalling handlers and the worker both ask whether a session is being
recorded; neither may import the other for it (the worker is below the handlers).
"""

from __future__ import annotations

from sessions.models import LiveSession, RoomEvent, SessionKind


def media_recording_active(*, session_id: int) -> bool:
    """Whether the session is being recorded now, from the last recording notice."""
    payload = (
        RoomEvent.objects.filter(session_id=session_id, type="media.recording")
        .order_by("-seq").values_list("payload", flat=True).first()
    )
    return bool(payload and payload.get("active"))


def media_recording_continues(*, session_id: int) -> bool:
    """Whether a moved session's recording goes on: its notice is on and, for a consult, the
    patient's recording consent is still in force. A withdrawal whose stop found no worker
    recording (the recorder's worker had died) leaves the notice on; consent decides."""
    if not media_recording_active(session_id=session_id):
        return False
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None:
        return False
    if session.kind != SessionKind.CONSULT:
        return True
    from sessions.consults.selectors import consult_recording_allowed

    return consult_recording_allowed(session)


def media_captions_allowed(*, session_id: int) -> bool:
    """Automatic captions for this session? Never for a consult (its consent does not cover a transcript)."""
    kind = LiveSession.objects.filter(pk=session_id).values_list("kind", flat=True).first()
    return kind is not None and kind != SessionKind.CONSULT

