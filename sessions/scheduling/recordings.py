"""A session's recordings: kept with its audience until the host publishes one.

Why: recordings went straight to the library as "Everyone, All rights reserved", with
students' cameras in them, and a person who never registered could download one. Now a
finished recording (sessions/media/worker.py) becomes a `SessionRecording` of the
session; its audience (see :func:`session_recordings_visible`) watch it from the session
page; only the host publishes it to the library, choosing the scope and the licence and
confirming that everyone recorded was told, and each of them is then sent an e-mail
saying where it went. Consult recordings never come here (sessions/consults).
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AnyUser
from server.people.mail import messages_in_their_language
from server.people.models import User
from sessions.models import (
    Attendance,
    LiveSession,
    RegistrationStatus,
    SessionInvitation,
    SessionKind,
    SessionRecording,
    SessionRegistration,
)

logger = logging.getLogger(__name__)


# --- selectors ---------------------------------------------------------------------------


def session_recordings_visible(*, session: LiveSession, user: AnyUser) -> bool:
    """Whether `user` may watch the session's recordings before (or without) publication.

    The host and presenter; people registered or invited; people who attended. Not
    anyone who could merely have seen the session in the catalogue.
    """
    if not user.is_authenticated or session.kind == SessionKind.CONSULT:
        return False
    if user.pk in (session.host_id, session.presenter_id):
        return True
    if SessionRegistration.objects.filter(session=session, user=user, status=RegistrationStatus.REGISTERED).exists():
        return True
    if SessionInvitation.objects.filter(session=session, user=user).exists():
        return True
    return Attendance.objects.filter(session=session, user=user).exists()


def session_recordings_for(*, session: LiveSession, user: User) -> list[SessionRecording]:
    """The recordings `user` may watch on the session page (none for anyone else)."""
    if not session_recordings_visible(session=session, user=user):
        return []
    return list(SessionRecording.objects.filter(session=session).select_related("published_material"))


def session_recording_for_download(*, session: LiveSession, user: AnyUser, recording_id: int) -> SessionRecording:
    """The recording to stream to `user`; InvalidRequest (a 404 for the page) otherwise."""
    recording = SessionRecording.objects.filter(session=session, pk=recording_id).first()
    if recording is None or not session_recordings_visible(session=session, user=user):
        raise InvalidRequest(_("No such recording."), code="not_found")
    return recording


def session_recording_recorded_people(*, recording: SessionRecording) -> list[User]:
    return list(User.objects.filter(pk__in=recording.recorded_user_ids).order_by("first_name", "last_name"))


# --- services ----------------------------------------------------------------------------


def session_recordings_keep(*, session_id: int, names: list[str]) -> list[SessionRecording]:
    """The media worker stored these files: keep them with the session (not in the library).

    Everyone who was in the room is noted as recorded: they saw the recording notice
    (the room event `media.recording`), and they are the people to tell before publishing.
    """
    recorded = sorted(set(Attendance.objects.filter(session_id=session_id).values_list("user_id", flat=True)))
    kept = []
    for name in names:
        try:
            size = default_storage.size(name)
        except Exception:
            size = 0
        recording, _created = SessionRecording.objects.get_or_create(
            name=name, defaults={"session_id": session_id, "size": size, "recorded_user_ids": recorded},
        )
        kept.append(recording)
    logger.info("session %s: %d recording(s) kept with the session", session_id, len(kept))
    return kept


def session_recording_publish(
    *, by: User, recording: SessionRecording, scope: str, licence: str, everyone_told: bool,
) -> SessionRecording:
    """The host publishes a recording to the library with the scope and licence chosen.

    Refused unless `by` is the host and confirms that everyone recorded was told; each
    person recorded is then e-mailed where the recording went. Publishing twice is refused.
    """
    from courses.library.services import material_create_recording
    from courses.models import Licence, Scope

    session = recording.session
    if by.pk != session.host_id:
        raise PermissionRefused(_("Only the host can publish this recording."), code="forbidden")
    if recording.is_published:
        raise InvalidRequest(_("This recording is already in the library."), code="already_published")
    if scope not in Scope.values or licence not in Licence.values:
        raise InvalidRequest(_("Choose who may see it and its licence."), code="wrong_field")
    if not everyone_told:
        raise InvalidRequest(_("Confirm that everyone recorded was told before you publish."), code="not_told")
    with default_storage.open(recording.name, "rb") as stored:
        material = material_create_recording(session=session, file=stored, scope=scope, licence=licence,
                                             file_name=f"session-{session.pk}-{recording.pk}.{'mp4' if recording.name.endswith('.mp4') else 'webm'}")
    with transaction.atomic():
        recording.published_material = material
        recording.published_at = timezone.now()
        recording.published_by = by
        recording.save(update_fields=["published_material", "published_at", "published_by"])
        people = [user for user in session_recording_recorded_people(recording=recording) if user.pk != by.pk]
        scope_label, licence_label = Scope(scope).label, Licence(licence).label
        messages = messages_in_their_language(people, lambda _user: (
            _("Recording published: %(title)s") % {"title": session.title},
            _("%(host)s published the recording of “%(title)s”, in which you appear, to the OpenRounds library "
              "(visible to: %(scope)s; licence: %(licence)s). Write to the host if you object.")
            % {"host": by.name, "title": session.title, "scope": scope_label, "licence": licence_label},
        ))
        transaction.on_commit(lambda: send_mass_mail(messages), robust=True)
    logger.info("session %s: recording %s published by the host", session.pk, recording.pk)
    return recording
