"""Permission-checked reads of consults: the access matrix lives here and only here.

| who                                   | request (before accept) | consult content, room, files |
|---------------------------------------|-------------------------|------------------------------|
| the trainee who asked                 | yes                     | yes                          |
| the accepting supervisor              | yes                     | yes (and signs, guides)      |
| an observer the supervisor invited    | no                      | read and join, no writing    |
| a supervisor on the roster, matching  | yes (to accept it)      | no                           |
| any other supervisor                  | no                      | no                           |
| a coordinator of the trainee's school | that it exists          | no                           |
| students, others, anonymous           | no                      | no                           |

Reads of consult data (note, photos, recording, join) are audited by the functions
that return them (`*_read`), with the source of the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Role, User
from server.people.selectors import institution_partner_ids, user_has_role, user_institution_ids
from sessions.models import (
    ClinicalPhoto,
    ConsentScope,
    ConsultNote,
    ConsultObserver,
    ConsultRequest,
    ConsultStatus,
    LiveSession,
    PatientConsent,
    SessionKind,
    SupervisorRoster,
)

from .audit import AuditSource, audit_append

logger = logging.getLogger(__name__)

TRAINEE = "trainee"
SUPERVISOR = "supervisor"
OBSERVER = "observer"
PARTICIPANT_ROLES = (TRAINEE, SUPERVISOR, OBSERVER)


def consult_role(*, user: User, consult: ConsultRequest) -> str | None:
    """The user's role in this consult (trainee, supervisor, observer), or None.

    Observers count only while their invitation stands and the consult has a supervisor.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if consult.trainee_id == user.pk:
        return TRAINEE
    if consult.supervisor_id is not None and consult.supervisor_id == user.pk:
        return SUPERVISOR
    if consult.supervisor_id is not None and ConsultObserver.objects.filter(
        consult=consult, user=user, revoked_at__isnull=True
    ).exists():
        return OBSERVER
    return None


def consult_require_role(*, user: User, consult: ConsultRequest, roles: tuple[str, ...] = PARTICIPANT_ROLES) -> str:
    """The user's role, or PermissionRefused naming who may do this."""
    role = consult_role(user=user, consult=consult)
    if role is None:
        raise PermissionRefused(
            _("Only the trainee, the supervisor and observers the supervisor invited can open this consult."),
            code="not_consult_participant",
        )
    if role not in roles:
        if roles == (TRAINEE,):
            message = _("Only the trainee of this consult can do this.")
        elif roles == (SUPERVISOR,):
            message = _("Only the supervisor of this consult can do this.")
        else:
            message = _("Observers can watch this consult but not change it.")
        raise PermissionRefused(message, code="consult_role")
    return role


def user_is_supervisor(*, user: User) -> bool:
    return user_has_role(user=user, roles=[Role.SUPERVISOR])


def user_is_trainee(*, user: User) -> bool:
    return user_has_role(user=user, roles=[Role.TRAINEE])


def consult_can_see_request(*, user: User, consult: ConsultRequest) -> bool:
    """A pending request is visible to its trainee and to matching supervisors on the roster."""
    if consult_role(user=user, consult=consult) is not None:
        return True
    return consult.status == ConsultStatus.REQUESTED and consult_requests_matching(supervisor=user).filter(pk=consult.pk).exists()


def roster_of(*, user: User) -> SupervisorRoster | None:
    return SupervisorRoster.objects.filter(supervisor=user).prefetch_related("windows").first()


def consult_requests_matching(*, supervisor: User) -> QuerySet[ConsultRequest]:
    """Pending requests this supervisor may accept.

    Matching: the supervisor is active on the roster, the specialty and the language are
    among theirs, and the trainee's school is one of the supervisor's schools or an
    active partner of one (clinical governance follows the partnerships).
    """
    none = ConsultRequest.objects.none()
    if not user_is_supervisor(user=supervisor):
        return none
    roster = SupervisorRoster.objects.filter(supervisor=supervisor, is_active=True).first()
    if roster is None or not roster.specialties:
        return none
    own = user_institution_ids(user=supervisor)
    schools = own | institution_partner_ids(institution_ids=own)
    languages = set(roster.languages or []) or set(supervisor.languages or [])
    specialties = {s.casefold() for s in roster.specialties}
    candidates = (
        ConsultRequest.objects.filter(status=ConsultStatus.REQUESTED, institution_id__in=schools, language__in=languages)
        .exclude(trainee=supervisor)
        .select_related("trainee", "institution")
    )
    ids = [c.pk for c in candidates if c.specialty.casefold() in specialties]
    return ConsultRequest.objects.filter(pk__in=ids).select_related("trainee", "institution").order_by("-urgency", "requested_at")


def consult_listed_role(*, user: User, consult: ConsultRequest) -> str:
    """The role of `user` in a consult that `consults_of_participant(user)` returned (no query):
    that list holds only consults where the user is trainee, supervisor or a standing observer."""
    if consult.trainee_id == user.pk:
        return TRAINEE
    return SUPERVISOR if consult.supervisor_id == user.pk else OBSERVER


