"""Peer exchange: students' requests to be matched with peers of other countries, and the
shared notes of a peer session's room.

A `PeerMatchRequest` is one person's wish (topic, languages, free time windows, group
size). Matching (sessions/peer/matching.py) groups open requests; a group becomes a peer
`LiveSession` and each of its requests points at it. `PeerNotes` is the text every
participant of a peer session's room edits together, with a version that rises by one
on each change (the concurrency rule: a save names the version it was based on).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "PeerMatchRequest",
    "PeerNotes",
    "PeerRequestStatus",
    "PeerWindow",
]


class PeerRequestStatus(models.TextChoices):
    OPEN = "open", _("Waiting for partners")
    MATCHED = "matched", _("Matched")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


class PeerRequestManager(models.Manager["PeerMatchRequest"]):
    """Also the manager of `user.peer_requests`, so templates can ask it for counts."""

    def new_match_count(self) -> int:
        """Matches their owner has not looked at yet (the navigation shows the number)."""
        return self.filter(status=PeerRequestStatus.MATCHED, seen_at__isnull=True).count()

    def navigation(self) -> dict[str, int] | None:
        """What the navigation shows as `user.peer_requests.navigation`.

        None unless the user studies or trains somewhere (only they look for partners);
        otherwise how many of their matches are new to them. Two small queries.
        """
        from server.people.models import Membership, Role

        user = getattr(self, "instance", None)
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        if not Membership.objects.filter(user=user, is_active=True, role__in=[Role.STUDENT, Role.TRAINEE]).exists():
            return None
        return {"new": self.new_match_count()}


class PeerMatchRequest(models.Model):
    """A student's wish to meet peers of other countries on a topic, at some free times.

    `country` and `institution` are the person's (primary school) when they asked: the
    matching compares countries, and a matched session belongs to the host's school.
    `topic_words` are the topic's normalised words, kept for matching. The request ends
    when it is matched (`session`), withdrawn, or its last window has passed
    (`expires_at`). A person has at most one open request (constraint).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="peer_requests")
    topic = models.CharField(_("topic"), max_length=200)
    discipline = models.CharField(_("discipline"), max_length=80, blank=True)
    topic_words = models.JSONField(default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list)
    group_size = models.PositiveSmallIntegerField(_("group size"), default=4)
    same_country_ok = models.BooleanField(_("a group from my own country is fine"), default=False)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    country = models.CharField(_("country"), max_length=2)
    institution = models.ForeignKey("people.Institution", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=PeerRequestStatus.choices, default=PeerRequestStatus.OPEN)
    expires_at = models.DateTimeField()
    session = models.ForeignKey(
        "live.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="peer_requests"
    )
    created_at = models.DateTimeField(default=timezone.now)
    matched_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    objects = PeerRequestManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="open"), name="one_open_peer_request_per_person"
            ),
            models.CheckConstraint(
                condition=Q(group_size__gte=2, group_size__lte=6), name="peer_group_size_2_to_6"
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.user} — {self.topic} ({self.status})"


class PeerWindow(models.Model):
    """A free time window of a request, in UTC (entered in the person's own zone)."""

    request = models.ForeignKey(PeerMatchRequest, on_delete=models.CASCADE, related_name="windows")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="peer_window_ends_after_start")]


class PeerNotes(models.Model):
    """The shared notes of a peer session: plain text every participant edits.

    `version` rises by one on each change; a save names the version it was based on and
    is refused when that is not the current one (nobody's text is silently replaced).
    `last_save_id` is the room message id of the last save, so a client that reconnects
    can tell its own save from someone else's.
    """

    session = models.OneToOneField("live.LiveSession", on_delete=models.CASCADE, primary_key=True, related_name="peer_notes")
    text = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(null=True, blank=True)
    last_save_id = models.CharField(max_length=64, blank=True)
