"""The learning record as JSON, at /api/record/.

- `POST /api/record/verify` — public: `{"credential": "<VC-JWT>"}` → whether OpenRounds
  signed it, unchanged, and whether it is revoked (`status`: genuine, revoked, tampered,
  unknown; `valid` is true only for genuine). No sign-in needed.
- `GET /api/record/certificates/{id}` — public: the same check by the certificate's id.
- `GET /api/record/certificates` — my certificates (session or personal token).
- `GET /api/record/rules/schools/{id}` — a school's certificate rules (its coordinators;
  anyone else 404, as the page). `PUT /api/record/rules/schools/{id}/kinds/{kind}`
  `{"min_presence_percent": 1..100, "active": bool}` creates or changes one.
- `GET|PUT /api/record/rules/courses/{id}` `{"active": bool}` — a course's rule ("course
  passed"), by its faculty (others 403).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from courses.curriculum.selectors import course_get_for_viewer
from server.people.errors import PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from server.people.models import Institution
from sessions.models import CertificateRule

from . import selectors, services

router = Router()


class CredentialIn(Schema):
    credential: str = Field(max_length=20000)


class VerificationOut(Schema):
    status: str
    valid: bool
    certificate: dict[str, Any] | None = None


class CertificateOut(Schema):
    id: str
    title: str
    kind: str
    school: str
    issued_at: dt.datetime
    revoked: bool
    jwt: str


@router.post("/verify", auth=None, response=VerificationOut)
def verify_credential(request, payload: CredentialIn):
    return selectors.certificate_verify_credential(token=payload.credential.strip()).as_json()


@router.get("/certificates/{certificate_id}", auth=None, response=VerificationOut)
def verify_certificate(request, certificate_id: str):
    return selectors.certificate_verify_id(certificate_id=certificate_id).as_json()


@router.get("/certificates", response=list[CertificateOut])
def my_certificates(request: AuthenticatedHttpRequest):
    return [
        {"id": str(c.pk), "title": c.title, "kind": c.kind, "school": c.institution.name, "issued_at": c.issued_at,
         "revoked": c.revoked_at is not None, "jwt": c.credential}
        for c in selectors.certificates_of(user=request.user)
    ]


# -- certificate rules -------------------------------------------------------------------------


class ErrorOut(Schema):
    code: str
    message: str


class SessionRuleIn(Schema):
    min_presence_percent: int = Field(ge=1, le=100)
    active: bool = True


class CourseRuleIn(Schema):
    active: bool


class RuleOut(Schema):
    id: int | None
    session_kind: str
    course_id: int | None
    criterion: str = Field(description="presence (a session kind), passed (a course with question sets) or completed")
    min_presence_percent: int
    active: bool
    updated_at: dt.datetime | None
    updated_by: str | None


def _rule_out(rule: CertificateRule) -> dict[str, Any]:
    """The rule as JSON. A course rule read by `certificate_course_rules_of_school` carries
    `has_question_sets` already (no query per rule); one just saved asks the service."""
    if rule.course_id is None:
        criterion = "presence"
    else:
        assert rule.course is not None
        criterion = services.course_certificate_criterion(
            course=rule.course, has_question_sets=getattr(rule, "has_question_sets", None)
        )
    return {
        "id": rule.pk, "session_kind": rule.session_kind, "course_id": rule.course_id, "criterion": criterion,
        "min_presence_percent": rule.min_presence_percent, "active": rule.is_active, "updated_at": rule.updated_at,
        "updated_by": rule.updated_by.name if rule.updated_by else None,
    }


def _managed_school(request: AuthenticatedHttpRequest, institution_id: int) -> Institution:
    institution = Institution.objects.filter(pk=institution_id).first()
    if institution is None or not selectors.certificate_rules_can_manage_school(user=request.user, institution=institution):
        raise PermissionRefused(_("No such school among those you coordinate."), code="not_found")
    return institution


@router.get("/rules/schools/{institution_id}", response={200: list[RuleOut], 404: ErrorOut}, summary="A school's certificate rules")
def school_rules(request: AuthenticatedHttpRequest, institution_id: int):
    institution = _managed_school(request, institution_id)
    rules = [*selectors.certificate_rules_of_school(institution=institution).values(),
             *selectors.certificate_course_rules_of_school(institution=institution)]
    return [_rule_out(rule) for rule in rules]


@router.put("/rules/schools/{institution_id}/kinds/{session_kind}", response={200: RuleOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Create or change a school's rule for a session kind")
def school_rule_set(request: AuthenticatedHttpRequest, institution_id: int, session_kind: str, payload: SessionRuleIn):
    institution = _managed_school(request, institution_id)
    rule = services.certificate_rule_set(by=request.user, institution=institution, session_kind=session_kind,
                                         min_presence_percent=payload.min_presence_percent, active=payload.active)
    return _rule_out(rule)


def _none_rule(course_id: int) -> dict[str, Any]:
    return {"id": None, "session_kind": "", "course_id": course_id, "criterion": "", "min_presence_percent": 75,
            "active": False, "updated_at": None, "updated_by": None}


@router.get("/rules/courses/{course_id}", response={200: RuleOut, 403: ErrorOut}, summary="A course's certificate rule")
def course_rule(request: AuthenticatedHttpRequest, course_id: int):
    course = course_get_for_viewer(user=request.user, course_id=course_id)
    if not selectors.certificate_rule_can_manage_course(user=request.user, course=course):
        raise PermissionRefused(_("Only the course's faculty set its certificate rule."), code="not_course_faculty")
    rule = selectors.certificate_rule_of_course(course=course)
    if rule is None:
        return {**_none_rule(course.pk), "criterion": services.course_certificate_criterion(course=course)}
    return _rule_out(rule)


@router.put("/rules/courses/{course_id}", response={200: RuleOut, 400: ErrorOut, 403: ErrorOut}, summary="Switch a course's certificate rule on or off")
def course_rule_set(request: AuthenticatedHttpRequest, course_id: int, payload: CourseRuleIn):
    course = course_get_for_viewer(user=request.user, course_id=course_id)
    current = selectors.certificate_rule_of_course(course=course)
    rule = services.certificate_rule_set(by=request.user, course=course, active=payload.active,
                                         min_presence_percent=current.min_presence_percent if current else 75)
    return _rule_out(rule)
