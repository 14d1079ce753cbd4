"""Review finding: adding an item with a version number looked the version up before the
scope check, so "no such version" (400) vs "not shared" (403) told a builder that another
school's private material exists, and how many versions it has."""

from __future__ import annotations

from django.urls import reverse


def _add(client, course, material_id: int, version: int) -> tuple[int, str]:
    response = client.post(
        reverse("course-item-add", args=[course.course.pk]),
        {"material": material_id, "module": course.modules[0].pk, "note": "", "version": version},
    )
    return response.status_code, response.content.decode()


def test_hidden_material_answers_alike_whatever_the_version(client, people, library, course):
    client.force_login(people.adebayo)
    hidden = library.aiims_own.pk  # own-school material of AIIMS, not visible from Lagos
    missing = max(hidden, library.dakar_public.pk) + 1000
    answers = {_add(client, course, material_id, version)[0] for material_id in (hidden, missing) for version in (1, 99)}
    assert answers == {403}
