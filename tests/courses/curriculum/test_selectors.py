"""Who sees a course, and which of its items each learner gets."""

from __future__ import annotations

import pytest

from courses.curriculum import selectors, services
from courses.models import CourseAudience, ProgressStatus
from server.people.errors import PermissionRefused
from server.people.models import Partnership, PartnershipStatus
from server.people.services import partnership_end

from .conftest import PDF_BYTES


def _available_titles(outline) -> list[str]:
    return [entry.title for entry in outline.items if entry.available]


def test_partner_audience_reaches_the_school_and_active_partners_only(people, course):
    visible = lambda user: course.course in selectors.courses_visible_to(user=user)  # noqa: E731
    assert visible(people.amina)  # Lagos
    assert visible(people.lukas)  # Heidelberg, active partner
    assert visible(people.yui)  # Tokyo, active partner
    assert not visible(people.awa)  # Dakar, no partnership
    assert not visible(people.beatriz)  # USP, partnership ended


def test_school_audience_is_the_school_only(people, course):
    course.course.audience = CourseAudience.SCHOOL
    course.course.save()
    assert selectors.course_visible_to(user=people.amina, course=course.course)
    assert not selectors.course_visible_to(user=people.lukas, course=course.course)


def test_public_course_is_open_to_everyone_even_signed_out(people, course):
    from django.contrib.auth.models import AnonymousUser

    course.course.audience = CourseAudience.PUBLIC
    course.course.save()
    assert selectors.course_visible_to(user=people.awa, course=course.course)
    outline = selectors.course_outline(user=AnonymousUser(), course=course.course)
    # Signed out, only public material is available.
    assert _available_titles(outline) == ["Guide de l'examen clinique"]


def test_draft_is_seen_by_its_editors_only(people, course):
    services.course_set_published(by=people.adebayo, course=course.course, published=False)
    assert selectors.course_visible_to(user=people.adebayo, course=course.course)
    assert selectors.course_visible_to(user=people.okafor, course=course.course)
    assert not selectors.course_visible_to(user=people.amina, course=course.course)
    with pytest.raises(PermissionRefused) as refused:
        selectors.course_get_for_viewer(user=people.amina, course_id=course.course.pk)
    assert refused.value.code == "course_not_visible"


def test_missing_course_and_hidden_course_are_refused_alike(people, course):
    with pytest.raises(PermissionRefused) as missing:
        selectors.course_get_for_viewer(user=people.awa, course_id=999999)
    with pytest.raises(PermissionRefused) as hidden:
        selectors.course_get_for_viewer(user=people.awa, course_id=course.course.pk)
    assert missing.value.message == hidden.value.message


def test_each_learner_gets_only_the_items_shared_with_their_school(people, course):
    amina = selectors.course_outline(user=people.amina, course=course.course)
    assert _available_titles(amina) == [
        "Malaria in pregnancy", "Heart sounds", "Chest pain after a marathon", "Guide de l'examen clinique",
    ]
    lukas = selectors.course_outline(user=people.lukas, course=course.course)
    # Tokyo shares with Lagos but not with Heidelberg.
    assert _available_titles(lukas) == ["Malaria in pregnancy", "Heart sounds", "Guide de l'examen clinique"]
    assert lukas.unavailable_count == 1


def test_outline_shows_each_items_kind_size_licence_and_school(people, course):
    outline = selectors.course_outline(user=people.amina, course=course.course)
    first = outline.modules[0].items[0]
    assert (first.kind, first.kind_label, first.file_count) == ("pdf", "PDF document", 1)
    assert first.size_bytes == len(PDF_BYTES)  # the thumbnail is a preview, not content
    assert first.licence_label == "CC BY 4.0"
    assert first.school_name == people.schools.lagos.name
    assert outline.total_size_bytes == sum(entry.size_bytes for entry in outline.available_items)


def test_ending_a_partnership_takes_its_items_out_of_the_course(people, course):
    services.progress_set(user=people.amina, item=course.items.tokyo, status=ProgressStatus.DONE)
    partnership = Partnership.objects.get(
        first__in=[people.schools.lagos, people.schools.tokyo],
        second__in=[people.schools.lagos, people.schools.tokyo],
        status=PartnershipStatus.ACTIVE,
    )
    partnership_end(by=people.okafor, partnership=partnership)
    outline = selectors.course_outline(user=people.amina, course=course.course)
    tokyo = outline.modules[1].items[0]
    assert tokyo.available is False
    assert tokyo.title == "" and tokyo.material is None  # nothing about the material leaks
    assert outline.done_count == 0  # progress on a withdrawn item no longer counts
    assert "Chest pain after a marathon" not in _available_titles(outline)
    # Tokyo learners lose the course itself (the partner audience is gone too).
    assert not selectors.course_visible_to(user=people.yui, course=course.course)


def test_outline_costs_the_same_queries_for_a_longer_course(people, library, course):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        selectors.course_outline(user=people.amina, course=course.course)
    for material in (library.lagos_pdf, library.heidelberg_video, library.tokyo_case):
        services.item_add(by=people.adebayo, module=course.modules[1], material=material)
    with CaptureQueriesContext(connection) as after:
        outline = selectors.course_outline(user=people.amina, course=course.course)
    assert len(outline.items) == 7
    assert len(after.captured_queries) == len(before.captured_queries)
