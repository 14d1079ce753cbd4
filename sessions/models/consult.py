"""Supervised remote consults: the request, the roster, consent, the note, photos, audit.

Patient data lives in these rows, so their invariants are enforced here as well as in
`sessions/consults/services.py`: a signed note refuses changes, and an audit entry can
be written once and never changed or deleted through the application (the database
refuses it too: see the migration that adds the append-only triggers).

Who may read what is decided in `sessions/consults/selectors.py`, never here.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "AuditChainHead",
    "AuditEntry",
    "ClinicalPhoto",
    "ConsentScope",
    "ConsultNote",
    "ConsultNotification",
    "ConsultObserver",
    "ConsultRequest",
    "ConsultStatus",
    "ConsultUrgency",
    "NoteAddendum",
    "PatientConsent",
    "RosterWindow",
    "SignedNoteLocked",
    "AuditEntryImmutable",
    "SupervisorRoster",
]


class SignedNoteLocked(Exception):
    """Raised when code tries to change a note that a supervisor has signed."""


class AuditEntryImmutable(Exception):
    """Raised when code tries to change or delete an audit entry."""


class ConsultUrgency(models.TextChoices):
    ROUTINE = "routine", _("Routine (within days)")
    SOON = "soon", _("Soon (within hours)")
    URGENT = "urgent", _("Urgent (now)")


class ConsultStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACCEPTED = "accepted", _("Accepted")
    SCHEDULED = "scheduled", _("Scheduled")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")


class ConsultRequest(models.Model):
    """A trainee's request for a supervisor; becomes the consult itself once accepted.

    `reason` is short and must not identify the patient (checked by the service with the
    de-identification detector). Accepting creates the consult's `LiveSession`.
    """

    trainee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consult_requests")
    institution = models.ForeignKey("people.Institution", on_delete=models.PROTECT, related_name="consults")
    specialty = models.CharField(_("specialty"), max_length=80)
    urgency = models.CharField(_("urgency"), max_length=10, choices=ConsultUrgency.choices, default=ConsultUrgency.ROUTINE)
    language = models.CharField(_("language"), max_length=8)
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(_("status"), max_length=10, choices=ConsultStatus.choices, default=ConsultStatus.REQUESTED)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="supervised_consults"
    )
    session = models.OneToOneField(
        "live.LiveSession", on_delete=models.PROTECT, null=True, blank=True, related_name="consult"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    teaching_material_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "specialty"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="requested") | Q(status="cancelled") | Q(supervisor__isnull=False),
                name="consult_accepted_has_supervisor",
            ),
        ]

    def __str__(self) -> str:
        # No patient data: the reason is never part of the string form (admin, logs).
        return f"Consult {self.pk} ({self.specialty}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in {ConsultStatus.ACCEPTED, ConsultStatus.SCHEDULED}

    @property
    def takes_consent(self) -> bool:
        """The trainee is with the patient from the request on: consent may be recorded (or
        withdrawn) as soon as the consult is requested, not only once a supervisor accepts."""
        return self.status in {ConsultStatus.REQUESTED, ConsultStatus.ACCEPTED, ConsultStatus.SCHEDULED}


class SupervisorRoster(models.Model):
    """A supervisor's place on the roster: what they supervise, in which languages."""

    supervisor = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consult_roster")
    specialties = models.JSONField(_("specialties"), default=list)
    languages = models.JSONField(_("languages"), default=list)
    is_active = models.BooleanField(_("on the roster"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Roster of {self.supervisor}"


class RosterWindow(models.Model):
    """A weekly window when the supervisor is available, in the supervisor's own time zone."""

    roster = models.ForeignKey(SupervisorRoster, on_delete=models.CASCADE, related_name="windows")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=[
        (0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")),
        (4, _("Friday")), (5, _("Saturday")), (6, _("Sunday")),
    ])
    starts = models.TimeField(_("from"))
    ends = models.TimeField(_("until"))

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [models.CheckConstraint(condition=Q(ends__gt=models.F("starts")), name="roster_window_ends_after_start")]


class ConsultObserver(models.Model):
    """A person the supervisor invited to watch the consult (read-only participant)."""

    consult = models.ForeignKey(ConsultRequest, on_delete=models.CASCADE, related_name="observers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="observed_consults")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    invited_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consult", "user"], name="one_observer_row_per_person")]


class ConsentScope(models.TextChoices):
    CONSULT = "consult", _("The remote consult itself (audio, video, photos)")
    RECORDING = "recording", _("Recording the consult")
    TEACHING = "teaching", _("Use as a de-identified teaching case")


