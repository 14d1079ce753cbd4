"""The room demo seed: past sessions keep chat, questions, a closed poll and attendance."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from sessions.models import Attendance, LiveSession, Poll, PollStatus, RoomEvent
from sessions.room import demo
from sessions.scheduling import demo as scheduling_demo


@pytest.mark.django_db
def test_past_demo_sessions_show_what_the_room_kept_and_seeding_twice_changes_nothing(client, people):
    scheduling_demo.seed(io.StringIO())
    demo.seed(io.StringIO())
    session = LiveSession.objects.get(title="Syncope in a teenager")
    first = (RoomEvent.objects.filter(session=session).count(), Attendance.objects.filter(session=session).count())
    demo.seed(io.StringIO())
    assert (RoomEvent.objects.filter(session=session).count(), Attendance.objects.filter(session=session).count()) == first
    assert first[0] > 10 and first[1] == 5
    assert Poll.objects.get(session=session).status == PollStatus.CLOSED

    client.force_login(people.amina)
    html = client.get(reverse("room:room", args=[session.pk])).content.decode()
    assert "Was there any prodrome?" in html  # chat
    assert "Which drugs should she avoid" in html  # a question
    assert "Long QT syndrome" in html and "3 (75%)" in html  # the poll's result
    assert "5 people attended." in html
    assert "Download attendance (CSV)" not in html  # only the host exports

    client.force_login(session.host)
    html = client.get(reverse("room:room", args=[session.pk])).content.decode()
    assert "Download attendance (CSV)" in html and "Priya" in html
