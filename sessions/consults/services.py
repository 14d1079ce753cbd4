"""Writes of supervised consults, each with its permission check and its audit entry.

Why one long module (about 620 lines): every write of a consult appends its audit entry
the same way; keeping them together keeps the audit rule visible in one file.

Views, API routes and room handlers only translate; the rules are here and tests call
these functions directly. Every function that changes consult data appends an audit
entry in the same transaction (so a rolled-back change leaves no entry and a committed
one always has one) and tells the others after commit through `events.py`.
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from datetime import datetime, time, timedelta
from typing import IO, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Role, User
from server.people.selectors import institution_partner_ids, user_has_role, user_institution_ids
from sessions.models import (
    Audience,
    ClinicalPhoto,
    ConsentScope,
    ConsultNote,
    ConsultObserver,
    ConsultRequest,
    ConsultStatus,
    ConsultUrgency,
    LiveSession,
    NoteAddendum,
    PatientConsent,
    RosterWindow,
    SessionInvitation,
    SessionKind,
    SessionStatus,
    SupervisorRoster,
)
from sessions.scheduling.events import scheduling_event_on_commit

from . import selectors
from .audit import SYSTEM, AuditSource, audit_append
from .deidentify import SAFE_HARBOR_KINDS, identifier_kinds
from .events import consult_notify, consult_participant_ids, consult_room_event
from .media_hooks import recording_withdrawal_run
from .photos import photo_clean
from .selectors import OBSERVER, SUPERVISOR, TRAINEE
from .teaching import teaching_case_withdraw_for_consent

logger = logging.getLogger(__name__)

CONSENT_FORM_VERSION = "2026.1"
MAX_REASON = 300
MAX_GUIDANCE = 2000
MAX_NOTE_FIELD = 10000
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")


def _clean_language(value: str) -> str:
    value = (value or "").strip().lower()
    if not _LANGUAGE_CODE.match(value):
        raise InvalidRequest(_("Give the language as a code such as en, fr, pt or ny."), code="bad_language")
    return value


def _require_open(consult: ConsultRequest) -> None:
    if not consult.is_open:
        raise InvalidRequest(_("This consult is %(status)s.") % {"status": consult.get_status_display().lower()},
                             code="consult_not_open")


def _consult_link(consult: ConsultRequest, base_url: str) -> str:
    return base_url + reverse("consults:detail", args=[consult.pk]) if base_url else ""


# -- requests and the roster --------------------------------------------------------------------

def consult_request_create(
    *, trainee: User, specialty: str, urgency: str, language: str, reason: str,
    source: AuditSource | None = None, base_url: str = "",
) -> ConsultRequest:
    """A trainee asks for supervision. The reason must not identify the patient.

    Refused for anyone who is not a trainee; refused when the de-identification
    detector finds an identifier in the reason (the message names the kinds, not the text).
    """
    if not user_has_role(user=trainee, roles=[Role.TRAINEE]):
        raise PermissionRefused(_("Only trainees can ask for a supervised consult."), code="not_trainee")
    membership = trainee.memberships.filter(is_active=True, role=Role.TRAINEE).select_related("institution").first()
    specialty = (specialty or "").strip()
    reason = (reason or "").strip()
    if not specialty or len(specialty) > 80:
        raise InvalidRequest(_("Choose a specialty."), code="bad_specialty")
    if urgency not in ConsultUrgency.values:
        raise InvalidRequest(_("Choose how urgent the consult is."), code="bad_urgency")
    if not reason:
        raise InvalidRequest(_("Say briefly why you need supervision."), code="reason_required")
    if len(reason) > MAX_REASON:
        raise InvalidRequest(_("Keep the reason under %(n)d characters.") % {"n": MAX_REASON}, code="reason_too_long")
    found = identifier_kinds(reason)
    if found:
        kinds = ", ".join(sorted(SAFE_HARBOR_KINDS[k].lower() for k in found))
        raise InvalidRequest(
            _("The reason seems to identify the patient (%(kinds)s). Describe the clinical problem without names, dates, places or numbers.")
            % {"kinds": kinds},
            code="reason_identifies_patient",
        )
    with transaction.atomic():
        consult = ConsultRequest.objects.create(
            trainee=trainee, institution=membership.institution, specialty=specialty, urgency=urgency,  # type: ignore[union-attr]  # a trainee (checked above)
            language=_clean_language(language), reason=reason,
        )
        audit_append(actor=trainee, action="consult.request", consult=consult, obj=consult, source=source,
                     detail={"urgency": urgency, "specialty": specialty})
        supervisors = selectors.consult_request_supervisors(consult=consult)
        if supervisors:
            consult_notify(
                consult=consult, users=supervisors,
                compose=lambda _user: (
                    _("A trainee asks for supervision in %(specialty)s (%(urgency)s).")
                    % {"specialty": specialty, "urgency": consult.get_urgency_display()},
                    _("OpenRounds: a consult request in %(specialty)s") % {"specialty": specialty},
                    _("A trainee asks for supervision in %(specialty)s. Open your roster to accept it.") % {"specialty": specialty},
                ),
                link=base_url + reverse("consults:roster") if base_url else "",
            )
    logger.info("consult %s requested (urgency %s)", consult.pk, urgency)
    return consult


def roster_update(*, supervisor: User, specialties: list[str], languages: list[str], is_active: bool) -> SupervisorRoster:
    """A supervisor sets what they supervise and in which languages."""
    if not user_has_role(user=supervisor, roles=[Role.SUPERVISOR]):
        raise PermissionRefused(_("Only supervisors can be on the consult roster."), code="not_supervisor")
    specialties = sorted({s.strip() for s in specialties if s.strip()})[:20]
    languages = sorted({_clean_language(code) for code in languages if code.strip()})[:12]
    if any(len(s) > 80 for s in specialties):
        raise InvalidRequest(_("A specialty name is too long."), code="bad_specialty")
    roster, _created = SupervisorRoster.objects.update_or_create(
        supervisor=supervisor, defaults={"specialties": specialties, "languages": languages, "is_active": is_active}
    )
    return roster


def roster_window_add(*, supervisor: User, weekday: int, starts: time, ends: time) -> RosterWindow:
    roster = SupervisorRoster.objects.filter(supervisor=supervisor).first()
    if roster is None:
        raise InvalidRequest(_("Save your specialties first."), code="no_roster")
    if not 0 <= weekday <= 6:
        raise InvalidRequest(_("Choose a day of the week."), code="bad_weekday")
    if ends <= starts:
        raise InvalidRequest(_("The window must end after it starts."), code="bad_window")
    if roster.windows.count() >= 40:
        raise InvalidRequest(_("That is enough windows for one week."), code="too_many_windows")
    return RosterWindow.objects.create(roster=roster, weekday=weekday, starts=starts, ends=ends)


def roster_window_remove(*, supervisor: User, window_id: int) -> None:
    deleted, _rows = RosterWindow.objects.filter(pk=window_id, roster__supervisor=supervisor).delete()
    if not deleted:
        raise InvalidRequest(_("That availability window does not exist."), code="no_window")


def consult_accept(
    *, supervisor: User, consult: ConsultRequest, starts_at: datetime | None = None, duration_minutes: int = 60,
    source: AuditSource | None = None, base_url: str = "",
) -> ConsultRequest:
    """A matching supervisor takes the request: now (accepted) or at `starts_at` (scheduled).

    Creates the consult's LiveSession (kind consult, invited audience, the supervisor as
    host, the trainee invited) and its empty note. Both people are told.
    """
    now = timezone.now()
    with transaction.atomic():
        consult = ConsultRequest.objects.select_for_update().get(pk=consult.pk)
        if consult.status != ConsultStatus.REQUESTED:
            raise InvalidRequest(_("This request was already taken or cancelled."), code="request_not_pending")
        if not selectors.consult_requests_matching(supervisor=supervisor).filter(pk=consult.pk).exists():
            raise PermissionRefused(
                _("Only a supervisor on the roster for this specialty, language and school can accept this request."),
                code="not_matching_supervisor",
            )
        if not 15 <= duration_minutes <= 240:
            raise InvalidRequest(_("A consult lasts between 15 minutes and 4 hours."), code="bad_duration")
        if starts_at is not None and starts_at < now - timedelta(minutes=5):
            raise InvalidRequest(_("The consult cannot start in the past."), code="start_in_past")
        scheduled = starts_at is not None and starts_at > now + timedelta(minutes=10)
        start = starts_at if scheduled and starts_at is not None else now
        session = LiveSession.objects.create(
            kind=SessionKind.CONSULT,
            title=_("Supervised consult · %(specialty)s") % {"specialty": consult.specialty},
            specialty=consult.specialty, language=consult.language, host=supervisor,
            institution=consult.institution, starts_at=start, ends_at=start + timedelta(minutes=duration_minutes),
            capacity=10, audience=Audience.INVITED, lobby_enabled=False, status=SessionStatus.SCHEDULED,
        )
        SessionInvitation.objects.get_or_create(session=session, user=consult.trainee, defaults={"invited_by": supervisor})
        consult.supervisor = supervisor
        consult.session = session
        consult.status = ConsultStatus.SCHEDULED if scheduled else ConsultStatus.ACCEPTED
        consult.accepted_at = now
        consult.scheduled_for = start
        consult.save(update_fields=["supervisor", "session", "status", "accepted_at", "scheduled_for"])
        ConsultNote.objects.get_or_create(consult=consult)
        audit_append(actor=supervisor, action="consult.accept", consult=consult, obj=consult, source=source,
                     detail={"status": consult.status, "session": session.pk})
        def compose(person: User) -> tuple[str, str, str]:
            # Each person reads the time in their own zone and language (a notice per person).
            zone = person.time_zone or "UTC"
            when = f"{timezone.localtime(start, zoneinfo.ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"
            text = (_("Your consult in %(specialty)s was accepted; join now.") if not scheduled
                    else _("Your consult in %(specialty)s is scheduled for %(when)s.")) % {"specialty": consult.specialty, "when": when}
            return (text, _("OpenRounds: consult %(state)s") % {"state": consult.get_status_display().lower()},
                    text + "\n" + _("Record the patient's consent before any audio or video."))

        consult_notify(consult=consult, users=[consult.trainee, supervisor], compose=compose,
                       link=_consult_link(consult, base_url))
    logger.info("consult %s %s by user %s, session %s", consult.pk, consult.status, supervisor.pk, session.pk)
    return consult


def _lock_fresh(consult: ConsultRequest) -> ConsultRequest:
    """Lock the consult's row and refresh `consult` from it (inside a transaction).

    The caller's copy may predate a concurrent accept, cancel or completion; a status
    change decided on that copy would undo the other one (or miss the session it made).
    """
    fresh = ConsultRequest.objects.select_for_update().get(pk=consult.pk)
    for name in ("status", "supervisor_id", "session_id", "closed_at", "accepted_at", "scheduled_for"):
        setattr(consult, name, getattr(fresh, name))
    return consult


def consult_cancel(*, by: User, consult: ConsultRequest, source: AuditSource | None = None) -> ConsultRequest:
    """The trainee (or the supervisor, once accepted) cancels a consult that has not ended."""
    with transaction.atomic():
        _lock_fresh(consult)
        role = selectors.consult_require_role(user=by, consult=consult, roles=(TRAINEE, SUPERVISOR))
        if consult.status not in {ConsultStatus.REQUESTED, ConsultStatus.ACCEPTED, ConsultStatus.SCHEDULED}:
            raise InvalidRequest(_("This consult can no longer be cancelled."), code="consult_closed")
        consult.status = ConsultStatus.CANCELLED
        consult.closed_at = timezone.now()
        consult.save(update_fields=["status", "closed_at"])
        if consult.session_id:
            LiveSession.objects.filter(pk=consult.session_id).update(status=SessionStatus.CANCELLED)
            # Sockets close and the media worker closes the consult's media (and recording).
            scheduling_event_on_commit(name="session.cancelled", session_id=consult.session_id)
        audit_append(actor=by, action="consult.cancel", consult=consult, obj=consult, source=source, detail={"role": role})
        others = [u for u in (consult.trainee, consult.supervisor) if u is not None and u.pk != by.pk]
        consult_notify(consult=consult, users=others, compose=lambda _user: (
            _("A consult was cancelled."), _("OpenRounds: consult cancelled"), _("A consult you take part in was cancelled.")))
        consult_room_event(consult=consult, type="consult.status", payload={"status": consult.status}, actor=by)
    return consult


def consult_complete(*, by: User, consult: ConsultRequest, source: AuditSource | None = None) -> ConsultRequest:
    """The supervisor closes the consult; media stops being allowed, the record stays."""
    with transaction.atomic():
        _lock_fresh(consult)
        selectors.consult_require_role(user=by, consult=consult, roles=(SUPERVISOR,))
        _require_open(consult)
        consult.status = ConsultStatus.COMPLETED
        consult.closed_at = timezone.now()
        consult.save(update_fields=["status", "closed_at"])
        if consult.session_id:
            LiveSession.objects.filter(pk=consult.session_id).update(status=SessionStatus.ENDED)
            # Sockets close and the media worker finishes a running recording (kept with the
            # consult, see recording.py) and closes the media.
            scheduling_event_on_commit(name="session.ended", session_id=consult.session_id)
        audit_append(actor=by, action="consult.complete", consult=consult, obj=consult, source=source)
        consult_room_event(consult=consult, type="consult.status", payload={"status": consult.status}, actor=by)
    return consult


# -- observers ------------------------------------------------------------------------------

def observer_invite(*, supervisor: User, consult: ConsultRequest, user: User, source: AuditSource | None = None) -> ConsultObserver:
    """The supervisor invites an observer from the trainee's school or one of its partners."""
    selectors.consult_require_role(user=supervisor, consult=consult, roles=(SUPERVISOR,))
    if user.pk in (consult.trainee_id, consult.supervisor_id):
        raise InvalidRequest(_("This person already takes part in the consult."), code="already_participant")
    schools = {consult.institution_id} | institution_partner_ids(institution_ids=[consult.institution_id])
    if not user.is_active or not (user_institution_ids(user=user) & schools):
        raise PermissionRefused(
            _("Observers must belong to the trainee's school or one of its partner schools."), code="observer_not_eligible"
        )
    with transaction.atomic():
        observer, created = ConsultObserver.objects.get_or_create(
            consult=consult, user=user, defaults={"invited_by": supervisor}
        )
        if not created and observer.revoked_at is not None:
            ConsultObserver.objects.filter(pk=observer.pk).update(revoked_at=None, invited_by=supervisor, invited_at=timezone.now())
            observer.refresh_from_db()
        if consult.session_id:
            SessionInvitation.objects.get_or_create(session_id=consult.session_id, user=user, defaults={"invited_by": supervisor})
        audit_append(actor=supervisor, action="observer.invite", consult=consult, obj=observer, source=source,
                     detail={"observer": user.pk})
        consult_notify(consult=consult, users=[user], compose=lambda _user: (
            _("You are invited to observe a supervised consult."),
            _("OpenRounds: invitation to observe a consult"),
            _("A supervisor invites you to observe a consult. What you see there is confidential.")))
    return observer


