"""Who may see and join a session, and as what: the rules the catalog and the room share."""

from __future__ import annotations

import datetime as dt

import pytest

from server.people.models import Partnership, PartnershipStatus
from sessions.models import (
    Audience,
    RegistrationStatus,
    SessionInvitation,
    SessionKind,
    SessionRegistration,
    SessionStatus,
)
from sessions.scheduling.selectors import (
    CatalogFilters,
    session_catalog,
    session_role_of,
    session_user_may_join,
    session_user_may_see,
    session_waitlist_position,
    user_schedule,
)

pytestmark = pytest.mark.django_db


def test_everyone_session_is_open_to_a_student_of_any_school(people, make_session):
    session = make_session(people.tanaka, audience=Audience.EVERYONE)
    assert session_user_may_join(session, people.awa)
    assert session_role_of(session, people.awa) == "attendee"


def test_anonymous_person_may_not_join(people, make_session):
    from django.contrib.auth.models import AnonymousUser

    session = make_session(people.tanaka)
    assert not session_user_may_join(session, AnonymousUser())
    assert session_role_of(session, AnonymousUser()) is None


def test_partner_session_is_open_to_active_partner_schools_only(people, make_session):
    # Heidelberg's partners: lagos, aiims, usp (active); dakar only proposed.
    session = make_session(people.hoffmann, audience=Audience.PARTNERS, kind=SessionKind.CASE_CONFERENCE)
    assert session_user_may_join(session, people.lukas)  # own school
    assert session_user_may_join(session, people.amina)  # Lagos, active partner
    assert not session_user_may_join(session, people.awa)  # Dakar: proposed only
    assert not session_user_may_join(session, people.tanaka)  # Tokyo: no partnership
    assert session_role_of(session, people.awa) is None


def test_ended_partnership_grants_nothing(people, make_session):
    # lagos–usp ended: a USP partner session is closed to Amina.
    session = make_session(people.oliveira, audience=Audience.PARTNERS)
    assert not session_user_may_see(session=session, user=people.amina)


def test_partnership_activated_later_opens_the_session(people, make_session):
    session = make_session(people.hoffmann, audience=Audience.PARTNERS)
    assert not session_user_may_see(session=session, user=people.awa)
    Partnership.objects.filter(status=PartnershipStatus.PROPOSED, first__in=[people.schools.dakar, people.schools.heidelberg], second__in=[people.schools.dakar, people.schools.heidelberg]).update(status=PartnershipStatus.ACTIVE)
    assert session_user_may_see(session=session, user=people.awa)


def test_invited_session_is_open_to_invited_people_and_host_only(people, make_session):
    session = make_session(people.hoffmann, audience=Audience.INVITED)
    SessionInvitation.objects.create(session=session, user=people.amina, invited_by=people.hoffmann)
    assert session_role_of(session, people.hoffmann) == "host"
    assert session_role_of(session, people.amina) == "attendee"
    assert session_role_of(session, people.lukas) is None  # same school, not invited


def test_presenter_gets_presenter_role(people, make_session):
    session = make_session(people.hoffmann, kind=SessionKind.CASE_CONFERENCE, presenter=people.lukas, audience=Audience.INVITED)
    assert session_role_of(session, people.lukas) == "presenter"


@pytest.mark.parametrize("status", [SessionStatus.CANCELLED, SessionStatus.ENDED])
def test_nobody_joins_a_cancelled_or_ended_session(people, make_session, status):
    session = make_session(people.tanaka, status=status)
    assert not session_user_may_join(session, people.tanaka)
    assert not session_user_may_join(session, people.amina)


def test_live_session_may_be_joined(people, make_session):
    session = make_session(people.tanaka, status=SessionStatus.LIVE, starts_in=dt.timedelta(minutes=-5))
    assert session_role_of(session, people.amina) == "attendee"


def test_waitlisted_person_may_not_join_a_full_session(people, make_session):
    session = make_session(people.tanaka, capacity=1)
    SessionRegistration.objects.create(session=session, user=people.lukas, status=RegistrationStatus.REGISTERED)
    SessionRegistration.objects.create(session=session, user=people.amina, status=RegistrationStatus.WAITLISTED)
    assert session_user_may_join(session, people.lukas)
    assert not session_user_may_join(session, people.amina)
    assert not session_user_may_join(session, people.greta)  # no seat left for a drop-in
    assert session_waitlist_position(session=session, user=people.amina) == 1


def test_catalog_lists_upcoming_sessions_the_person_may_join(people, make_session):
    open_lecture = make_session(people.tanaka, title="Open lecture")
    partner_only = make_session(people.hoffmann, audience=Audience.PARTNERS, title="Heidelberg partners")
    make_session(people.tanaka, title="Cancelled", status=SessionStatus.CANCELLED)
    make_session(people.tanaka, title="Past", starts_in=dt.timedelta(days=-2))
    consult = make_session(people.mensah, kind=SessionKind.CONSULT, title="Consult")
    titles_awa = [s.title for s in session_catalog(user=people.awa)]
    titles_amina = [s.title for s in session_catalog(user=people.amina)]
    assert titles_awa == [open_lecture.title]
    assert set(titles_amina) == {open_lecture.title, partner_only.title}
    assert consult.title not in titles_amina


def test_catalog_filters_by_kind_specialty_language_and_date(people, make_session):
    make_session(people.tanaka, title="Tomorrow cardio", specialty="Cardiology", language="en")
    make_session(people.tanaka, title="Next week neuro", specialty="Neurology", language="ja", starts_in=dt.timedelta(days=7))
    make_session(people.amina, kind=SessionKind.PEER, title="Peer TB", specialty="Infectious diseases", capacity=3)
    assert [s.title for s in session_catalog(user=people.lukas, filters=CatalogFilters(specialty="neurology"))] == ["Next week neuro"]
    assert [s.title for s in session_catalog(user=people.lukas, filters=CatalogFilters(language="ja"))] == ["Next week neuro"]
    assert [s.title for s in session_catalog(user=people.lukas, filters=CatalogFilters(kind=SessionKind.PEER))] == ["Peer TB"]
    from django.utils import timezone

    later = (timezone.localtime() + dt.timedelta(days=5)).date()
    assert [s.title for s in session_catalog(user=people.lukas, filters=CatalogFilters(date_from=later))] == ["Next week neuro"]
    assert "Next week neuro" not in [s.title for s in session_catalog(user=people.lukas, filters=CatalogFilters(date_to=later))]


def test_my_schedule_has_hosted_registered_and_waitlisted_sessions(people, make_session):
    hosted = make_session(people.tanaka, title="Mine")
    registered = make_session(people.hoffmann, title="Registered")
    waiting = make_session(people.hoffmann, title="Waiting")
    make_session(people.hoffmann, title="Not mine")
    SessionRegistration.objects.create(session=registered, user=people.tanaka, status=RegistrationStatus.REGISTERED)
    SessionRegistration.objects.create(session=waiting, user=people.tanaka, status=RegistrationStatus.WAITLISTED)
    assert [s.title for s in user_schedule(user=people.tanaka)] == [hosted.title, registered.title, waiting.title]
