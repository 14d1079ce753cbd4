"""Helpers for scheduling tests: sessions made directly in the database, at times relative to now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone

from sessions.models import Audience, LiveSession, SessionKind, SessionStatus


@pytest.fixture
def make_session(people) -> Callable[..., LiveSession]:
    """Build a session without the service (so tests can make past or odd ones)."""

    def make(
        host=None, *, kind: str = SessionKind.LECTURE, audience: str = Audience.EVERYONE,
        capacity: int = 10, starts_in: dt.timedelta = dt.timedelta(days=1),
        minutes: int = 60, status: str = SessionStatus.SCHEDULED, institution=None,
        title: str = "Heart failure in the young", presenter=None, specialty: str = "Cardiology",
        language: str = "en",
    ) -> LiveSession:
        host = host or people.tanaka
        starts = timezone.now() + starts_in
        return LiveSession.objects.create(
            kind=kind, title=title, specialty=specialty, language=language, host=host,
            presenter=presenter or host,
            institution=institution or host.primary_membership().institution,
            starts_at=starts, ends_at=starts + dt.timedelta(minutes=minutes),
            capacity=capacity, audience=audience, status=status,
        )

    return make
