"""Creating, editing, cancelling and registering, with every refusal a person can meet."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from server.people.errors import InvalidRequest, PermissionRefused
from sessions.models import Audience, LiveSession, RegistrationStatus, SessionKind, SessionRegistration, SessionStatus
from sessions.scheduling import services
from sessions.scheduling.services import SessionDetails, session_details_from

pytestmark = pytest.mark.django_db


def details(**changes) -> SessionDetails:
    starts = timezone.now() + dt.timedelta(days=2)
    values = dict(title="Chest pain in the ED", starts_at=starts, ends_at=starts + dt.timedelta(hours=1), specialty="Cardiology", capacity=50)
    values.update(changes)
    return SessionDetails(**values)


# --- creating ---------------------------------------------------------------------------


def test_faculty_creates_a_lecture_stored_in_utc(people):
    tokyo = ZoneInfo("Asia/Tokyo")
    starts = dt.datetime(2031, 4, 7, 18, 0, tzinfo=tokyo)
    session = services.session_create(
        by=people.tanaka, kind=SessionKind.LECTURE,
        details=details(starts_at=starts, ends_at=starts + dt.timedelta(minutes=90)),
    )
    session.refresh_from_db()
    assert session.starts_at == dt.datetime(2031, 4, 7, 9, 0, tzinfo=dt.UTC)
    assert session.institution == people.schools.tokyo
    assert session.presenter == people.tanaka
    assert session.status == SessionStatus.SCHEDULED


def test_supervisor_creates_a_case_conference(people):
    session = services.session_create(by=people.mensah, kind=SessionKind.CASE_CONFERENCE, details=details())
    assert session.institution in (people.schools.knust, people.schools.kcl)


def test_student_cannot_create_a_lecture(people):
    with pytest.raises(PermissionRefused) as refused:
        services.session_create(by=people.amina, kind=SessionKind.LECTURE, details=details())
    assert refused.value.code == "not_faculty"
    assert str(refused.value) == "Only faculty and supervisors can create lectures and case conferences."


def test_coordinator_cannot_create_a_case_conference(people):
    with pytest.raises(PermissionRefused, match="Only faculty and supervisors"):
        services.session_create(by=people.okafor, kind=SessionKind.CASE_CONFERENCE, details=details())


def test_faculty_cannot_propose_a_peer_session(people):
    with pytest.raises(PermissionRefused, match="Peer sessions are proposed by students and trainees.") as refused:
        services.session_create(by=people.tanaka, kind=SessionKind.PEER, details=details(capacity=3))
    assert refused.value.code == "not_student"


def test_student_proposes_a_peer_session_of_two_to_six_people(people):
    session = services.session_create(by=people.lukas, kind=SessionKind.PEER, details=details(capacity=5, title="TB management"))
    assert session.kind == SessionKind.PEER and session.capacity == 5


@pytest.mark.parametrize("capacity", [0, 6, 40])
def test_peer_session_capacity_outside_two_to_six_people_is_refused(people, capacity):
    with pytest.raises(InvalidRequest, match="A peer session is for 2 to 6 people") as refused:
        services.session_create(by=people.lukas, kind=SessionKind.PEER, details=details(capacity=capacity))
    assert refused.value.code == "peer_capacity"


def test_consult_cannot_be_scheduled_here(people):
    with pytest.raises(InvalidRequest, match="Consults are requested from the consults page."):
        services.session_create(by=people.mensah, kind=SessionKind.CONSULT, details=details())


def test_faculty_cannot_host_for_a_school_they_do_not_teach_at(people):
    with pytest.raises(PermissionRefused, match="You cannot host sessions for") as refused:
        services.session_create(by=people.tanaka, kind=SessionKind.LECTURE, details=details(), institution=people.schools.lagos)
    assert refused.value.code == "not_member_of_school"


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"title": "  "}, "title_missing", "Give the session a title."),
        ({"ends_at": timezone.now() + dt.timedelta(days=1)}, "ends_before_start", "The session must end after it starts."),
        ({"starts_at": timezone.now() - dt.timedelta(hours=1), "ends_at": timezone.now() + dt.timedelta(hours=1)}, "starts_in_past", "The session must start in the future."),
        ({"ends_at": timezone.now() + dt.timedelta(days=3)}, "too_long", "A session lasts at most 12 hours."),
        ({"language": "English"}, "bad_language", "Give the language as a code such as en, fr or pt."),
        ({"capacity": 0}, "bad_capacity", "Capacity must be between 1 and 5000."),
    ],
)
def test_wrong_details_are_refused_with_a_message(people, changes, code, message):
    with pytest.raises(InvalidRequest) as refused:
        services.session_create(by=people.tanaka, kind=SessionKind.LECTURE, details=details(**changes))
    assert (refused.value.code, str(refused.value)) == (code, message)


def test_lecture_cannot_carry_a_case(people):
    with pytest.raises(InvalidRequest, match="Only case conferences carry a case."):
        services.session_create(by=people.tanaka, kind=SessionKind.LECTURE, details=details(case_material_id=1))


def test_create_emits_one_event_after_commit(people, django_capture_on_commit_callbacks, caplog):
    caplog.set_level("INFO", logger="sessions.scheduling.events")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        session = services.session_create(by=people.tanaka, kind=SessionKind.LECTURE, details=details())
    assert len(callbacks) == 1
    assert f"session {session.pk} event session.created" in caplog.text


# --- editing and cancelling -----------------------------------------------------------------


def test_host_edits_the_session(people, make_session):
    session = make_session(people.tanaka)
    updated = services.session_update(by=people.tanaka, session=session, details=session_details_from(session, title="New title"))
    assert LiveSession.objects.get(pk=session.pk).title == "New title" == updated.title


def test_non_host_cannot_edit(people, make_session):
    session = make_session(people.tanaka)
    with pytest.raises(PermissionRefused, match="Only the host can change this session.") as refused:
        services.session_update(by=people.yamamoto, session=session, details=session_details_from(session, title="Mine now"))
    assert refused.value.code == "not_host"


def test_cancelled_session_cannot_be_edited(people, make_session):
    session = make_session(people.tanaka, status=SessionStatus.CANCELLED)
    with pytest.raises(InvalidRequest, match="This session was cancelled."):
        services.session_update(by=people.tanaka, session=session, details=session_details_from(session))


def test_capacity_cannot_drop_below_registered_people(people, make_session):
    session = make_session(people.tanaka, capacity=3)
    for user in (people.amina, people.lukas):
        services.session_register(user=user, session=session)
    with pytest.raises(InvalidRequest, match="2 people are already registered: the capacity cannot be lower.") as refused:
        services.session_update(by=people.tanaka, session=session, details=session_details_from(session, capacity=1))
    assert refused.value.code == "capacity_below_registered"


def test_raising_capacity_promotes_waiting_people_in_order(people, make_session):
    session = make_session(people.tanaka, capacity=1)
    for user in (people.amina, people.lukas, people.greta):
        services.session_register(user=user, session=session)
    services.session_update(by=people.tanaka, session=session, details=session_details_from(session, capacity=2))
    states = dict(SessionRegistration.objects.filter(session=session).values_list("user__username", "status"))
    assert states == {"amina": "registered", "lukas": "registered", "greta": "waitlisted"}


def test_host_cancels_and_registered_people_are_emailed(people, make_session, django_capture_on_commit_callbacks):
    session = make_session(people.tanaka)
    services.session_register(user=people.amina, session=session)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_cancel(by=people.tanaka, session=session)
    assert LiveSession.objects.get(pk=session.pk).status == SessionStatus.CANCELLED
    assert [m.to for m in mail.outbox] == [[people.amina.email]]
    assert "Cancelled" in mail.outbox[0].subject


def test_each_person_is_told_of_a_cancellation_in_their_own_language(people, make_session, django_capture_on_commit_callbacks):
    from django.utils import translation

    session = make_session(people.tanaka)
    people.lukas.preferred_language = "fr"
    people.lukas.save(update_fields=["preferred_language"])
    for user in (people.amina, people.lukas):
        services.session_register(user=user, session=session)
    with translation.override("pt"), django_capture_on_commit_callbacks(execute=True):  # the host's language
        services.session_cancel(by=people.tanaka, session=session)
    subjects = {tuple(m.to): m.subject for m in mail.outbox}
    assert subjects[(people.lukas.email,)].startswith("Annulée")
    assert subjects[(people.amina.email,)].startswith("Cancelled")  # no preference: the site's default


def test_non_host_cannot_cancel(people, make_session):
    session = make_session(people.tanaka)
    with pytest.raises(PermissionRefused, match="Only the host can change this session."):
        services.session_cancel(by=people.amina, session=session)


def test_ended_session_cannot_be_cancelled(people, make_session):
    session = make_session(people.tanaka, starts_in=dt.timedelta(days=-1))
    with pytest.raises(InvalidRequest, match="This session has ended.") as refused:
        services.session_cancel(by=people.tanaka, session=session)
    assert refused.value.code == "session_ended"


def test_host_starts_and_ends_a_session(people, make_session):
    session = make_session(people.tanaka, starts_in=dt.timedelta(minutes=-1))
    services.session_start(by=people.tanaka, session=session)
    assert LiveSession.objects.get(pk=session.pk).status == SessionStatus.LIVE
    with pytest.raises(PermissionRefused):
        services.session_end(by=people.amina, session=session)
    services.session_end(by=people.tanaka, session=session)
    assert LiveSession.objects.get(pk=session.pk).status == SessionStatus.ENDED


# --- registration ---------------------------------------------------------------------------


def test_registration_takes_a_seat_then_the_waitlist(people, make_session):
    session = make_session(people.tanaka, capacity=1)
    first = services.session_register(user=people.amina, session=session)
    second = services.session_register(user=people.lukas, session=session)
    assert first.status == RegistrationStatus.REGISTERED
    assert second.status == RegistrationStatus.WAITLISTED
    assert services.registration_message(session=session, user=people.lukas, registration=second) == (
        "The session is full: you are number 1 on the waiting list."
    )


def test_registering_twice_keeps_one_place(people, make_session):
    session = make_session(people.tanaka)
    services.session_register(user=people.amina, session=session)
    services.session_register(user=people.amina, session=session)
    assert SessionRegistration.objects.filter(session=session, user=people.amina).count() == 1


def test_unregistering_promotes_the_first_person_waiting(people, make_session, django_capture_on_commit_callbacks):
    session = make_session(people.tanaka, capacity=1)
    for user in (people.amina, people.lukas, people.greta):
        services.session_register(user=user, session=session)
    with django_capture_on_commit_callbacks(execute=True):
        promoted = services.session_unregister(user=people.amina, session=session)
    assert promoted == [people.lukas]
    assert SessionRegistration.objects.get(session=session, user=people.greta).status == RegistrationStatus.WAITLISTED
    assert [m.to for m in mail.outbox] == [[people.lukas.email]]
    assert "You have a place" in mail.outbox[0].subject


def test_reregistering_after_leaving_goes_to_the_back_of_the_queue(people, make_session):
    session = make_session(people.tanaka, capacity=1)
    services.session_register(user=people.amina, session=session)
    services.session_register(user=people.lukas, session=session)
    services.session_unregister(user=people.amina, session=session)  # lukas promoted
    again = services.session_register(user=people.amina, session=session)
    assert again.status == RegistrationStatus.WAITLISTED


def test_nobody_jumps_the_waitlist_when_a_seat_is_free_but_people_wait(people, make_session):
    session = make_session(people.tanaka, capacity=1)
    services.session_register(user=people.amina, session=session)
    services.session_register(user=people.lukas, session=session)
    # Simulate a stale state: a seat is free although someone waits.
    SessionRegistration.objects.filter(session=session, user=people.amina).update(status=RegistrationStatus.CANCELLED)
    assert services.session_register(user=people.greta, session=session).status == RegistrationStatus.WAITLISTED


def test_person_outside_the_audience_cannot_register(people, make_session):
    session = make_session(people.hoffmann, audience=Audience.PARTNERS)
    with pytest.raises(PermissionRefused, match="This session is not open to you.") as refused:
        services.session_register(user=people.awa, session=session)
    assert refused.value.code == "not_in_audience"


def test_uninvited_person_cannot_register_for_an_invited_session(people, make_session):
    session = make_session(people.hoffmann, audience=Audience.INVITED)
    with pytest.raises(PermissionRefused, match="This session is not open to you."):
        services.session_register(user=people.lukas, session=session)
    services.session_invite(by=people.hoffmann, session=session, user=people.lukas)
    assert services.session_register(user=people.lukas, session=session).status == RegistrationStatus.REGISTERED


def test_only_the_host_invites(people, make_session):
    session = make_session(people.hoffmann, audience=Audience.INVITED)
    with pytest.raises(PermissionRefused, match="Only the host can change this session."):
        services.session_invite(by=people.lukas, session=session, user=people.greta)


def test_cannot_register_for_a_cancelled_session(people, make_session):
    session = make_session(people.tanaka, status=SessionStatus.CANCELLED)
    with pytest.raises(InvalidRequest, match="This session was cancelled.") as refused:
        services.session_register(user=people.amina, session=session)
    assert refused.value.code == "session_cancelled"


def test_cannot_register_for_an_ended_session(people, make_session):
    session = make_session(people.tanaka, starts_in=dt.timedelta(hours=-3))
    with pytest.raises(InvalidRequest, match="This session has ended.") as refused:
        services.session_register(user=people.amina, session=session)
    assert refused.value.code == "session_ended"


def test_host_cannot_register_for_own_session(people, make_session):
    session = make_session(people.tanaka)
    with pytest.raises(InvalidRequest, match="You host this session") as refused:
        services.session_register(user=people.tanaka, session=session)
    assert refused.value.code == "host_cannot_register"


def test_unregistering_without_a_registration_is_refused(people, make_session):
    session = make_session(people.tanaka)
    with pytest.raises(InvalidRequest, match="You are not registered for this session.") as refused:
        services.session_unregister(user=people.amina, session=session)
    assert refused.value.code == "not_registered"


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_never_exceed_capacity(people, make_session):
    """Eight people register at once for three seats: three get them, five wait."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers itself; the row lock is exercised on PostgreSQL (make test pass 2).")
    session = make_session(people.tanaka, capacity=3)
    users = [people.amina, people.lukas, people.greta, people.jonas, people.tunde, people.chiamaka, people.priya, people.arjun]
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def register(user) -> None:
        try:
            barrier.wait(timeout=10)
            services.session_register(user=user, session=session)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    registered = SessionRegistration.objects.filter(session=session, status=RegistrationStatus.REGISTERED).count()
    waiting = SessionRegistration.objects.filter(session=session, status=RegistrationStatus.WAITLISTED).count()
    assert (registered, waiting) == (3, 5)


def test_case_conference_carries_a_case_the_host_may_see_only(people):
    from courses.models import Material

    shared = Material.objects.create(kind="case", title="Syncope case", institution=people.schools.heidelberg, scope="public")
    private = Material.objects.create(kind="case", title="Dakar internal case", institution=people.schools.dakar, scope="school")
    session = services.session_create(by=people.hoffmann, kind=SessionKind.CASE_CONFERENCE, details=details(case_material_id=shared.pk))
    assert LiveSession.objects.get(pk=session.pk).case_material == shared
    with pytest.raises(PermissionRefused, match="You cannot use this material as the case.") as refused:
        services.session_create(by=people.hoffmann, kind=SessionKind.CASE_CONFERENCE, details=details(case_material_id=private.pk))
    assert refused.value.code == "case_not_visible"
