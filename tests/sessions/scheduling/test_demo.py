"""The demo seed: sessions of every schedulable kind in the next two weeks, idempotent."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from sessions.models import LiveSession, Recommendation, Reflection, SessionKind, SessionRegistration
from sessions.scheduling import demo
from sessions.scheduling.selectors import session_catalog, session_user_may_see

pytestmark = pytest.mark.django_db


def test_demo_seeds_every_kind_in_the_next_two_weeks_and_runs_twice(people):
    demo.seed(io.StringIO())
    counts = (LiveSession.objects.count(), SessionRegistration.objects.count(), Recommendation.objects.count(), Reflection.objects.count())
    demo.seed(io.StringIO())
    assert (LiveSession.objects.count(), SessionRegistration.objects.count(), Recommendation.objects.count(), Reflection.objects.count()) == counts
    now = timezone.now()
    upcoming = LiveSession.objects.filter(starts_at__gt=now, starts_at__lt=now + dt.timedelta(days=15))
    assert set(upcoming.values_list("kind", flat=True)) == {SessionKind.LECTURE, SessionKind.CASE_CONFERENCE, SessionKind.PEER}
    assert {s.host.username for s in upcoming} >= {"tanaka", "hoffmann", "adebayo", "lukas", "amina"}
    assert [s.title for s in session_catalog(user=people.amina)]  # Amina has something to join


def test_demo_registrations_respect_the_audience(people):
    demo.seed(io.StringIO())
    for registration in SessionRegistration.objects.select_related("session", "user"):
        assert session_user_may_see(session=registration.session, user=registration.user), registration.session.title
