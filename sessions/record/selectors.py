"""Permission-checked reads of certificates: the holder's list, the public verification.

Verification is public by design (anyone holding a certificate's address or its signed
credential may check it); it shows what the certificate itself shows and nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from courses.assessment.selectors import question_sets_with_questions
from courses.curriculum.selectors import course_can_edit
from courses.models import Course
from server.people.http import AnyUser
from server.people.models import Institution, Role, User
from server.people.selectors import user_has_role, user_managed_institutions
from sessions.models import (
    Attendance,
    Certificate,
    CertificateRule,
    CertificateRuleChange,
    LiveSession,
    SessionKind,
    SessionStatus,
)

from .credentials import CredentialInvalid, credential_verify


def certificates_of(*, user: User) -> QuerySet[Certificate]:
    return Certificate.objects.filter(user=user).select_related("institution").order_by("-issued_at")


def certificate_for_holder(*, user: AnyUser, certificate_id: str) -> Certificate | None:
    """The certificate if `user` holds it (downloads are the holder's)."""
    if not user.is_authenticated:
        return None
    found = certificate_public(certificate_id=certificate_id)
    return found if found is not None and found.user_id == user.pk else None


def certificate_public(*, certificate_id: str) -> Certificate | None:
    try:
        key = uuid.UUID(str(certificate_id))
    except ValueError:
        return None
    return Certificate.objects.select_related("institution", "revoked_by").filter(pk=key).first()


def sessions_awaiting_certificates(*, user: User) -> list[int]:
    """Ended sessions the person attended, under a rule, without a certificate for them yet.

    The student's page issues these on the spot, in case the room's end listener did not
    run (a session ended by its schedule, or a process that stopped).
    """
    attended = Attendance.objects.filter(user=user).values("session_id")
    ruled = CertificateRule.objects.filter(is_active=True, course__isnull=True)
    sessions = LiveSession.objects.filter(pk__in=attended, status=SessionStatus.ENDED).exclude(host=user).exclude(
        pk__in=Certificate.objects.filter(user=user, session__isnull=False).values("session_id"),
    )
    pairs = set(ruled.values_list("institution_id", "session_kind"))
    return [pk for pk, inst, kind in sessions.values_list("pk", "institution_id", "kind") if (inst, kind) in pairs]


@dataclass(frozen=True)
class Verification:
    """What a verifier learns: `status` is genuine, revoked, tampered or unknown."""

    status: str
    certificate: Certificate | None = None
    credential: dict[str, Any] | None = None

    @property
    def genuine(self) -> bool:
        return self.status == "genuine"

    def as_json(self) -> dict[str, Any]:
        c = self.certificate
        body: dict[str, Any] = {"status": self.status, "valid": self.genuine}
        if c is not None:
            body["certificate"] = {
                "id": str(c.pk), "holder": c.holder_name, "title": c.title, "kind": c.kind,
                "activity_kind": c.activity_kind, "school": c.institution.name,
                "issued_at": c.issued_at.isoformat(), "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
                "revoke_reason": c.revoke_reason or None,
            }
        return body


def certificate_verify_id(*, certificate_id: str) -> Verification:
    """Check a certificate by its address: it exists, its stored credential verifies, not revoked."""
    certificate = certificate_public(certificate_id=certificate_id)
    if certificate is None:
        return Verification(status="unknown")
    return _verified(certificate.credential, certificate)


def certificate_verify_credential(*, token: str) -> Verification:
    """Check a credential someone holds: signed by the platform's key, unchanged, issued, not revoked.

    A credential whose signature fails is "tampered" even if its id names a real
    certificate; one that verifies must also match the stored certificate exactly.
    """
    try:
        claims = credential_verify(token)
    except CredentialInvalid:
        return Verification(status="tampered")
    certificate = certificate_public(certificate_id=str(claims["id"]).removeprefix("urn:uuid:"))
    if certificate is None:
        return Verification(status="unknown", credential=claims)
    if certificate.credential != token:
        return Verification(status="tampered", certificate=None)
    return _verified(token, certificate, claims)


def _verified(token: str, certificate: Certificate, claims: dict[str, Any] | None = None) -> Verification:
    if claims is None:
        try:
            claims = credential_verify(token)
        except CredentialInvalid:
            return Verification(status="tampered", certificate=certificate)
    if certificate.revoked_at is not None:
        return Verification(status="revoked", certificate=certificate, credential=claims)
    return Verification(status="genuine", certificate=certificate, credential=claims)


def dashboard_record(*, user: User, limit: int) -> dict[str, Any]:
    """The home page's "Your international learning": links, and the report for coordinators."""
    return {"certificates": Certificate.objects.filter(user=user).count(),
            "coordinator": user_managed_institutions(user=user).exists()}


# -- certificate rules -------------------------------------------------------------------------


def certificate_rules_can_manage_school(*, user: AnyUser, institution: Institution) -> bool:
    """A school's coordinators (and staff) set the rules for its session kinds."""
    if not user.is_authenticated:
        return False
    return user.is_staff or user_has_role(user=user, roles=[Role.COORDINATOR], institution=institution)


def certificate_rule_can_manage_course(*, user: AnyUser, course: Course) -> bool:
    """A course's faculty (its author while teaching at its school, the school's coordinators, staff)."""
    return course_can_edit(user=user, course=course)


def certificate_rules_of_school(*, institution: Institution) -> dict[str, CertificateRule]:
    """The school's session-kind rules by kind. Precondition: the viewer may manage them."""
    rules = CertificateRule.objects.filter(institution=institution, course__isnull=True).select_related("updated_by")
    return {rule.session_kind: rule for rule in rules}


def certificate_course_rules_of_school(*, institution: Institution) -> QuerySet[CertificateRule]:
    """The rules of the school's courses, for its coordinators' page and API (each links to
    its course's page). Each carries `has_question_sets` (whether its course has a set
    with a current question, so "passed" rather than "completed" is its criterion), read
    in the same query rather than one more per course."""
    assessed = question_sets_with_questions().filter(module__course=OuterRef("course_id"))
    return (
        CertificateRule.objects.filter(institution=institution, course__isnull=False)
        .select_related("course", "updated_by")
        .annotate(has_question_sets=Exists(assessed))
        .order_by("course__title")
    )


def certificate_rule_of_course(*, course: Course) -> CertificateRule | None:
    """Precondition: the viewer may manage the course's rule."""
    return CertificateRule.objects.filter(course=course).select_related("updated_by").first()


@dataclass(frozen=True)
class RuleHistoryRow:
    """One change, with what its rule is about in words: the course's title, or the
    session kind's label (the rule's `session_kind` is a plain field, without choices)."""

    change: CertificateRuleChange
    label: str


def certificate_rule_history(*, rules: QuerySet[CertificateRule] | list[CertificateRule], limit: int = 20) -> list[RuleHistoryRow]:
    """The latest changes to these rules, newest first, with who made them."""
    labels = dict(SessionKind.choices)
    changes = CertificateRuleChange.objects.filter(rule__in=rules).select_related("rule__course", "changed_by")[:limit]
    return [
        RuleHistoryRow(
            change=change,
            label=change.rule.course.title if change.rule.course else str(labels.get(change.rule.session_kind, change.rule.session_kind)),
        )
        for change in changes
    ]
