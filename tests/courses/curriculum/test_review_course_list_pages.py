"""Review finding: /courses/ listed every published course open to the viewer on one page,
a list that grows with every school that joins (a 3G phone downloads all of it)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from courses.models import Course


def _publish_courses(people, count: int) -> None:
    Course.objects.bulk_create([
        Course(title=f"Review course {n:03d}", owner=people.tanaka, institution=people.schools.tokyo,
               audience="public", is_published=True)
        for n in range(count)
    ])


def test_course_list_is_shown_in_pages(people):
    _publish_courses(people, 60)
    client = Client()
    client.force_login(people.amina)
    first = client.get(reverse("course-list")).content.decode()
    assert first.count("Review course ") <= 50
    assert "?page=2" in first
    second = client.get(reverse("course-list"), {"page": 2}).content.decode()
    seen = {line for line in (first + second).split("Review course ")[1:]}
    assert (first + second).count("Review course ") >= 60
    assert len(seen) >= 60


def test_course_list_page_out_of_range_shows_the_last_page(people):
    _publish_courses(people, 3)
    client = Client()
    client.force_login(people.amina)
    response = client.get(reverse("course-list"), {"page": "zzz"})
    assert response.status_code == 200
    assert "Review course 000" in response.content.decode()
