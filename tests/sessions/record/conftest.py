"""Helpers for the learning record: ended sessions with attendance, made in the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone

from sessions.models import Attendance, CertificateRule, LiveSession, SessionKind, SessionStatus


@pytest.fixture
def ended_session(people) -> Callable[..., LiveSession]:
    """A session of `minutes` that ended an hour ago; `present` maps user -> minutes present
    from the start (or a list of (from_minute, to_minute) stretches)."""

    def make(*, host=None, kind: str = SessionKind.LECTURE, minutes: int = 60, present=None,
             ago: dt.timedelta = dt.timedelta(hours=1), title: str = "Heart failure in the young",
             specialty: str = "Cardiology") -> LiveSession:
        host = host or people.tanaka
        starts = timezone.now() - ago - dt.timedelta(minutes=minutes)
        session = LiveSession.objects.create(
            kind=kind, title=title, specialty=specialty, host=host, presenter=host,
            institution=host.primary_membership().institution, starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=minutes), status=SessionStatus.ENDED,
        )
        for user, spans in (present or {}).items():
            if isinstance(spans, int):
                spans = [(0, spans)]
            for a, b in spans:
                Attendance.objects.create(session=session, user=user, joined_at=starts + dt.timedelta(minutes=a),
                                          left_at=starts + dt.timedelta(minutes=b))
        return session

    return make


@pytest.fixture
def lecture_rule(people) -> CertificateRule:
    """Tokyo's lectures earn a certificate at 75% presence."""
    return CertificateRule.objects.create(institution=people.schools.tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=75)
