"""The peer session's additions to the live room: the shared notes (registered on import by sessions.apps).

- client message `notes.save` `{text, base_version}`: replace the notes if nobody saved
  since `base_version`; the room sees `notes.changed` (the change as one splice);
  an outdated base is refused with the error `notes_conflict`, which carries the
  current notes (`"notes": {…}`) so the client can show them next to its draft;
- client message `notes.get`: the whole notes, answered to this socket only
  (`notes.current`), for a client that missed a version;
- the join snapshot's `peer` part: `{"notes": {…}, "max_chars", "max_bytes", "download_url"}`
  in peer sessions, `{}` elsewhere.

The rules are in notes.py; these handlers translate. Database calls run on channels' one
ORM thread (`database_sync_to_async`): a room of 2 to 6 people has no join storms to spread
over a pool. docs/protocol.md ("Peer sessions")
and docs/peer.md describe the messages.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.urls import reverse
from django.utils.translation import gettext as _

from server.people.models import User
from sessions.models import NOTES_KINDS, LiveSession, PeerNotes
from sessions.room.protocol import ErrorCode, Field, ProtocolError, error_message
from sessions.room.registry import RoomContext, register_snapshot_part, room_message

from . import notes


def _snapshot(session: LiveSession) -> dict[str, Any]:
    current = PeerNotes.objects.filter(session=session).select_related("updated_by").first() or PeerNotes(session=session)
    return {
        "notes": notes.notes_payload(current),
        "max_chars": notes.MAX_NOTES_CHARS,
        "max_bytes": notes.MAX_NOTES_BYTES,
        "download_url": reverse("peer:notes-download", args=[session.pk]),
    }


async def peer_snapshot_part(session: LiveSession, user: User) -> dict[str, Any]:
    """The notes as they are when the person joins (the room admitted them already)."""
    if session.kind not in NOTES_KINDS:
        return {}
    return await database_sync_to_async(_snapshot)(session)


register_snapshot_part("peer", peer_snapshot_part)


@room_message(
    "notes.save",
    fields={"text": Field("str", required=False, max_length=notes.MAX_NOTES_CHARS), "base_version": Field("int")},
)
async def notes_save(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Save the whole text; the event carries the change, the ack its sequence number."""
    if message["text"] is None:
        raise ProtocolError(ErrorCode.MISSING_FIELD, _("'%(name)s' is required.") % {"name": "text"}, field="text")
    try:
        seq = await database_sync_to_async(notes.peer_notes_save)(
            by=ctx.user, session=ctx.session, text=message["text"], base_version=message["base_version"],
            save_id=ctx.client_id or "",
        )
    except notes.NotesConflict as conflict:
        # An error like any other, plus the current notes: the client needs them to merge.
        ctx.failed = True
        await ctx.reply(error_message(conflict.code, conflict.message, client_id=ctx.client_id, notes=conflict.current))
        return
    if ctx.seq is None:
        ctx.seq = seq


@room_message("notes.get")
async def notes_get(ctx: RoomContext, message: dict[str, Any]) -> None:
    current = await database_sync_to_async(notes.peer_notes_current)(session=ctx.session, user=ctx.user)
    await ctx.reply({"type": "notes.current", "id": ctx.client_id, "notes": current})
