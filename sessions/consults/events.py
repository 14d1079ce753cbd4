"""The one way a consult write tells people what changed: room events, in-app notices, e-mail.

Everything leaves only after the transaction commits, so nobody hears of a change that
was rolled back: room events are stored with the write and delivered by the room after
commit (private ones, with `visible_to`, only to those users); e-mails are sent from
`transaction.on_commit`. E-mails and notices never contain patient data: they
say that something happened and link to the page, where access is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import translation

from server.people.mail import user_language
from server.people.models import User
from sessions.models import ConsultNotification, ConsultRequest
from sessions.room.events import Nullable, room_event_emit, room_event_type

logger = logging.getLogger(__name__)

# The consult room's events (docs/protocol.md); every payload is checked against these.
_NOTE: dict[str, Any] = {"subjective": str, "objective": str, "assessment": str, "plan": str, "supervisor_comments": str,
         "version": int, "signed": bool, "signed_by": str, "signed_at": (str, Nullable)}
room_event_type("consult.status", status=str)
room_event_type("consent.changed", extra_=object)  # the consent in force: selectors.consults_consent_in_force
room_event_type("note.updated", **_NOTE)
room_event_type("note.signed", **_NOTE)
room_event_type("note.addendum", author=str, text=str, created_at=str)
room_event_type("photo.added", id=int, caption=str, by=str, width=int, height=int, url=str, at=str)
room_event_type("consult.guidance", text=str, **{"from": str}, at=str)
room_event_type("connection.mode", user_id=int, name=str, mode=str)


def consult_room_event(
    *, consult: ConsultRequest, type: str, payload: dict[str, Any], actor: User | None = None,
    visible_to: list[int] | None = None, client_id: str = "",
) -> int | None:
    """Store `type` as an event of the consult's room, in the caller's transaction.

    The room (`sessions.room.events.room_event_emit`) gives it the next sequence number
    and delivers it after commit, to `visible_to` only. `visible_to` defaults to the
    consult's participants: consult events never go to anybody else, even if the room
    ever admitted someone by mistake. `client_id` (the room message's id, with `actor`)
    makes a resent message store nothing new and lets its ack carry this event's number.
    Returns the sequence number (None without a room).
    """
    if consult.session_id is None:
        return None
    if visible_to is None:
        visible_to = consult_participant_ids(consult=consult)
    return room_event_emit(session_id=consult.session_id, type=type, payload=payload,
                           actor_id=actor.pk if actor else None, visible_to=visible_to, client_id=client_id)


def consult_participant_ids(*, consult: ConsultRequest) -> list[int]:
    ids = [consult.trainee_id]
    if consult.supervisor_id:
        ids.append(consult.supervisor_id)
        ids.extend(consult.observers.filter(revoked_at__isnull=True).values_list("user_id", flat=True))
    return ids


def consult_notify(
    *, consult: ConsultRequest, users: Iterable[User | None], compose: Callable[[User], tuple[str, str, str]], link: str = "",
) -> None:
    """Tell `users` in the app and by e-mail (after commit). No patient data in either.

    `compose(user)` returns (notice, e-mail subject, e-mail body); it runs once per
    recipient with that person's language active, so each reads it in their own.
    """
    notices: list[ConsultNotification] = []
    messages: list[tuple[str, str, str, list[str]]] = []
    for user in users:
        if user is None:
            continue
        with translation.override(user_language(user)):
            text, subject, body = (str(part) for part in compose(user))
        notices.append(ConsultNotification(user=user, consult=consult, text=text[:300]))
        if user.email:
            messages.append((subject, body + (f"\n\n{link}\n" if link else "\n"), settings.DEFAULT_FROM_EMAIL, [user.email]))
    ConsultNotification.objects.bulk_create(notices)
    if not messages:
        return

    def send() -> None:
        for message in messages:
            try:
                send_mass_mail([message])
            except Exception:  # mail trouble must not lose the notice already stored
                logger.exception("consult %s: e-mail notice failed", consult.pk)

    transaction.on_commit(send)
