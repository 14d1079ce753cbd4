"""Calendar files: one event per session in UTC, and the personal feed behind a secret URL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from sessions.models import Audience, LiveSession, RegistrationStatus, SessionRegistration, SessionStatus
from sessions.scheduling.services import calendar_feed_get_or_create, calendar_feed_rotate

pytestmark = pytest.mark.django_db


def fixed_times(session, start: dt.datetime, minutes: int = 90) -> LiveSession:
    LiveSession.objects.filter(pk=session.pk).update(starts_at=start, ends_at=start + dt.timedelta(minutes=minutes))
    return LiveSession.objects.get(pk=session.pk)


def test_ics_has_one_event_with_utc_times(client, people, make_session):
    session = fixed_times(make_session(people.tanaka, title="ECG"), dt.datetime(2031, 4, 7, 9, 0, tzinfo=dt.UTC))
    client.force_login(people.amina)
    response = client.get(reverse("scheduling:ics", args=[session.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    assert "DTSTART:20310407T090000Z" in text and "DTEND:20310407T103000Z" in text
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == "ECG"
    assert events[0]["UID"] == f"session-{session.pk}@openrounds"
    assert events[0].decoded("DTSTART") == dt.datetime(2031, 4, 7, 9, 0, tzinfo=dt.UTC)


def test_ics_of_a_hidden_session_is_not_found(client, people, make_session):
    session = make_session(people.hoffmann, audience=Audience.INVITED)
    client.force_login(people.lukas)
    assert client.get(reverse("scheduling:ics", args=[session.pk])).status_code == 404


def test_feed_lists_my_sessions_without_a_login(people, make_session):
    registered = make_session(people.tanaka, title="Registered lecture")
    cancelled = make_session(people.hoffmann, title="Cancelled conference", status=SessionStatus.CANCELLED)
    make_session(people.hoffmann, title="Not mine")
    for session in (registered, cancelled):
        SessionRegistration.objects.create(session=session, user=people.amina, status=RegistrationStatus.REGISTERED)
    feed = calendar_feed_get_or_create(user=people.amina)
    response = Client().get(reverse("scheduling:feed", args=[feed.token]))
    assert response.status_code == 200
    events = {str(e["SUMMARY"]): str(e["STATUS"]) for e in Calendar.from_ical(response.content).walk("VEVENT")}
    assert events == {"Registered lecture": "CONFIRMED", "Cancelled conference": "CANCELLED"}


def test_unknown_or_replaced_feed_address_is_not_found(people):
    old = calendar_feed_get_or_create(user=people.amina).token
    assert Client().get(reverse("scheduling:feed", args=["not-a-token"])).status_code == 404
    new = calendar_feed_rotate(user=people.amina).token
    assert new != old
    assert Client().get(reverse("scheduling:feed", args=[old])).status_code == 404
    assert Client().get(reverse("scheduling:feed", args=[new])).status_code == 200