def consult_request_supervisors(*, consult: ConsultRequest) -> list[User]:
    """The supervisors who may accept this pending request: `consult_requests_matching`
    seen from the request, in a fixed number of queries (it runs when a trainee asks)."""
    if consult.status != ConsultStatus.REQUESTED:
        return []
    near = {consult.institution_id} | institution_partner_ids(institution_ids=[consult.institution_id])
    rosters = (
        SupervisorRoster.objects.filter(is_active=True)
        # Two filter() calls: a supervisor membership anywhere, and any membership near the trainee's school.
        .filter(supervisor__memberships__is_active=True, supervisor__memberships__role=Role.SUPERVISOR)
        .filter(supervisor__memberships__is_active=True, supervisor__memberships__institution_id__in=near)
        .exclude(supervisor_id=consult.trainee_id)
        .select_related("supervisor")
        .distinct()
    )
    specialty = consult.specialty.casefold()
    return [
        roster.supervisor for roster in rosters
        if specialty in {s.casefold() for s in roster.specialties or []}
        and consult.language in (set(roster.languages or []) or set(roster.supervisor.languages or []))
    ]


def consults_of_participant(*, user: User) -> QuerySet[ConsultRequest]:
    """Consults the user takes part in, as trainee, supervisor or invited observer."""
    if not user.is_authenticated:
        return ConsultRequest.objects.none()
    return (
        ConsultRequest.objects.filter(
            Q(trainee=user) | Q(supervisor=user)
            | Q(observers__user=user, observers__revoked_at__isnull=True, supervisor__isnull=False)
        )
        .distinct()
        .select_related("trainee", "supervisor", "institution", "session")
    )


@dataclass(frozen=True)
class ConsultFact:
    """What a coordinator may know of a consult: that it happened, not its content."""

    id: int
    specialty: str
    status: str
    requested_at: datetime
    trainee: str
    supervisor: str


def consults_for_coordinator(*, user: User) -> list[ConsultFact]:
    """Consults of trainees of the schools the user coordinates, without any content."""
    if not user.is_authenticated:
        return []
    schools = [
        m.institution_id for m in user.memberships.filter(is_active=True, role=Role.COORDINATOR)
    ]
    rows = (
        ConsultRequest.objects.filter(institution_id__in=schools)
        .select_related("trainee", "supervisor")
        .order_by("-requested_at")[:200]
    )
    return [
        ConsultFact(c.pk, c.specialty, c.get_status_display(), c.requested_at, c.trainee.name,
                    c.supervisor.name if c.supervisor else "")
        for c in rows
    ]


def consult_for_session(*, session: LiveSession) -> ConsultRequest | None:
    if session.kind != SessionKind.CONSULT:
        return None
    return ConsultRequest.objects.filter(session=session).first()


def _newest_consents(rows: Iterable[PatientConsent]) -> dict[int, dict[str, PatientConsent | None]]:
    """Per consult, the newest decision per scope; `rows` come newest first."""
    current: dict[int, dict[str, PatientConsent | None]] = {}
    for row in rows:
        scopes = current.setdefault(row.consult_id, {scope: None for scope in ConsentScope.values})
        if scopes[row.scope] is None:
            scopes[row.scope] = row
    return current


def consult_current_consent(*, consult: ConsultRequest) -> dict[str, PatientConsent | None]:
    """The newest decision per scope (None when never asked)."""
    rows = PatientConsent.objects.filter(consult=consult).order_by("-taken_at", "-pk")
    return _newest_consents(rows).get(consult.pk, {scope: None for scope in ConsentScope.values})


def _consent_in_force(current: dict[str, PatientConsent | None]) -> dict[str, bool]:
    """Per scope, whether the patient's current decision is yes and not withdrawn.

    Recording and teaching also need the consult consent itself to stand.
    """
    base = current.get(ConsentScope.CONSULT)
    base_stands = base is not None and base.is_effective
    return {
        scope: base_stands and (scope == ConsentScope.CONSULT or (row is not None and row.is_effective))
        for scope, row in current.items()
    }


def consult_has_consent(*, consult: ConsultRequest, scope: str) -> bool:
    """Whether the patient's current decision for `scope` is yes and not withdrawn."""
    return _consent_in_force(consult_current_consent(consult=consult))[scope]


def consults_consent_in_force(*, consult_ids: Iterable[int]) -> dict[int, dict[str, bool]]:
    """`consult_has_consent` for every scope of many consults in one query (list pages, the API)."""
    ids = list(consult_ids)
    rows = PatientConsent.objects.filter(consult_id__in=ids).order_by("-taken_at", "-pk")
    current = _newest_consents(rows)
    never: dict[str, PatientConsent | None] = {scope: None for scope in ConsentScope.values}
    return {pk: _consent_in_force(current.get(pk, never)) for pk in ids}


