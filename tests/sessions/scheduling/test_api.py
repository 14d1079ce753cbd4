"""/api/sessions/: the catalog as JSON, with session and personal-token authentication."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from server.people.services import access_token_create
from sessions.models import Audience, LiveSession, RegistrationStatus, SessionKind, SessionRegistration, SessionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(people):
    """A client sending Amina's personal token (no session cookie)."""
    _token, secret = access_token_create(user=people.amina, name="tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_anonymous_caller_is_refused(client):
    assert client.get("/api/sessions/").status_code == 401


def test_list_with_a_token_gives_utc_times_and_registration_state(people, make_session, token_client):
    session = make_session(people.tanaka, title="Open lecture")
    LiveSession.objects.filter(pk=session.pk).update(
        starts_at=dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC), ends_at=dt.datetime(2031, 3, 3, 10, 30, tzinfo=dt.UTC)
    )
    SessionRegistration.objects.create(session=session, user=people.amina, status=RegistrationStatus.WAITLISTED)
    response = token_client.get("/api/sessions/")
    assert response.status_code == 200
    [item] = response.json()
    assert item["id"] == session.pk
    assert item["starts_at"] == "2031-03-03T09:00:00Z"
    assert item["ends_at"] == "2031-03-03T10:30:00Z"
    assert (item["kind"], item["host"], item["language"], item["audience"], item["status"], item["registration"]) == (
        "lecture", people.tanaka.name, "en", "everyone", "scheduled", "waitlisted"
    )


def test_list_keeps_out_sessions_the_caller_may_not_join(people, make_session, client):
    make_session(people.hoffmann, audience=Audience.PARTNERS, title="Partners")
    make_session(people.tanaka, title="Open")
    client.force_login(people.awa)
    assert [s["title"] for s in client.get("/api/sessions/").json()] == ["Open"]


def test_list_filters_by_query_parameters(people, make_session, client):
    make_session(people.tanaka, title="Cardio", specialty="Cardiology")
    make_session(people.tanaka, title="Neuro", specialty="Neurology", language="ja", starts_in=dt.timedelta(days=6))
    make_session(people.lukas, kind=SessionKind.PEER, title="Peer", capacity=3)
    client.force_login(people.amina)
    assert [s["title"] for s in client.get("/api/sessions/?specialty=Neurology").json()] == ["Neuro"]
    assert [s["title"] for s in client.get("/api/sessions/?language=ja").json()] == ["Neuro"]
    assert [s["title"] for s in client.get("/api/sessions/?kind=peer").json()] == ["Peer"]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=4)).date().isoformat()
    assert [s["title"] for s in client.get(f"/api/sessions/?date_from={later}").json()] == ["Neuro"]
    assert client.get("/api/sessions/?kind=party").status_code == 422


def test_detail_of_a_hidden_session_is_not_found(people, make_session, token_client):
    session = make_session(people.oliveira, audience=Audience.PARTNERS)  # USP; lagos–usp ended
    response = token_client.get(f"/api/sessions/{session.pk}")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such session."}


def test_detail_says_whether_the_caller_may_join(people, make_session, token_client):
    session = make_session(people.tanaka)
    body = token_client.get(f"/api/sessions/{session.pk}").json()
    assert body["may_join"] is True and body["room_url"] == f"/rooms/{session.pk}/"
    assert body["registration"] == "none"


def test_register_and_unregister_with_a_token(people, make_session, token_client):
    session = make_session(people.tanaka, capacity=1)
    response = token_client.post(f"/api/sessions/{session.pk}/registration")
    assert response.status_code == 200
    assert response.json()["registration"] == "registered"
    response = token_client.delete(f"/api/sessions/{session.pk}/registration")
    assert response.json() == {"session_id": session.pk, "registration": "none", "waitlist_position": None, "message": "You gave up your place."}


def test_full_session_puts_the_caller_on_the_waitlist(people, make_session, client):
    session = make_session(people.tanaka, capacity=1)
    SessionRegistration.objects.create(session=session, user=people.lukas, status=RegistrationStatus.REGISTERED)
    client.force_login(people.amina)
    body = client.post(f"/api/sessions/{session.pk}/registration").json()
    assert body["registration"] == "waitlisted" and body["waitlist_position"] == 1
    assert body["message"] == "The session is full: you are number 1 on the waiting list."


def test_session_auth_write_needs_csrf(people, make_session):
    session = make_session(people.tanaka)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people.amina)
    assert strict.post(f"/api/sessions/{session.pk}/registration").status_code == 403
    assert not SessionRegistration.objects.filter(session=session).exists()


def test_register_for_a_cancelled_session_is_refused_with_its_code(people, make_session, token_client):
    session = make_session(people.tanaka, status=SessionStatus.CANCELLED)
    response = token_client.post(f"/api/sessions/{session.pk}/registration")
    assert response.status_code == 400
    assert response.json() == {"code": "session_cancelled", "message": "This session was cancelled."}


def test_register_for_an_ended_session_is_refused(people, make_session, token_client):
    session = make_session(people.tanaka, starts_in=dt.timedelta(days=-1))
    response = token_client.post(f"/api/sessions/{session.pk}/registration")
    assert (response.status_code, response.json()["code"]) == (400, "session_ended")


def test_unregister_without_registration_is_refused(people, make_session, token_client):
    session = make_session(people.tanaka)
    response = token_client.delete(f"/api/sessions/{session.pk}/registration")
    assert response.json() == {"code": "not_registered", "message": "You are not registered for this session."}


def test_revoked_token_is_refused(people):
    from server.people.services import access_token_revoke

    token, secret = access_token_create(user=people.amina, name="old")
    access_token_revoke(user=people.amina, token=token)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/sessions/").status_code == 401
