"""Breakout groups: small rooms split off a live session's room for a set time.

Each group's room is a `LiveSession` of kind "breakout" (`room`), so it gets the room's
socket, chat, media, attendance and shared notes as they are; `BreakoutGroup` ties it to
the main session (`parent`) and holds its timing. `BreakoutMember` says who was put in
which group: it is both the permission (a person enters only their own group's room) and
the record (which group each person was in), kept after the groups close.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["BreakoutGroup", "BreakoutMember", "BreakoutPlanVersion"]


class BreakoutGroup(models.Model):
    """One group of one split. A split's groups are open together and close together."""

    parent = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="breakout_groups")
    room = models.OneToOneField("live.LiveSession", on_delete=models.CASCADE, related_name="breakout_group")
    # Each "split into groups" of a session is numbered; the current split is the highest.
    split = models.PositiveIntegerField()
    number = models.PositiveIntegerField()
    name = models.CharField(_("name"), max_length=80)
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The shared notes as they were when the group closed: the report-back in the main room.
    report = models.TextField(blank=True)

    class Meta:
        ordering = ["parent", "number"]
        constraints = [models.UniqueConstraint(fields=["parent", "number"], name="one_breakout_number_per_session")]
        indexes = [
            # Every room process looks for groups about to close every few seconds
            # (sessions/breakouts/deadlines.py): only open groups are in this index.
            models.Index(fields=["closes_at"], name="breakout_open_deadline",
                         condition=models.Q(closed_at__isnull=True, closes_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.name


class BreakoutMember(models.Model):
    """A person put in a group (by the split or by the host's move)."""

    group = models.ForeignKey(BreakoutGroup, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="breakout_memberships")
    # Denormalised from the group: one person is in at most one group of a split.
    parent = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="+")
    split = models.PositiveIntegerField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group", "added_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["parent", "split", "user"], name="one_breakout_group_per_split")]


class BreakoutPlanVersion(models.Model):
    """The version of a session's breakout plan: +1 at every `breakouts.changed` event.

    The event carries only what changed (a move is a few hundred bytes, not the whole
    assignment); a client applies it when its `base_version` is the version it holds and
    otherwise asks for the whole plan. The row is also the lock that puts a session's
    plan changes in one order (taken before the groups' rows).
    """

    session = models.OneToOneField("live.LiveSession", on_delete=models.CASCADE, primary_key=True,
                                   related_name="breakout_plan_version")
    version = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"breakout plan of session {self.session_id} v{self.version}"