def consult_media_allowed(session: LiveSession) -> bool:
    """Whether audio/video may flow in this session's room (the media part asks this).

    Not a consult: no consent gate here (True). A consult: only while it is open and the
    patient's consent to the consult stands.
    """
    if session.kind != SessionKind.CONSULT:
        return True
    consult = consult_for_session(session=session)
    if consult is None or not consult.is_open:
        return False
    return consult_has_consent(consult=consult, scope=ConsentScope.CONSULT)


def consult_recording_allowed(session: LiveSession) -> bool:
    """Whether this session may be recorded: for a consult, only with recording consent."""
    if session.kind != SessionKind.CONSULT:
        return True
    consult = consult_for_session(session=session)
    if consult is None or not consult.is_open:
        return False
    return consult_has_consent(consult=consult, scope=ConsentScope.RECORDING)


def consult_room_role(*, user: User, session: LiveSession) -> str | None:
    """For the room: the user's consult role in this session, or None (refuse the join)."""
    consult = consult_for_session(session=session)
    if consult is None:
        return None
    return consult_role(user=user, consult=consult)


# -- audited reads ----------------------------------------------------------------------------

def consult_detail_read(*, user: User, consult: ConsultRequest, source: AuditSource) -> str:
    """Check access to the consult page and audit the view; return the user's role."""
    role = consult_require_role(user=user, consult=consult)
    audit_append(actor=user, action="consult.view", consult=consult, obj=consult, source=source)
    return role


def consult_note_read(*, user: User, consult: ConsultRequest, source: AuditSource) -> ConsultNote | None:
    """The note (if any), for a participant; the read is audited."""
    consult_require_role(user=user, consult=consult)
    note = ConsultNote.objects.filter(consult=consult).select_related("signed_by", "updated_by").first()
    audit_append(actor=user, action="note.read", consult=consult, obj=note, source=source)
    return note


def consult_photos_list(*, user: User, consult: ConsultRequest, source: AuditSource) -> QuerySet[ClinicalPhoto]:
    consult_require_role(user=user, consult=consult)
    audit_append(actor=user, action="photo.list", consult=consult, source=source)
    return ClinicalPhoto.objects.filter(consult=consult).select_related("uploaded_by")


def consult_photo_read(*, user: User, photo: ClinicalPhoto, source: AuditSource) -> ClinicalPhoto:
    """A photo file for a participant; every read is audited (each view of the image)."""
    consult_require_role(user=user, consult=photo.consult)
    audit_append(actor=user, action="photo.read", consult=photo.consult, obj=photo, source=source)
    return photo


def _recording_folder(consult: ConsultRequest) -> str | None:
    if not consult.session_id:
        return None
    from sessions.media.recording import recording_folder

    return recording_folder(consult.session_id)


def consult_recordings_list(*, user: User, consult: ConsultRequest, source: AuditSource) -> list[str]:
    """The consult's recordings (file names, oldest first), for its participants; audited.

    A consult recording is clinical data: it never becomes a library material (the media
    worker keeps it in storage when the session ends) and is read only through here.
    """
    consult_require_role(user=user, consult=consult)
    audit_append(actor=user, action="recording.list", consult=consult, source=source)
    folder = _recording_folder(consult)
    if folder is None:
        return []
    try:
        return sorted(name for name in default_storage.listdir(folder)[1] if name.endswith(".webm"))
    except (FileNotFoundError, NotADirectoryError):
        return []


def consult_recording_read(*, user: User, consult: ConsultRequest, name: str, source: AuditSource) -> str:
    """The storage path of one recording, for a participant; every read is audited.

    Raises PermissionRefused for anyone else, InvalidRequest (`not_found`) for a name that
    is not one of this consult's recordings (no path can be smuggled in).
    """
    consult_require_role(user=user, consult=consult)
    folder = _recording_folder(consult)
    try:
        known = set(default_storage.listdir(folder)[1]) if folder else set()
    except (FileNotFoundError, NotADirectoryError):
        known = set()
    if name not in known or not name.endswith(".webm"):
        raise InvalidRequest(_("This consult has no such recording."), code="not_found")
    audit_append(actor=user, action="recording.read", consult=consult, source=source, detail={"name": name})
    return f"{folder}/{name}"


def consult_audit_entries(*, user: User, consult: ConsultRequest, source: AuditSource) -> QuerySet:
    """The consult's audit trail, for its supervisor only (viewing it is audited too)."""
    consult_require_role(user=user, consult=consult, roles=(SUPERVISOR,))
    audit_append(actor=user, action="audit.view", consult=consult, source=source)
    from sessions.models import AuditEntry

    return AuditEntry.objects.filter(consult=consult).order_by("pk")


def dashboard_consults(*, user: User, limit: int) -> dict[str, Any] | None:
    """The home page's consults: the person's own, and for supervisors the requests waiting (None: no section)."""
    consults = list(consults_of_participant(user=user)[:limit])
    waiting = list(consult_requests_matching(supervisor=user)[:limit]) if user_is_supervisor(user=user) else []
    return {"consults": consults, "waiting": waiting} if consults or waiting else None
