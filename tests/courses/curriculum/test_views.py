"""The course pages as people use them: plain forms, clear refusals."""

from __future__ import annotations

from django.urls import reverse

from courses.models import Course, LearnerProgress, ModuleItem, ProgressStatus
from server.people.models import Partnership, PartnershipStatus
from server.people.services import partnership_end

from .conftest import PDF_BYTES


def test_faculty_creates_a_course_with_the_form(client, people):
    client.force_login(people.adebayo)
    page = client.get(reverse("course-create"))
    assert page.status_code == 200
    response = client.post(
        reverse("course-create"),
        {"institution": people.schools.lagos.pk, "title": "Tropical medicine", "description": "", "language": "en",
         "level": "clinical", "audience": "partners"},
    )
    course = Course.objects.get(title="Tropical medicine")
    assert response.status_code == 303
    assert response["Location"] == reverse("course-builder", args=[course.pk])
    assert course.owner == people.adebayo and not course.is_published


def test_student_is_refused_the_new_course_page_with_a_reason(client, people):
    client.force_login(people.amina)
    response = client.get(reverse("course-create"))
    assert response.status_code == 403
    assert "Only faculty, supervisors and coordinators can create courses." in response.content.decode()


def test_builder_page_is_refused_to_faculty_of_another_school(client, people, course):
    client.force_login(people.tanaka)
    response = client.get(reverse("course-builder", args=[course.course.pk]))
    assert response.status_code == 403
    assert "Only the course&#x27;s author or a coordinator of University of Lagos" in response.content.decode()


def test_adding_material_not_shared_with_the_school_is_refused_on_the_page(client, people, library, course):
    client.force_login(people.adebayo)
    response = client.post(
        reverse("course-item-add", args=[course.course.pk]),
        {"material": library.usp_pdf.pk, "module": course.modules[0].pk, "note": ""},
    )
    assert response.status_code == 403
    assert "This material is not shared with your school" in response.content.decode()
    assert not ModuleItem.objects.filter(material=library.usp_pdf).exists()


def test_builder_lists_only_material_the_builder_may_add(client, people, library, course):
    client.force_login(people.adebayo)
    page = client.get(reverse("course-builder", args=[course.course.pk])).content.decode()
    assert "Heart sounds" in page
    assert "Dengue triage" not in page  # USP: partnership ended
    assert "AIIMS internal rota" not in page  # own-school material of another school


def test_builder_adds_moves_and_removes_with_plain_forms(client, people, library, course):
    client.force_login(people.adebayo)
    first = course.modules[0]
    response = client.post(
        reverse("course-item-add", args=[course.course.pk]), {"material": library.dakar_public.pk, "module": first.pk}
    )
    assert response.status_code == 303
    added = ModuleItem.objects.get(module=first, material=library.dakar_public)
    assert added.position == 2
    client.post(reverse("course-item-move", args=[course.course.pk, added.pk]), {"direction": "up"})
    assert list(first.items.order_by("position").values_list("material__title", flat=True)) == [
        "Malaria in pregnancy", "Guide de l'examen clinique", "Heart sounds",
    ]
    second = course.modules[1]
    client.post(reverse("course-module-move", args=[course.course.pk, second.pk]), {"direction": "up"})
    second.refresh_from_db()
    assert second.position == 0
    client.post(reverse("course-item-remove", args=[course.course.pk, added.pk]))
    assert not ModuleItem.objects.filter(pk=added.pk).exists()


def test_course_page_lists_modules_items_sizes_and_kinds(client, people, course):
    client.force_login(people.amina)
    page = client.get(reverse("course-detail", args=[course.course.pk])).content.decode()
    assert page.index("Week 1") < page.index("Malaria in pregnancy") < page.index("Week 2") < page.index("Chest pain")
    assert "PDF document" in page and "Teaching case" in page and "Video" in page
    assert f'data-bytes="{len(PDF_BYTES)}"' in page  # the PDF's size, before any download
    assert "Read first" in page


def test_item_no_longer_shared_shows_a_notice_instead_of_breaking(client, people, course):
    partnership = Partnership.objects.get(
        first__in=[people.schools.lagos, people.schools.tokyo],
        second__in=[people.schools.lagos, people.schools.tokyo],
        status=PartnershipStatus.ACTIVE,
    )
    partnership_end(by=people.okafor, partnership=partnership)
    client.force_login(people.amina)
    response = client.get(reverse("course-detail", args=[course.course.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "No longer shared with your school." in page
    assert "Chest pain after a marathon" not in page


def test_learner_marks_an_item_done_on_the_page(client, people, course):
    client.force_login(people.amina)
    item = course.items.lagos
    response = client.post(reverse("course-item-progress", args=[course.course.pk, item.pk]), {"status": "done"})
    assert response.status_code == 303
    assert LearnerProgress.objects.get(user=people.amina, item=item).status == ProgressStatus.DONE
    page = client.get(reverse("course-detail", args=[course.course.pk])).content.decode()
    assert "You have done 1 of 4 items." in page


def test_course_outside_the_audience_is_refused(client, people, course):
    client.force_login(people.awa)
    response = client.get(reverse("course-detail", args=[course.course.pk]))
    assert response.status_code == 403
    assert "This course does not exist or is not open to you." in response.content.decode()
    listing = client.get(reverse("course-list")).content.decode()
    assert "Acute medicine across borders" not in listing


def test_course_list_shows_open_courses(client, people, course):
    client.force_login(people.lukas)
    listing = client.get(reverse("course-list")).content.decode()
    assert "Acute medicine across borders" in listing


def test_public_course_page_works_signed_out(client, people, course):
    course.course.audience = "public"
    course.course.save()
    page = client.get(reverse("course-detail", args=[course.course.pk]))
    assert page.status_code == 200
    assert "Guide de l&#x27;examen clinique" in page.content.decode()
    assert page.content.decode().count("No longer shared with your school.") == 3


def test_progress_post_requires_csrf(people, course):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(people.amina)
    response = client.post(reverse("course-item-progress", args=[course.course.pk, course.items.lagos.pk]), {"status": "done"})
    assert response.status_code == 403
    assert not LearnerProgress.objects.exists()


def test_builder_pins_an_item_to_a_version(client, people, library, course):
    client.force_login(people.adebayo)
    response = client.post(
        reverse("course-item-add", args=[course.course.pk]),
        {"material": library.heidelberg_video.pk, "module": course.modules[1].pk, "version": 1},
    )
    assert response.status_code == 303
    item = ModuleItem.objects.filter(module=course.modules[1], material=library.heidelberg_video).get()
    assert item.version.number == 1
    page = client.get(reverse("course-builder", args=[course.course.pk])).content.decode()
    assert "pinned to version 1" in page
    missing = client.post(
        reverse("course-item-add", args=[course.course.pk]),
        {"material": library.heidelberg_video.pk, "module": course.modules[1].pk, "version": 7},
    )
    assert missing.status_code == 303
    follow = client.get(missing["Location"]).content.decode()
    assert "This material has no such version." in follow
