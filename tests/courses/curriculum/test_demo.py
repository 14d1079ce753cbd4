"""The demo courses: three published courses from several schools, seeded idempotently."""

from __future__ import annotations

import io

from courses.curriculum import demo
from courses.curriculum.selectors import course_outline
from courses.models import Course, ModuleItem


def test_demo_seeds_three_published_courses_once(people, library):
    demo.seed(io.StringIO())
    demo.seed(io.StringIO())
    courses = list(Course.objects.order_by("pk"))
    assert [c.owner.username for c in courses] == ["adebayo", "hoffmann", "asante"]
    assert all(c.is_published for c in courses)
    first_items = ModuleItem.objects.filter(module__course=courses[0])
    assert first_items.count() == 4  # everything Lagos may see in the fixture library, once
    assert len({item.material.institution_id for item in first_items}) >= 3
    outline = course_outline(user=people.amina, course=courses[0])
    assert outline.unavailable_count == 0 and outline.done_count == 2


def test_demo_without_a_library_does_nothing(people):
    out = io.StringIO()
    demo.seed(out)
    assert not Course.objects.exists()
    assert "skipped" in out.getvalue()
