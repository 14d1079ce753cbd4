"""The rules about schools, memberships, partnerships and invitations."""

from __future__ import annotations

import pytest
from django.core import mail

from server.people import selectors, services
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Membership, Partnership, PartnershipStatus, Role


def test_coordinator_of_one_school_cannot_manage_another(people):
    with pytest.raises(PermissionRefused) as refusal:
        services.invitation_create(by=people.okafor, institution=people.schools.heidelberg, email="x@example.org", role=Role.STUDENT)
    assert refusal.value.code == "not_coordinator"
    assert "Heidelberg" in refusal.value.message


def test_coordinator_invites_and_invitee_becomes_member(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(by=people.okafor, institution=people.schools.lagos, email="Newcomer@Example.org", role=Role.STUDENT)
    assert len(mail.outbox) == 1
    assert invitation.token in mail.outbox[0].body
    newcomer = type(people.amina).objects.create_user("newcomer", "newcomer@example.org", "a-long-password-1")
    membership = services.invitation_accept(user=newcomer, token=invitation.token)
    assert membership.institution == people.schools.lagos and membership.role == Role.STUDENT
    with pytest.raises(InvalidRequest):
        services.invitation_accept(user=newcomer, token=invitation.token)


def test_invitation_refused_for_another_email(people):
    invitation = services.invitation_create(by=people.okafor, institution=people.schools.lagos, email="someone@example.org", role=Role.FACULTY)
    with pytest.raises(PermissionRefused) as refusal:
        services.invitation_accept(user=people.lukas, token=invitation.token)
    assert refusal.value.code == "invitation_other_email"
    assert not Membership.objects.filter(user=people.lukas, institution=people.schools.lagos).exists()


def test_student_cannot_invite(people):
    with pytest.raises(PermissionRefused):
        services.invitation_create(by=people.amina, institution=people.schools.lagos, email="x@example.org", role=Role.STUDENT)


def test_partnership_grants_access_only_when_active(people):
    lagos, dakar = people.schools.lagos, people.schools.dakar
    partnership = services.partnership_propose(by=people.okafor, institution=lagos, partner=dakar)
    assert not selectors.institutions_are_partners(a=lagos, b=dakar)
    with pytest.raises(PermissionRefused):  # the proposer's side cannot accept its own proposal
        services.partnership_accept(by=people.okafor, partnership=partnership)
    coordinator_dakar = people.fall
    services.partnership_accept(by=coordinator_dakar, partnership=partnership)
    assert selectors.institutions_are_partners(a=lagos, b=dakar)
    assert dakar.pk in selectors.user_partner_institution_ids(user=people.amina)
    services.partnership_end(by=people.okafor, partnership=partnership)
    assert not selectors.institutions_are_partners(a=lagos, b=dakar)
    assert dakar.pk not in selectors.user_partner_institution_ids(user=people.amina)


def test_ended_demo_partnership_grants_nothing(people):
    assert Partnership.objects.filter(status=PartnershipStatus.ENDED).exists()
    assert people.schools.usp.pk not in selectors.user_partner_institution_ids(user=people.amina)
    assert people.schools.heidelberg.pk in selectors.user_partner_institution_ids(user=people.amina)


def test_duplicate_open_partnership_refused(people):
    with pytest.raises(InvalidRequest) as refusal:
        services.partnership_propose(by=people.okafor, institution=people.schools.lagos, partner=people.schools.heidelberg)
    assert refusal.value.code == "partnership_exists"


def test_school_cannot_partner_with_itself(people):
    with pytest.raises(InvalidRequest):
        services.partnership_propose(by=people.okafor, institution=people.schools.lagos, partner=people.schools.lagos)


def test_last_coordinator_cannot_remove_themselves(people):
    membership = Membership.objects.get(user=people.okafor, institution=people.schools.lagos)
    with pytest.raises(InvalidRequest) as refusal:
        services.membership_deactivate(by=people.okafor, membership=membership)
    assert refusal.value.code == "last_coordinator"


def test_access_token_authenticates_until_revoked(people):
    token, secret = services.access_token_create(user=people.amina, name="laptop")
    assert services.access_token_authenticate(secret=secret) == people.amina
    assert token.digest != secret and secret not in token.digest
    services.access_token_revoke(user=people.amina, token=token)
    assert services.access_token_authenticate(secret=secret) is None


def test_seed_is_idempotent_and_covers_four_continents(people):
    from server.people.demo import seed_people
    from server.people.models import Institution, User

    before = (User.objects.count(), Institution.objects.count(), Partnership.objects.count())
    seed_people()
    assert (User.objects.count(), Institution.objects.count(), Partnership.objects.count()) == before
    countries = set(Institution.objects.values_list("country", flat=True))
    assert len(countries) >= 6 and before[1] >= 8 and before[0] >= 36
