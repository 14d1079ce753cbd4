"""Who sees which material: public, partner schools (ACTIVE partnerships only), own school."""

from __future__ import annotations

import pytest

from courses.library.selectors import material_get_for_user, material_visible_to, user_can_contribute
from courses.library.services import material_create
from server.people.errors import PermissionRefused
from server.people.models import Partnership
from server.people.services import partnership_end

pytestmark = pytest.mark.django_db


def share(user, scope: str, title: str):
    return material_create(
        user=user, kind="link", title=title, url="https://example.org/notes", scope=scope, discipline="Cardiology"
    )


def visible_titles(user) -> set[str]:
    return set(material_visible_to(user).values_list("title", flat=True))


def test_public_material_is_seen_by_a_student_of_a_school_without_partners(people):
    share(people.hoffmann, "public", "ECG basics")
    assert "ECG basics" in visible_titles(people.awa)


def test_partner_material_is_seen_by_partner_school_students_only(people):
    material = share(people.hoffmann, "partners", "Heart failure in Heidelberg")
    assert "Heart failure in Heidelberg" in visible_titles(people.lukas)  # own school
    assert "Heart failure in Heidelberg" in visible_titles(people.amina)  # Lagos: active partner
    assert "Heart failure in Heidelberg" not in visible_titles(people.awa)  # Dakar: only proposed
    assert "Heart failure in Heidelberg" not in visible_titles(people.chikondi)  # Kamuzu: no partnership
    assert material_get_for_user(people.amina, material.pk) == material


def test_student_of_a_non_partner_school_is_refused_with_a_message(people):
    material = share(people.hoffmann, "partners", "Heidelberg rounds")
    with pytest.raises(PermissionRefused) as caught:
        material_get_for_user(people.awa, material.pk)
    assert caught.value.code == "material_not_visible"
    assert caught.value.message == "This material does not exist or is not shared with your school."


def test_own_school_material_stays_in_the_school(people):
    share(people.hoffmann, "school", "Heidelberg exam prep")
    assert "Heidelberg exam prep" in visible_titles(people.lukas)
    assert "Heidelberg exam prep" not in visible_titles(people.amina)
    assert "Heidelberg exam prep" in visible_titles(people.hoffmann)


def test_an_ended_partnership_grants_nothing(people):
    share(people.oliveira, "partners", "Tuberculose em São Paulo")  # USP; Lagos–USP ended
    assert "Tuberculose em São Paulo" not in visible_titles(people.amina)
    assert "Tuberculose em São Paulo" in visible_titles(people.lukas)  # Heidelberg–USP active


def test_ending_a_partnership_takes_access_away(people):
    material = share(people.hoffmann, "partners", "Cardiac auscultation")
    assert material_get_for_user(people.amina, material.pk)
    partnership = Partnership.objects.get(
        first_id=min(people.schools.lagos.pk, people.schools.heidelberg.pk),
        second_id=max(people.schools.lagos.pk, people.schools.heidelberg.pk),
        status="active",
    )
    partnership_end(by=people.okafor, partnership=partnership)
    assert "Cardiac auscultation" not in visible_titles(people.amina)
    with pytest.raises(PermissionRefused):
        material_get_for_user(people.amina, material.pk)


def test_anonymous_visitors_see_public_material_only(people):
    from django.contrib.auth.models import AnonymousUser

    share(people.hoffmann, "public", "Open anatomy atlas")
    share(people.hoffmann, "partners", "Partner anatomy atlas")
    assert visible_titles(AnonymousUser()) == {"Open anatomy atlas"}


def test_students_cannot_contribute_and_faculty_can(people):
    assert not user_can_contribute(user=people.amina)
    assert not user_can_contribute(user=people.chikondi)
    assert user_can_contribute(user=people.tanaka)
    assert user_can_contribute(user=people.mensah)
    assert user_can_contribute(user=people.okafor)
