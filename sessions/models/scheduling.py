"""Live sessions as scheduled things: what, when, for whom, and who registered.

A `LiveSession` is a case conference, lecture, peer session or consult. Its room (the
WebSocket part) is in `room.py`; a consult's clinical data is in `consult.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Audience",
    "CalendarFeed",
    "LiveSession",
    "NOTES_KINDS",
    "Recommendation",
    "Reflection",
    "RegistrationStatus",
    "SessionInvitation",
    "SessionKind",
    "SessionRegistration",
    "SessionStatus",
]


class SessionKind(models.TextChoices):
    CASE_CONFERENCE = "case_conference", _("Case conference")
    LECTURE = "lecture", _("Lecture")
    PEER = "peer", _("Peer session")
    CONSULT = "consult", _("Supervised consult")
    # A small group split off a live session's room (sessions/breakouts): its own room,
    # chat, media and shared notes; `BreakoutGroup` links it to the main session.
    BREAKOUT = "breakout", _("Breakout group")


#: Kinds whose room has the shared notes (sessions/peer/notes.py).
NOTES_KINDS = (SessionKind.PEER, SessionKind.BREAKOUT)


class Audience(models.TextChoices):
    EVERYONE = "everyone", _("Everyone")
    PARTNERS = "partners", _("Partner schools")
    INVITED = "invited", _("Invited people")


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


class LiveSession(models.Model):
    """One scheduled live session. Times are stored in UTC."""

    kind = models.CharField(_("kind"), max_length=20, choices=SessionKind.choices)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    specialty = models.CharField(_("specialty"), max_length=80, blank=True)
    language = models.CharField(_("language"), max_length=8, default="en")
    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hosted_sessions")
    # Who presents the case (case conferences) and receives the host's recommendations;
    # set to the host when the session is created.
    presenter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="presented_sessions", verbose_name=_("presenter"),
    )
    institution = models.ForeignKey("people.Institution", on_delete=models.PROTECT, related_name="live_sessions")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("capacity"), default=100)
    audience = models.CharField(_("audience"), max_length=10, choices=Audience.choices, default=Audience.EVERYONE)
    lobby_enabled = models.BooleanField(_("lobby"), default=False, help_text=_("The host admits each person."))
    status = models.CharField(_("status"), max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    # The case presented at a case conference: a material of the shared library.
    case_material = models.ForeignKey(
        "courses.Material", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="live_sessions", verbose_name=_("case"),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start")]
        indexes = [models.Index(fields=["status", "starts_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class RegistrationStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    WAITLISTED = "waitlisted", _("Waiting list")
    CANCELLED = "cancelled", _("Cancelled")


class SessionRegistration(models.Model):
    """A person's place in a session, or on its waiting list (promoted in order)."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="registrations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_registrations")
    status = models.CharField(max_length=12, choices=RegistrationStatus.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_registration_per_person")]
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["session", "status", "created_at"])]


class SessionInvitation(models.Model):
    """A person invited to a session whose audience is 'invited' (or to skip its lobby)."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_invitations")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_invitation_per_person")]


class Recommendation(models.Model):
    """The host's written recommendations for the person who presented a case conference."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="recommendations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    presenter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recommendations_received")
    body = models.TextField(_("recommendations"), max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


class Reflection(models.Model):
    """A participant's short reflection after a peer session: private unless shared."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="reflections")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_reflections")
    body = models.TextField(_("reflection"), max_length=2000)
    shared = models.BooleanField(_("share with the other participants"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "author"], name="one_reflection_per_person")]
        ordering = ["created_at", "pk"]


class CalendarFeed(models.Model):
    """A person's secret calendar-feed address (an .ics URL calendar apps poll without a login).

    Unlike API tokens the secret itself is kept (not a hash): the person must be able to
    see and copy the same URL again. It only grants reading the person's own schedule,
    and replacing it invalidates the old URL.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
