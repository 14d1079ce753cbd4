"""The people of OpenRounds: users, their schools, and the partnerships between schools.

Access to live sessions and library material follows these rows, so their invariants
live here (constraints) and in `services.py` (who may change them).
"""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


def validate_time_zone(value: str) -> None:
    """Refuse a time zone name the IANA database does not know."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


TIME_ZONE_CHOICES = sorted((name, name) for name in zoneinfo.available_timezones())


class User(AbstractUser):
    """A person on the platform. Custom from the first migration so it can grow."""

    display_name = models.CharField(_("display name"), max_length=120, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    languages = models.JSONField(
        _("languages spoken"), default=list, blank=True,
        help_text=_("Language codes such as en, fr, pt, sw."),
    )
    preferred_language = models.CharField(_("interface language"), max_length=8, blank=True)
    data_saver = models.BooleanField(
        _("data saver"), default=False,
        help_text=_("Turn off incoming video and previews until asked."),
    )
    bio = models.TextField(_("about me"), blank=True, max_length=2000)

    class Meta:
        ordering = ["username"]

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def primary_membership(self) -> Membership | None:
        """The membership shown next to the person's name: the oldest active one."""
        return (
            self.memberships.filter(is_active=True)
            .select_related("institution")
            .order_by("joined_at")
            .first()
        )


class Institution(models.Model):
    """A medical school, hospital or clinic that takes part in OpenRounds."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    country = CountryField(_("country"))
    city = models.CharField(_("city"), max_length=120)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    website = models.URLField(_("website"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    STUDENT = "student", _("Student")
    TRAINEE = "trainee", _("Trainee")
    FACULTY = "faculty", _("Faculty")
    SUPERVISOR = "supervisor", _("Supervisor")
    COORDINATOR = "coordinator", _("Coordinator")


class Membership(models.Model):
    """A person's role at one institution. A person may belong to several."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "institution"], name="one_membership_per_school")
        ]
        ordering = ["institution__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.institution}"


class PartnershipStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")
    DECLINED = "declined", _("Declined")


class Partnership(models.Model):
    """An agreement between two schools. Only an active one grants anything.

    The pair is stored in a canonical order (lower id first) so that A–B and B–A are
    the same row; `proposed_by` remembers which side asked.
    """

    first = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    proposed_by = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=PartnershipStatus.choices, default=PartnershipStatus.PROPOSED
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    proposed_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(first_id__lt=models.F("second_id")), name="partnership_canonical_order"),
            # One open (proposed or active) partnership per pair; ended ones stay as history.
            models.UniqueConstraint(
                fields=["first", "second"],
                condition=Q(status__in=["proposed", "active"]),
                name="one_open_partnership_per_pair",
            ),
        ]
        ordering = ["-proposed_at"]

    def other(self, institution: Institution) -> Institution:
        return self.second if institution.pk == self.first_id else self.first

    def __str__(self) -> str:
        return f"{self.first} ↔ {self.second} ({self.status})"


def invitation_token() -> str:
    return secrets.token_urlsafe(24)


def invitation_expiry():
    return timezone.now() + timedelta(days=14)


class Invitation(models.Model):
    """A coordinator's invitation to join a school with a role, sent by e-mail."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    token = models.CharField(max_length=64, unique=True, default=invitation_token)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=invitation_expiry)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class PersonalAccessToken(models.Model):
    """A token for the JSON API. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()
