"""Composing courses: who may build, what may go in, and that the order is kept."""

from __future__ import annotations

import pytest

from courses.curriculum import services
from courses.curriculum.events import course_event
from courses.models import Course, LearnerProgress, ModuleItem, ProgressStatus
from server.people.errors import InvalidRequest, PermissionRefused


def _titles(module) -> list[str]:
    return [item.material.title for item in module.items.order_by("position")]


def test_student_cannot_create_a_course(people):
    with pytest.raises(PermissionRefused) as refused:
        services.course_create(by=people.amina, institution=people.schools.lagos, title="My course")
    assert refused.value.code == "not_course_builder"
    assert "faculty, supervisors and coordinators" in refused.value.message
    assert not Course.objects.exists()


def test_faculty_cannot_create_a_course_for_another_school(people):
    with pytest.raises(PermissionRefused) as refused:
        services.course_create(by=people.tanaka, institution=people.schools.lagos, title="Tokyo in Lagos")
    assert "University of Lagos" in refused.value.message


def test_faculty_supervisor_and_coordinator_can_create_courses(people):
    services.course_create(by=people.adebayo, institution=people.schools.lagos, title="A")
    services.course_create(by=people.mensah, institution=people.schools.knust, title="B")
    services.course_create(by=people.okafor, institution=people.schools.lagos, title="C")
    assert Course.objects.count() == 3


def test_faculty_can_add_material_from_an_active_partner_and_public_material(course):
    assert [i.material.title for i in ModuleItem.objects.filter(module__course=course.course).order_by("module__position", "position")] == [
        "Malaria in pregnancy", "Heart sounds", "Chest pain after a marathon", "Guide de l'examen clinique",
    ]


def test_material_of_an_ended_partnership_is_refused(people, library, course):
    with pytest.raises(PermissionRefused) as refused:
        services.item_add(by=people.adebayo, module=course.modules[0], material=library.usp_pdf)
    assert refused.value.code == "material_not_shared"
    assert "not shared with your school" in refused.value.message


def test_own_school_material_of_another_school_is_refused(people, library, course):
    with pytest.raises(PermissionRefused):
        services.item_add(by=people.adebayo, module=course.modules[0], material=library.aiims_own)


def test_faculty_of_another_school_cannot_change_the_course(people, library, course):
    with pytest.raises(PermissionRefused) as refused:
        services.module_add(by=people.tanaka, course=course.course, title="Hijack")
    assert refused.value.code == "not_course_editor"
    with pytest.raises(PermissionRefused):
        services.item_remove(by=people.hoffmann, item=course.items.lagos)
    with pytest.raises(PermissionRefused):
        services.course_set_published(by=people.amina, course=course.course, published=False)


def test_coordinator_of_the_course_school_can_edit_a_colleagues_course(people, course):
    module = services.module_add(by=people.okafor, course=course.course, title="Week 3")
    assert module.position == 2


def test_pinned_version_must_belong_to_the_material(people, library, course):
    other_version = library.heidelberg_video.versions.get()
    with pytest.raises(InvalidRequest) as invalid:
        services.item_add(by=people.adebayo, module=course.modules[0], material=library.lagos_pdf, version=other_version)
    assert invalid.value.code == "version_mismatch"


def test_modules_and_items_keep_the_order_the_builder_gives(people, library, course):
    by = people.adebayo
    first, second = course.modules
    third = services.module_add(by=by, course=course.course, title="Week 3")
    services.module_move(by=by, module=third, to_position=0)
    assert list(course.course.modules.order_by("position").values_list("title", flat=True)) == ["Week 3", "Week 1", "Week 2"]
    services.item_move(by=by, item=course.items.heidelberg, to_position=0)
    assert _titles(first) == ["Heart sounds", "Malaria in pregnancy"]
    services.item_move(by=by, item=course.items.tokyo, to_position=1, to_module=first)
    assert _titles(first) == ["Heart sounds", "Chest pain after a marathon", "Malaria in pregnancy"]
    assert _titles(second) == ["Guide de l'examen clinique"]
    assert list(first.items.order_by("position").values_list("position", flat=True)) == [0, 1, 2]
    services.item_reorder(by=by, module=first, item_ids=[course.items.lagos.pk, course.items.heidelberg.pk, course.items.tokyo.pk])
    assert _titles(first) == ["Malaria in pregnancy", "Heart sounds", "Chest pain after a marathon"]


def test_removing_keeps_positions_dense(people, course):
    by = people.adebayo
    services.module_remove(by=by, module=course.modules[0])
    assert list(course.course.modules.values_list("title", "position")) == [("Week 2", 0)]
    services.item_remove(by=by, item=course.items.tokyo)
    assert list(course.modules[1].items.values_list("position", flat=True)) == [0]


def test_reorder_must_name_every_module_once(people, course):
    with pytest.raises(InvalidRequest) as invalid:
        services.module_reorder(by=people.adebayo, course=course.course, module_ids=[course.modules[0].pk])
    assert invalid.value.code == "bad_order"


def test_an_empty_course_cannot_be_published(people):
    empty = services.course_create(by=people.adebayo, institution=people.schools.lagos, title="Empty")
    with pytest.raises(InvalidRequest) as invalid:
        services.course_set_published(by=people.adebayo, course=empty, published=True)
    assert invalid.value.code == "empty_course"


def test_publishing_emits_one_event_after_commit(people, course, django_capture_on_commit_callbacks):
    seen: list[tuple[str, int]] = []

    def listener(sender, kind, course_id, data, **kwargs):
        seen.append((kind, course_id))

    course_event.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.course_set_published(by=people.adebayo, course=course.course, published=False)
    finally:
        course_event.disconnect(listener)
    assert seen == [("course.unpublished", course.course.pk)]


def test_learner_marks_an_item_done_and_back(people, course):
    progress = services.progress_set(user=people.amina, item=course.items.lagos, status=ProgressStatus.DONE)
    assert progress.status == ProgressStatus.DONE and progress.completed_at is not None
    progress = services.progress_set(user=people.amina, item=course.items.lagos, status=ProgressStatus.IN_PROGRESS)
    assert progress.completed_at is None
    assert LearnerProgress.objects.filter(user=people.amina).count() == 1


def test_progress_refused_outside_the_audience(people, course):
    with pytest.raises(PermissionRefused) as refused:
        services.progress_set(user=people.awa, item=course.items.lagos, status=ProgressStatus.DONE)
    assert refused.value.code == "course_not_visible"


def test_progress_refused_on_an_item_no_longer_shared(people, course):
    # Lukas (Heidelberg) is in the audience, but Tokyo does not share with Heidelberg.
    with pytest.raises(PermissionRefused) as refused:
        services.progress_set(user=people.lukas, item=course.items.tokyo, status=ProgressStatus.DONE)
    assert refused.value.message == "This item is no longer shared with your school."


def test_unknown_progress_status_is_refused(people, course):
    with pytest.raises(InvalidRequest):
        services.progress_set(user=people.amina, item=course.items.lagos, status="finished")
