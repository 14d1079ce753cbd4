"""Recordings of lectures, case conferences and peer sessions: the session's, until published.

A recording shows the people who spoke and those whose camera was on, students among
them. It stays with the session's audience (the host, presenters, registered and invited
people, and those who attended) until the host publishes it to the library, choosing its
scope and licence and confirming that everyone recorded was told. Consult recordings are
kept by the consult part instead (clinical data, never in the library).
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["SessionRecording"]


class SessionRecording(models.Model):
    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="session_recordings")
    #: The file's name in the default storage (under recording_folder(session_id)).
    name = models.CharField(max_length=300, unique=True)
    size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    #: Who was in the room while it was recorded (they saw the recording notice).
    recorded_user_ids = models.JSONField(default=list)
    published_material = models.ForeignKey("courses.Material", null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        ordering = ["created_at", "pk"]

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def started_at(self) -> dt.datetime:
        """When recording began: the recorder names each file by its start (UTC), else kept time."""
        found = re.search(r"(\d{8}T\d{6}Z)[^/]*$", self.name)
        if found is None:
            return self.created_at
        return dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
