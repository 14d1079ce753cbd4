"""JSON about consults, at /api/consults/ — for participants only, every read audited.

Thin: each route calls a selector; PermissionRefused becomes 403 with its code.
"""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError

from server.people.errors import PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from sessions.models import ConsultRequest

from . import selectors, services
from .audit import AuditSource

router = Router()


class ConsultOut(Schema):
    id: int
    specialty: str
    urgency: str
    language: str
    status: str
    role: str
    trainee: str
    supervisor: str | None
    session_id: int | None
    requested_at: datetime
    scheduled_for: datetime | None
    consent: dict[str, bool]


class NoteOut(Schema):
    subjective: str
    objective: str
    assessment: str
    plan: str
    supervisor_comments: str
    version: int
    signed: bool
    signed_by: str
    signed_at: str | None


def _consult_out(consult: ConsultRequest, role: str, consent: dict[str, bool] | None = None) -> ConsultOut:
    return ConsultOut(
        id=consult.pk, specialty=consult.specialty, urgency=consult.urgency, language=consult.language,
        status=consult.status, role=role, trainee=consult.trainee.name,
        supervisor=consult.supervisor.name if consult.supervisor else None, session_id=consult.session_id,
        requested_at=consult.requested_at, scheduled_for=consult.scheduled_for,
        consent=consent if consent is not None else services._consent_payload(consult),
    )


def _participant(request: AuthenticatedHttpRequest, consult_id: int, what: str) -> tuple[ConsultRequest, str]:
    consult = get_object_or_404(ConsultRequest.objects.select_related("trainee", "supervisor"), pk=consult_id)
    try:
        role = selectors.consult_require_role(user=request.user, consult=consult)
    except PermissionRefused as refusal:
        services.consult_access_refused(user=request.user, consult=consult, what=what,
                                        source=AuditSource.from_request(request))
        raise HttpError(403, refusal.message) from refusal
    return consult, role


@router.get("/", response=list[ConsultOut], summary="Consults I take part in")
def consult_list(request: AuthenticatedHttpRequest) -> list[ConsultOut]:
    consults = list(selectors.consults_of_participant(user=request.user)[:100])
    consents = selectors.consults_consent_in_force(consult_ids=[c.pk for c in consults])
    return [_consult_out(c, selectors.consult_listed_role(user=request.user, consult=c), consents[c.pk])
            for c in consults]


@router.get("/{consult_id}", response=ConsultOut, summary="One consult (participants only; audited)")
def consult_detail(request: AuthenticatedHttpRequest, consult_id: int) -> ConsultOut:
    consult, role = _participant(request, consult_id, "api.consult")
    selectors.consult_detail_read(user=request.user, consult=consult, source=AuditSource.from_request(request))
    return _consult_out(consult, role)


class RecordingOut(Schema):
    name: str
    url: str


@router.get("/{consult_id}/recordings", response=list[RecordingOut],
            summary="The consult's recordings (participants only; audited; never in the library)")
def consult_recordings(request: AuthenticatedHttpRequest, consult_id: int) -> list[RecordingOut]:
    from django.urls import reverse

    consult, _role = _participant(request, consult_id, "api.recordings")
    names = selectors.consult_recordings_list(user=request.user, consult=consult, source=AuditSource.from_request(request))
    return [RecordingOut(name=name, url=reverse("consults:recording", args=[consult.pk, name])) for name in names]


@router.get("/{consult_id}/note", response=NoteOut, summary="The consult note (participants only; audited)")
def consult_note(request: AuthenticatedHttpRequest, consult_id: int) -> dict:
    consult, _role = _participant(request, consult_id, "api.note")
    note = selectors.consult_note_read(user=request.user, consult=consult, source=AuditSource.from_request(request))
    if note is None:
        raise HttpError(404, "This consult has no note yet.")
    return services.note_payload(note)
