"""Review finding: asking for a consult ran the whole matching query set once per active
roster entry on the platform (about six queries each), inside the request's transaction;
with a real roster that is thousands of queries holding the write lock."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from server.people.models import Membership, Role, User
from sessions.consults import selectors, services
from sessions.models import ConsultNotification


def _supervisors(people, count: int, school) -> list[User]:
    made = []
    for n in range(count):
        user = User.objects.create_user(f"rev-sup-{school.pk}-{n}", email=f"rs{school.pk}-{n}@example.org", languages=["en"])
        Membership.objects.create(user=user, institution=school, role=Role.SUPERVISOR)
        services.roster_update(supervisor=user, specialties=["Paediatrics"], languages=["en"], is_active=True)
        made.append(user)
    return made


def _ask(people):
    return services.consult_request_create(trainee=people.chikondi, specialty="paediatrics", urgency="soon",
                                           language="en", reason="Child with fever and a new rash.")


def test_request_notifies_exactly_the_supervisors_who_may_accept_it(people, roster):
    near = _supervisors(people, 2, people.schools.kcl)  # kcl is a partner of kamuzu
    far = _supervisors(people, 2, people.schools.tokyo)  # tokyo is not
    consult = _ask(people)
    told = set(ConsultNotification.objects.filter(consult=consult).values_list("user_id", flat=True))
    assert told == {people.mensah.pk, *(u.pk for u in near)}
    assert not told & {u.pk for u in far}
    for user in (people.mensah, *near, *far):
        may_accept = selectors.consult_requests_matching(supervisor=user).filter(pk=consult.pk).exists()
        assert may_accept == (user.pk in told), user.username


def test_request_queries_do_not_grow_with_the_roster(people, roster):
    with CaptureQueriesContext(connection) as small:
        _ask(people)
    _supervisors(people, 8, people.schools.tokyo)
    with CaptureQueriesContext(connection) as large:
        _ask(people)
    assert len(large) <= len(small) + 2, (len(small), len(large))
