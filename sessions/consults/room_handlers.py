"""The consult's additions to the live room: who enters, private guidance, the note, the mode.

Registered with the room's registry (sessions/room/registry.py) when the app loads:

- who enters a consult's room: the trainee, the supervisor and invited observers only
  (`consult_room_role`), with room roles of their own;
- client messages `guidance.send` (supervisor → trainee, private), `note.update`
  (trainee), `note.comment` and `note.sign` (supervisor), `connection.mode` (anyone in
  the consult: "video", "audio" or "text");
- the join snapshot's `consult` part: the person's consult role, consent state, the note,
  photos, and (audited) the join itself.

Every rule is in `services.py`/`selectors.py`; these handlers translate.

Events the room then delivers (see docs/protocol.md for the shapes): `consult.guidance`
(to the trainee and the supervisor only), `note.updated`, `note.signed`, `note.addendum`,
`photo.added`, `consent.changed`, `consult.status`, `connection.mode`.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from server.people.models import User
from sessions.models import ClinicalPhoto, ConsultRequest, LiveSession, SessionKind
from sessions.room.protocol import Field
from sessions.room.registry import ClientOrigin, RoomContext, register_role, register_snapshot_part, room_message
from sessions.room.selectors import register_role_resolver

from . import selectors, services
from .audit import AuditSource

logger = logging.getLogger(__name__)

# Room roles of a consult. Observers watch: no media, no writing, no moderation.
# A consult is a conversation of two or three, not a lecture: nobody raises a hand or shows
# slides (refused here; the page does not offer them). Media follow the consult's own rules.
register_role("supervisor", {"chat", "ask", "vote", "moderate"})
register_role("trainee", {"chat", "ask", "vote"})
register_role("observer", set())

MODES = ("video", "audio", "text")


def consult_room_role(session: LiveSession, user: User) -> str | None:
    """Room admission for consult sessions: the consult role, or None (refused, and audited)."""
    consult = selectors.consult_for_session(session=session)
    if consult is None:
        return None
    role = selectors.consult_role(user=user, consult=consult)
    if role is None and user.is_authenticated:
        services.consult_access_refused(user=user, consult=consult, what="room")
    if role is not None and not consult.is_open:
        return None
    return role


register_role_resolver(SessionKind.CONSULT, consult_room_role)


def _consult_of(ctx: RoomContext) -> ConsultRequest:
    consult = selectors.consult_for_session(session=ctx.session)
    if consult is None:
        from server.people.errors import InvalidRequest

        raise InvalidRequest(_("This room is not a consult."), code="not_found")
    return consult


def _source(origin: ClientOrigin) -> AuditSource:
    """The audit trail's "from where" for a socket (its address and browser)."""
    return AuditSource(ip=origin.ip, user_agent=origin.user_agent or "websocket")


def _snapshot(session: LiveSession, user: User, origin: ClientOrigin) -> dict[str, Any]:
    consult = selectors.consult_for_session(session=session)
    if consult is None:
        return {}
    role = selectors.consult_role(user=user, consult=consult)
    if role is None:
        return {}
    # The join: audited once per socket that enters (the note and photos below are read).
    services.consult_join(user=user, session=session, source=_source(origin))
    note = selectors.consult_note_read(user=user, consult=consult, source=_source(origin))
    photos = ClinicalPhoto.objects.filter(consult=consult).select_related("uploaded_by")
    return {
        "id": consult.pk, "role": role, "specialty": consult.specialty,
        "trainee": {"id": consult.trainee_id, "name": consult.trainee.name},
        "supervisor": {"id": consult.supervisor_id, "name": consult.supervisor.name if consult.supervisor else ""},
        "consent": services._consent_payload(consult),
        "media_allowed": selectors.consult_media_allowed(session),
        "recording_allowed": selectors.consult_recording_allowed(session),
        "note": services.note_payload(note) if note else None,
        "photos": [services.photo_payload(photo) for photo in photos],
    }


