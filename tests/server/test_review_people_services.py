"""Review finding: the last coordinator of a school could demote themselves (set their own
role to student), leaving the school with nobody to manage it; removing themselves was
already refused for that reason."""

from __future__ import annotations

import pytest

from server.people import services
from server.people.errors import InvalidRequest
from server.people.models import Membership, Role


def _coordinators(school) -> list[Membership]:
    return list(Membership.objects.filter(institution=school, role=Role.COORDINATOR, is_active=True))


def test_last_coordinator_cannot_demote_themselves(people):
    school = people.schools.dakar
    assert [m.user for m in _coordinators(school)] == [people.fall]
    own = _coordinators(school)[0]
    with pytest.raises(InvalidRequest) as refusal:
        services.membership_set_role(by=people.fall, membership=own, role=Role.STUDENT)
    assert refusal.value.code == "last_coordinator"
    own.refresh_from_db()
    assert own.role == Role.COORDINATOR


def test_coordinator_may_hand_over_when_another_coordinator_remains(people):
    school = people.schools.dakar
    other = Membership.objects.get(user=people.awa, institution=school)
    services.membership_set_role(by=people.fall, membership=other, role=Role.COORDINATOR)
    own = Membership.objects.get(user=people.fall, institution=school)
    services.membership_set_role(by=people.fall, membership=own, role=Role.FACULTY)
    own.refresh_from_db()
    assert own.role == Role.FACULTY
