"""Writes of the learning record: issuing and revoking certificates, sharing a portfolio.

Issuing is idempotent: one certificate per person per session or course (a database
constraint), so the listener that runs when a session ends, the one that runs when a
course item is done, the backfill command and a retry can all call it safely.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from courses.assessment.selectors import course_passed, course_passers, question_sets_counted
from courses.curriculum.selectors import course_learner_ids, courses_completed
from courses.models import Attempt, Course
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Institution, Role, User
from server.people.selectors import user_has_role
from sessions.models import (
    Attendance,
    Certificate,
    CertificateKind,
    CertificateRule,
    CertificateRuleChange,
    LiveSession,
    PortfolioShare,
    RoomState,
    SessionKind,
    SessionStatus,
)

from .credentials import credential_build, credential_sign
from .presence import presence_percent, presence_seconds
from .selectors import certificate_rule_can_manage_course, certificate_rules_can_manage_school

logger = logging.getLogger(__name__)

CERTIFICATE_LANGUAGES = ("en", "fr", "pt", "ar")
REVOKERS = (Role.COORDINATOR, Role.FACULTY)
#: Session kinds a rule may name. Not consults (patient care by invitation; the portfolio
#: counts them) nor breakout groups (a few minutes split off another session, which its
#: own rule already certifies).
CERTIFIABLE_KINDS = (SessionKind.CASE_CONFERENCE, SessionKind.LECTURE, SessionKind.PEER)


def certificate_language(user: User) -> str:
    """The holder's interface language when the certificate can be printed in it, else English."""
    language = (user.preferred_language or "").split("-")[0]
    return language if language in CERTIFICATE_LANGUAGES else "en"


def session_span(session: LiveSession) -> tuple[datetime, datetime]:
    """The room's actual start and end when recorded, else the scheduled times."""
    state = RoomState.objects.filter(pk=session.pk).values_list("started_at", "ended_at").first()
    start = (state[0] if state else None) or session.starts_at
    end = (state[1] if state else None) or session.ends_at
    if end <= start:
        start, end = session.starts_at, session.ends_at
    return start, end


def _store(*, user: User, institution: Institution, kind: str, title: str, description: str, activity_kind: str,
           minutes: int, presence: int | None, session: LiveSession | None = None, course: Course | None = None) -> Certificate | None:
    """Create the certificate and sign its credential; None if it already exists."""
    certificate = Certificate(
        user=user, kind=kind, session=session, course=course, institution=institution,
        holder_name=user.name, title=title, activity_kind=activity_kind, minutes=minutes,
        presence_percent=presence, language=certificate_language(user), issued_at=timezone.now(),
    )
    achievement_type = "Course" if kind == CertificateKind.COURSE else "Award"
    certificate.credential = credential_sign(credential_build(
        certificate_id=str(certificate.id), holder_name=certificate.holder_name, title=title,
        description=description, issuer_name=f"OpenRounds · {institution.name}",
        issued_at=certificate.issued_at, achievement_type=achievement_type,
    ))
    try:
        with transaction.atomic():
            certificate.save(force_insert=True)
    except IntegrityError:  # issued meanwhile by another caller: that one stands
        return None
    logger.info("certificate %s issued to user %s (%s)", certificate.pk, user.pk, kind)
    return certificate