def observer_revoke(*, supervisor: User, consult: ConsultRequest, user: User, source: AuditSource | None = None) -> None:
    selectors.consult_require_role(user=supervisor, consult=consult, roles=(SUPERVISOR,))
    with transaction.atomic():
        updated = ConsultObserver.objects.filter(consult=consult, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if not updated:
            raise InvalidRequest(_("This person is not an observer of the consult."), code="not_observer")
        if consult.session_id:
            SessionInvitation.objects.filter(session_id=consult.session_id, user=user).delete()
        audit_append(actor=supervisor, action="observer.revoke", consult=consult, source=source, detail={"observer": user.pk})


# -- consent --------------------------------------------------------------------------------

def consent_record(
    *, by: User, consult: ConsultRequest, consult_given: bool, recording_given: bool, teaching_given: bool,
    language: str, form_version: str = CONSENT_FORM_VERSION, source: AuditSource | None = None,
) -> list[PatientConsent]:
    """The trainee, who is with the patient, records the patient's three decisions.

    Each scope is a separate yes or no; recording and teaching without consent to the
    consult itself make no sense and are refused. A new form adds rows (history stays).
    """
    selectors.consult_require_role(user=by, consult=consult, roles=(TRAINEE,))
    if not consult.takes_consent:  # from the request on: the trainee is with the patient already
        _require_open(consult)
    if (recording_given or teaching_given) and not consult_given:
        raise InvalidRequest(
            _("Recording or teaching use need the patient's consent to the consult itself."), code="consent_inconsistent"
        )
    if form_version != CONSENT_FORM_VERSION:
        raise InvalidRequest(_("This consent form is out of date; reload the page."), code="consent_form_outdated")
    language = _clean_language(language)
    now = timezone.now()
    answers = {ConsentScope.CONSULT: consult_given, ConsentScope.RECORDING: recording_given, ConsentScope.TEACHING: teaching_given}
    with transaction.atomic():
        rows = [
            PatientConsent.objects.create(consult=consult, scope=scope, given=given, taken_by=by, taken_at=now,
                                          language=language, form_version=form_version)
            for scope, given in answers.items()
        ]
        audit_append(actor=by, action="consent.record", consult=consult, obj=rows[0], source=source,
                     detail={str(scope): given for scope, given in answers.items()} | {"form": form_version})
        consult_room_event(consult=consult, type="consent.changed", payload=_consent_payload(consult), actor=by)
    logger.info("consult %s consent recorded", consult.pk)
    return rows


def consent_withdraw(
    *, by: User, consult: ConsultRequest, scopes: list[str], source: AuditSource | None = None,
) -> dict[str, Any]:
    """The patient withdraws consent for `scopes`; effective at once.

    Withdrawing the consult itself withdraws recording and teaching too. When recording
    is withdrawn, the media part's hook stops any running recording and deletes it, right
    after the withdrawal commits; the hooks' outcome goes into the audit log. Teaching use
    is blocked from then on, and a case already shared is withdrawn from the library.
    """
    selectors.consult_require_role(user=by, consult=consult, roles=(TRAINEE, SUPERVISOR))
    wanted = set(scopes)
    if not wanted or not wanted <= set(ConsentScope.values):
        raise InvalidRequest(_("Choose what the patient withdraws."), code="bad_scope")
    if ConsentScope.CONSULT in wanted:
        wanted |= {ConsentScope.RECORDING, ConsentScope.TEACHING}
    now = timezone.now()
    withdrawn: list[str] = []
    with transaction.atomic():
        current = selectors.consult_current_consent(consult=consult)
        for scope in sorted(wanted):
            row = current.get(scope)
            if row is not None and row.withdrawn_at is None:
                PatientConsent.objects.filter(pk=row.pk).update(withdrawn_at=now, withdrawn_by=by)
                withdrawn.append(scope)
        audit_append(actor=by, action="consent.withdraw", consult=consult, source=source, detail={"scopes": sorted(wanted)})
        if ConsentScope.RECORDING in wanted and consult.session_id:
            session_id = consult.session_id

            def stop_recording() -> None:
                # After commit: from here on `consult_recording_allowed` is False in every
                # process, so no new recording can start while this one is being removed;
                # and the media worker may write to the database without waiting on our lock.
                hooks = recording_withdrawal_run(session_id=session_id)
                audit_append(actor=by, action="recording.withdrawn", consult=consult, source=source,
                             detail={"hooks": hooks, "session": session_id})

            transaction.on_commit(stop_recording)
        if ConsentScope.TEACHING in wanted:
            teaching_case_withdraw_for_consent(by=by, consult=consult, source=source)
        consult_room_event(consult=consult, type="consent.changed", payload=_consent_payload(consult), actor=by)
    logger.info("consult %s consent withdrawn for %s", consult.pk, sorted(wanted))
    return {"withdrawn": withdrawn, "scopes": sorted(wanted)}


def _consent_payload(consult: ConsultRequest) -> dict[str, Any]:
    return selectors.consults_consent_in_force(consult_ids=[consult.pk])[consult.pk]


# -- the note -------------------------------------------------------------------------------

def _note_for_update(consult: ConsultRequest) -> ConsultNote:
    note, _created = ConsultNote.objects.select_for_update().get_or_create(consult=consult)
    if note.is_signed:
        raise InvalidRequest(_("The note is signed and can no longer be changed; add an addendum."), code="note_signed")
    return note


def note_payload(note: ConsultNote) -> dict[str, Any]:
    """The note as the room and the API send it."""
    return {
        "subjective": note.subjective, "objective": note.objective, "assessment": note.assessment,
        "plan": note.plan, "supervisor_comments": note.supervisor_comments, "version": note.version,
        "signed": note.is_signed, "signed_by": note.signed_by.name if note.signed_by_id else "",  # type: ignore[union-attr]  # set with its id
        "signed_at": note.signed_at.isoformat() if note.signed_at else None,
    }


def note_update(
    *, by: User, consult: ConsultRequest, changes: dict[str, str], base_version: int | None = None,
    source: AuditSource | None = None, client_id: str = "",
) -> ConsultNote:
    """The trainee writes the SOAP fields live.

    `base_version` is the version the writer last saw; if someone changed the SOAP
    fields since, the edit is refused (`note_conflict`) rather than silently overwritten.
    """
    selectors.consult_require_role(user=by, consult=consult, roles=(TRAINEE,))
    _require_open(consult)
    unknown = set(changes) - set(ConsultNote.SOAP_FIELDS)
    if unknown or not changes:
        raise InvalidRequest(_("Only the subjective, objective, assessment and plan can be written."), code="bad_note_field")
    for name, value in changes.items():
        if not isinstance(value, str) or len(value) > MAX_NOTE_FIELD:
            raise InvalidRequest(_("Each part of the note is text of at most %(n)d characters.") % {"n": MAX_NOTE_FIELD},
                                 code="note_too_long", )
    with transaction.atomic():
        note = _note_for_update(consult)
        if base_version is not None and base_version != note.version:
            raise InvalidRequest(_("Someone else changed the note; the newest version was loaded."), code="note_conflict")
        for name, value in changes.items():
            setattr(note, name, value)
        note.version += 1
        note.updated_at = timezone.now()
        note.updated_by = by
        note.save()
        audit_append(actor=by, action="note.update", consult=consult, obj=note, source=source,
                     detail={"fields": sorted(changes), "version": note.version})
        consult_room_event(consult=consult, type="note.updated", payload=note_payload(note), actor=by, client_id=client_id)
    return note


def note_comment(
    *, by: User, consult: ConsultRequest, text: str, source: AuditSource | None = None, client_id: str = "",
) -> ConsultNote:
    """The supervisor's comments on the note (replaces the comment text; audited)."""
    selectors.consult_require_role(user=by, consult=consult, roles=(SUPERVISOR,))
    _require_open(consult)
    if not isinstance(text, str) or len(text) > MAX_NOTE_FIELD:
        raise InvalidRequest(_("The comment is too long."), code="note_too_long")
    with transaction.atomic():
        note = _note_for_update(consult)
        note.supervisor_comments = text
        note.updated_at = timezone.now()
        note.updated_by = by
        note.save()
        audit_append(actor=by, action="note.comment", consult=consult, obj=note, source=source)
        consult_room_event(consult=consult, type="note.updated", payload=note_payload(note), actor=by, client_id=client_id)
    return note


def note_sign(*, by: User, consult: ConsultRequest, source: AuditSource | None = None, client_id: str = "") -> ConsultNote:
    """The supervisor signs; the note is read-only from then on (changes are addenda)."""
    selectors.consult_require_role(user=by, consult=consult, roles=(SUPERVISOR,))
    if consult.status == ConsultStatus.CANCELLED:
        raise InvalidRequest(_("A cancelled consult has no note to sign."), code="consult_not_open")
    with transaction.atomic():
        note = _note_for_update(consult)
        if not note.assessment.strip() or not note.plan.strip():
            raise InvalidRequest(_("The note needs an assessment and a plan before it can be signed."), code="note_incomplete")
        note.signed_by = by
        note.signed_at = timezone.now()
        note.save()
        audit_append(actor=by, action="note.sign", consult=consult, obj=note, source=source, detail={"version": note.version})
        consult_room_event(consult=consult, type="note.signed", payload=note_payload(note), actor=by, client_id=client_id)
        consult_notify(consult=consult, users=[consult.trainee], compose=lambda _user: (
            _("Your consult note was signed."), _("OpenRounds: consult note signed"), _("Your supervisor signed the consult note.")))
    return note


def note_addendum_add(*, by: User, consult: ConsultRequest, text: str, source: AuditSource | None = None) -> NoteAddendum:
    """After signing, the trainee or the supervisor adds a dated, attributed addendum."""
    selectors.consult_require_role(user=by, consult=consult, roles=(TRAINEE, SUPERVISOR))
    text = (text or "").strip()
    if not text or len(text) > 5000:
        raise InvalidRequest(_("Write the addendum (at most 5000 characters)."), code="bad_addendum")
    note = ConsultNote.objects.filter(consult=consult).first()
    if note is None or not note.is_signed:
        raise InvalidRequest(_("Addenda are for signed notes; edit the note itself."), code="note_not_signed")
    with transaction.atomic():
        addendum = NoteAddendum.objects.create(note=note, author=by, text=text)
        audit_append(actor=by, action="note.addendum", consult=consult, obj=addendum, source=source)
        consult_room_event(consult=consult, type="note.addendum", payload={"author": by.name, "text": text,
                                     "created_at": addendum.created_at.isoformat()}, actor=by)
    return addendum


# -- photos, guidance, joining --------------------------------------------------------------

def photo_add(
    *, by: User, consult: ConsultRequest, upload: IO[bytes], size: int, caption: str = "",
    source: AuditSource | None = None,
) -> ClinicalPhoto:
    """A trainee or supervisor adds a clinical photo; stored re-encoded, with no metadata.

    Needs the patient's consent to the consult. The caption is checked for identifiers.
    """
    selectors.consult_require_role(user=by, consult=consult, roles=(TRAINEE, SUPERVISOR))
    _require_open(consult)
    if not selectors.consult_has_consent(consult=consult, scope=ConsentScope.CONSULT):
        raise PermissionRefused(_("Record the patient's consent before adding photos."), code="consent_required")
    caption = (caption or "").strip()[:200]
    if caption and identifier_kinds(caption):
        raise InvalidRequest(_("The caption seems to identify the patient; describe only what the photo shows."),
                             code="caption_identifies_patient")
    clean = photo_clean(upload=upload, size=size)
    with transaction.atomic():
        photo = ClinicalPhoto(consult=consult, uploaded_by=by, caption=caption, content_type=clean.content_type,
                              width=clean.width, height=clean.height, size=len(clean.data))
        photo.file.save(f"photo.{clean.extension}", ContentFile(clean.data), save=False)
        try:
            photo.save()
            audit_append(actor=by, action="photo.add", consult=consult, obj=photo, source=source,
                         detail={"bytes": photo.size})
        except Exception:
            photo.file.delete(save=False)
            raise
        consult_room_event(consult=consult, type="photo.added", actor=by, payload=photo_payload(photo))
    return photo


def photo_payload(photo: ClinicalPhoto) -> dict[str, Any]:
    """A photo as the room shows it: the URL is the authorized, audited view, never the storage."""
    return {"id": photo.pk, "caption": photo.caption, "by": photo.uploaded_by.name, "width": photo.width,
            "height": photo.height, "url": reverse("consults:photo", args=[photo.consult_id, photo.pk]),
            "at": photo.created_at.isoformat()}


def guidance_send(*, by: User, consult: ConsultRequest, text: str, source: AuditSource | None = None) -> dict[str, Any]:
    """Check and audit a private guidance message; return what the room delivers, and to whom.

    The room handler emits it with `visible_to=[trainee, supervisor]`: observers and
    anybody else never receive it. The audit entry records that guidance was sent, not its text.
    """
    selectors.consult_require_role(user=by, consult=consult, roles=(SUPERVISOR,))
    _require_open(consult)
    text = (text or "").strip()
    if not text:
        raise InvalidRequest(_("Write the guidance first."), code="guidance_empty")
    if len(text) > MAX_GUIDANCE:
        raise InvalidRequest(_("Guidance is limited to %(n)d characters.") % {"n": MAX_GUIDANCE}, code="guidance_too_long")
    audit_append(actor=by, action="guidance.send", consult=consult, source=source, detail={"chars": len(text)})
    return {"payload": {"text": text, "from": by.name, "at": timezone.now().isoformat()},
            "visible_to": [consult.trainee_id, consult.supervisor_id]}


def consult_join(*, user: User, session: LiveSession, source: AuditSource | None = None) -> str:
    """Check a room join for a consult session and audit it (and audit a refusal too)."""
    consult = selectors.consult_for_session(session=session)
    if consult is None:
        raise PermissionRefused(_("This is not a consult."), code="not_consult")
    role = selectors.consult_role(user=user, consult=consult)
    if role is None:
        audit_append(actor=user, action="room.join_refused", consult=consult, source=source)
        raise PermissionRefused(
            _("Only the trainee, the supervisor and observers the supervisor invited can join this consult."),
            code="not_consult_participant",
        )
    if not consult.is_open:
        raise InvalidRequest(_("This consult is %(status)s.") % {"status": consult.get_status_display().lower()},
                             code="consult_not_open")
    audit_append(actor=user, action="room.join", consult=consult, source=source, detail={"role": role})
    return role


def consult_recordings_kept(*, session_id: int, names: list[str]) -> bool:
    """The media worker kept a consult's recordings (session ended): note it in the audit log.

    They stay in storage with the consult, not in the library; participants read them
    through `selectors.consult_recordings_list` / `consult_recording_read` (audited).
    Unless the patient's recording consent is no longer in force: a file joined from a
    killed worker's pieces can be stored seconds after a withdrawal deleted the folder
    (the withdrawal found no worker recording), so it is deleted here and the deletion
    audited. True if kept.
    """
    consult = ConsultRequest.objects.filter(session_id=session_id).first()
    if consult is None or not names:
        return False
    if not selectors.consult_has_consent(consult=consult, scope=ConsentScope.RECORDING):
        for name in names:
            default_storage.delete(name)
        audit_append(actor=None, action="recording.discarded", consult=consult, source=SYSTEM,
                     detail={"files": len(names), "session": session_id, "why": "consent withdrawn"})
        logger.warning("session %s: %d recording file(s) deleted: recording consent withdrawn", session_id, len(names))
        return False
    audit_append(actor=None, action="recording.kept", consult=consult, source=SYSTEM,
                 detail={"files": len(names), "session": session_id})
    return True


def consult_access_refused(*, user: User, consult: ConsultRequest, what: str, source: AuditSource | None = None) -> None:
    """Audit a refused attempt to read consult data (who tried, what, from where)."""
    audit_append(actor=user, action="access.refused", consult=consult, source=source, detail={"what": what[:40]})


def consult_mode_announce(*, by: User, consult: ConsultRequest, mode: str) -> dict[str, Any]:
    """A participant's connection mode (video, audio, text); not clinical data, not audited."""
    selectors.consult_require_role(user=by, consult=consult, roles=(TRAINEE, SUPERVISOR, OBSERVER))
    if mode not in {"video", "audio", "text"}:
        raise InvalidRequest(_("The mode is video, audio or text."), code="bad_mode")
    return {"user_id": by.pk, "name": by.name, "mode": mode}


__all__ = [
    "CONSENT_FORM_VERSION", "consent_record", "consent_withdraw", "consult_accept", "consult_access_refused",
    "consult_cancel", "consult_complete", "consult_join", "consult_mode_announce", "consult_recordings_kept",
    "consult_request_create",
    "guidance_send", "note_addendum_add", "photo_payload", "note_comment", "note_payload", "note_sign", "note_update",
    "observer_invite", "observer_revoke", "photo_add", "roster_update", "roster_window_add",
    "roster_window_remove", "consult_participant_ids",
]
