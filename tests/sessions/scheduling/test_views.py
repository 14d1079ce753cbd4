"""The scheduling pages as a signed-in person uses them: catalog, session page, forms, schedule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions.models import Audience, LiveSession, RegistrationStatus, SessionKind, SessionRegistration, SessionStatus

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def test_catalog_shows_times_in_the_viewers_zone(client, people, make_session):
    session = make_session(people.tanaka, title="Tokyo lecture")
    LiveSession.objects.filter(pk=session.pk).update(
        starts_at=dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC), ends_at=dt.datetime(2031, 3, 3, 10, 0, tzinfo=dt.UTC)
    )
    people.amina.time_zone = "Africa/Lagos"
    people.amina.save()
    html = login(client, people.amina).get(reverse("scheduling:catalog")).content.decode()
    assert "Tokyo lecture" in html
    assert "10:00" in html and "Africa/Lagos" in html  # 09:00 UTC is 10:00 in Lagos
    people.tanaka.time_zone = "Asia/Tokyo"
    people.tanaka.save()
    html = login(client, people.tanaka).get(reverse("scheduling:catalog")).content.decode()
    assert "18:00" in html


def test_catalog_hides_sessions_outside_the_audience_and_filters(client, people, make_session):
    make_session(people.hoffmann, audience=Audience.PARTNERS, title="Heidelberg partners only")
    make_session(people.tanaka, title="Open neuro", specialty="Neurology")
    html = login(client, people.awa).get(reverse("scheduling:catalog")).content.decode()
    assert "Heidelberg partners only" not in html and "Open neuro" in html
    html = client.get(reverse("scheduling:catalog"), {"specialty": "Cardiology"}).content.decode()
    assert "Open neuro" not in html


def test_catalog_needs_a_login(client):
    response = client.get(reverse("scheduling:catalog"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_session_outside_the_audience_is_not_found(client, people, make_session):
    session = make_session(people.hoffmann, audience=Audience.PARTNERS)
    assert login(client, people.awa).get(reverse("scheduling:detail", args=[session.pk])).status_code == 404


def test_register_then_see_the_state_and_unregister(client, people, make_session):
    session = make_session(people.tanaka, capacity=1)
    login(client, people.amina)
    response = client.post(reverse("scheduling:register", args=[session.pk]), follow=True)
    assert "You are registered." in response.content.decode()
    login(client, people.lukas)
    response = client.post(reverse("scheduling:register", args=[session.pk]), follow=True)
    html = response.content.decode()
    assert "The session is full: you are number 1 on the waiting list." in html
    assert "You are number 1 on the waiting list." in html
    login(client, people.amina)
    response = client.post(reverse("scheduling:unregister", args=[session.pk]), follow=True)
    assert "You gave up your place." in response.content.decode()
    assert SessionRegistration.objects.get(session=session, user=people.lukas).status == RegistrationStatus.REGISTERED


def test_register_needs_post(client, people, make_session):
    session = make_session(people.tanaka)
    assert login(client, people.amina).get(reverse("scheduling:register", args=[session.pk])).status_code == 405


def test_registering_for_a_cancelled_session_shows_why(client, people, make_session):
    session = make_session(people.tanaka, status=SessionStatus.CANCELLED)
    response = login(client, people.amina).post(reverse("scheduling:register", args=[session.pk]), follow=True)
    assert "This session was cancelled." in response.content.decode()
    assert not SessionRegistration.objects.filter(session=session).exists()


def test_session_page_links_the_room_and_the_calendar_file(client, people, make_session):
    session = make_session(people.tanaka)
    html = login(client, people.amina).get(reverse("scheduling:detail", args=[session.pk])).content.decode()
    assert f'href="/rooms/{session.pk}/"' in html
    assert reverse("scheduling:ics", args=[session.pk]) in html


def test_faculty_creates_a_lecture_in_their_own_zone(client, people):
    people.tanaka.time_zone = "Asia/Tokyo"
    people.tanaka.save()
    day = (timezone.now() + dt.timedelta(days=10)).date()
    response = login(client, people.tanaka).post(reverse("scheduling:create"), {
        "kind": "lecture", "title": "ECG for everyone", "language": "en", "date": day.isoformat(),
        "start_time": "18:00", "duration": "90", "time_zone": "Asia/Tokyo", "capacity": "300",
        "audience": "everyone", "institution": people.schools.tokyo.pk, "case_material": "",
    })
    session = LiveSession.objects.get(title="ECG for everyone")
    assert response.status_code == 302 and response["Location"] == reverse("scheduling:detail", args=[session.pk])
    assert session.starts_at == dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
    assert session.ends_at - session.starts_at == dt.timedelta(minutes=90)


def test_student_is_not_offered_lectures_and_a_forged_post_is_refused(client, people):
    login(client, people.amina)
    page = client.get(reverse("scheduling:create")).content.decode()
    assert 'value="peer"' in page and 'value="lecture"' not in page
    day = (timezone.now() + dt.timedelta(days=3)).date()
    response = client.post(reverse("scheduling:create"), {
        "kind": "lecture", "title": "Mine", "language": "en", "date": day.isoformat(), "start_time": "10:00",
        "duration": "60", "time_zone": "UTC", "capacity": "10", "audience": "everyone",
        "institution": people.schools.lagos.pk,
    })
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not LiveSession.objects.filter(title="Mine").exists()


def test_coordinator_cannot_open_the_create_page(client, people):
    response = login(client, people.okafor).get(reverse("scheduling:create"))
    assert response.status_code == 403


def test_peer_session_with_too_many_places_shows_the_rule(client, people):
    day = (timezone.now() + dt.timedelta(days=3)).date()
    response = login(client, people.lukas).post(reverse("scheduling:create"), {
        "kind": "peer", "title": "TB", "language": "en", "date": day.isoformat(), "start_time": "10:00",
        "duration": "60", "time_zone": "Europe/Berlin", "capacity": "12", "audience": "everyone",
        "institution": people.schools.heidelberg.pk,
    })
    assert response.status_code == 400
    assert "A peer session is for 2 to 6 people" in response.content.decode()


def test_nonexistent_local_time_is_refused(client, people):
    # 2031-03-30 02:30 does not exist in Berlin (clocks go forward).
    response = login(client, people.hoffmann).post(reverse("scheduling:create"), {
        "kind": "lecture", "title": "Gap", "language": "en", "date": "2031-03-30", "start_time": "02:30",
        "duration": "60", "time_zone": "Europe/Berlin", "capacity": "10", "audience": "everyone",
        "institution": people.schools.heidelberg.pk,
    })
    assert response.status_code == 400
    assert "This time does not exist in Europe/Berlin" in response.content.decode()


def test_host_edits_and_non_host_is_refused(client, people, make_session):
    session = make_session(people.tanaka)
    assert login(client, people.yamamoto).get(reverse("scheduling:edit", args=[session.pk])).status_code == 403
    login(client, people.tanaka)
    page = client.get(reverse("scheduling:edit", args=[session.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data.update(title="Renamed", lobby_enabled="" if not data["lobby_enabled"] else "on")
    data = {k: ("" if v is None else v) for k, v in data.items() if not (k == "lobby_enabled" and v == "")}
    response = client.post(reverse("scheduling:edit", args=[session.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    refreshed = LiveSession.objects.get(pk=session.pk)
    assert refreshed.title == "Renamed"
    assert abs(refreshed.starts_at - session.starts_at) < dt.timedelta(minutes=1)


def test_non_host_cannot_cancel_by_post(client, people, make_session):
    session = make_session(people.tanaka)
    response = login(client, people.amina).post(reverse("scheduling:cancel", args=[session.pk]))
    assert response.status_code == 403
    assert "Only the host can change this session." in response.content.decode()
    assert LiveSession.objects.get(pk=session.pk).status == SessionStatus.SCHEDULED


def test_host_cancels_from_the_page(client, people, make_session):
    session = make_session(people.tanaka)
    response = login(client, people.tanaka).post(reverse("scheduling:cancel", args=[session.pk]), follow=True)
    assert "The session is cancelled" in response.content.decode()
    assert LiveSession.objects.get(pk=session.pk).status == SessionStatus.CANCELLED


def test_my_schedule_lists_my_sessions_and_the_feed_address(client, people, make_session):
    mine = make_session(people.hoffmann, title="Registered conference")
    make_session(people.hoffmann, title="Someone else's")
    SessionRegistration.objects.create(session=mine, user=people.amina, status=RegistrationStatus.REGISTERED)
    html = login(client, people.amina).get(reverse("scheduling:mine")).content.decode()
    assert "Registered conference" in html and "Someone else&#x27;s" not in html and "Someone else's" not in html
    feed = people.amina.calendar_feed
    assert f"/sessions/feed/{feed.token}.ics" in html


def test_presenter_reads_recommendations_on_the_session_page(client, people, make_session):
    session = make_session(people.hoffmann, kind=SessionKind.CASE_CONFERENCE, presenter=people.lukas, starts_in=dt.timedelta(days=-1))
    login(client, people.hoffmann)
    response = client.post(reverse("scheduling:recommend", args=[session.pk]), {"body": "Lead with the ECG."}, follow=True)
    assert "Your recommendations were sent to the presenter." in response.content.decode()
    assert "Lead with the ECG." in login(client, people.lukas).get(reverse("scheduling:detail", args=[session.pk])).content.decode()


def test_peer_reflection_form_and_sharing(client, people, make_session):
    session = make_session(people.lukas, kind=SessionKind.PEER, capacity=3, starts_in=dt.timedelta(days=-1))
    SessionRegistration.objects.create(session=session, user=people.priya, status=RegistrationStatus.REGISTERED)
    login(client, people.priya)
    client.post(reverse("scheduling:reflect", args=[session.pk]), {"body": "Private note"})
    assert "Private note" not in login(client, people.lukas).get(reverse("scheduling:detail", args=[session.pk])).content.decode()
    login(client, people.priya)
    client.post(reverse("scheduling:reflect", args=[session.pk]), {"body": "Shared note", "shared": "on"})
    assert "Shared note" in login(client, people.lukas).get(reverse("scheduling:detail", args=[session.pk])).content.decode()


def test_outsider_writing_a_reflection_gets_403(client, people, make_session):
    session = make_session(people.lukas, kind=SessionKind.PEER, capacity=3, starts_in=dt.timedelta(days=-1))
    response = login(client, people.amina).post(reverse("scheduling:reflect", args=[session.pk]), {"body": "Hi"})
    assert response.status_code == 403
    assert "Only the people who took part can write a reflection." in response.content.decode()


def test_catalog_marks_a_full_session(client, people, make_session):
    session = make_session(people.tanaka, capacity=1, title="Tiny seminar")
    SessionRegistration.objects.create(session=session, user=people.lukas, status=RegistrationStatus.REGISTERED)
    html = login(client, people.amina).get(reverse("scheduling:catalog")).content.decode()
    assert "Full: waiting list" in html
