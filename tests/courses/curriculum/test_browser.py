"""Headless Chromium on the course pages, used as a person would."""

from __future__ import annotations

import io
import zipfile

import pytest

from courses.models import LearnerProgress, ProgressStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_faculty_reorders_and_removes_items_in_the_builder(people, course, browser_page):
    from playwright.sync_api import expect

    page = browser_page("adebayo")
    page.goto(f"/courses/{course.course.pk}/edit/")
    heart = page.locator(f"#item-{course.items.heidelberg.pk}")
    heart.get_by_role("button", name="Move item up").click()
    expect(page.locator(".builder-status")).to_have_text("Order saved.")
    first = course.modules[0]
    assert list(first.items.order_by("position").values_list("pk", flat=True)) == [
        course.items.heidelberg.pk, course.items.lagos.pk,
    ]
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f"#item-{course.items.lagos.pk}").get_by_role("button", name="Remove").click()
    expect(page.locator(f"#item-{course.items.lagos.pk}")).to_have_count(0)
    expect(page.locator(".builder-status")).to_have_text("Removed.")
    assert list(first.items.values_list("pk", flat=True)) == [course.items.heidelberg.pk]


def test_learner_marks_done_and_downloads_the_offline_bundle(people, course, browser_page):
    from playwright.sync_api import expect

    page = browser_page("amina")
    page.goto(f"/courses/{course.course.pk}/")
    expect(page.locator(".bundle-size")).to_contain_text("about")
    item = page.locator(f"#item-{course.items.lagos.pk}")
    item.get_by_role("button", name="Mark done").click()
    expect(page.locator(".progress-total")).to_have_text("You have done 1 of 4 items.")
    expect(item.locator(".status")).to_have_text("Done")
    assert LearnerProgress.objects.get(user=people.amina, item=course.items.lagos).status == ProgressStatus.DONE
    with page.expect_download() as info:
        page.get_by_role("link", name="Download for offline use").click()
    archive = zipfile.ZipFile(io.BytesIO(open(info.value.path(), "rb").read()))
    assert "index.html" in archive.namelist()
    assert any(name.endswith("/case.html") for name in archive.namelist())
