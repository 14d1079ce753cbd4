"""The international learning record: certificates, their rules, and portfolio sharing.

The record itself (what a student attended, met, completed) is read from the other parts
through their data; only what the record adds is stored here: the rules a school sets,
the certificates issued under them (each with its signed credential) and the secret
link a student may hand out to their portfolio.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["Certificate", "CertificateKind", "CertificateRule", "CertificateRuleChange", "PortfolioShare"]


class CertificateKind(models.TextChoices):
    SESSION = "session", _("Session attended")
    COURSE = "course", _("Course completed")


class CertificateRule(models.Model):
    """When a school's sessions of one kind, or one of its courses, earn a certificate.

    A session rule names a session kind and the share of the session a person must have
    been present for (from their attendance join/leave times); a course rule names a
    course, earned when the course is passed: every question set of it passed, or, for a
    course without question sets, every item of it done. A rule is switched off, never
    deleted, so its history (`CertificateRuleChange`) stays readable.
    """

    institution = models.ForeignKey("people.Institution", on_delete=models.CASCADE, related_name="certificate_rules")
    session_kind = models.CharField(_("session kind"), max_length=20, blank=True)
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, null=True, blank=True, related_name="certificate_rules")
    min_presence_percent = models.PositiveSmallIntegerField(_("minimum presence (%)"), default=75)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(course__isnull=True) & ~Q(session_kind="")) | (Q(course__isnull=False) & Q(session_kind="")),
                name="certificate_rule_one_subject",
            ),
            models.UniqueConstraint(fields=["institution", "session_kind"], condition=Q(course__isnull=True), name="one_rule_per_school_kind"),
            models.UniqueConstraint(fields=["course"], condition=Q(course__isnull=False), name="one_rule_per_course"),
        ]


class CertificateRuleChange(models.Model):
    """One change to a rule: who, when, and the rule as it was left (append-only).

    Kept because a rule decides who gets a signed certificate: when a school asks why
    a student got one (or did not), the answer is who set which share when.
    """

    rule = models.ForeignKey(CertificateRule, on_delete=models.CASCADE, related_name="changes")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    created = models.BooleanField(default=False)
    is_active = models.BooleanField()
    min_presence_percent = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["rule", "changed_at"])]


class Certificate(models.Model):
    """One certificate issued to one person, for one session or one course.

    A certificate outlives its session or course (kept with what it said when issued).
    `id` is a random UUID: it is the public verification address, so it must not be
    guessable. `credential` is the signed Verifiable Credential (a VC-JWT) exactly as
    issued; the title and names are kept as issued too, so a later rename changes
    nothing a holder has already shown.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certificates")
    kind = models.CharField(max_length=10, choices=CertificateKind.choices)
    session = models.ForeignKey("live.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="certificates")
    course = models.ForeignKey("courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="certificates")
    institution = models.ForeignKey("people.Institution", on_delete=models.PROTECT, related_name="certificates_issued")
    holder_name = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    activity_kind = models.CharField(max_length=20)
    minutes = models.PositiveIntegerField(default=0)
    presence_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    language = models.CharField(max_length=8, default="en")
    issued_at = models.DateTimeField(default=timezone.now)
    credential = models.TextField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoke_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "session"], condition=Q(session__isnull=False), name="one_certificate_per_session"),
            models.UniqueConstraint(fields=["user", "course"], condition=Q(course__isnull=False), name="one_certificate_per_course"),
        ]
        indexes = [models.Index(fields=["institution", "issued_at"])]


class PortfolioShare(models.Model):
    """A student's portfolio link. No row (or no token): private. A new token revokes the old."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolio_share")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