async def consult_snapshot_part(session: LiveSession, user: User, origin: ClientOrigin) -> dict[str, Any]:
    if session.kind != SessionKind.CONSULT:
        return {}
    return await database_sync_to_async(_snapshot)(session, user, origin)


register_snapshot_part("consult", consult_snapshot_part, wants_origin=True)


@room_message("guidance.send", roles={"supervisor"}, fields={"text": Field("str", max_length=services.MAX_GUIDANCE)})
async def guidance_send(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Private guidance: stored and delivered to the trainee and the supervisor only."""

    def check() -> dict[str, Any]:
        return services.guidance_send(by=ctx.user, consult=_consult_of(ctx), text=message["text"], source=_source(ctx.origin))

    delivery = await database_sync_to_async(check)()
    await ctx.emit("consult.guidance", delivery["payload"], visible_to=delivery["visible_to"])


NOTE_FIELDS = {name: Field("str", required=False, max_length=services.MAX_NOTE_FIELD) for name in ("subjective", "objective", "assessment", "plan")}


def _stored_under_message_id(ctx: RoomContext) -> None:
    """The ack carries the number of the event the service stored under this message's id.

    (Sync: call inside the handler's database work.) The consult services emit their own
    events, so `ctx.emit` never ran and `ctx.seq` would stay empty (docs/protocol.md).
    """
    from sessions.models import RoomEvent

    if ctx.client_id:
        ctx.seq = (RoomEvent.objects.filter(session_id=ctx.session.pk, actor_id=ctx.user.pk, client_id=ctx.client_id)
                   .values_list("seq", flat=True).first())


@room_message("note.update", roles={"trainee"}, fields={**NOTE_FIELDS, "base_version": Field("int", required=False)})
async def note_update(ctx: RoomContext, message: dict[str, Any]) -> None:
    """The trainee's live edit of one or more SOAP fields (refused once signed)."""
    changes = {name: message[name] for name in NOTE_FIELDS if message.get(name) is not None}

    def write() -> None:
        services.note_update(by=ctx.user, consult=_consult_of(ctx), changes=changes,
                             base_version=message.get("base_version"), source=_source(ctx.origin),
                             client_id=ctx.client_id or "")
        _stored_under_message_id(ctx)

    await database_sync_to_async(write)()


@room_message("note.comment", roles={"supervisor"}, fields={"text": Field("str", max_length=services.MAX_NOTE_FIELD)})
async def note_comment(ctx: RoomContext, message: dict[str, Any]) -> None:
    def write() -> None:
        services.note_comment(by=ctx.user, consult=_consult_of(ctx), text=message["text"],
                              source=_source(ctx.origin), client_id=ctx.client_id or "")
        _stored_under_message_id(ctx)

    await database_sync_to_async(write)()


@room_message("note.sign", roles={"supervisor"})
async def note_sign(ctx: RoomContext, message: dict[str, Any]) -> None:
    def write() -> None:
        services.note_sign(by=ctx.user, consult=_consult_of(ctx), source=_source(ctx.origin), client_id=ctx.client_id or "")
        _stored_under_message_id(ctx)

    await database_sync_to_async(write)()


@room_message("connection.mode", roles={"supervisor", "trainee", "observer"},
              fields={"mode": Field("str", choices=MODES)})
async def connection_mode(ctx: RoomContext, message: dict[str, Any]) -> None:
    """Announce this person's mode (video, audio only, text and photos) to the consult."""

    def check() -> tuple[dict[str, Any], list[int]]:
        consult = _consult_of(ctx)
        payload = services.consult_mode_announce(by=ctx.user, consult=consult, mode=message["mode"])
        return payload, services.consult_participant_ids(consult=consult)

    payload, visible_to = await database_sync_to_async(check)()
    await ctx.emit("connection.mode", payload, visible_to=visible_to)
