"""After the session: the host's recommendations to the presenter, and peer reflections."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from server.people.errors import InvalidRequest, PermissionRefused
from sessions.models import RegistrationStatus, SessionKind, SessionRegistration, SessionStatus
from sessions.scheduling import selectors, services

pytestmark = pytest.mark.django_db

PAST = dt.timedelta(days=-1)


@pytest.fixture
def conference(people, make_session):
    session = make_session(people.hoffmann, kind=SessionKind.CASE_CONFERENCE, presenter=people.lukas, starts_in=PAST)
    SessionRegistration.objects.create(session=session, user=people.amina, status=RegistrationStatus.REGISTERED)
    return session


@pytest.fixture
def peer(people, make_session):
    session = make_session(people.lukas, kind=SessionKind.PEER, capacity=3, starts_in=PAST)
    for user in (people.priya, people.beatriz):
        SessionRegistration.objects.create(session=session, user=user, status=RegistrationStatus.REGISTERED)
    return session


def test_host_recommends_and_presenter_is_emailed_and_reads_them(people, conference, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.recommendation_create(by=people.hoffmann, session=conference, body="Show the ECG first.", base_url="http://testserver")
    assert [m.to for m in mail.outbox] == [[people.lukas.email]]
    assert f"http://testserver/sessions/{conference.pk}/" in mail.outbox[0].body
    assert "Show the ECG first." not in mail.outbox[0].body  # the text stays on the platform
    assert [r.body for r in selectors.session_recommendations_for(session=conference, user=people.lukas)] == ["Show the ECG first."]
    assert list(selectors.session_recommendations_for(session=conference, user=people.amina)) == []


def test_only_the_host_writes_recommendations(people, conference):
    with pytest.raises(PermissionRefused, match="Only the host can change this session."):
        services.recommendation_create(by=people.amina, session=conference, body="Great")


def test_recommendations_wait_for_the_end_of_the_session(people, make_session):
    session = make_session(people.hoffmann, kind=SessionKind.CASE_CONFERENCE, presenter=people.lukas)
    with pytest.raises(InvalidRequest, match="Recommendations can be written once the session has ended.") as refused:
        services.recommendation_create(by=people.hoffmann, session=session, body="Early")
    assert refused.value.code == "session_not_ended"


def test_session_ended_by_the_host_takes_recommendations_at_once(people, make_session):
    session = make_session(people.hoffmann, kind=SessionKind.CASE_CONFERENCE, presenter=people.lukas, status=SessionStatus.ENDED)
    assert services.recommendation_create(by=people.hoffmann, session=session, body="Done").presenter == people.lukas


def test_recommendations_are_for_case_conferences_only(people, make_session):
    session = make_session(people.tanaka, kind=SessionKind.LECTURE, presenter=people.yamamoto, starts_in=PAST)
    with pytest.raises(InvalidRequest, match="Recommendations are for case conferences."):
        services.recommendation_create(by=people.tanaka, session=session, body="x")


def test_recommendations_need_a_presenter_other_than_the_host(people, make_session):
    session = make_session(people.hoffmann, kind=SessionKind.CASE_CONFERENCE, starts_in=PAST)
    with pytest.raises(InvalidRequest, match="Set who presented the case first") as refused:
        services.recommendation_create(by=people.hoffmann, session=session, body="x")
    assert refused.value.code == "no_presenter"


def test_empty_recommendation_is_refused(people, conference):
    with pytest.raises(InvalidRequest, match="Write the recommendations."):
        services.recommendation_create(by=people.hoffmann, session=conference, body="   ")


def test_reflection_is_private_by_default(people, peer):
    services.reflection_save(by=people.priya, session=peer, body="I learnt about BCG policy.")
    assert [r.body for r in selectors.session_reflections_for(session=peer, user=people.priya)] == ["I learnt about BCG policy."]
    assert list(selectors.session_reflections_for(session=peer, user=people.beatriz)) == []


def test_shared_reflection_is_read_by_the_other_participants_only(people, peer):
    services.reflection_save(by=people.priya, session=peer, body="Shared thought", shared=True)
    assert [r.body for r in selectors.session_reflections_for(session=peer, user=people.beatriz)] == ["Shared thought"]
    assert [r.body for r in selectors.session_reflections_for(session=peer, user=people.lukas)] == ["Shared thought"]
    assert list(selectors.session_reflections_for(session=peer, user=people.amina)) == []


def test_rewriting_a_reflection_keeps_one(people, peer):
    services.reflection_save(by=people.priya, session=peer, body="First", shared=True)
    services.reflection_save(by=people.priya, session=peer, body="Second")
    reflections = list(selectors.session_reflections_for(session=peer, user=people.priya))
    assert [(r.body, r.shared) for r in reflections] == [("Second", False)]


def test_non_participant_cannot_write_a_reflection(people, peer):
    with pytest.raises(PermissionRefused, match="Only the people who took part can write a reflection.") as refused:
        services.reflection_save(by=people.amina, session=peer, body="I was not there")
    assert refused.value.code == "not_participant"


def test_waitlisted_person_cannot_write_a_reflection(people, peer):
    SessionRegistration.objects.create(session=peer, user=people.greta, status=RegistrationStatus.WAITLISTED)
    with pytest.raises(PermissionRefused):
        services.reflection_save(by=people.greta, session=peer, body="Waited")


def test_reflection_waits_for_the_end(people, make_session):
    session = make_session(people.lukas, kind=SessionKind.PEER, capacity=3)
    with pytest.raises(InvalidRequest, match="Reflections can be written once the session has ended."):
        services.reflection_save(by=people.lukas, session=session, body="Too early")


def test_an_attendee_of_a_case_conference_writes_a_reflection_too(people, conference):
    reflection = services.reflection_save(by=people.amina, session=conference, body="I will ask about travel history first.")
    assert reflection.session == conference and not reflection.shared


def test_reflections_refuse_a_consult(people, make_session):
    consult = make_session(people.mensah, kind=SessionKind.CONSULT, starts_in=PAST)
    with pytest.raises(InvalidRequest, match="A consult's record is its signed note."):
        services.reflection_save(by=people.mensah, session=consult, body="x")


def test_overlong_reflection_is_refused(people, peer):
    with pytest.raises(InvalidRequest, match="A reflection is at most 2000 characters."):
        services.reflection_save(by=people.priya, session=peer, body="x" * 2001)
