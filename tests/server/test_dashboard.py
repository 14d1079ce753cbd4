"""The home page shows a signed-in person what is theirs, and nothing they may not see."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from courses.library.demo import seed as seed_library
from sessions.models import LiveSession, SessionKind, SessionRegistration


def test_home_lists_my_next_session_and_library_news(people, client: Client):
    import io

    seed_library(io.StringIO())
    start = timezone.now() + dt.timedelta(days=2)
    session = LiveSession.objects.create(
        kind=SessionKind.LECTURE, title="Heart failure in the tropics", host=people.tanaka,
        institution=people.schools.tokyo, starts_at=start, ends_at=start + dt.timedelta(hours=1),
    )
    SessionRegistration.objects.create(session=session, user=people.amina, status="registered")
    client.force_login(people.amina)
    page = client.get("/").content.decode()
    assert "Heart failure in the tropics" in page
    assert "New in the library" in page and "/library/" in page


def test_home_for_a_visitor_invites_to_log_in(db, client: Client):
    page = client.get("/").content.decode()
    assert "Log in" in page and "Your next sessions" not in page
