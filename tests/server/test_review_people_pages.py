"""Review findings on the people pages: the coordinator's role form, and malformed posts."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from server.people.models import Membership, PersonalAccessToken


def _form_fields(page: str, action: str) -> set[str]:
    """The names of the fields a browser would submit with the form posting to `action`."""
    start = page.index(f'action="{action}"')
    form = page[start:page.index("</form>", start)]
    return set(re.findall(r'<(?:select|input|button)[^>]*\sname="([^"]+)"', form))


def test_coordinator_role_form_submits_a_role_select(people, client: Client):
    membership = Membership.objects.get(user=people.amina, institution=people.schools.lagos)
    client.force_login(people.okafor)
    page = client.get(reverse("institution", args=[people.schools.lagos.pk])).content.decode()
    assert "role" in _form_fields(page, reverse("membership-update", args=[membership.pk]))


def test_coordinator_changes_a_members_role_from_the_page(people, client: Client):
    membership = Membership.objects.get(user=people.amina, institution=people.schools.lagos)
    client.force_login(people.okafor)
    response = client.post(reverse("membership-update", args=[membership.pk]), {"role": "trainee", "action": "role"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "trainee"


def test_partnership_form_with_a_bad_school_number_is_not_a_server_error(people, client: Client):
    from server.people.models import Partnership

    partnership = Partnership.objects.filter(status="active").first()
    client.force_login(people.okafor)
    response = client.post(reverse("partnership-update", args=[partnership.pk]), {"action": "nothing", "institution": "x"})
    assert response.status_code == 302


def test_revoking_a_token_with_a_bad_number_is_not_a_server_error(people, client: Client):
    client.force_login(people.amina)
    response = client.post(reverse("access-tokens"), {"revoke": "abc"})
    assert response.status_code == 404
    assert not PersonalAccessToken.objects.filter(user=people.amina, revoked_at__isnull=False).exists()


def test_revoking_a_token_on_the_page_confirms_it(people, client: Client):
    client.force_login(people.amina)
    client.post(reverse("access-tokens"), {"name": "phone"})
    token = PersonalAccessToken.objects.get(user=people.amina, name="phone")
    response = client.post(reverse("access-tokens"), {"revoke": str(token.pk)}, follow=True)
    assert response.status_code == 200
    assert "Token revoked." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_member_names_of_a_school_are_not_shown_to_people_outside_it(people, client: Client):
    """Sign-up is open: without this, anyone could list every student of every school."""
    lagos = people.schools.lagos
    client.force_login(people.lukas)  # Heidelberg student
    page = client.get(reverse("institution", args=[lagos.pk])).content.decode()
    assert people.amina.name not in page
    assert "Members" in page


def test_members_of_the_school_and_its_coordinator_see_the_member_list(people, client: Client):
    lagos = people.schools.lagos
    for viewer in (people.amina, people.okafor):
        client.force_login(viewer)
        page = client.get(reverse("institution", args=[lagos.pk])).content.decode()
        assert people.tunde.name in page
