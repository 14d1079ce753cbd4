"""The room page and the host's attendance export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions.models import Attendance, Audience

from .conftest import make_session


@pytest.mark.django_db
def test_room_page_shows_the_room_with_its_socket_and_no_empty_captions_placeholder(client, people, live):
    client.force_login(people.amina)
    response = client.get(reverse("room:room", args=[live.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-socket-path="/ws/sessions/{live.pk}/"' in html
    assert 'id="room-recording"' in html
    # Live captions are not built yet: no empty "Captions" region pretends they are.
    assert 'id="room-captions"' not in html and 'aria-label="Captions"' not in html
    assert "js/room/room.js" in html


@pytest.mark.django_db
def test_room_page_refuses_people_outside_the_audience(client, people):
    session = make_session(people, audience=Audience.PARTNERS)
    client.force_login(people.awa)
    assert client.get(reverse("room:room", args=[session.pk])).status_code == 403
    assert client.get(reverse("room:room", args=[987654])).status_code == 404


@pytest.mark.django_db
def test_room_page_needs_a_login(client, live):
    response = client.get(reverse("room:room", args=[live.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_host_downloads_attendance_as_csv_and_others_cannot(client, people, live):
    start = timezone.now() - timedelta(minutes=30)
    Attendance.objects.create(session=live, user=people.amina, joined_at=start, left_at=start + timedelta(minutes=20))
    Attendance.objects.create(session=live, user=people.lukas, joined_at=start)
    client.force_login(people.amina)
    assert client.get(reverse("room:attendance", args=[live.pk])).status_code == 403
    client.force_login(people.tanaka)
    response = client.get(reverse("room:attendance", args=[live.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_user = {r["username"]: r for r in rows}
    assert by_user["amina"]["minutes"] == "20.0" and by_user["amina"]["country"] == "NG"
    assert by_user["lukas"]["left_at_utc"] == ""


@pytest.mark.django_db
def test_room_events_api_replays_what_the_person_may_see(client, people, live):
    from sessions.room.events import room_event_emit

    public = room_event_emit(session_id=live.pk, type="chat.message", actor_id=people.tanaka.pk,
                             payload={"user_id": people.tanaka.pk, "name": people.tanaka.name, "text": "hi"})
    room_event_emit(session_id=live.pk, type="hand.lowered", payload={"user_id": people.lukas.pk}, visible_to=[people.lukas.pk])
    client.force_login(people.amina)
    body = client.get(f"/api/rooms/{live.pk}/events?since=0").json()
    assert [e["seq"] for e in body["events"]] == [public]
    assert client.get(f"/api/rooms/{live.pk}/attendance").status_code == 403


@pytest.mark.django_db
def test_people_see_their_own_attendance_on_their_profile(client, people, live):
    Attendance.objects.create(session=live, user=people.amina, joined_at=timezone.now() - timedelta(minutes=9))
    client.force_login(people.amina)
    html = client.get("/accounts/profile/").content.decode()
    assert "Live sessions I attended" in html and live.title in html
    client.force_login(people.lukas)
    assert live.title not in client.get("/accounts/profile/").content.decode()