class PatientConsent(models.Model):
    """One decision of the patient for one scope. Rows are history and are never deleted.

    The current decision for a scope is the newest row of that scope. Withdrawal sets
    `withdrawn_at` on the current row once; a new consent form adds new rows.
    """

    consult = models.ForeignKey(ConsultRequest, on_delete=models.PROTECT, related_name="consents")
    scope = models.CharField(max_length=10, choices=ConsentScope.choices)
    given = models.BooleanField()
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField(default=timezone.now)
    language = models.CharField(_("language of the consent conversation"), max_length=8)
    form_version = models.CharField(max_length=20)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["consult", "scope", "-taken_at", "-pk"]
        indexes = [models.Index(fields=["consult", "scope", "taken_at"])]

    @property
    def is_effective(self) -> bool:
        return self.given and self.withdrawn_at is None


class ConsultNote(models.Model):
    """The SOAP note the trainee writes live and the supervisor signs.

    Once `signed_at` is set the row refuses any further save; changes are addenda.
    `version` increases with every edit so that concurrent live edits can be detected.
    """

    consult = models.OneToOneField(ConsultRequest, on_delete=models.PROTECT, related_name="note")
    subjective = models.TextField(_("subjective"), blank=True, max_length=10000)
    objective = models.TextField(_("objective"), blank=True, max_length=10000)
    assessment = models.TextField(_("assessment"), blank=True, max_length=10000)
    plan = models.TextField(_("plan"), blank=True, max_length=10000)
    supervisor_comments = models.TextField(_("supervisor's comments"), blank=True, max_length=10000)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)

    SOAP_FIELDS = ("subjective", "objective", "assessment", "plan")

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Defence in depth: the service checks first; this catches any other code path.
        if self.pk is not None and not self._state.adding:
            stored = type(self).objects.filter(pk=self.pk).values_list("signed_at", flat=True).first()
            if stored is not None:
                raise SignedNoteLocked("A signed note cannot be changed; add an addendum.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise SignedNoteLocked("Consult notes are part of the clinical record and are never deleted.")


class NoteAddendum(models.Model):
    """A change after signing: appended, dated, attributed, never edited."""

    note = models.ForeignKey(ConsultNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise SignedNoteLocked("An addendum cannot be changed once written.")
        super().save(*args, **kwargs)


def clinical_photo_path(instance: ClinicalPhoto, filename: str) -> str:
    """A random name: the uploaded file name may itself identify the patient."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in {"jpg", "png", "webp"}:
        extension = "jpg"
    return f"consults/{instance.consult_id}/{uuid.uuid4().hex}.{extension}"


class ClinicalPhoto(models.Model):
    """A photo taken during a consult, re-encoded so that no metadata survives."""

    consult = models.ForeignKey(ConsultRequest, on_delete=models.PROTECT, related_name="photos")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to=clinical_photo_path, max_length=200)
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    content_type = models.CharField(max_length=20, default="image/jpeg")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


class AuditQuerySet(models.QuerySet):
    """Bulk updates and deletes of audit entries are refused."""

    def update(self, **kwargs: Any) -> int:
        raise AuditEntryImmutable("Audit entries cannot be changed.")

    def delete(self) -> Any:
        raise AuditEntryImmutable("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    """One read or write of consult data: who, what, which object, when, from where.

    Append-only. `hash` is the SHA-256 of this entry's content and `prev_hash`, so
    changing, inserting or removing an entry breaks the chain (see consults/audit.py).
    """

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    consult = models.ForeignKey(ConsultRequest, on_delete=models.PROTECT, null=True, related_name="audit_entries")
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "audit entries"
        default_permissions = ("view",)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding or self.pk is not None:
            raise AuditEntryImmutable("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AuditEntryImmutable("Audit entries cannot be deleted.")


class AuditChainHead(models.Model):
    """The single row that serialises appends and remembers the newest hash.

    Appending updates this row first, which takes the write lock (SQLite) or the row
    lock (PostgreSQL) so two appends never chain to the same predecessor; and a deleted
    newest entry shows as a mismatch between this row and the table.
    """

    count = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)


class ConsultNotification(models.Model):
    """An in-app message about a consult (accepted, scheduled, cancelled…), without patient data."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consult_notifications")
    consult = models.ForeignKey(ConsultRequest, on_delete=models.CASCADE, related_name="notifications")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
