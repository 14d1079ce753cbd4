"""The shared notes of a peer session's room: one plain text every participant edits.

The rule that keeps everyone's words: each save names the version it was based on
(`base_version`); if someone saved in between, the save is refused with
`notes_conflict` and the current text, and the writer's client keeps their draft next to
the newer text for them to merge. A save that is accepted raises the version by one and
is stored together with its room event, `notes.changed`, in one transaction.

The event carries only the change (one splice: `start`, `end`, `insert`, in UTF-16
code units, the way browsers index strings), not the whole text: on a slow link six
people typing would otherwise resend the whole notes to everyone on each pause. A client
that misses a version (a gap in `base_version`) asks for the whole text (`notes.get`).
The join snapshot's `peer` part carries the whole text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User
from sessions.models import NOTES_KINDS, LiveSession, Participant, PeerNotes, RoomEvent, RoomState, SessionStatus
from sessions.room.events import Nullable, room_event_emit, room_event_type

logger = logging.getLogger(__name__)

#: Longest notes, in characters; and in UTF-8 bytes, so that a save always fits in one
#: WebSocket message (64 KiB, docs/protocol.md) whatever the script.
MAX_NOTES_CHARS = 20_000
MAX_NOTES_BYTES = 60_000
NOTES_EVENT = "notes.changed"
room_event_type(NOTES_EVENT, version=int, base_version=int, start=int, end=int, insert=str, length=int, by=dict,
                save_id=(str, Nullable), at=str)


class NotesConflict(InvalidRequest):
    """The save was based on an older version; `current` is the notes as they are now."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__(
            _("Someone else saved the notes first. Your text is kept: compare it with theirs in the shared notes."),
            code="notes_conflict",
        )
        self.current = current


@dataclass(frozen=True)
class Splice:
    """new = old[:start] + insert + old[end:], positions in UTF-16 code units."""

    start: int
    end: int
    insert: str


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_splice(old: str, new: str) -> Splice:
    """The one splice that turns `old` into `new`: what lies between their common start and end."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return Splice(
        start=utf16_length(old[:prefix]),
        end=utf16_length(old[: len(old) - suffix]),
        insert=new[prefix: len(new) - suffix],
    )


def notes_payload(notes: PeerNotes) -> dict[str, Any]:
    """The notes as the room and the API send them."""
    return {
        "version": notes.version,
        "text": notes.text,
        "updated_at": notes.updated_at.isoformat() if notes.updated_at else None,
        "updated_by": {"id": notes.updated_by_id, "name": notes.updated_by.name} if notes.updated_by_id else None,  # type: ignore[union-attr]  # set with its id
        "save_id": notes.last_save_id or None,
    }


def clean_notes_text(text: str) -> str:
    """Line ends as browsers keep them (\\n), no white space around the whole text; refused when too long."""
    if not isinstance(text, str):
        raise InvalidRequest(_("The notes are text."), code="wrong_field")
    if "\x00" in text:
        raise InvalidRequest(_("The notes contain a character that cannot be stored."), code="wrong_field")
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(cleaned) > MAX_NOTES_CHARS:
        raise InvalidRequest(
            _("The notes are at most %(n)d characters.") % {"n": MAX_NOTES_CHARS}, code="too_long"
        )
    try:
        size = len(cleaned.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no browser sends one
        raise InvalidRequest(_("The notes contain a character that cannot be stored."), code="wrong_field") from None
    if size > MAX_NOTES_BYTES:
        raise InvalidRequest(_("The notes are too long to save: make them shorter."), code="too_long")
    return cleaned


def _require_writer(*, session: LiveSession, user: User) -> None:
    """A peer session whose room is open, and a participant of that room who is not muted or removed."""
    if session.kind not in NOTES_KINDS:
        raise InvalidRequest(_("Shared notes belong to peer sessions."), code="not_peer_session")
    status = LiveSession.objects.filter(pk=session.pk).values_list("status", flat=True).first()
    ended = RoomState.objects.filter(pk=session.pk, ended_at__isnull=False).exists()
    if ended or status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
        raise InvalidRequest(_("This session has ended."), code="room_ended")
    participant = Participant.objects.filter(session=session, user=user, removed_at__isnull=True).first()
    if participant is None:
        raise PermissionRefused(_("You are not in this room."), code="forbidden")
    if participant.muted:
        raise PermissionRefused(_("The host has muted you."), code="muted")


def peer_notes_save(
    *, by: User, session: LiveSession, text: str, base_version: int, save_id: str = ""
) -> int | None:
    """Replace the notes with `text` if nobody saved since `base_version`.

    Returns the sequence number of the `notes.changed` event, or None when the text is
    unchanged (nothing stored). Raises `NotesConflict` (code `notes_conflict`, with the
    current notes) on an outdated base. `save_id` is the room message id: the event is
    idempotent on it, and the notes remember it (see `PeerNotes.last_save_id`).
    """

    _require_writer(session=session, user=by)
    cleaned = clean_notes_text(text)
    with transaction.atomic():
        if save_id:  # a resent save (same room message id) changes nothing twice
            seq = RoomEvent.objects.filter(session=session, actor=by, client_id=save_id).values_list("seq", flat=True).first()
            if seq is not None:
                return seq
        PeerNotes.objects.get_or_create(session=session)
        current = PeerNotes.objects.select_for_update(of=("self",)).select_related("updated_by").get(pk=session.pk)
        if base_version != current.version:
            raise NotesConflict(notes_payload(current))
        if cleaned == current.text:
            return None
        now = timezone.now()
        # The version in the condition is the guard where rows are not locked (SQLite).
        if not PeerNotes.objects.filter(pk=session.pk, version=base_version).update(
            text=cleaned, version=base_version + 1, updated_by=by, updated_at=now, last_save_id=save_id[:64]
        ):
            current.refresh_from_db()
            raise NotesConflict(notes_payload(current))
        splice = text_splice(current.text, cleaned)
        seq = room_event_emit(
            session_id=session.pk, type=NOTES_EVENT, actor_id=by.pk, client_id=save_id,
            payload={
                "version": base_version + 1, "base_version": base_version,
                "start": splice.start, "end": splice.end, "insert": splice.insert,
                "length": utf16_length(cleaned), "by": {"id": by.pk, "name": by.name},
                "save_id": save_id or None, "at": now.isoformat(),
            },
        )
    logger.info("session %s: notes version %s by user %s (%d chars)", session.pk, base_version + 1, by.pk, len(cleaned))
    return seq


def peer_notes_current(*, session: LiveSession, user: User) -> dict[str, Any]:
    """The whole notes for a room participant (the reply to `notes.get`)."""
    from .selectors import peer_notes_read

    if session.kind not in NOTES_KINDS:
        raise InvalidRequest(_("Shared notes belong to peer sessions."), code="not_peer_session")
    return notes_payload(peer_notes_read(session=session, user=user))