def certificates_issue_for_session(*, session_id: int) -> list[Certificate]:
    """Issue the certificates an ended session earned under its school's rule. Idempotent.

    Everyone but the host who was present for at least the rule's share of the session.
    Returns only the certificates created by this call.
    """
    session = LiveSession.objects.select_related("institution").filter(pk=session_id).first()
    if session is None or session.status != SessionStatus.ENDED:
        return []
    rule = CertificateRule.objects.filter(
        institution_id=session.institution_id, session_kind=session.kind, course__isnull=True, is_active=True,
    ).first()
    if rule is None:
        return []
    span = session_span(session)
    stretches: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for user_id, joined, left in Attendance.objects.filter(session=session).exclude(user_id=session.host_id).values_list("user_id", "joined_at", "left_at"):
        stretches.setdefault(user_id, []).append((joined, left))
    already = set(Certificate.objects.filter(session=session).values_list("user_id", flat=True))
    issued = []
    for user in User.objects.filter(pk__in=set(stretches) - already):
        percent = presence_percent(span=span, stretches=stretches[user.pk])
        if percent < rule.min_presence_percent:
            continue
        minutes = int(presence_seconds(span=span, stretches=stretches[user.pk]) // 60)
        with override(certificate_language(user)):
            kind_label = str(SessionKind(session.kind).label)
            description = _("Present for %(percent)s%% of a %(kind)s of %(minutes)s minutes.") % {
                "percent": percent, "kind": kind_label.lower(), "minutes": int((span[1] - span[0]).total_seconds() // 60),
            }
        certificate = _store(
            user=user, institution=session.institution, kind=CertificateKind.SESSION, title=session.title,
            description=description, activity_kind=session.kind, minutes=minutes, presence=percent, session=session,
        )
        if certificate is not None:
            issued.append(certificate)
    return issued


def course_certificate_criterion(*, course: Course, has_question_sets: bool | None = None) -> str:
    """What a course rule asks: "passed" when the course has question sets, else "completed".

    A course with question sets is certified on the assessment's own verdict
    (`courses.assessment.selectors.course_passed`: every set passed), not on items
    ticked as done, which a learner marks by themselves. A course without any is
    certified when every item is done, as before assessments existed. Only sets with a
    current question count (`question_sets_counted`): an empty set cannot be passed.
    `has_question_sets`: that answer when the caller read it already (a list of rules
    annotated by `selectors.certificate_course_rules_of_school`), saving a query.
    """
    if has_question_sets is None:
        has_question_sets = question_sets_counted(course=course).exists()
    return "passed" if has_question_sets else "completed"


def course_candidate_ids(*, course_id: int) -> set[int]:
    """Everyone who has marked progress in the course or submitted an attempt at one of its sets."""
    attempted = Attempt.objects.filter(question_set__module__course_id=course_id).values_list("user_id", flat=True).distinct()
    return set(course_learner_ids(course_id=course_id)) | set(attempted)


def certificates_issue_for_course(*, course_id: int, user_ids: list[int] | None = None) -> list[Certificate]:
    """Issue the certificates of a course with an active rule to learners who passed it. Idempotent.

    `user_ids`: only these learners (the one whose attempt, mark or progress was just
    saved); None: every learner of the course. One certificate per person and course
    (a database constraint), so a passing attempt synced twice, or a second set passed
    after the first certificate, issues nothing more.
    """
    course = Course.objects.select_related("institution").filter(pk=course_id).first()
    if course is None or not CertificateRule.objects.filter(course=course, is_active=True).exists():
        return []
    learners = set(user_ids) if user_ids is not None else course_candidate_ids(course_id=course.pk)
    learners -= set(Certificate.objects.filter(course=course).values_list("user_id", flat=True))
    if not learners:
        return []
    criterion = course_certificate_criterion(course=course)
    # One learner (the listener after an attempt or a mark): `course_passed` on its own.
    check_one = criterion == "passed" and len(learners) == 1
    if criterion == "completed":
        learners = {c.user_id for c in courses_completed(user_ids=learners, course_ids=[course.pk])}
    elif not check_one:
        # Every learner at once (a rule switched on, the backfill): two queries in all, not two each.
        learners = course_passers(course=course, user_ids=learners)
    issued = []
    for user in User.objects.filter(pk__in=learners):
        if check_one and not course_passed(user=user, course=course):
            continue
        with override(certificate_language(user)):
            if criterion == "passed":
                description = _("Passed every assessment of the course.")
            else:
                description = _("Completed every part of the course.")
        certificate = _store(
            user=user, institution=course.institution, kind=CertificateKind.COURSE, title=course.title,
            description=description, activity_kind="course", minutes=0, presence=None, course=course,
        )
        if certificate is not None:
            issued.append(certificate)
    return issued


def certificates_backfill() -> int:
    """Issue every certificate earned so far (ended sessions and courses with rules)."""
    count = 0
    kinds = CertificateRule.objects.filter(is_active=True, course__isnull=True).values_list("institution_id", "session_kind")
    for institution_id, kind in kinds:
        for session_id in LiveSession.objects.filter(institution_id=institution_id, kind=kind, status=SessionStatus.ENDED).values_list("pk", flat=True):
            count += len(certificates_issue_for_session(session_id=session_id))
    for course_id in CertificateRule.objects.filter(is_active=True, course__isnull=False).values_list("course_id", flat=True):
        count += len(certificates_issue_for_course(course_id=course_id))
    return count


def certificate_rule_set(*, by: User, institution: Institution | None = None, session_kind: str = "",
                         course: Course | None = None, min_presence_percent: int = 75, active: bool = True) -> CertificateRule:
    """Create, change or switch off the rule for one of a school's session kinds or for one course.

    Who: a school's coordinators (and staff) for its session kinds; a course's faculty
    (`course_can_edit`: its author, its school's coordinators, staff) for the course.
    Every change is kept in `CertificateRuleChange` with who made it; saving the rule
    unchanged records nothing. Switching a course rule on issues, after commit, the
    certificates of learners who already passed (a session rule's past sessions are
    issued as each student opens their certificates page, or by the backfill).
    """
    if bool(session_kind) == (course is not None):
        raise InvalidRequest(_("A rule is for a session kind or for a course."), code="bad_rule")
    if course is not None:
        if institution is not None and course.institution_id != institution.pk:
            raise PermissionRefused(_("This course belongs to another school."), code="not_course_faculty")
        if not certificate_rule_can_manage_course(user=by, course=course):
            raise PermissionRefused(_("Only the course's faculty set its certificate rule."), code="not_course_faculty")
        institution = course.institution
    else:
        if institution is None or not certificate_rules_can_manage_school(user=by, institution=institution):
            raise PermissionRefused(_("Only the school's coordinators set its certificate rules."), code="not_coordinator")
        if session_kind not in CERTIFIABLE_KINDS:
            raise InvalidRequest(_("Certificates are for case conferences, lectures and peer sessions."), code="bad_rule")
    if isinstance(min_presence_percent, bool) or not isinstance(min_presence_percent, int) or not 1 <= min_presence_percent <= 100:
        raise InvalidRequest(_("The presence share is a percentage from 1 to 100."), code="bad_percent")
    lookup: dict[str, Any] = {"course": course} if course is not None else {"institution": institution, "session_kind": session_kind, "course__isnull": True}
    now = timezone.now()
    with transaction.atomic():
        rule = CertificateRule.objects.select_for_update().filter(**lookup).first()
        created = rule is None
        if rule is None:
            try:
                with transaction.atomic():
                    rule = CertificateRule.objects.create(
                        institution=institution, session_kind=session_kind, course=course, min_presence_percent=min_presence_percent,
                        is_active=active, created_at=now, updated_at=now, updated_by=by,
                    )
            except IntegrityError:  # created meanwhile by someone else: change that one
                created = False
                rule = CertificateRule.objects.select_for_update().get(**lookup)
        was_active = rule.is_active and not created
        if not created:
            if rule.is_active == active and rule.min_presence_percent == min_presence_percent:
                return rule
            rule.is_active, rule.min_presence_percent = active, min_presence_percent
            rule.updated_at, rule.updated_by = now, by
            rule.save(update_fields=["is_active", "min_presence_percent", "updated_at", "updated_by"])
        CertificateRuleChange.objects.create(
            rule=rule, changed_by=by, changed_at=now, created=created, is_active=active, min_presence_percent=min_presence_percent,
        )
        if course is not None and active and not was_active:
            transaction.on_commit(lambda: _issue_after_rule(course_id=course.pk))
    logger.info("certificate rule %s %s by user %s (active=%s, %s%%)", rule.pk, "created" if created else "changed", by.pk, active, min_presence_percent)
    return rule


def _issue_after_rule(*, course_id: int) -> None:
    """The certificates a course rule just switched on earns; a failure leaves the rule saved."""
    try:
        certificates_issue_for_course(course_id=course_id)
    except Exception:  # the rule is saved; the backfill command issues these later
        logger.exception("course %s: certificates not issued after its rule was switched on", course_id)


def certificate_can_revoke(*, user: User, certificate: Certificate) -> bool:
    """The issuing school's coordinators and faculty (and staff) may revoke."""
    if not user.is_authenticated:
        return False
    return user.is_staff or user_has_role(user=user, roles=REVOKERS, institution=certificate.institution)


def certificate_revoke(*, by: User, certificate: Certificate, reason: str) -> Certificate:
    """Revoke with a reason shown on the verification page. Revoking twice keeps the first."""
    if not certificate_can_revoke(user=by, certificate=certificate):
        raise PermissionRefused(_("Only the issuing school's coordinators and faculty may revoke it."), code="not_allowed")
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidRequest(_("Say why (at most 500 characters)."), code="reason_required")
    if certificate.revoked_at is None:
        certificate.revoked_at = timezone.now()
        certificate.revoked_by = by
        certificate.revoke_reason = reason
        certificate.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        logger.info("certificate %s revoked by user %s", certificate.pk, by.pk)
    return certificate


# -- the portfolio's link --------------------------------------------------------------------


def portfolio_share(*, user: User) -> PortfolioShare:
    """Make (or replace) the secret link to the student's portfolio; the old one stops working."""
    token = secrets.token_urlsafe(24)
    share, _created = PortfolioShare.objects.update_or_create(user=user, defaults={"token": token, "created_at": timezone.now()})
    return share


def portfolio_unshare(*, user: User) -> None:
    """Back to private: the link stops working."""
    PortfolioShare.objects.filter(user=user).delete()
